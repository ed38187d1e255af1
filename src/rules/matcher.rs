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
//! Texts are walked two at a time where the caller has several ([`Matcher::scan_pair`]), and on
//! the DFA each of the two as two halves, four walks in step ([`walk_pair_split`]): a walk is a
//! chain of table lookups, each waiting on the last (mostly on the core's first-level cache:
//! the hot part of the 4.8 MB table is small), and walks interleaved wait at once.
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
    dfa: OnceLock<Dfa>,
    scanned: AtomicUsize,
}

/// The literals' DFA, and the depth of each of its states: the length of the text it stands
/// for (the longest end of the text read that begins a literal), what a walk started later
/// needs to know when it agrees with the walk from the start ([`walk_pair`]).
struct Dfa {
    dfa: DFA,
    /// By state id shifted right by `shift` (state ids are multiples of the DFA's stride).
    depth: Vec<u32>,
    shift: u32,
}

impl Dfa {
    fn new(nfa: &NFA, literals: &[String]) -> Dfa {
        let dfa = dfa::Builder::new()
            .build_from_noncontiguous(nfa)
            .expect("literal DFA");
        // Every state but the dead one is the start state or reached from it by a prefix of a
        // literal, and stands for that prefix: its depth is the prefix's length.
        let start = dfa.start_state(Anchored::No).expect("unanchored DFA");
        let mut at_depth = vec![(start, 0u32)];
        for lit in literals {
            let mut sid = start;
            for (i, &b) in lit.as_bytes().iter().enumerate() {
                sid = dfa.next_state(Anchored::No, sid, b);
                at_depth.push((sid, u32::try_from(i + 1).expect("literal under 4 GiB")));
            }
        }
        let id = |s: StateID| s.as_usize();
        let shift = at_depth.iter().map(|&(s, _)| id(s)).filter(|&i| i != 0);
        let shift = shift.map(usize::trailing_zeros).min().unwrap_or(0);
        let len = at_depth
            .iter()
            .map(|&(s, _)| id(s) >> shift)
            .max()
            .unwrap_or(0)
            + 1;
        let mut depth = vec![0; len];
        for (s, d) in at_depth {
            depth[id(s) >> shift] = d;
        }
        Dfa { dfa, depth, shift }
    }

    fn depth(&self, sid: StateID) -> usize {
        self.depth[sid.as_usize() >> self.shift] as usize
    }
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

    /// The DFA, if built or if `len` more bytes to scan reach [`DFA_AFTER`] (`literals` are
    /// the automaton's).
    fn dfa(&self, len: usize, literals: &[String]) -> Option<&Dfa> {
        if let Some(dfa) = self.dfa.get() {
            return Some(dfa);
        }
        if self.scanned.fetch_add(len, Ordering::Relaxed) + len < DFA_AFTER {
            return None;
        }
        Some(self.dfa.get_or_init(|| Dfa::new(&self.nfa, literals)))
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
        positions: Option<&mut Positions>,
    ) {
        let mut found = Collect::new(hits, positions);
        self.each_literal(text, |li, m_start, m_end| {
            found.literal(self, li, m_start, m_end);
        });
        found.finish(self, text);
    }

    /// [`Matcher::scan_with_positions`] of two texts at once, each into its own `hits` and
    /// `positions`.
    ///
    /// Why: the walk is one table lookup per byte, each depending on the last. One walk spends
    /// its time waiting for those loads; independent walks interleaved overlap their waits. On
    /// 1 GiB of S3-export text, `-j 1`, sampled with `perf record`: the walk 1.42-1.46 s of CPU
    /// alone, 0.87-0.95 s in pairs (instructions: about 1 % more); each text of a pair walked
    /// as two halves ([`walk_pair_split`]), with the joining of the halves, 14-26 % less again
    /// (instructions: about 1 % more again).
    pub(crate) fn scan_pair(
        &self,
        texts: [&[u8]; 2],
        hits: [&mut Hits; 2],
        positions: [Option<&mut Positions>; 2],
    ) {
        let [ha, hb] = hits;
        let [pa, pb] = positions;
        let (mut a, mut b) = (Collect::new(ha, pa), Collect::new(hb, pb));
        let Some(lits) = &self.automaton else { return };
        let found_a = |li, s, e| a.literal(self, li, s, e);
        let found_b = |li, s, e| b.literal(self, li, s, e);
        match lits.dfa(texts[0].len() + texts[1].len(), &self.literals) {
            Some(dfa) => walk_pair_split(dfa, texts, found_a, found_b),
            None => {
                walk(&lits.nfa, texts[0], found_a);
                walk(&lits.nfa, texts[1], found_b);
            }
        }
        a.finish(self, texts[0]);
        b.finish(self, texts[1]);
    }
}

/// What the scan of one text gathers as its literals are found: the patterns they fire (and
/// the regexes to confirm), and where positional facts' values are.
struct Collect<'h> {
    hits: &'h mut Hits,
    positions: Option<&'h mut Positions>,
    /// Where this text's hits start in `hits`.
    start: usize,
    pending_regex: Vec<usize>,
    /// Which of the first 64 literals were already seen.
    seen_literal: u64,
}

impl<'h> Collect<'h> {
    fn new(hits: &'h mut Hits, positions: Option<&'h mut Positions>) -> Collect<'h> {
        Collect {
            start: hits.len(),
            hits,
            positions,
            pending_regex: Vec::new(),
            seen_literal: 0,
        }
    }

    /// Literal `li` was found at `m_start..m_end`.
    fn literal(&mut self, m: &Matcher, li: usize, m_start: usize, m_end: usize) {
        if let Some(p) = self.positions.as_deref_mut() {
            for &(fact, at) in &m.literal_positional[li] {
                if p.len() < MAX_POSITIONS {
                    let off = if at { m_start } else { m_end };
                    p.push((fact, off as u32));
                }
            }
        }
        // Cheap de-duplication for the first 64 literals; the rest go through the sort below.
        if li < 64 {
            if self.seen_literal & (1 << li) != 0 {
                return;
            }
            self.seen_literal |= 1 << li;
        }
        // Pushed one by one: these lists hold one or two entries, and `extend_from_slice`
        // called the C library's memmove and memcpy for each (three calls a match).
        for &p in &m.literal_patterns[li] {
            self.hits.push(p);
        }
        for &r in &m.literal_regexes[li] {
            self.pending_regex.push(r);
        }
    }

    /// Runs the regexes the literals found call for on `text`, then sorts and deduplicates
    /// the hits.
    fn finish(mut self, m: &Matcher, text: &[u8]) {
        let (hits, start) = (&mut *self.hits, self.start);
        if !self.pending_regex.is_empty() {
            self.pending_regex.sort_unstable();
            self.pending_regex.dedup();
            for &r in &self.pending_regex {
                let (re, pid) = &m.regexes[r];
                if hits[start..].contains(pid) {
                    continue;
                }
                if re.get().is_match(text) {
                    hits.push(*pid);
                }
            }
        }
        // Most texts hit no pattern or one: nothing to sort or merge (the sort and the merge
        // loop cost about 60 instructions a text when they had nothing to do).
        if hits.len() - start < 2 {
            return;
        }
        hits[start..].sort_unstable();
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
        match lits.dfa(text.len(), &self.literals) {
            Some(dfa) => walk(&dfa.dfa, text, found),
            None => walk(&lits.nfa, text, found),
        }
    }
}

/// [`Matcher::each_literal`] with one automaton (the DFA or the NFA it is made from).
fn walk<A: Automaton>(aut: &A, text: &[u8], mut found: impl FnMut(usize, usize, usize)) {
    let Ok(sid) = aut.start_state(Anchored::No) else {
        return;
    };
    if aut.is_match(sid) {
        report(aut, sid, 0, &mut found);
    }
    walk_on(aut, text, 0, sid, &mut found);
}

/// Calls `found` for each literal that state `sid`, reached at `end`, matches.
fn report<A: Automaton>(
    aut: &A,
    sid: StateID,
    end: usize,
    found: &mut impl FnMut(usize, usize, usize),
) {
    for k in 0..aut.match_len(sid) {
        let pid = aut.match_pattern(sid, k);
        found(pid.as_usize(), end - aut.pattern_len(pid), end);
    }
}

/// Walks `aut` over `text` from `at` in state `sid` to its end, reporting every match.
fn walk_on<A: Automaton>(
    aut: &A,
    text: &[u8],
    mut at: usize,
    mut sid: StateID,
    found: &mut impl FnMut(usize, usize, usize),
) {
    while let Some(end) = next_match(aut, text, at, &mut sid) {
        report(aut, sid, end, found);
        at = end;
    }
}

/// [`walk`] of two texts side by side ([`Matcher::scan_pair`]): both in step over the length of
/// the shorter, then the rest of the longer alone. Each text's matches reach its own `found` in
/// the order [`walk`] gives them.
fn walk_pair<A: Automaton>(
    aut: &A,
    texts: [&[u8]; 2],
    mut found_a: impl FnMut(usize, usize, usize),
    mut found_b: impl FnMut(usize, usize, usize),
) {
    let Ok(start) = aut.start_state(Anchored::No) else {
        return;
    };
    if aut.is_match(start) {
        report(aut, start, 0, &mut found_a);
        report(aut, start, 0, &mut found_b);
    }
    pair_on(aut, texts, 0, [start, start], found_a, found_b);
}

/// [`walk_pair`] from `at` on, the texts' walks being in `states` there.
fn pair_on<A: Automaton>(
    aut: &A,
    [a, b]: [&[u8]; 2],
    mut at: usize,
    [mut sa, mut sb]: [StateID; 2],
    mut found_a: impl FnMut(usize, usize, usize),
    mut found_b: impl FnMut(usize, usize, usize),
) {
    let n = a.len().min(b.len());
    debug_assert!(at <= n, "walked past the shorter text");
    while let Some(end) = next_match_pair(aut, [&a[..n], &b[..n]], at, [&mut sa, &mut sb]) {
        if aut.is_match(sa) {
            report(aut, sa, end, &mut found_a);
        }
        if aut.is_match(sb) {
            report(aut, sb, end, &mut found_b);
        }
        at = end;
    }
    walk_on(aut, a, n, sa, &mut found_a);
    walk_on(aut, b, n, sb, &mut found_b);
}

/// Pairs whose shorter text is shorter than this are walked whole, two walks side by side.
const SPLIT_FROM: usize = 32;

/// [`walk_pair`] on the DFA as four walks side by side: each text's first and second halves
/// (of the shorter's length), then the rest as [`walk_pair`] does.
///
/// Why: the walk is one table lookup per byte, each waiting on the last; two walks overlap
/// their waits, four overlap more (walking the S3-export bench file's scanned texts alone, the
/// pairs 1.06-1.14 ns a byte, four texts at once 0.80-0.91).
///
/// A second half is walked from the start state, as if the text began there; the true walk
/// (from the end of the first half on, in the first half's last state) is in the same state as
/// soon as its state's depth is no more than the bytes walked since the half began: then both
/// stand for the same longest end of the text that begins a literal. So the true walk goes on
/// alone only until then ([`rejoin`]), usually a few bytes, and the second half's matches
/// after that point are the text's.
fn walk_pair_split(
    dfa: &Dfa,
    [a, b]: [&[u8]; 2],
    mut found_a: impl FnMut(usize, usize, usize),
    mut found_b: impl FnMut(usize, usize, usize),
) {
    let aut = &dfa.dfa;
    let half = a.len().min(b.len()) / 2;
    let Ok(start) = aut.start_state(Anchored::No) else {
        return;
    };
    if half < SPLIT_FROM / 2 || aut.is_match(start) {
        return walk_pair(aut, [a, b], found_a, found_b);
    }
    let quarters = [
        &a[..half],
        &a[half..2 * half],
        &b[..half],
        &b[half..2 * half],
    ];
    let mut sids = [start; 4];
    let (mut late_a, mut late_b) = (Late::new(), Late::new());
    let mut at = 0;
    while let Some(end) = next_match_quad(aut, quarters, at, &mut sids) {
        let [a1, a2, b1, b2] = sids;
        if aut.is_match(a1) {
            report(aut, a1, end, &mut found_a);
        }
        if aut.is_match(a2) {
            late_a.push((a2, half + end));
        }
        if aut.is_match(b1) {
            report(aut, b1, end, &mut found_b);
        }
        if aut.is_match(b2) {
            late_b.push((b2, half + end));
        }
        at = end;
    }
    let [a1, a2, b1, b2] = sids;
    let sa = rejoin(dfa, a, half, [a1, a2], &late_a, &mut found_a);
    let sb = rejoin(dfa, b, half, [b1, b2], &late_b, &mut found_b);
    pair_on(aut, [a, b], 2 * half, [sa, sb], found_a, found_b);
}

/// Where a second half's walk was in a match state: (state, end).
type Late = smallvec::SmallVec<[(StateID, usize); 8]>;

/// Joins the walks of `text`'s halves ([`walk_pair_split`]): `first` is the state the first
/// half ended in at `half`, `second` the state the second half's walk (from the start state at
/// `half`) ended in at `2 * half`, with its matches `late`. Reports the matches of the second
/// half, and returns the true state at `2 * half`.
fn rejoin(
    dfa: &Dfa,
    text: &[u8],
    half: usize,
    [first, second]: [StateID; 2],
    late: &[(StateID, usize)],
    found: &mut impl FnMut(usize, usize, usize),
) -> StateID {
    let aut = &dfa.dfa;
    let (mut sid, mut at) = (first, half);
    while dfa.depth(sid) > at - half {
        if at == 2 * half {
            return sid;
        }
        sid = aut.next_state(Anchored::No, sid, text[at]);
        at += 1;
        if aut.is_match(sid) {
            report(aut, sid, at, found);
        }
    }
    for &(s, end) in late {
        if end > at {
            report(aut, s, end, found);
        }
    }
    second
}

/// [`next_match_pair`] of four texts of one length.
#[inline(never)]
fn next_match_quad<A: Automaton>(
    aut: &A,
    texts: [&[u8]; 4],
    from: usize,
    sids: &mut [StateID; 4],
) -> Option<usize> {
    let [mut w, mut x, mut y, mut z] = *sids;
    let [t0, t1, t2, t3] = texts.map(|t| t.get(from..).unwrap_or_default());
    let each = t0.iter().zip(t1).zip(t2).zip(t3).enumerate();
    for (i, (((&p, &q), &r), &u)) in each {
        w = aut.next_state(Anchored::No, w, p);
        x = aut.next_state(Anchored::No, x, q);
        y = aut.next_state(Anchored::No, y, r);
        z = aut.next_state(Anchored::No, z, u);
        let special = aut.is_special(w) | aut.is_special(x) | aut.is_special(y) | aut.is_special(z);
        if special && (is_match(aut, w) | is_match(aut, x) | is_match(aut, y) | is_match(aut, z)) {
            *sids = [w, x, y, z];
            return Some(from + i + 1);
        }
    }
    *sids = [w, x, y, z];
    None
}

/// [`next_match`] of two texts of one length in step: walks both from `from` to the first end
/// where either is in a match state, and returns it (`None` at their end).
#[inline(never)]
fn next_match_pair<A: Automaton>(
    aut: &A,
    [a, b]: [&[u8]; 2],
    from: usize,
    [sa, sb]: [&mut StateID; 2],
) -> Option<usize> {
    let (mut x, mut y) = (*sa, *sb);
    let (a, b) = (
        a.get(from..).unwrap_or_default(),
        b.get(from..).unwrap_or_default(),
    );
    for (i, (&p, &q)) in a.iter().zip(b).enumerate() {
        x = aut.next_state(Anchored::No, x, p);
        y = aut.next_state(Anchored::No, y, q);
        if (aut.is_special(x) || aut.is_special(y)) && (is_match(aut, x) || is_match(aut, y)) {
            (*sa, *sb) = (x, y);
            return Some(from + i + 1);
        }
    }
    (*sa, *sb) = (x, y);
    None
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

    /// Where a walk found a literal: (literal, start, end).
    type At = (usize, usize, usize);

    /// A matcher with a literal pattern per literal, and what aho-corasick's overlapping
    /// iterator finds in a text: what the hand walks must give, in that order.
    fn literal_matcher(literals: &[&str]) -> (Matcher, impl Fn(&str) -> Vec<At>) {
        let mut b = MatcherBuilder::default();
        for (i, l) in literals.iter().enumerate() {
            b.add_literals(i as PatternId, &[l.to_string()]);
        }
        let ac = aho_corasick::AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .build(literals)
            .unwrap();
        let want = move |text: &str| {
            let found = ac.find_overlapping_iter(text);
            found
                .map(|x| (x.pattern().as_usize(), x.start(), x.end()))
                .collect()
        };
        (b.build(), want)
    }

    /// Literals that overlap, nest, and share prefixes and suffixes.
    const TANGLED: [&str; 10] = [
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

    /// What a walk of `aut` over `text` finds.
    fn walked<A: Automaton>(aut: &A, text: &str) -> Vec<At> {
        let mut got = Vec::new();
        walk(aut, text.as_bytes(), |li, s, e| got.push((li, s, e)));
        got
    }

    /// What [`walk_pair`] of `aut` finds in each of `a` and `b`.
    fn walked_pair<A: Automaton>(aut: &A, a: &str, b: &str) -> (Vec<At>, Vec<At>) {
        let (mut fa, mut fb) = (Vec::new(), Vec::new());
        let (to_a, to_b) = (|l, s, e| fa.push((l, s, e)), |l, s, e| fb.push((l, s, e)));
        walk_pair(aut, [a.as_bytes(), b.as_bytes()], to_a, to_b);
        (fa, fb)
    }

    /// The hand-walked automata (the NFA, then the DFA made from it) find what aho-corasick's
    /// overlapping iterator finds, in the same order.
    #[test]
    fn every_occurrence_in_the_iterators_order() {
        let (m, want) = literal_matcher(&TANGLED);
        let lits = m.automaton.as_ref().unwrap();
        let dfa = &lits.dfa(DFA_AFTER, &m.literals).unwrap().dfa;
        for text in [
            "",
            "a",
            "Error: Unable to log at host at 10.0.0.1:443",
            "abababab at at at rror:Error:",
            "\u{a0}at\t\r\nUnable to log",
        ] {
            assert_eq!(walked(&lits.nfa, text), want(text), "NFA, {text:?}");
            assert_eq!(walked(dfa, text), want(text), "DFA, {text:?}");
        }
    }

    /// The walk goes four bytes a round: a literal ending at each place of a round, in the
    /// tail after the last round, at the very start and at the very end is found, once.
    #[test]
    fn matches_at_every_place_of_a_round_and_at_the_end() {
        let (m, want) = literal_matcher(&["Error", "x", "rr"]);
        let lits = m.automaton.as_ref().unwrap();
        let dfa = &lits.dfa(DFA_AFTER, &m.literals).unwrap().dfa;
        for before in 0..9 {
            for after in 0..9 {
                let text = format!("{}Error{}x", ".".repeat(before), "-".repeat(after));
                assert_eq!(want(&text).len(), 3);
                assert_eq!(walked(dfa, &text), want(&text), "DFA, {text:?}");
                assert_eq!(walked(&lits.nfa, &text), want(&text), "NFA, {text:?}");
            }
        }
    }

    /// Two texts walked side by side: each gets what a walk of it alone finds, whichever is
    /// longer, with either or both empty.
    #[test]
    fn two_texts_side_by_side_give_what_each_gives_alone() {
        let (m, want) = literal_matcher(&TANGLED);
        let texts = [
            "",
            "a",
            "at",
            "Error: Unable to log at host at 10.0.0.1:443",
            "abababab at at at rror:Error:",
            "Unable to log",
            "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx Unable to log",
        ];
        let lits = m.automaton.as_ref().unwrap();
        let dfa = &lits.dfa(DFA_AFTER, &m.literals).unwrap().dfa;
        for a in texts {
            for b in texts {
                let on_dfa = walked_pair(dfa, a, b);
                assert_eq!(on_dfa, (want(a), want(b)), "DFA, {a:?} beside {b:?}");
                let on_nfa = walked_pair(&lits.nfa, a, b);
                assert_eq!(on_nfa, on_dfa, "NFA, {a:?} beside {b:?}");
            }
        }
    }

    /// Texts long enough to be walked as halves ([`walk_pair_split`]), with literals across
    /// the middle, nested, overlapping, and one longer than a half: each text gets what a walk
    /// of it alone finds.
    #[test]
    fn texts_walked_as_halves_give_what_each_gives_alone() {
        let mut tangled = TANGLED.to_vec();
        let long = "Unable to log into the database at host at 10.0.0.1 at all";
        tangled.push(long);
        let (m, want) = literal_matcher(&tangled);
        let dfa = m
            .automaton
            .as_ref()
            .unwrap()
            .dfa(DFA_AFTER, &m.literals)
            .unwrap();
        let pieces = [
            "a",
            "b",
            "t",
            " ",
            "at",
            "Error",
            "rror:",
            "Unable to",
            " log",
            "x",
            long,
        ];
        // A fixed pseudo-random sequence of texts of 0 to 150 bytes made of those pieces.
        let mut seed = 7u64;
        let mut next = |n: usize| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as usize % n
        };
        let mut texts: Vec<String> = vec![String::new(), "x".repeat(40), long.to_string()];
        for _ in 0..300 {
            let mut t = String::new();
            let len = next(150);
            while t.len() < len {
                let p = pieces[next(pieces.len() - 1)];
                t.push_str(if next(20) == 0 { long } else { p });
            }
            texts.push(t);
        }
        let mut split = 0;
        for (i, a) in texts.iter().enumerate() {
            for b in texts.iter().skip(i % 7).step_by(23) {
                split += usize::from(a.len().min(b.len()) >= SPLIT_FROM);
                let (mut fa, mut fb) = (Vec::new(), Vec::new());
                let (to_a, to_b) = (|l, s, e| fa.push((l, s, e)), |l, s, e| fb.push((l, s, e)));
                walk_pair_split(dfa, [a.as_bytes(), b.as_bytes()], to_a, to_b);
                assert_eq!((fa, fb), (want(a), want(b)), "{a:?} beside {b:?}");
            }
        }
        assert!(split > 1000, "{split} pairs split");
    }

    #[test]
    fn a_pair_scanned_gets_the_hits_and_positions_of_each_scanned_alone() {
        let mut b = MatcherBuilder::default();
        b.add_literals(0, &["Unable to log into database".into()]);
        let missing = LazyRegex::new(r"(?P<missing_key>\w+) key is missing").unwrap();
        b.add_regex(1, Arc::new(missing), &["key is missing".into()], true);
        b.add_literals(2, &["never".into()]);
        b.add_positional(0, &["into ".into()], false);
        b.add_positional(1, &["Unable".into()], true);
        let m = b.build();
        let texts = [
            "setSecret: Unable to log into database",
            "password key is missing from secret JSON, never",
            "",
            "key is missing from secret JSON",
            "testSecret: Unable to log into database; Unable to log into database",
        ];
        let alone = |t: &str| {
            let (mut h, mut p) = (Hits::new(), Positions::new());
            m.scan_with_positions(t.as_bytes(), &mut h, Some(&mut p));
            (h, p)
        };
        for a in texts {
            for b in texts {
                let (mut ha, mut hb) = (Hits::from_slice(&[9]), Hits::new());
                let (mut pa, mut pb) = (Positions::new(), Positions::new());
                let both = [a.as_bytes(), b.as_bytes()];
                m.scan_pair(both, [&mut ha, &mut hb], [Some(&mut pa), Some(&mut pb)]);
                let (want_a, want_b) = (alone(a), alone(b));
                let mut want_ha = Hits::from_slice(&[9]);
                want_ha.extend_from_slice(&want_a.0);
                assert_eq!((ha, pa), (want_ha, want_a.1), "{a:?} beside {b:?}");
                assert_eq!((hb, pb), want_b, "{b:?} beside {a:?}");
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
