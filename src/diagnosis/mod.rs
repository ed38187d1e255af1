//! Ranked diagnoses: occurrences of the same cause for the same secret, merged and ordered.
//!
//! Each [`Occurrence`] the engine produces is one failed invocation explained by one cause. Retries
//! and repeated rotations produce many occurrences of the same cause for the same secret; the
//! [`Aggregator`] folds them into one [`Diagnosis`] keyed by (cause, subject), where the subject is
//! the secret ARN, or the function, or the log stream, or the input when nothing better is known.
//! The representative occurrence (whose evidence and remediation are shown) is chosen by a total
//! order, and aggregators merge associatively, so the report is identical whatever order inputs
//! were read in and however many threads read them.
//!
//! Diagnoses are the one thing kept for the whole run (a month of logs of a few thousand secrets
//! makes ten thousand of them), so each holds only what differs between them: evidence text and
//! filled-in texts, deflated together ([`packed`]), while texts no fact went into stay in the
//! rule set (copied once as the run ends, `Wording`). The report makes the diagnoses a chunk
//! at a time ([`Diagnoses`]), so their texts are never all unpacked at once.

mod packed;
pub mod timeline;

use rayon::prelude::*;
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::aws::RequestId;
use crate::engine::Occurrence;
use crate::lambda::invocation::KeptLine;
use crate::redact::redact_recurring;
use crate::rules::{Lookup, RuleSet, Severity};
use crate::template::render;
use crate::time::{EpochMs, format_iso, parse_any};
use packed::{BATCH, Batch, Batches, Filled, Packed, Texts};
use std::borrow::Cow;

/// The representative occurrence of a diagnosis, kept compact: its texts are rendered (facts
/// redacted, then filled in) when it is made ([`Rendered::new`]), so no facts are kept, and
/// packed ([`Packed`]) with others an [`Aggregator`] keeps.
#[derive(Clone, Debug)]
struct Best {
    cause: usize,
    symptom: usize,
    candidate: usize,
    confidence: f64,
    severity: Severity,
    alternatives: Box<[(usize, f64)]>,
    /// Where each line of evidence is (its text is in `texts`).
    evidence: Box<[Shown]>,
    step: Option<crate::aws::Step>,
    /// Shared by the diagnoses of one secret (and with their subjects): see [`Names`].
    secret: Option<Arc<str>>,
    function: Option<Arc<str>>,
    source: u64,
    first_seen: Option<EpochMs>,
    /// The weight of each reason (its text is in `texts`).
    why: Box<[f64]>,
    /// Its evidence lines' texts and its filled-in texts.
    texts: Held,
}

/// A representative's [`Texts`]: as made, or packed with a batch of others, or moved out into
/// its diagnosis. Boxed when fresh: most of a run's representatives are packed, and each would
/// otherwise keep the 96 bytes of an unpacked `Texts` in its entry (11,786 entries at 1 GiB of
/// S3-export text).
#[derive(Clone, Debug)]
enum Held {
    Fresh(Box<Texts>),
    /// In a batch, at this place.
    Packed(Arc<Batch>, u32),
    /// Moved out as its diagnosis was made.
    Taken,
}

/// Where a line of evidence a diagnosis keeps is (its text, redacted on the way out with every
/// other string of the report by `report::egress`, is in the diagnosis's [`Texts`]).
#[derive(Clone, Debug)]
struct Shown {
    source: u64,
    line: u64,
    timestamp: Option<EpochMs>,
    request_id: Option<RequestId>,
}

impl Shown {
    fn new(l: &KeptLine) -> Shown {
        Shown {
            source: l.source,
            line: l.line,
            timestamp: l.timestamp,
            request_id: l.request_id,
        }
    }
}

fn fill(template: &str, facts: &BTreeMap<String, String>) -> Filled {
    let s = render(template, facts);
    (s != template).then(|| s.into_boxed_str())
}

/// The facts a fix is filled with: those of the logs, and for each fact they do not state that a
/// `[[model.lookup]]` can look up from the ones they do, the command that looks it up.
fn with_lookups<'a>(
    facts: &'a BTreeMap<String, String>,
    lookups: &[Lookup],
) -> Cow<'a, BTreeMap<String, String>> {
    let mut out = Cow::Borrowed(facts);
    for l in lookups {
        if l.applies(&out) {
            let command = render(&l.command, &out);
            out.to_mut().insert(l.fact.clone(), command);
        }
    }
    out
}

/// The text of a [`Filled`] template.
fn filled(f: Filled, template: &str) -> String {
    f.map_or_else(|| template.to_owned(), String::from)
}

impl Best {
    fn new(mut o: Occurrence, rules: &RuleSet) -> Best {
        let cause = &rules.causes[o.cause];
        let symptom = &rules.symptoms[o.symptom];
        let cand = &symptom.candidates[o.candidate];
        // Templates are ours; only the facts filled into them come from the logs. Each fact is
        // redacted on its own here (out of the notation it sat in, a credential in it could not
        // be recognised later); every rendered text is redacted again on the way out
        // (`report::egress`).
        // The same facts come with every occurrence of a failure (its secret, function, host):
        // their redaction is remembered ([`redact_recurring`]).
        for v in o.facts.values_mut() {
            if let std::borrow::Cow::Owned(r) = redact_recurring(v) {
                *v = r;
            }
        }
        let facts = &o.facts;
        let fix_facts = with_lookups(facts, &rules.model.lookups);
        let remediation = cause.remediation.iter().chain(&cand.remediation);
        Best {
            cause: o.cause,
            symptom: o.symptom,
            candidate: o.candidate,
            confidence: o.confidence,
            severity: o.severity,
            alternatives: o.alternatives.into_boxed_slice(),
            evidence: o.evidence.iter().map(Shown::new).collect(),
            step: o.step,
            secret: o.secret.as_deref().map(|s| redact_recurring(s).into()),
            function: o.function.as_deref().map(Arc::from),
            source: o.source,
            first_seen: o.first_seen,
            why: o.why.iter().map(|w| w.weight).collect(),
            texts: Held::Fresh(Box::new(Texts {
                evidence: o
                    .evidence
                    .into_iter()
                    .map(|l| l.text.into_boxed_str())
                    .collect(),
                title: fill(cause.title_for(facts), facts),
                symptom_title: fill(&symptom.title, facts),
                explanation: cause.explanation.as_deref().and_then(|e| fill(e, facts)),
                remediation: remediation.map(|r| fill(r, &fix_facts)).collect(),
                why: o
                    .why
                    .iter()
                    .map(|w| render(&w.text, facts).into())
                    .collect(),
            })),
        }
    }
}

/// An occurrence made ready to be folded into a diagnosis: every fact that came from the logs
/// redacted, its texts rendered with them, its subject found. [`Rendered::new`] is the only way
/// to make one and [`Aggregator::add`] takes nothing else, so a diagnosis never holds a fact
/// that was not redacted on its own, whichever path built it (a batch run, follow mode).
///
/// Why a type of its own: redacting and rendering are most of what folding an occurrence costs
/// (redaction alone is about 11,000 instructions a fact value), and they need nothing of the
/// fold's state. Made where occurrences are made (`pipeline::sink` evaluates closed rotations
/// on the pool), they leave the fold, which runs on one thread in input order, only keys to
/// compare and values to move. Every occurrence is rendered, not only those that become a
/// representative: more work in all, none of it on the serial path.
#[derive(Debug)]
pub(crate) struct Rendered {
    subject: Subject,
    first_seen: Option<EpochMs>,
    last_seen: Option<EpochMs>,
    best: Best,
}

impl Rendered {
    pub(crate) fn new(o: Occurrence, rules: &RuleSet) -> Rendered {
        Rendered {
            subject: Subject::of(&o),
            first_seen: o.first_seen,
            last_seen: o.last_seen,
            best: Best::new(o, rules),
        }
    }

    /// The cause it explains the failure by, and with what confidence.
    pub(crate) fn cause(&self) -> (usize, f64) {
        (self.best.cause, self.best.confidence)
    }
}

#[derive(Clone, Debug)]
struct Agg {
    best: Best,
    occurrences: u64,
    first_seen: Option<EpochMs>,
    last_seen: Option<EpochMs>,
}

type RankKey = (
    std::cmp::Reverse<OrdF64>,
    std::cmp::Reverse<Severity>,
    Option<EpochMs>,
    u64,
    Option<u64>,
    usize,
);

/// The order of candidates for representative: most confident, most severe, earliest, then by
/// position in the input (a total order).
fn rank_key(
    confidence: f64,
    severity: Severity,
    first_seen: Option<EpochMs>,
    source: u64,
    first_line: Option<u64>,
    symptom: usize,
) -> RankKey {
    (
        std::cmp::Reverse(OrdF64(confidence)),
        std::cmp::Reverse(severity),
        first_seen,
        source,
        first_line,
        symptom,
    )
}

#[derive(PartialEq)]
struct OrdF64(f64);
impl Eq for OrdF64 {}
impl PartialOrd for OrdF64 {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for OrdF64 {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0)
    }
}

fn best_key(b: &Best) -> RankKey {
    rank_key(
        b.confidence,
        b.severity,
        b.first_seen,
        b.source,
        b.evidence.first().map(|l| l.line),
        b.symptom,
    )
}

fn min_opt(a: Option<EpochMs>, b: Option<EpochMs>) -> Option<EpochMs> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, y) => x.or(y),
    }
}

fn max_opt(a: Option<EpochMs>, b: Option<EpochMs>) -> Option<EpochMs> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, y) => x.or(y),
    }
}

/// Secret ARNs and function names, stored once for all the aggregator's entries: a month of
/// logs of a few thousand secrets makes ten thousand diagnoses (11,786 at 1 GiB of S3-export
/// text), each of which held its secret twice (subject and representative) and its function.
/// Interned as entries are made or their representative replaced, on the fold's thread;
/// occurrences that only count towards an entry are not looked up.
#[derive(Default, Clone, Debug)]
struct Names(rustc_hash::FxHashSet<Arc<str>>);

impl Names {
    /// The stored copy of `s` (stored now if new).
    fn get(&mut self, s: Arc<str>) -> Arc<str> {
        if let Some(k) = self.0.get(&*s) {
            return Arc::clone(k);
        }
        self.0.insert(Arc::clone(&s));
        s
    }

    fn subject(&mut self, s: Subject) -> Subject {
        match s {
            Subject::Secret(n) => Subject::Secret(self.get(n)),
            Subject::Function(n) => Subject::Function(self.get(n)),
            other => other,
        }
    }

    fn best(&mut self, mut b: Best) -> Best {
        b.secret = b.secret.map(|n| self.get(n));
        b.function = b.function.map(|n| self.get(n));
        b
    }
}

/// Folds occurrences into one entry per (cause, subject).
#[derive(Default, Clone, Debug)]
pub(crate) struct Aggregator {
    /// Boxed: the map's nodes stay small, and ranking moves pointers, not 300-byte entries
    /// (11,786 at 1 GiB of S3-export text).
    map: BTreeMap<(usize, Subject), Box<Agg>>,
    /// The secret and function names the entries hold, once each.
    names: Names,
    /// Representatives taken since the last batch was packed (an upper bound: some were
    /// replaced since).
    fresh: usize,
    /// Representatives the fold is done with (not the best, or replaced), to be dropped on the
    /// pool [`SPENT`] at a time ([`Aggregator::spend`]).
    spent: Vec<Best>,
}

/// Representatives dropped together on the pool. Why: dropping one frees its texts (about
/// 1,700 instructions each, callgrind), and most occurrences folded at the end of a run over a
/// folder of S3 export objects are not their diagnosis's best: 7.7 M of the 147 M instructions
/// the main thread did on 20,000 of its objects at `-j 2`, while the pool waited.
const SPENT: usize = 64;

impl Aggregator {
    /// Folds in one occurrence, already [`Rendered`]: this only compares keys and moves values,
    /// so the fold that calls it (one thread, in input order) does no redaction or rendering.
    pub(crate) fn add(&mut self, r: Rendered) {
        let Rendered {
            subject,
            first_seen,
            last_seen,
            best,
        } = r;
        let key = (best.cause, subject);
        let Some(a) = self.map.get_mut(&key) else {
            // A new entry (a lookup more than `entry` would take, for new ones only): its names
            // are interned, which needs the key by value.
            let key = (key.0, self.names.subject(key.1));
            let best = self.names.best(best);
            self.map.insert(
                key,
                Box::new(Agg {
                    first_seen,
                    last_seen,
                    occurrences: 1,
                    best,
                }),
            );
            self.took_one();
            return;
        };
        a.occurrences += 1;
        a.first_seen = min_opt(a.first_seen, first_seen);
        a.last_seen = max_opt(a.last_seen, last_seen);
        if best_key(&best) < best_key(&a.best) {
            let replaced = std::mem::replace(&mut a.best, self.names.best(best));
            self.spend(replaced);
            self.took_one();
        } else {
            self.spend(best);
        }
    }

    /// Drops `b` on the pool with others, [`SPENT`] at a time ([`pool::discard`](crate::pool::discard)).
    fn spend(&mut self, b: Best) {
        self.spent.push(b);
        if self.spent.len() >= SPENT {
            crate::pool::discard(std::mem::take(&mut self.spent));
        }
    }

    /// Counts a representative taken, and packs the batch it completes.
    fn took_one(&mut self) {
        self.fresh += 1;
        if self.fresh >= BATCH {
            self.pack();
        }
    }

    /// Packs the representatives not packed yet into one batch.
    fn pack(&mut self) {
        self.fresh = 0;
        // The fresh texts are moved out (their places hold `Taken` until the batch is made).
        let mut places: Vec<&mut Held> = Vec::new();
        let mut fresh: Vec<Box<Texts>> = Vec::new();
        for held in self.map.values_mut().map(|a| &mut a.best.texts) {
            match std::mem::replace(held, Held::Taken) {
                Held::Fresh(t) => {
                    fresh.push(t);
                    places.push(held);
                }
                other => *held = other,
            }
        }
        let batch = Batch::deflating(fresh);
        for (i, place) in places.into_iter().enumerate() {
            *place = Held::Packed(batch.clone(), i as u32);
        }
    }

    pub(crate) fn merge(&mut self, other: Aggregator) {
        self.fresh += other.fresh;
        if self.map.is_empty() {
            // Into nothing: taken whole (what inserting each entry would make).
            self.map = other.map;
            self.names = other.names;
            return;
        }
        for (k, b) in other.map {
            match self.map.get_mut(&k) {
                None => {
                    self.map.insert(k, b);
                }
                Some(a) => {
                    a.occurrences += b.occurrences;
                    a.first_seen = min_opt(a.first_seen, b.first_seen);
                    a.last_seen = max_opt(a.last_seen, b.last_seen);
                    if best_key(&b.best) < best_key(&a.best) {
                        a.best = b.best;
                    }
                }
            }
        }
    }

    /// The ranked diagnoses, made at once. `sources` names the inputs by source id.
    pub(crate) fn finish(self, rules: &RuleSet, sources: &[(u64, String)]) -> Vec<Diagnosis> {
        self.rank(rules, sources).into_vec()
    }

    /// The diagnoses ranked, to be made a chunk at a time as a report writes them
    /// ([`Diagnoses`]). `sources` names the inputs by source id.
    pub(crate) fn rank(self, rules: &RuleSet, sources: &[(u64, String)]) -> Diagnoses {
        let mut out: Vec<(Box<Agg>, Subject)> = self
            .map
            .into_iter()
            .map(|((_, subject), agg)| (agg, subject))
            .collect();
        // Unstable: the order is total (no two share a cause and a subject), and a stable sort
        // takes a buffer as large as the diagnoses (3.5 MB at 1 GiB of S3-export text).
        out.sort_unstable_by(|(a, sa), (b, sb)| {
            report_order(&Standing::of(a, sa, rules), &Standing::of(b, sb, rules))
        });
        repack(&mut out);
        let shared = Shared {
            sources: sources
                .iter()
                .enumerate()
                .map(|(at, (id, s))| (*id, (Arc::from(s.as_str()), at)))
                .collect(),
            references: BTreeMap::new(),
        };
        Diagnoses(Stage::Ranked(Box::new(Ranked {
            made: 0,
            left: out.into_iter(),
            shared,
            wording: Wording::of(rules),
        })))
    }
}

/// A run's ranked diagnoses: made (a merge of reports, follow mode), or ranked with their texts
/// still packed, made a chunk of [`CHUNK`] at a time as the report writes them.
///
/// Why: made all at once, every diagnosis's texts were unpacked together at the end of the run,
/// where its peak RSS is (1 GiB of S3-export text: 11,786 diagnoses, 22 MB of texts; a chunk
/// of them adds 2-3 MiB).
pub struct Diagnoses(Stage);

enum Stage {
    Made(Vec<Diagnosis>),
    Ranked(Box<Ranked>),
}

/// How many diagnoses are made at once. Each chunk unpacks every batch one of its diagnoses is
/// packed in (the ranking scatters a batch over the report), so a smaller chunk costs more
/// inflating; 2,048 diagnoses hold about 5 MB of texts.
const CHUNK: usize = 2048;

/// Diagnoses ranked, not made yet.
struct Ranked {
    /// How many were made (the rank of the next is one more).
    made: usize,
    left: std::vec::IntoIter<(Box<Agg>, Subject)>,
    shared: Shared,
    wording: Wording,
}

impl Default for Diagnoses {
    fn default() -> Self {
        Diagnoses(Stage::Made(Vec::new()))
    }
}

impl From<Vec<Diagnosis>> for Diagnoses {
    fn from(made: Vec<Diagnosis>) -> Self {
        Diagnoses(Stage::Made(made))
    }
}

impl std::fmt::Debug for Diagnoses {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Diagnoses({})", self.len())
    }
}

impl Diagnoses {
    pub fn len(&self) -> usize {
        match &self.0 {
            Stage::Made(d) => d.len(),
            Stage::Ranked(r) => r.left.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Is one at least as severe as `floor`?
    pub fn any_at_least(&self, floor: Severity) -> bool {
        match &self.0 {
            Stage::Made(d) => d.iter().any(|d| d.severity >= floor),
            Stage::Ranked(r) => r
                .left
                .as_slice()
                .iter()
                .any(|(a, _)| r.wording.symptoms[a.best.symptom].severity >= floor),
        }
    }

    /// The secret of each, in rank order (before the report's egress).
    pub(crate) fn secrets(&self) -> Vec<Option<&str>> {
        match &self.0 {
            Stage::Made(d) => d.iter().map(|d| d.secret.as_deref()).collect(),
            Stage::Ranked(r) => r
                .left
                .as_slice()
                .iter()
                .map(|(a, _)| a.best.secret.as_deref())
                .collect(),
        }
    }

    /// Every diagnosis, made.
    pub fn into_vec(self) -> Vec<Diagnosis> {
        match self.0 {
            Stage::Made(d) => d,
            Stage::Ranked(r) => Chunks(Some(r)).flatten().collect(),
        }
    }

    /// The diagnoses in rank order, made a chunk at a time.
    pub(crate) fn into_chunks(self) -> impl Iterator<Item = Vec<Diagnosis>> {
        let (made, ranked) = match self.0 {
            Stage::Made(d) => (Some(d), None),
            Stage::Ranked(r) => (None, Some(r)),
        };
        made.into_iter()
            .filter(|d| !d.is_empty())
            .chain(Chunks(ranked))
    }
}

/// Makes ranked diagnoses, [`CHUNK`] at a time.
struct Chunks(Option<Box<Ranked>>);

impl Iterator for Chunks {
    type Item = Vec<Diagnosis>;

    fn next(&mut self) -> Option<Vec<Diagnosis>> {
        let r = self.0.as_mut()?;
        let mut chunk: Vec<(Box<Agg>, Subject)> = r.left.by_ref().take(CHUNK).collect();
        if chunk.is_empty() {
            self.0 = None;
            return None;
        }
        let texts = unpacked(chunk.iter_mut().map(|(a, _)| &mut a.best.texts));
        let first = r.made + 1;
        r.made += chunk.len();
        let Ranked {
            shared, wording, ..
        } = &mut **r;
        for (a, _) in &chunk {
            shared.remember_references(wording, a.best.symptom, a.best.cause);
        }
        // Made on the pool (the memo above is the only thing `build` wrote to): made here one by
        // one, on the thread writing the report with the pool idle, they were the largest piece
        // of the end of a run over a folder of S3 export objects (14,230 diagnoses, about 23,000
        // instructions each). Each is made from its own entry, in rank order whatever the pool
        // does.
        let (shared, wording) = (&*shared, &*wording);
        Some(
            chunk
                .into_par_iter()
                .zip(texts)
                .enumerate()
                .map(|(i, ((agg, subject), texts))| {
                    build(first + i, *agg, texts, &subject, wording, shared)
                })
                .collect(),
        )
    }
}

/// What making a diagnosis takes from the rule set: its causes, and each symptom's words (a
/// run's diagnoses are made after the run, as its report is written).
struct Wording {
    causes: Vec<crate::rules::Cause>,
    symptoms: Vec<SymptomWording>,
}

struct SymptomWording {
    id: String,
    title: String,
    severity: Severity,
    references: Vec<String>,
    /// Each candidate's remediation.
    remediation: Vec<Vec<String>>,
}

impl Wording {
    fn of(rules: &RuleSet) -> Wording {
        Wording {
            causes: rules.causes.clone(),
            symptoms: rules
                .symptoms
                .iter()
                .map(|s| SymptomWording {
                    id: s.id.clone(),
                    title: s.title.clone(),
                    severity: s.severity,
                    references: s.references.clone(),
                    remediation: s.candidates.iter().map(|c| c.remediation.clone()).collect(),
                })
                .collect(),
        }
    }
}

/// At most this many groups of chunks have batches of their own after [`repack`]: each writes a
/// deflate stream at once (about 310 KB of miniz_oxide state each).
const REPACKED: usize = 8;

/// A batch, with the (place in it, rank) of the ranked representatives it holds.
type Holding = (Arc<Batch>, Vec<(u32, usize)>);

/// How many chunks a report must have for [`repack`] to pay: repacking inflates every batch once
/// and deflates its text again (miniz_oxide's fastest level: about 10.5 instructions a byte,
/// against 3.8 to inflate: 256 MiB of S3-export text, 2 chunks, callgrind), about as much as
/// inflating it 4 times, and then each chunk inflates its own; not repacked, each chunk inflates
/// every batch.
const REPACK_FROM: usize = 5;

/// Packs the texts of ranked representatives again, those of a chunk (or of a few chunks, past
/// [`REPACKED`] chunks) into batches of their own, each old batch read once and dropped as soon
/// as it is read.
///
/// Why: packed in the order they were taken, the ranking scatters a batch over the report, and
/// each chunk inflated every batch: at 1 GiB of S3-export text 6 chunks inflated all 23
/// batches (about 1 MB of text each), 138 inflations for 23 batches. Repacked, each text is
/// inflated twice and deflated once more: 40,454 M -> 39,359 M instructions for the run
/// (callgrind, `-j 2 --format json`), inflating 514 M -> 172 M, deflating 239 M -> 479 M, and
/// the copies of growing plain texts less. Peak RSS stays (57.8-59.3 MB on stdin, main's
/// 59.1-60.0): the batches are as large, and never all there twice.
fn repack(ranked: &mut [(Box<Agg>, Subject)]) {
    let chunks = ranked.len().div_ceil(CHUNK);
    if chunks < REPACK_FROM {
        return;
    }
    let per_batch = chunks.div_ceil(REPACKED);
    let group = |rank: usize| rank / CHUNK / per_batch;
    let mut counts = vec![0; chunks.div_ceil(per_batch)];
    // The old batches, in the order first met, each with the (place, rank) of those it holds;
    // their places hold `Taken` meanwhile, so that each batch goes once read.
    let mut at = rustc_hash::FxHashMap::default();
    let mut old: Vec<Holding> = Vec::new();
    for (rank, (a, _)) in ranked.iter_mut().enumerate() {
        match std::mem::replace(&mut a.best.texts, Held::Taken) {
            Held::Packed(batch, i) => {
                let next = old.len();
                let k = *at.entry(Arc::as_ptr(&batch)).or_insert(next);
                if k == next {
                    old.push((batch, Vec::new()));
                }
                old[k].1.push((i, rank));
                counts[group(rank)] += 1;
            }
            other => a.best.texts = other,
        }
    }
    let mut groups: Vec<Batches> = counts.into_iter().map(Batches::new).collect();
    let mut placed = Vec::new();
    let mut old = old.into_iter();
    loop {
        let read: Vec<Holding> = old.by_ref().take(READ_AT_ONCE).collect();
        if read.is_empty() {
            break;
        }
        let read: Vec<Read> = read
            .into_par_iter()
            .map(|(batch, wanted)| read_wanted(batch.packed(), wanted, group))
            .collect();
        let pushed: Vec<Vec<Placed>> = groups
            .par_iter_mut()
            .enumerate()
            .map(|(g, batches)| push_group(g, batches, &read))
            .collect();
        placed.extend(pushed.into_iter().flatten());
    }
    let batches: Vec<Vec<Arc<Batch>>> = groups
        .into_iter()
        .map(|g| g.finish().into_iter().map(|p| Arc::new(p.into())).collect())
        .collect();
    for (rank, g, (b, i)) in placed {
        ranked[rank].0.best.texts = Held::Packed(batches[g][b].clone(), i);
    }
}

/// Old batches [`repack`] reads at once: inflated side by side, then each group's texts of them
/// deflated side by side (a group is one deflate stream, taken in order). Why: repacking was
/// about 590 M instructions at the end of a run over a folder of 94,223 S3 export objects, on
/// one thread beside the rotation list's 320 M. Each group takes its texts in the order one
/// thread took them (old batch by old batch, each in place order), so the batches are the same.
/// Each inflated batch holds about 1 MB of text.
const READ_AT_ONCE: usize = 2;

/// An old batch inflated ([`Packed::serialized`]), with the (rank, group, where) of each of its
/// texts still wanted, in place order.
type Read = (Vec<u8>, Vec<(usize, usize, std::ops::Range<usize>)>);

/// Where [`repack`] put a ranked representative's texts: (rank, group, (batch, place)).
type Placed = (usize, usize, (usize, u32));

/// The texts of `batch` wanted at (place, rank), inflated, each with its group.
fn read_wanted(
    batch: &Packed,
    mut wanted: Vec<(u32, usize)>,
    group: impl Fn(usize) -> usize,
) -> Read {
    wanted.sort_unstable();
    let (plain, places) = batch.serialized();
    let texts = wanted
        .into_iter()
        .map(|(i, rank)| (rank, group(rank), places[i as usize].clone()))
        .collect();
    (plain, texts)
}

/// Group `g`'s texts of `read`, in order, packed into `batches`.
fn push_group(g: usize, batches: &mut Batches, read: &[Read]) -> Vec<Placed> {
    let mut placed = Vec::new();
    for (plain, texts) in read {
        for (rank, _, at) in texts.iter().filter(|t| t.1 == g) {
            placed.push((*rank, g, batches.push(&plain[at.clone()])));
        }
    }
    placed
}

/// The batches a chunk takes texts from, by address: each with the places they are wanted at
/// (in the batch, in the chunk).
type Wanted = rustc_hash::FxHashMap<*const Batch, (Arc<Batch>, Vec<(u32, usize)>)>;

/// The texts of `held`, in order: moved out of those not packed, and unpacked from each batch
/// the others are in (each batch once, taking only theirs).
fn unpacked<'a>(held: impl Iterator<Item = &'a mut Held>) -> Vec<Texts> {
    let mut out = Vec::new();
    let mut batches = Wanted::default();
    for (at, h) in held.enumerate() {
        match std::mem::replace(h, Held::Taken) {
            Held::Fresh(t) => out.push(*t),
            Held::Taken => out.push(Texts::default()),
            Held::Packed(batch, i) => {
                out.push(Texts::default());
                batches
                    .entry(Arc::as_ptr(&batch))
                    .or_insert_with(|| (batch, Vec::new()))
                    .1
                    .push((i, at));
            }
        }
    }
    // Each batch is inflated on the pool: a chunk of diagnoses reads from dozens of batches, and
    // inflating them on the report's thread was a tenth of what the end of a run over a folder of
    // S3 export objects does on one thread. Where each text goes does not depend on the order.
    let batches: Vec<_> = batches.into_values().collect();
    let texts: Vec<Vec<(usize, Texts)>> = batches
        .into_par_iter()
        .map(|(batch, wanted)| batch.packed().unpack_some(wanted))
        .collect();
    for (place, texts) in texts.into_iter().flatten() {
        out[place] = texts;
    }
    out
}

/// What places a diagnosis in the report.
struct Standing<'a> {
    /// Its representative's confidence, unrounded.
    confidence: f64,
    severity: Severity,
    occurrences: u64,
    first_seen: Option<EpochMs>,
    cause: &'a str,
    subject: &'a Subject,
}

impl<'a> Standing<'a> {
    fn of(a: &'a Agg, subject: &'a Subject, rules: &'a RuleSet) -> Standing<'a> {
        Standing {
            confidence: a.best.confidence,
            severity: a.best.severity,
            occurrences: a.occurrences,
            first_seen: a.first_seen,
            cause: &rules.causes[a.best.cause].id,
            subject,
        }
    }

    fn merged(m: &'a Merged) -> Standing<'a> {
        Standing {
            confidence: m.diagnosis.representative.confidence,
            severity: m.diagnosis.severity,
            occurrences: m.occurrences,
            first_seen: m.first_seen,
            cause: &m.diagnosis.cause,
            subject: &m.subject,
        }
    }
}

/// The report's order: most confident first, then most severe, most frequent, earliest, then by
/// cause and subject (a total order). A run's [`Aggregator`] and [`merge_reported`] both sort
/// with it.
fn report_order(a: &Standing, b: &Standing) -> Ordering {
    b.confidence
        .total_cmp(&a.confidence)
        .then(b.severity.cmp(&a.severity))
        .then(b.occurrences.cmp(&a.occurrences))
        .then(a.first_seen.cmp(&b.first_seen))
        .then(a.cause.cmp(b.cause))
        .then(a.subject.cmp(b.subject))
}

/// Texts many diagnoses show, allocated once: input names (with their place in the report's
/// inputs) and the references of each (symptom, cause) pair.
struct Shared {
    sources: BTreeMap<u64, (Arc<str>, usize)>,
    references: BTreeMap<(usize, usize), Arc<[String]>>,
}

impl Shared {
    fn source(&self, i: u64) -> Arc<str> {
        match self.sources.get(&i) {
            Some((s, _)) => s.clone(),
            None => format!("input {i}").into(),
        }
    }

    /// The input's place in the report's list of inputs.
    fn input_index(&self, i: u64) -> Option<usize> {
        self.sources.get(&i).map(|(_, at)| *at)
    }

    /// Makes the references of a (symptom, cause) pair once, for [`Shared::references`]: the
    /// symptom's references, then the cause's not already listed.
    fn remember_references(&mut self, words: &Wording, symptom: usize, cause: usize) {
        self.references
            .entry((symptom, cause))
            .or_insert_with(|| references(words, symptom, cause));
    }

    /// The references of a (symptom, cause) pair: shared if remembered
    /// ([`Shared::remember_references`]), else made (the same texts).
    fn references(&self, words: &Wording, symptom: usize, cause: usize) -> Arc<[String]> {
        match self.references.get(&(symptom, cause)) {
            Some(refs) => refs.clone(),
            None => references(words, symptom, cause),
        }
    }
}

/// The symptom's references, then the cause's not already listed.
fn references(words: &Wording, symptom: usize, cause: usize) -> Arc<[String]> {
    let mut references = words.symptoms[symptom].references.clone();
    for r in &words.causes[cause].references {
        if !references.contains(r) {
            references.push(r.clone());
        }
    }
    references.into()
}

/// What a diagnosis is about: the secret, or the function, or the log stream, or the input, when
/// nothing better is known. The variants are in the order ties are broken in.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Subject {
    Function(Arc<str>),
    Input(u64),
    Secret(Arc<str>),
    Stream(u64, Box<str>),
}

impl Subject {
    fn of(o: &Occurrence) -> Subject {
        if let Some(s) = &o.secret {
            Subject::Secret(s.as_str().into())
        } else if let Some(f) = &o.function {
            Subject::Function(f.as_str().into())
        } else if let Some(s) = &o.stream {
            Subject::Stream(o.source, s.as_str().into())
        } else {
            Subject::Input(o.source)
        }
    }

    /// The subject a report shows as `shown`, for a diagnosis whose representative is in the
    /// input at `input` (a stream's or an input's subject is in the same input as every one of
    /// its occurrences): inputs are placed by their index in the report, which orders them as
    /// their ids do.
    fn reported(shown: &str, input: Option<usize>, inputs: &[&str]) -> Option<Subject> {
        let (kind, rest) = shown.split_once(':')?;
        let source = || input.filter(|&i| i < inputs.len());
        match kind {
            "secret" => Some(Subject::Secret(rest.into())),
            "function" => Some(Subject::Function(rest.into())),
            "input" => {
                let i = source()?;
                (rest == inputs[i]).then_some(Subject::Input(i as u64))
            }
            "stream" => {
                let i = source()?;
                let stream = rest.strip_prefix(inputs[i])?.strip_prefix(':')?;
                Some(Subject::Stream(i as u64, stream.into()))
            }
            _ => None,
        }
    }

    /// As reported: `secret:<arn>`, `function:<name>`, `stream:<input>:<stream>`,
    /// `input:<input>`.
    fn show(&self, shared: &Shared) -> String {
        match self {
            Subject::Secret(s) => format!("secret:{s}"),
            Subject::Function(f) => format!("function:{f}"),
            Subject::Stream(i, s) => format!("stream:{}:{s}", shared.source(*i)),
            Subject::Input(i) => format!("input:{}", shared.source(*i)),
        }
    }
}

/// One line of evidence, as reported.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub(crate) struct Evidence {
    pub(crate) source: Arc<str>,
    pub(crate) line: u64,
    pub(crate) timestamp: Option<String>,
    pub(crate) request_id: Option<String>,
    pub(crate) text: String,
}

/// A piece of evidence that weighed in.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub(crate) struct Why {
    pub(crate) text: String,
    pub(crate) weight: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub(crate) struct Alternative {
    pub(crate) cause: String,
    pub(crate) confidence: f64,
}

/// Which occurrence represents a diagnosis (its evidence, fix and alternatives are shown), and
/// why: the order occurrences are compared in, most confident first, then most severe, then
/// earliest, then by place in the input. What a merge of partial reports needs to pick the same
/// one a single run would have.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub(crate) struct Representative {
    /// Its confidence, unrounded.
    pub(crate) confidence: f64,
    /// When its invocation started.
    pub(crate) first_seen: Option<String>,
    /// Its input: an index into the report's `inputs`.
    pub(crate) input: Option<usize>,
    /// The line of its first evidence.
    pub(crate) line: Option<u64>,
}

/// A ranked diagnosis: one cause for one secret (or function, stream, input). Read back from
/// partial reports by `rotdiag merge`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Diagnosis {
    pub(crate) rank: usize,
    pub cause: String,
    /// What it is about (the key, with the cause, diagnoses are merged by): `secret:<arn>`,
    /// `function:<name>`, `stream:<input>:<stream>` or `input:<input>`.
    pub(crate) subject: String,
    pub(crate) symptom: String,
    pub(crate) title: String,
    pub(crate) severity: Severity,
    pub(crate) confidence: f64,
    pub(crate) secret: Option<String>,
    pub(crate) function: Option<String>,
    pub(crate) step: Option<String>,
    pub(crate) occurrences: u64,
    pub(crate) first_seen: Option<String>,
    pub(crate) last_seen: Option<String>,
    pub(crate) evidence: Vec<Evidence>,
    pub(crate) remediation: Vec<String>,
    /// Shared by the diagnoses of the same symptom and cause.
    pub(crate) references: Arc<[String]>,
    pub(crate) alternatives: Vec<Alternative>,
    /// The evidence that weighed in, in words, with the weight each added to the score
    /// (negative: it lowered this cause).
    pub(crate) why: Vec<Why>,
    pub(crate) representative: Representative,
    /// The cause's explanation, its facts filled in.
    pub(crate) explanation: Option<String>,
    /// The symptom's title, its facts filled in.
    pub(crate) symptom_title: String,
}

impl Diagnosis {
    /// How bad it is (its symptom's severity).
    pub fn severity(&self) -> Severity {
        self.severity
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn evidence(l: &Shown, text: Box<str>, shared: &Shared) -> Evidence {
    Evidence {
        source: shared.source(l.source),
        line: l.line,
        timestamp: l.timestamp.map(format_iso),
        request_id: l.request_id.map(|r| r.to_string()),
        text: text.into(),
    }
}

/// The diagnosis of rank `rank`, its texts moved out of `agg` (nothing is held twice).
fn build(
    rank: usize,
    agg: Agg,
    texts: Texts,
    subject: &Subject,
    words: &Wording,
    shared: &Shared,
) -> Diagnosis {
    let b = agg.best;
    let representative = Representative {
        confidence: b.confidence,
        first_seen: b.first_seen.map(format_iso),
        input: shared.input_index(b.source),
        line: b.evidence.first().map(|l| l.line),
    };
    let cause = &words.causes[b.cause];
    let symptom = &words.symptoms[b.symptom];
    let templates = cause
        .remediation
        .iter()
        .chain(&symptom.remediation[b.candidate]);
    let remediation = texts.remediation.into_iter().zip(templates);
    Diagnosis {
        rank,
        cause: cause.id.clone(),
        subject: subject.show(shared),
        symptom: symptom.id.clone(),
        title: filled(texts.title, cause.plain_title()),
        severity: symptom.severity,
        confidence: round3(b.confidence),
        secret: b.secret.as_deref().map(String::from),
        function: b.function.as_deref().map(String::from),
        step: b.step.map(|s| s.name().to_string()),
        occurrences: agg.occurrences,
        first_seen: agg.first_seen.map(format_iso),
        last_seen: agg.last_seen.map(format_iso),
        evidence: b
            .evidence
            .iter()
            .zip(texts.evidence)
            .map(|(l, text)| evidence(l, text, shared))
            .collect(),
        remediation: remediation.map(|(r, t)| filled(r, t)).collect(),
        references: shared.references(words, b.symptom, b.cause),
        alternatives: b
            .alternatives
            .iter()
            .map(|(c, p)| Alternative {
                cause: words.causes[*c].id.clone(),
                confidence: round3(*p),
            })
            .collect(),
        why: texts
            .why
            .into_iter()
            .zip(b.why)
            .map(|(text, weight)| Why {
                text: text.into(),
                weight,
            })
            .collect(),
        representative,
        explanation: cause
            .explanation
            .as_deref()
            .map(|e| filled(texts.explanation, e)),
        symptom_title: filled(texts.symptom_title, &symptom.title),
    }
}

/// A diagnosis of a partial report, merged with those of the other partial reports.
struct Merged {
    diagnosis: Diagnosis,
    subject: Subject,
    key: RankKey,
    occurrences: u64,
    first_seen: Option<EpochMs>,
    last_seen: Option<EpochMs>,
}

/// The diagnoses of partial reports (`rotdiag merge`), merged and ranked as one run over all
/// their inputs would have: the same (cause, subject) merged, occurrences summed, first and last
/// seen widened, the representative chosen by the order a run's [`Aggregator`] chooses it by
/// ([`rank_key`], from each one's `representative`), then ranked in [`report_order`].
/// `diagnoses` come in the order of their reports, their `representative.input` already an index
/// into `inputs` (the merged report's input names). Errors say which diagnosis cannot be placed.
pub(crate) fn merge_reported(
    diagnoses: impl IntoIterator<Item = Diagnosis>,
    inputs: &[&str],
    rules: &RuleSet,
) -> Result<Vec<Diagnosis>, String> {
    let mut map: BTreeMap<(String, Subject), Merged> = BTreeMap::new();
    for d in diagnoses {
        let m = merged(d, inputs, rules)?;
        match map.get_mut(&(m.diagnosis.cause.clone(), m.subject.clone())) {
            None => {
                map.insert((m.diagnosis.cause.clone(), m.subject.clone()), m);
            }
            Some(a) => {
                a.occurrences += m.occurrences;
                a.first_seen = min_opt(a.first_seen, m.first_seen);
                a.last_seen = max_opt(a.last_seen, m.last_seen);
                if m.key < a.key {
                    a.key = m.key;
                    a.diagnosis = m.diagnosis;
                }
            }
        }
    }
    let mut out: Vec<Merged> = map.into_values().collect();
    out.sort_by(|a, b| report_order(&Standing::merged(a), &Standing::merged(b)));
    Ok(out
        .into_iter()
        .enumerate()
        .map(|(i, m)| Diagnosis {
            rank: i + 1,
            occurrences: m.occurrences,
            first_seen: m.first_seen.map(format_iso),
            last_seen: m.last_seen.map(format_iso),
            ..m.diagnosis
        })
        .collect())
}

/// One reported diagnosis, keyed and placed for [`merge_reported`].
fn merged(d: Diagnosis, inputs: &[&str], rules: &RuleSet) -> Result<Merged, String> {
    let what = || format!("diagnosis {} ({}, {})", d.rank, d.cause, d.subject);
    let rep = &d.representative;
    let subject = Subject::reported(&d.subject, rep.input, inputs)
        .ok_or_else(|| format!("{}: its subject is not in the report's inputs", what()))?;
    let symptom = rules
        .symptoms
        .iter()
        .position(|s| s.id == d.symptom)
        .ok_or_else(|| format!("{}: unknown symptom '{}'", what(), d.symptom))?;
    let time = |t: &Option<String>| -> Result<Option<EpochMs>, String> {
        match t {
            None => Ok(None),
            Some(s) => parse_any(s)
                .map(Some)
                .ok_or_else(|| format!("{}: bad time '{s}'", what())),
        }
    };
    let key = rank_key(
        rep.confidence,
        d.severity,
        time(&rep.first_seen)?,
        rep.input.map_or(u64::MAX, |i| i as u64),
        rep.line,
        symptom,
    );
    Ok(Merged {
        subject,
        key,
        occurrences: d.occurrences,
        first_seen: time(&d.first_seen)?,
        last_seen: time(&d.last_seen)?,
        diagnosis: d,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{A, ARN, evaluate_lines, rules};

    /// The occurrences of one invocation that could not log into its database.
    fn failed_login() -> Vec<Occurrence> {
        let lines = [
            format!("START RequestId: {A} Version: $LATEST"),
            format!(
                "[ERROR] ValueError: Unable to log into database with previous, current, or pending secret of secret arn {ARN}\nTraceback (most recent call last):"
            ),
            format!("END RequestId: {A}"),
        ];
        let refs: Vec<(Option<&str>, &str)> = lines.iter().map(|l| (None, l.as_str())).collect();
        evaluate_lines(&refs)
    }

    /// A credential in a fact (out of the notation its line held it in) never reaches a
    /// diagnosis, whatever the report's egress does later: facts are redacted when an occurrence
    /// is [`Rendered`], the only way into an [`Aggregator`].
    #[test]
    fn a_credential_in_a_fact_never_reaches_a_diagnosis() {
        const CREDENTIAL: &str = "Hunter2Hunter2Xq9z";
        let mut found = failed_login();
        assert!(!found.is_empty());
        let mut o = found.remove(0);
        assert!(o.facts.contains_key("secret_arn"));
        for v in o.facts.values_mut() {
            *v = format!("password={CREDENTIAL}");
        }
        let mut agg = Aggregator::default();
        agg.add(Rendered::new(o, rules()));
        let diagnoses = agg.finish(rules(), &[(0, "input".to_string())]);
        let json = serde_json::to_string(&diagnoses).unwrap();
        assert!(!json.contains(CREDENTIAL), "{json}");
        // The facts were filled in (so the test would see a credential that was not redacted).
        assert!(json.contains("password=***"), "{json}");
    }

    /// Every report makes its diagnoses a chunk at a time, each taking its texts from the batch
    /// it was packed in: the ranking scatters a batch over the report, so a chunk takes a few of
    /// many batches and a batch is unpacked by several chunks. Each text must reach its own
    /// diagnosis across those boundaries, and across [`repack`] when a report has enough chunks.
    #[test]
    fn texts_reach_their_diagnosis_across_chunks_and_batches() {
        texts_reach_their_diagnosis(CHUNK + BATCH + 7);
        texts_reach_their_diagnosis((REPACK_FROM - 1) * CHUNK + BATCH + 7);
        // More chunks than groups of batches: two chunks share a group.
        texts_reach_their_diagnosis(REPACKED * CHUNK + BATCH + 7);
    }

    fn texts_reach_their_diagnosis(n: usize) {
        let found = failed_login().remove(0);
        let mut agg = Aggregator::default();
        for i in 0..n {
            let mut o = found.clone();
            let secret = format!("{ARN}-{i:05}");
            o.facts.insert("secret_arn".to_string(), secret.clone());
            o.secret = Some(secret);
            // Ranked in an order unlike the order they were packed in.
            o.confidence = ((i * 7919) % n) as f64 / n as f64;
            agg.add(Rendered::new(o, rules()));
        }
        let made: Vec<Diagnosis> = agg
            .rank(rules(), &[(0, "input".to_string())])
            .into_chunks()
            .flatten()
            .collect();
        assert_eq!(made.len(), n);
        for (i, d) in made.iter().enumerate() {
            assert_eq!(d.rank, i + 1);
            let secret = d.secret.as_deref().unwrap();
            let texts = [&d.title, &d.symptom_title]
                .into_iter()
                .chain(&d.explanation)
                .chain(&d.remediation)
                .chain(d.why.iter().map(|w| &w.text));
            let filled: Vec<&String> = texts.filter(|t| t.contains(ARN)).collect();
            assert!(!filled.is_empty(), "{d:?}");
            assert!(
                filled.iter().all(|t| t.contains(secret)),
                "{secret}: {filled:?}"
            );
            assert_eq!(d.evidence.len(), found.evidence.len());
        }
    }

    #[test]
    fn a_template_no_fact_went_into_is_not_copied() {
        let mut facts = BTreeMap::new();
        facts.insert("secret_arn".to_string(), "arn:x".to_string());
        assert_eq!(fill("Rotate again.", &facts), None);
        assert_eq!(filled(None, "Rotate again."), "Rotate again.");
        let f = fill("Rotate {secret_arn} again.", &facts);
        assert_eq!(f.as_deref(), Some("Rotate arn:x again."));
        assert_eq!(filled(f, "unused"), "Rotate arn:x again.");
    }
}
