//! The hot path: which patterns does a message match?
//!
//! All literals of all patterns (and the needles of regex patterns) are compiled into one
//! aho-corasick automaton. A message is scanned once; each literal found turns on the literal
//! patterns that contain it and queues the regex patterns it is a needle of. Only those regexes run,
//! and only on that message, which keeps regex cost proportional to the lines that matter.
//!
//! The automaton is aho-corasick's DFA, walked by hand ([`Matcher::each_literal`]): every
//! occurrence of every literal is needed (overlapping), no prefilter applies to hundreds of
//! literals (many of four or five common bytes), and the crate's overlapping iterator keeps its
//! position in a state struct it reloads and stores around every byte and every match, which
//! cost about twice the instructions of the plain loop of one table lookup per byte.
//!
//! The DFA is built only once enough text has been scanned to pay for it ([`Literals`]): building
//! it is most of the cost of compiling the rules, all the time of a pasted one-line error. Until
//! then the same automaton's NFA, which the DFA is made from, is walked: the same matches in the
//! same order, at more instructions per byte.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use aho_corasick::automaton::Automaton;
use aho_corasick::automaton::StateID;
use aho_corasick::dfa::{self, DFA};
use aho_corasick::nfa::noncontiguous::{self, NFA};
use aho_corasick::{Anchored, MatchKind};

use super::PatternId;
use super::lazy::LazyRegex;

/// The patterns a message matched, sorted and without duplicates (inline up to a few, so most
/// messages allocate nothing).
pub type Hits = smallvec::SmallVec<[PatternId; 6]>;

/// Where the literals of positional facts were found: (positional fact index, offset of the value).
pub(crate) type Positions = smallvec::SmallVec<[(u16, u32); 4]>;

/// Occurrences of positional literals recorded per message, at most.
const MAX_POSITIONS: usize = 16;

/// Bytes of text scanned with the NFA before the DFA is built. The NFA walk costs about 27
/// instructions per byte more than the DFA's and the DFA about 86 M to build, so the two break
/// even near 3 MiB of scanned text; the limit is set well under that, so a large input pays at
/// most 1.8 M for it (measured on 16 MiB of S3-export text with the limit as a variable: NFA
/// only 962 M, DFA from the start 905 M, from 1 MiB of scanned text on 934 M), while an input
/// scanned in less never builds the DFA (a one-line error: 166 M -> 80 M).
const DFA_AFTER: usize = 64 << 10;

/// The literals' automaton: its NFA, built with the rules, and its DFA, built from the NFA by the
/// first scan after [`DFA_AFTER`] bytes (scans already running go on with the NFA meanwhile; a
/// scan that also reaches the limit waits for the one building).
struct Literals {
    nfa: NFA,
    dfa: OnceLock<DFA>,
    scanned: AtomicUsize,
}

impl Literals {
    fn new(literals: &[String]) -> Literals {
        let nfa = noncontiguous::Builder::new()
            .match_kind(MatchKind::Standard)
            .prefilter(false)
            .build(literals)
            .expect("literal automaton");
        Literals {
            nfa,
            dfa: OnceLock::new(),
            scanned: AtomicUsize::new(0),
        }
    }

    /// The DFA, if built or if `len` more bytes to scan reach [`DFA_AFTER`].
    fn dfa(&self, len: usize) -> Option<&DFA> {
        if let Some(dfa) = self.dfa.get() {
            return Some(dfa);
        }
        if self.scanned.fetch_add(len, Ordering::Relaxed) + len < DFA_AFTER {
            return None;
        }
        Some(self.dfa.get_or_init(|| {
            dfa::Builder::new()
                .build_from_noncontiguous(&self.nfa)
                .expect("literal DFA")
        }))
    }
}

pub struct Matcher {
    automaton: Option<Literals>,
    literals: Vec<String>,
    /// literal index -> positional facts it starts (`true`) or precedes (`false`)
    literal_positional: Vec<Vec<(u16, bool)>>,
    /// literal index -> literal patterns that fire on it
    literal_patterns: Vec<Vec<PatternId>>,
    /// literal index -> regex indices to confirm
    literal_regexes: Vec<Vec<usize>>,
    regexes: Vec<(Arc<LazyRegex>, PatternId)>,
}

/// Builds a [`Matcher`]: add patterns, then [`MatcherBuilder::build`].
#[derive(Default)]
pub(crate) struct MatcherBuilder {
    literals: Vec<String>,
    literal_positional: Vec<Vec<(u16, bool)>>,
    literal_patterns: Vec<Vec<PatternId>>,
    literal_regexes: Vec<Vec<usize>>,
    regexes: Vec<(Arc<LazyRegex>, PatternId)>,
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
        regex: Arc<LazyRegex>,
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
        let automaton = (!self.literals.is_empty()).then(|| Literals::new(&self.literals));
        Matcher {
            automaton,
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
        let start = hits.len();
        let mut pending_regex: Vec<usize> = Vec::new();
        let mut seen_literal: u64 = 0;
        self.each_literal(text, |li, m_start, m_end| {
            if let Some(p) = positions.as_deref_mut() {
                for &(fact, at) in &self.literal_positional[li] {
                    if p.len() < MAX_POSITIONS {
                        let off = if at { m_start } else { m_end };
                        p.push((fact, off as u32));
                    }
                }
            }
            // Cheap de-duplication for the first 64 literals; the rest go through the sort below.
            if li < 64 {
                if seen_literal & (1 << li) != 0 {
                    return;
                }
                seen_literal |= 1 << li;
            }
            // Pushed one by one: these lists hold one or two entries, and `extend_from_slice`
            // called the C library's memmove and memcpy for each (three calls a match).
            for &p in &self.literal_patterns[li] {
                hits.push(p);
            }
            for &r in &self.literal_regexes[li] {
                pending_regex.push(r);
            }
        });
        if !pending_regex.is_empty() {
            pending_regex.sort_unstable();
            pending_regex.dedup();
            for r in pending_regex {
                let (re, pid) = &self.regexes[r];
                if hits[start..].contains(pid) {
                    continue;
                }
                if re.get().is_match(text) {
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

impl Matcher {
    /// Calls `found(literal, start, end)` for every occurrence of every literal in `text`, in
    /// the order of their ends (at one end, in the automaton's order): what aho-corasick's
    /// overlapping iterator yields, in a loop of one transition per byte.
    fn each_literal(&self, text: &[u8], found: impl FnMut(usize, usize, usize)) {
        let Some(lits) = &self.automaton else { return };
        match lits.dfa(text.len()) {
            Some(dfa) => walk(dfa, text, found),
            None => walk(&lits.nfa, text, found),
        }
    }
}

/// [`Matcher::each_literal`] with one automaton (the DFA or the NFA it is made from).
fn walk<A: Automaton>(aut: &A, text: &[u8], mut found: impl FnMut(usize, usize, usize)) {
    let Ok(mut sid) = aut.start_state(Anchored::No) else {
        return;
    };
    let mut report = |sid, end: usize| {
        for k in 0..aut.match_len(sid) {
            let pid = aut.match_pattern(sid, k);
            found(pid.as_usize(), end - aut.pattern_len(pid), end);
        }
    };
    if aut.is_match(sid) {
        report(sid, 0);
    }
    let mut at = 0;
    while let Some(end) = next_match(aut, text, at, &mut sid) {
        report(sid, end);
        at = end;
    }
}

/// Walks `aut` over `text` from `from` in state `sid` to the end of the next match, and returns
/// it (`sid` is then the match state), or `None` at the end of `text`.
///
/// A function of its own, not inlined into the caller: the loop then keeps the text, the
/// position and the state in registers (inlined with the handling of matches, the compiler
/// reloaded them from the stack at every byte). Four bytes a round, unrolled: the loop's own
/// increment and end test once per four transitions, not once per byte (11 instructions a byte
/// on the DFA before, 12 % fewer now: 61.7 M -> 54.1 M on the 16 MiB S3-export bench file).
#[inline(never)]
fn next_match<A: Automaton>(aut: &A, text: &[u8], from: usize, sid: &mut StateID) -> Option<usize> {
    let mut s = *sid;
    let rest = text.get(from..).unwrap_or_default();
    // One comparison per byte; with the Standard match kind and no prefilter, the special
    // states are the matches (and a dead state a search never enters; the NFA's fail state its
    // `next_state` never returns), told apart out of line so the compiler does not fold both
    // tests into every byte.
    let mut step = |b: u8| {
        s = aut.next_state(Anchored::No, s, b);
        aut.is_special(s) && is_match(aut, s)
    };
    let (quads, tail) = rest.as_chunks::<4>();
    let mut found = None;
    'quads: for (q, quad) in quads.iter().enumerate() {
        for (i, &b) in quad.iter().enumerate() {
            if step(b) {
                found = Some(from + 4 * q + i + 1);
                break 'quads;
            }
        }
    }
    if found.is_none() {
        let done = from + 4 * quads.len();
        found = tail.iter().position(|&b| step(b)).map(|i| done + i + 1);
    }
    *sid = s;
    found
}

#[inline(never)]
fn is_match<A: Automaton>(aut: &A, s: StateID) -> bool {
    aut.is_match(s)
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
            Arc::new(
                LazyRegex::new(r"(?P<missing_key>\w+) key is missing from secret JSON").unwrap(),
            ),
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

    /// The hand-walked automata (the NFA, then the DFA made from it) find what aho-corasick's
    /// overlapping iterator finds, in the same order.
    #[test]
    fn every_occurrence_in_the_iterators_order() {
        let literals = [
            "at ",
            "at",
            "t",
            "Error",
            "rror:",
            "Unable to",
            "to log",
            "a",
            "ab",
            "b",
        ];
        let mut b = MatcherBuilder::default();
        for (i, l) in literals.iter().enumerate() {
            b.add_literals(i as PatternId, &[l.to_string()]);
        }
        let m = b.build();
        let ac = aho_corasick::AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .build(literals)
            .unwrap();
        for text in [
            "",
            "a",
            "Error: Unable to log at host at 10.0.0.1:443",
            "abababab at at at rror:Error:",
            "\u{a0}at\t\r\nUnable to log",
        ] {
            let want: Vec<(usize, usize, usize)> = ac
                .find_overlapping_iter(text)
                .map(|x| (x.pattern().as_usize(), x.start(), x.end()))
                .collect();
            let lits = m.automaton.as_ref().unwrap();
            let mut nfa = Vec::new();
            walk(&lits.nfa, text.as_bytes(), |li, s, e| nfa.push((li, s, e)));
            assert_eq!(nfa, want, "NFA, {text:?}");
            let mut dfa = Vec::new();
            let built = lits.dfa(DFA_AFTER).unwrap();
            walk(built, text.as_bytes(), |li, s, e| dfa.push((li, s, e)));
            assert_eq!(dfa, want, "DFA, {text:?}");
        }
    }

    /// The walk goes four bytes a round: a literal ending at each place of a round, in the
    /// tail after the last round, at the very start and at the very end is found, once.
    #[test]
    fn matches_at_every_place_of_a_round_and_at_the_end() {
        let literals = ["Error", "x", "rr"];
        let mut b = MatcherBuilder::default();
        for (i, l) in literals.iter().enumerate() {
            b.add_literals(i as PatternId, &[l.to_string()]);
        }
        let m = b.build();
        let ac = aho_corasick::AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .build(literals)
            .unwrap();
        let lits = m.automaton.as_ref().unwrap();
        let dfa = lits.dfa(DFA_AFTER).unwrap();
        for before in 0..9 {
            for after in 0..9 {
                let text = format!("{}Error{}x", ".".repeat(before), "-".repeat(after));
                let want: Vec<(usize, usize, usize)> = ac
                    .find_overlapping_iter(&text)
                    .map(|x| (x.pattern().as_usize(), x.start(), x.end()))
                    .collect();
                assert_eq!(want.len(), 3);
                let mut got = Vec::new();
                walk(dfa, text.as_bytes(), |li, s, e| got.push((li, s, e)));
                assert_eq!(got, want, "DFA, {text:?}");
                got.clear();
                walk(&lits.nfa, text.as_bytes(), |li, s, e| got.push((li, s, e)));
                assert_eq!(got, want, "NFA, {text:?}");
            }
        }
    }

    #[test]
    fn appends_after_existing_hits() {
        let m = matcher();
        let mut h = Hits::from_slice(&[7]);
        m.scan(b"testSecret: Unable to log into database", &mut h);
        assert_eq!(h, Hits::from_slice(&[7, 0, 1]));
    }
}
