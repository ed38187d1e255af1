//! Every rotation, counted once and recorded compactly: what the reports' rotation list, the
//! summary per secret and the counts are made of.
//!
//! A rotation closes in pieces when its invocations are far apart (idle for hours, retried more
//! than `MAX_INVOCATIONS` times) or spread over inputs that closed it separately; pieces that name
//! the same version token are one rotation, so they are merged into one record. A piece that
//! names no token stays a record of its own.
//!
//! Memory: a month of a few thousand secrets' logs holds about 150,000 rotations of four or more
//! invocations each, and every one is counted until the report. A record is therefore small: names
//! (secrets, functions: a few thousand at most) are interned once, ids are their 128 bits, times
//! and durations are integers, and the invocations of every record share one arena instead of an
//! allocation each. And only the rotations a report lists keep their invocations ([`Listed`]):
//! by default a report lists the rotations that did not succeed (one in ten), so a rotation that
//! succeeded is kept as its 56-byte record alone (names, token, status, and the times of its
//! first and last invocation, which the summary per secret needs). 56 bytes per rotation plus 32
//! per listed invocation: about 12 MB for 150,000 rotations of four invocations, one in ten
//! listed (`--all-rotations`: 29 MB; measured for commit c81494d).

use hashbrown::HashTable;
use rustc_hash::FxHashMap as HashMap;
use serde::Deserialize;

use super::{Rotation, is_cloudtrail};
use crate::aws::{RequestId, Step};
use crate::lambda::invocation::{Invocation, Outcome};
use crate::rules::RuleSet;
use crate::summary::RotationCounts;
use crate::time::{EpochMs, parse_any};

/// "No value" for the integer fields below.
const NONE32: u32 = u32::MAX;

/// Which rotations keep their invocations, for the report to list them step by step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Listed {
    /// Every rotation (`--all-rotations`, a merge's partial reports, follow mode's records).
    #[default]
    All,
    /// Those that did not succeed: the ones a report lists by default.
    Unsucceeded,
}

impl Listed {
    fn keeps(self, status: RotationStatus) -> bool {
        self == Listed::All || status != RotationStatus::Succeeded
    }
}

/// How a rotation ended, as far as the logs tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum RotationStatus {
    /// AWSCURRENT moved to the new version (finishSecret succeeded).
    Succeeded,
    /// An invocation failed and no later one finished the rotation.
    Failed,
    /// Neither: the logs end before the rotation does, or hold only steps that succeeded.
    Incomplete,
}

impl RotationStatus {
    /// How this rotation ended, as far as its invocations tell.
    pub(crate) fn of(rot: &Rotation) -> RotationStatus {
        if rot.succeeded {
            RotationStatus::Succeeded
        } else if rot.failed() {
            RotationStatus::Failed
        } else {
            RotationStatus::Incomplete
        }
    }

    const ALL: [RotationStatus; 3] = [
        RotationStatus::Succeeded,
        RotationStatus::Failed,
        RotationStatus::Incomplete,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            RotationStatus::Succeeded => "succeeded",
            RotationStatus::Failed => "failed",
            RotationStatus::Incomplete => "incomplete",
        }
    }
}

/// How one invocation of a rotation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum StepOutcome {
    Succeeded,
    Failed,
    /// Lambda stopped it at the function's timeout.
    TimedOut,
    /// Its end is not in the logs.
    Unknown,
}

impl StepOutcome {
    const ALL: [StepOutcome; 4] = [
        StepOutcome::Succeeded,
        StepOutcome::Failed,
        StepOutcome::TimedOut,
        StepOutcome::Unknown,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            StepOutcome::Succeeded => "succeeded",
            StepOutcome::Failed => "failed",
            StepOutcome::TimedOut => "timed-out",
            StepOutcome::Unknown => "unknown",
        }
    }

    pub(crate) fn of(inv: &Invocation) -> StepOutcome {
        if inv.timed_out() {
            return StepOutcome::TimedOut;
        }
        match inv.outcome() {
            Outcome::Succeeded => StepOutcome::Succeeded,
            Outcome::Failed => StepOutcome::Failed,
            Outcome::Unknown => StepOutcome::Unknown,
        }
    }
}

/// One invocation of a rotation: 32 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct StepRecord {
    /// The Lambda request id (0: not in the logs).
    request_id: u128,
    /// First timestamp of the invocation (`EpochMs::MIN`: none).
    start: EpochMs,
    /// REPORT's duration (or the timeout's), in hundredths of a millisecond ([`NONE32`]: none).
    duration: u32,
    step: Option<Step>,
    outcome: StepOutcome,
    /// The step was inferred from the invocation before it, not logged.
    inferred: bool,
}

impl StepRecord {
    fn of(inv: &Invocation) -> StepRecord {
        StepRecord {
            request_id: inv.request_id.map_or(0, |r| r.0),
            start: inv.first_ts.unwrap_or(EpochMs::MIN),
            duration: inv
                .duration_ms()
                .filter(|d| d.is_finite() && *d >= 0.0 && *d * 100.0 < f64::from(NONE32))
                .map_or(NONE32, |d| (d * 100.0).round() as u32),
            step: inv.step,
            outcome: StepOutcome::of(inv),
            inferred: inv.step_inferred,
        }
    }

    pub(crate) fn request_id(&self) -> Option<RequestId> {
        (self.request_id != 0).then_some(RequestId(self.request_id))
    }

    pub(crate) fn start(&self) -> Option<EpochMs> {
        (self.start != EpochMs::MIN).then_some(self.start)
    }

    pub(crate) fn duration_ms(&self) -> Option<f64> {
        (self.duration != NONE32).then(|| f64::from(self.duration) / 100.0)
    }

    pub(crate) fn step(&self) -> Option<Step> {
        self.step
    }

    pub(crate) fn outcome(&self) -> StepOutcome {
        self.outcome
    }

    pub(crate) fn inferred(&self) -> bool {
        self.inferred
    }

    /// Time order, unknown times last, then by request id (a total order for determinism).
    fn order_key(&self) -> (bool, EpochMs, u128) {
        (self.start().is_none(), self.start, self.request_id)
    }
}

/// A rotation as the JSON and ndjson reports list it (`report::json`'s `RotationOut`), read back.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct ListedRotation {
    secret: Option<String>,
    token: Option<String>,
    function: Option<String>,
    status: String,
    cause: Option<String>,
    steps: Vec<ListedStep>,
}

/// One invocation of a [`ListedRotation`].
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct ListedStep {
    step: Option<String>,
    inferred: bool,
    request_id: Option<String>,
    start: Option<String>,
    duration_ms: Option<f64>,
    outcome: String,
}

/// The value of `all` whose name is `s`.
fn named<T: Copy>(all: &[T], s: &str, name: fn(T) -> &'static str) -> Option<T> {
    all.iter().copied().find(|v| name(*v) == s)
}

impl StepRecord {
    /// The record a report listed (its duration was printed from hundredths of a millisecond,
    /// so it reads back exactly).
    fn listed(s: &ListedStep) -> Result<StepRecord, String> {
        let bad = |what: &str, v: &str| format!("bad {what} '{v}' in a rotation's step");
        let start = match &s.start {
            None => EpochMs::MIN,
            Some(t) => parse_any(t).ok_or_else(|| bad("start", t))?,
        };
        let request_id = match &s.request_id {
            None => 0,
            Some(r) => RequestId::parse(r).ok_or_else(|| bad("request id", r))?.0,
        };
        let step = match &s.step {
            None => None,
            Some(n) => Some(Step::parse(n).ok_or_else(|| bad("step", n))?),
        };
        Ok(StepRecord {
            request_id,
            start,
            duration: s.duration_ms.map_or(NONE32, |d| (d * 100.0).round() as u32),
            step,
            outcome: named(&StepOutcome::ALL, &s.outcome, StepOutcome::name)
                .ok_or_else(|| bad("outcome", &s.outcome))?,
            inferred: s.inferred,
        })
    }
}

/// One rotation: 56 bytes, its invocations (when [`Listed`] keeps them) in
/// [`RotationList::steps`].
#[derive(Clone, Copy, Debug)]
struct RotationRecord {
    /// The version token (0: not in the logs), high half first: two `u64`s, not a `u128`, whose
    /// 16-byte alignment padded the record to 64 bytes (146,845 records at 1 GiB of S3-export
    /// text: 1.2 MB).
    token: [u64; 2],
    /// When its first invocation started, and its last ([`Span::NONE`]: no time in the logs).
    span: Span,
    secret: u32,
    function: u32,
    first_step: u32,
    steps: u16,
    /// The cause of its best-scored failure (an index into the rule set's causes).
    cause: u16,
    /// That failure's confidence.
    confidence: f32,
    status: RotationStatus,
}

impl RotationRecord {
    fn token(&self) -> u128 {
        (u128::from(self.token[0]) << 64) | u128::from(self.token[1])
    }
}

/// A token as a record holds it, high half first.
fn token_halves(token: u128) -> [u64; 2] {
    [(token >> 64) as u64, token as u64]
}

/// The start times of a rotation's first and last invocations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Span {
    first: EpochMs,
    last: EpochMs,
}

impl Span {
    /// No invocation with a time: `first` above and `last` below every time, so that
    /// [`Span::and`] needs no case for it.
    const NONE: Span = Span {
        first: EpochMs::MAX,
        last: EpochMs::MIN,
    };

    fn of(steps: &[StepRecord]) -> Span {
        steps
            .iter()
            .filter_map(StepRecord::start)
            .fold(Span::NONE, |s, t| s.and(Span { first: t, last: t }))
    }

    fn and(self, other: Span) -> Span {
        Span {
            first: self.first.min(other.first),
            last: self.last.max(other.last),
        }
    }

    fn first(self) -> Option<EpochMs> {
        (self.first != EpochMs::MAX).then_some(self.first)
    }

    fn last(self) -> Option<EpochMs> {
        (self.last != EpochMs::MIN).then_some(self.last)
    }
}

/// A version token's hash, for [`RotationLedger::by_token`].
fn token_hash(token: [u64; 2]) -> u64 {
    use std::hash::BuildHasher;
    rustc_hash::FxBuildHasher.hash_one(token)
}

/// Strings stored once: secret ARNs and function names.
#[derive(Clone, Debug, Default)]
struct Names {
    list: Vec<Box<str>>,
    index: HashMap<Box<str>, u32>,
}

impl Names {
    fn id(&mut self, s: Option<&str>) -> u32 {
        let Some(s) = s else {
            return NONE32;
        };
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = self.list.len() as u32;
        self.list.push(s.into());
        self.index.insert(s.into(), i);
        i
    }

    fn get(&self, i: u32) -> Option<&str> {
        self.list.get(i as usize).map(|s| &**s)
    }
}

/// The records, in chunks of [`Records::CHUNK`] rather than one vector: a vector grows by
/// doubling, and its copy from 8 to 16 MiB at the 131,072nd record put 7.5 MB on the peak RSS of
/// a 1 GiB run for a moment (the old and the new buffer both resident), where the records were
/// 9.4 MB in all. Chunks never move; the list keeps them and sorts an order of indices.
#[derive(Clone, Debug, Default)]
struct Records {
    chunks: Vec<Vec<RotationRecord>>,
}

impl Records {
    /// 112 KiB of records a chunk.
    const CHUNK: usize = 2048;

    fn len(&self) -> usize {
        self.chunks
            .last()
            .map_or(0, |c| (self.chunks.len() - 1) * Records::CHUNK + c.len())
    }

    fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    fn push(&mut self, r: RotationRecord) {
        match self.chunks.last_mut() {
            Some(c) if c.len() < Records::CHUNK => c.push(r),
            _ => {
                let mut c = Vec::with_capacity(Records::CHUNK);
                c.push(r);
                self.chunks.push(c);
            }
        }
    }

    fn get(&self, i: u32) -> &RotationRecord {
        let i = i as usize;
        &self.chunks[i / Records::CHUNK][i % Records::CHUNK]
    }

    fn get_mut(&mut self, i: u32) -> &mut RotationRecord {
        let i = i as usize;
        &mut self.chunks[i / Records::CHUNK][i % Records::CHUNK]
    }

    fn iter(&self) -> impl Iterator<Item = &RotationRecord> {
        self.chunks.iter().flatten()
    }

    /// The records in order, each chunk freed once read.
    fn into_records(self) -> impl Iterator<Item = RotationRecord> {
        self.chunks.into_iter().flatten()
    }
}

/// Records every closed rotation (see the module doc).
#[derive(Default)]
pub(crate) struct RotationLedger {
    listed: Listed,
    names: Names,
    records: Records,
    steps: Vec<StepRecord>,
    /// The record of each token, by index into `records`: 5 bytes a rotation where a map from
    /// the token would take 33.
    by_token: HashTable<u32>,
}

impl RotationLedger {
    /// A ledger that keeps the invocations of the rotations `listed` says.
    pub(crate) fn new(listed: Listed) -> RotationLedger {
        RotationLedger {
            listed,
            ..RotationLedger::default()
        }
    }

    /// `r`, whose invocations were just pushed onto the arena from `r.first_step`, with their
    /// span and count; the invocations themselves stay only when listed.
    fn sealed(&mut self, mut r: RotationRecord) -> RotationRecord {
        let first = r.first_step as usize;
        r.span = Span::of(&self.steps[first..]);
        if !self.listed.keeps(r.status) {
            self.steps.truncate(first);
        }
        r.steps = (self.steps.len() - first).min(usize::from(u16::MAX)) as u16;
        r
    }

    /// Records a closed rotation (or piece of one), with the cause and confidence of its
    /// best-scored failure when the rule engine diagnosed one.
    pub(crate) fn record(&mut self, rot: &Rotation, rules: &RuleSet, best: Option<(usize, f64)>) {
        if !rot.is_rotation(rules) {
            return;
        }
        let first_step = self.steps.len() as u32;
        let invocations = rot.invocations.iter().filter(|i| !is_cloudtrail(i));
        self.steps.extend(invocations.map(StepRecord::of));
        let function = rot
            .invocations
            .iter()
            .find_map(|i| i.facts.get(rules.known.function_name));
        let status = RotationStatus::of(rot);
        let (secret, function) = (
            self.names.id(rot.secret.as_deref()),
            self.names.id(function),
        );
        let record = self.sealed(RotationRecord {
            token: token_halves(
                rot.token
                    .as_deref()
                    .and_then(RequestId::parse)
                    .map_or(0, |t| t.0),
            ),
            span: Span::NONE,
            secret,
            function,
            first_step,
            steps: 0,
            cause: best.map_or(u16::MAX, |(c, _)| c as u16),
            confidence: best.map_or(0.0, |(_, p)| p as f32),
            status,
        });
        self.add(record);
    }

    /// Adds a record whose steps are in `self.steps`, merging it into the record of the same
    /// token.
    fn add(&mut self, r: RotationRecord) {
        if r.token == [0, 0] {
            self.records.push(r);
            return;
        }
        let records = &self.records;
        let found = self
            .by_token
            .find(token_hash(r.token), |&i| records.get(i).token == r.token)
            .copied();
        match found {
            None => {
                let i = self.records.len() as u32;
                let records = &self.records;
                self.by_token.insert_unique(token_hash(r.token), i, |&j| {
                    token_hash(records.get(j).token)
                });
                self.records.push(r);
            }
            Some(i) => {
                let merged = self.merged(*self.records.get(i), r);
                *self.records.get_mut(i) = merged;
            }
        }
    }

    /// Two pieces of one rotation as one record: steps together (appended to the arena; the old
    /// ranges are left behind, pieces are rare), the better-known names, the best cause, and the
    /// status: succeeded if any piece did, else failed if any did.
    fn merged(&mut self, a: RotationRecord, b: RotationRecord) -> RotationRecord {
        let status = a.status.min(b.status);
        let first_step = self.steps.len() as u32;
        if self.listed.keeps(status) {
            for r in [a, b] {
                let range = r.first_step as usize..(r.first_step + u32::from(r.steps)) as usize;
                self.steps.extend_from_within(range);
            }
        }
        let steps = (self.steps.len() as u32 - first_step).min(u32::from(u16::MAX)) as u16;
        let (cause, confidence) =
            if b.cause != u16::MAX && (a.cause == u16::MAX || b.confidence > a.confidence) {
                (b.cause, b.confidence)
            } else {
                (a.cause, a.confidence)
            };
        RotationRecord {
            token: a.token,
            span: a.span.and(b.span),
            secret: if a.secret == NONE32 {
                b.secret
            } else {
                a.secret
            },
            function: if a.function == NONE32 {
                b.function
            } else {
                a.function
            },
            first_step,
            steps,
            cause,
            confidence,
            status,
        }
    }

    /// Records a rotation as a report listed it (`rotdiag merge` reads partial reports back),
    /// merged by token with the records before it as [`RotationLedger::record`] merges pieces.
    /// A listed rotation does not carry its cause's confidence: of two failed pieces of one token
    /// in different reports (a rotation cut by a partition's time boundary), the first listed
    /// keeps its cause.
    pub(crate) fn record_listed(
        &mut self,
        r: &ListedRotation,
        rules: &RuleSet,
    ) -> Result<(), String> {
        let status = named(&RotationStatus::ALL, &r.status, RotationStatus::name)
            .ok_or_else(|| format!("unknown rotation status '{}'", r.status))?;
        let cause = match &r.cause {
            None => u16::MAX,
            Some(c) => rules
                .causes
                .iter()
                .position(|x| x.id == *c)
                .ok_or_else(|| format!("unknown cause '{c}' in a rotation"))?
                as u16,
        };
        let first_step = self.steps.len() as u32;
        for st in &r.steps {
            self.steps.push(StepRecord::listed(st)?);
        }
        let token = match &r.token {
            None => 0,
            Some(t) => {
                RequestId::parse(t)
                    .ok_or_else(|| format!("bad token '{t}'"))?
                    .0
            }
        };
        let secret = self.names.id(r.secret.as_deref());
        let function = self.names.id(r.function.as_deref());
        let record = self.sealed(RotationRecord {
            token: token_halves(token),
            span: Span::NONE,
            secret,
            function,
            first_step,
            steps: 0,
            cause,
            confidence: 0.0,
            status,
        });
        self.add(record);
        Ok(())
    }

    /// Takes in another input's ledger (in input order).
    pub(crate) fn merge(&mut self, other: RotationLedger) {
        if self.records.is_empty() && self.names.list.is_empty() {
            // Into nothing: taken whole, the ledger merging record by record would make (names
            // and tokens are unique within a ledger), without holding it twice: a single input
            // (stdin) merges all it recorded into the run's empty ledger at the end (146,845
            // records and 60,003 steps at 1 GiB of S3-export text, 11.3 MB).
            let listed = self.listed;
            *self = RotationLedger { listed, ..other };
            return;
        }
        let names: Vec<u32> = other
            .names
            .list
            .iter()
            .map(|n| self.names.id(Some(n)))
            .collect();
        let remap = |i: u32| names.get(i as usize).copied().unwrap_or(NONE32);
        for r in other.records.into_records() {
            let first_step = self.steps.len() as u32;
            let range = r.first_step as usize..(r.first_step + u32::from(r.steps)) as usize;
            self.steps.extend_from_slice(&other.steps[range]);
            self.add(RotationRecord {
                secret: remap(r.secret),
                function: remap(r.function),
                first_step,
                ..r
            });
        }
    }

    /// The rotation list, in a fixed order: by first start, then secret, then token, then the
    /// order they were recorded in; each rotation's invocations in time
    /// order, in an arena of their own (the pieces merged away left theirs behind).
    pub(crate) fn finish(self, rules: &RuleSet) -> RotationList {
        let RotationLedger {
            names,
            mut records,
            steps: arena,
            ..
        } = self;
        // An order of indices, sorted unstably with the index as the last key (keys are then
        // unique, so it is the order a stable sort gives): the records stay where they are, and
        // no sort buffer is taken beside them at the end of the run, where its peak RSS is.
        let mut order: Vec<u32> = (0..records.len() as u32).collect();
        order.sort_unstable_by_key(|&i| {
            let r = records.get(i);
            let first = r.span.first();
            (first.is_none(), first, names.get(r.secret), r.token, i)
        });
        let mut steps = Vec::with_capacity(records.iter().map(|r| usize::from(r.steps)).sum());
        for &i in &order {
            let r = records.get_mut(i);
            let first = steps.len();
            let range = r.first_step as usize..(r.first_step + u32::from(r.steps)) as usize;
            steps.extend_from_slice(&arena[range]);
            steps[first..].sort_by_key(StepRecord::order_key);
            r.first_step = first as u32;
        }
        RotationList {
            names: names.list,
            causes: rules.causes.iter().map(|c| c.id.clone()).collect(),
            records,
            order,
            steps,
        }
    }
}

/// Every rotation of a run, compact (see the module doc), for the reports.
#[derive(Clone, Debug, Default)]
pub struct RotationList {
    /// Secret ARNs and function names (the report's egress redacts them in place).
    pub(crate) names: Vec<Box<str>>,
    causes: Vec<String>,
    records: Records,
    /// The records' indices in the list's order.
    order: Vec<u32>,
    steps: Vec<StepRecord>,
}

/// One rotation of a [`RotationList`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct RotationView<'a> {
    pub(crate) secret: Option<&'a str>,
    pub(crate) token: Option<RequestId>,
    pub(crate) function: Option<&'a str>,
    pub(crate) status: RotationStatus,
    /// The cause of its best-scored failure, when it failed and the rules know why.
    pub(crate) cause: Option<&'a str>,
    /// Its invocations in time order: empty when the run does not list it ([`Listed`]).
    pub(crate) steps: &'a [StepRecord],
    span: Span,
}

impl RotationView<'_> {
    /// When it started (its first invocation with a time).
    pub(crate) fn start(&self) -> Option<EpochMs> {
        self.span.first()
    }

    /// When its last invocation started.
    pub(crate) fn last_start(&self) -> Option<EpochMs> {
        self.span.last()
    }
}

impl RotationList {
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.records.len()
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = RotationView<'_>> {
        self.order.iter().map(|&i| self.view(self.records.get(i)))
    }

    fn view(&self, r: &RotationRecord) -> RotationView<'_> {
        let name = |i: u32| self.names.get(i as usize).map(|s| &**s);
        RotationView {
            secret: name(r.secret),
            token: (r.token != [0, 0]).then_some(RequestId(r.token())),
            function: name(r.function),
            status: r.status,
            cause: self.causes.get(usize::from(r.cause)).map(String::as_str),
            steps: &self.steps[r.first_step as usize..][..usize::from(r.steps)],
            span: r.span,
        }
    }

    /// How many rotations, failed and succeeded.
    pub(crate) fn counts(&self) -> RotationCounts {
        let mut c = RotationCounts {
            rotations: self.records.len() as u64,
            ..RotationCounts::default()
        };
        for r in self.records.iter() {
            match r.status {
                RotationStatus::Succeeded => c.succeeded += 1,
                RotationStatus::Failed => c.failed += 1,
                RotationStatus::Incomplete => {}
            }
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_stay_small() {
        assert_eq!(std::mem::size_of::<StepRecord>(), 32);
        assert_eq!(std::mem::size_of::<RotationRecord>(), 56);
    }
}
