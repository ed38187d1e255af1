//! The hot path: which patterns does a message match?
//!
//! All literals of all patterns (and the needles of regex patterns) are compiled into one
//! aho-corasick automaton. A message is scanned once; each literal found turns on the literal
//! patterns that contain it and queues the regex patterns it is a needle of. Only those regexes run,
//! and only on that message, which keeps regex cost proportional to the lines that matter.

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use regex::bytes::Regex;

use super::PatternId;

/// The patterns a message matched, sorted and without duplicates (inline up to a few, so most
/// messages allocate nothing).
pub type Hits = smallvec::SmallVec<[PatternId; 6]>;

/// Where the literals of positional facts were found: (positional fact index, offset of the value).
pub(crate) type Positions = smallvec::SmallVec<[(u16, u32); 4]>;

/// Occurrences of positional literals recorded per message, at most.
const MAX_POSITIONS: usize = 16;

pub struct Matcher {
    ac: Option<AhoCorasick>,
    literals: Vec<String>,
    /// literal index -> positional facts it starts (`true`) or precedes (`false`)
    literal_positional: Vec<Vec<(u16, bool)>>,
    /// literal index -> literal patterns that fire on it
    literal_patterns: Vec<Vec<PatternId>>,
    /// literal index -> regex indices to confirm
    literal_regexes: Vec<Vec<usize>>,
    regexes: Vec<(Regex, PatternId)>,
}

/// Builds a [`Matcher`]: add patterns, then [`MatcherBuilder::build`].
#[derive(Default)]
pub(crate) struct MatcherBuilder {
    literals: Vec<String>,
    literal_positional: Vec<Vec<(u16, bool)>>,
    literal_patterns: Vec<Vec<PatternId>>,
    literal_regexes: Vec<Vec<usize>>,
    regexes: Vec<(Regex, PatternId)>,
}

impl MatcherBuilder {
    fn literal_index(&mut self, lit: &str) -> usize {
        if let Some(i) = self.literals.iter().position(|l| l == lit) {
            return i;
        }
        self.literals.push(lit.to_owned());
        self.literal_patterns.push(Vec::new());
        self.literal_regexes.push(Vec::new());
        self.literal_positional.push(Vec::new());
        self.literals.len() - 1
    }

    /// Positional fact `index` has its value right after (or, with `at`, starting at) each
    /// occurrence of any of `literals`.
    pub(crate) fn add_positional(&mut self, index: usize, literals: &[String], at: bool) {
        for lit in literals {
            let i = self.literal_index(lit);
            self.literal_positional[i].push((index as u16, at));
        }
    }

    /// `pattern` fires when any of `literals` occurs.
    pub(crate) fn add_literals(&mut self, pattern: PatternId, literals: &[String]) {
        for lit in literals {
            let i = self.literal_index(lit);
            if !self.literal_patterns[i].contains(&pattern) {
                self.literal_patterns[i].push(pattern);
            }
        }
    }

    /// `pattern` fires when `regex` matches a message that contains one of `needles`. Without
    /// `confirm`, the needle alone fires it (the regex runs later, to extract facts).
    pub(crate) fn add_regex(
        &mut self,
        pattern: PatternId,
        regex: Regex,
        needles: &[String],
        confirm: bool,
    ) {
        if !confirm {
            self.add_literals(pattern, needles);
            return;
        }
        let r = self.regexes.len();
        self.regexes.push((regex, pattern));
        for n in needles {
            let i = self.literal_index(n);
            self.literal_regexes[i].push(r);
        }
    }

    pub(crate) fn build(self) -> Matcher {
        let ac = if self.literals.is_empty() {
            None
        } else {
            Some(
                AhoCorasickBuilder::new()
                    .match_kind(MatchKind::Standard)
                    .kind(Some(AhoCorasickKind::DFA))
                    .build(&self.literals)
                    .expect("literal automaton"),
            )
        };
        Matcher {
            ac,
            literals: self.literals,
            literal_positional: self.literal_positional,
            literal_patterns: self.literal_patterns,
            literal_regexes: self.literal_regexes,
            regexes: self.regexes,
        }
    }
}

impl Matcher {
    /// Every distinct literal rotdiag looks for (for `--list-literals` and the benchmarks).
    pub fn literals(&self) -> &[String] {
        &self.literals
    }

    /// Appends the patterns `text` matches to `hits` (sorted, deduplicated).
    pub fn scan(&self, text: &[u8], hits: &mut Hits) {
        self.scan_with_positions(text, hits, None);
    }

    /// [`Matcher::scan`], also recording where positional facts' values are.
    pub(crate) fn scan_with_positions(
        &self,
        text: &[u8],
        hits: &mut Hits,
        mut positions: Option<&mut Positions>,
    ) {
        let Some(ac) = &self.ac else { return };
        let start = hits.len();
        let mut pending_regex: Vec<usize> = Vec::new();
        let mut seen_literal: u64 = 0;
        for m in ac.find_overlapping_iter(text) {
            let li = m.pattern().as_usize();
            if let Some(p) = positions.as_deref_mut() {
                for &(fact, at) in &self.literal_positional[li] {
                    if p.len() < MAX_POSITIONS {
                        let off = if at { m.start() } else { m.end() };
                        p.push((fact, off as u32));
                    }
                }
            }
            // Cheap de-duplication for the first 64 literals; the rest go through the sort below.
            if li < 64 {
                if seen_literal & (1 << li) != 0 {
                    continue;
                }
                seen_literal |= 1 << li;
            }
            hits.extend_from_slice(&self.literal_patterns[li]);
            pending_regex.extend_from_slice(&self.literal_regexes[li]);
        }
        if !pending_regex.is_empty() {
            pending_regex.sort_unstable();
            pending_regex.dedup();
            for r in pending_regex {
                let (re, pid) = &self.regexes[r];
                if hits[start..].contains(pid) {
                    continue;
                }
                if re.is_match(text) {
                    hits.push(*pid);
                }
            }
        }
        let tail = &mut hits[start..];
        tail.sort_unstable();
        let mut w = start;
        for r in start..hits.len() {
            if r == start || hits[r] != hits[w - 1] {
                hits[w] = hits[r];
                w += 1;
            }
        }
        hits.truncate(w);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher() -> Matcher {
        let mut b = MatcherBuilder::default();
        b.add_literals(0, &["Unable to log into database".into()]);
        b.add_literals(
            1,
            &[
                "setSecret: Unable to log into database".into(),
                "testSecret: Unable to log into database".into(),
            ],
        );
        b.add_regex(
            2,
            Regex::new(r"(?P<missing_key>\w+) key is missing from secret JSON").unwrap(),
            &["key is missing from secret JSON".into()],
            true,
        );
        b.add_literals(3, &["never".into()]);
        b.build()
    }

    fn hits(m: &Matcher, s: &str) -> Hits {
        let mut h = Hits::new();
        m.scan(s.as_bytes(), &mut h);
        h
    }

    #[test]
    fn overlapping_literals_all_fire_once() {
        let m = matcher();
        assert_eq!(
            hits(
                &m,
                "[ERROR]\tx\tsetSecret: Unable to log into database ... Unable to log into database"
            ),
            Hits::from_slice(&[0, 1])
        );
        assert_eq!(hits(&m, "nothing here"), Hits::new());
    }

    #[test]
    fn regexes_run_only_behind_their_needle_and_must_match() {
        let m = matcher();
        assert_eq!(
            hits(&m, "KeyError: 'host key is missing from secret JSON'"),
            Hits::from_slice(&[2])
        );
        assert_eq!(hits(&m, "key is missing from secret JSON"), Hits::new());
    }

    #[test]
    fn appends_after_existing_hits() {
        let m = matcher();
        let mut h = Hits::from_slice(&[7]);
        m.scan(b"testSecret: Unable to log into database", &mut h);
        assert_eq!(h, Hits::from_slice(&[7, 0, 1]));
    }
}
