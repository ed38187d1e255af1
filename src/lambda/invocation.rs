//! Grouping classified lines into Lambda invocations.
//!
//! Invocations are keyed by request id, which is globally unique, so interleaved functions and
//! streams cannot bleed into each other. Lines that carry no request id (the runtime's unhandled
//! `[ERROR]` block, `print()` output, init-phase lines, a pasted fragment) belong to the invocation
//! currently open in the same log stream; before the first `START` of a stream they are held as
//! that stream's init output and handed to the invocation that starts next. Lines that never find
//! an invocation become a *fragment* invocation, so a pasted one-line error is still diagnosed.
//!
//! Memory is bounded by the invocations open at a time: an invocation closes at its stream's next
//! `START`, some records after its `REPORT`, or when it has been silent longer than the longest
//! Lambda timeout; only the lines rules care about are kept, and at most [`MAX_KEPT_LINES`] of them.
//! A log stream's state is forgotten once it holds nothing (no open invocation, no init output) and
//! nothing worth remembering, or has been silent for [`STREAM_IDLE_MS`]: every execution
//! environment writes its own stream, so an input of a month has as many streams as it has cold
//! starts, and only the recent ones are still in use.

use std::sync::Arc;

use rustc_hash::FxHashMap;

use super::facts::Facts;
use super::line::{Kind, Level, Line, Metrics, RequestId, Status};
use super::{Analysis, Step};
use crate::format::Record;
use crate::rules::matcher::Hits;
use crate::rules::{PatternId, RuleSet};

use crate::time::EpochMs;

/// Lines kept per invocation; the rest are counted in [`Invocation::dropped`].
pub const MAX_KEPT_LINES: usize = 200;
/// Longest text kept for a line (evidence is about recognising the line, not archiving it).
pub const MAX_TEXT: usize = 1024;
/// Lambda's longest timeout is 15 minutes; an invocation silent for longer is over.
pub const STALE_AFTER_MS: EpochMs = 16 * 60 * 1000;
/// An invocation that reported is closed once this many further records have gone by.
const CLOSE_AFTER_RECORDS: u64 = 512;
/// A stream silent this long (event time) is forgotten even though it remembers its runtime
/// version: Lambda shuts idle execution environments down long before, and a stream belongs to
/// one environment.
pub const STREAM_IDLE_MS: EpochMs = 2 * 60 * 60 * 1000;
/// The same for inputs without timestamps, in records.
const STREAM_IDLE_RECORDS: u64 = 1 << 20;
/// Records between two sweeps of stale invocations and idle streams.
const SWEEP_EVERY: u64 = 4096;

/// A set of pattern ids (a bitset sized to the rule set).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PatternSet(smallvec::SmallVec<[u64; 2]>);

impl PatternSet {
    pub fn insert(&mut self, p: PatternId) {
        let (w, b) = (p as usize / 64, p as usize % 64);
        if self.0.len() <= w {
            self.0.resize(w + 1, 0);
        }
        self.0[w] |= 1 << b;
    }

    pub fn contains(&self, p: PatternId) -> bool {
        let (w, b) = (p as usize / 64, p as usize % 64);
        self.0.get(w).is_some_and(|x| x & (1 << b) != 0)
    }

    pub fn union(&mut self, other: &PatternSet) {
        if self.0.len() < other.0.len() {
            self.0.resize(other.0.len(), 0);
        }
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a |= b;
        }
    }
}

/// A line an invocation keeps: it matched a pattern, or is an error, a warning, or a REPORT.
#[derive(Clone, Debug, PartialEq)]
pub struct KeptLine {
    /// Index of the input it came from.
    pub source: u64,
    pub line: u64,
    pub timestamp: Option<EpochMs>,
    pub request_id: Option<RequestId>,
    pub kind: Kind,
    pub level: Option<Level>,
    pub hits: Hits,
    pub text: String,
}

/// One Lambda invocation (or fragment of one).
#[derive(Clone, Debug, Default)]
pub struct Invocation {
    pub request_id: Option<RequestId>,
    pub source: u64,
    pub stream: Option<Arc<str>>,
    pub group: Option<Arc<str>>,
    /// `functionArn`/`functionName` from JSON platform records, or the log group's function.
    pub function: Option<Box<str>>,
    pub first_ts: Option<EpochMs>,
    pub last_ts: Option<EpochMs>,
    pub first_line: u64,
    /// START was seen.
    pub started: bool,
    /// END was seen.
    pub ended: bool,
    /// REPORT was seen.
    pub reported: bool,
    pub metrics: Option<Box<Metrics>>,
    pub timed_out: bool,
    /// Duration the timeout fired at (legacy `Task timed out after N s` or `Status: timeout`).
    pub timeout_ms: Option<f64>,
    pub runtime_exit: bool,
    pub init_failed: bool,
    pub unhandled: bool,
    pub error_lines: u32,
    pub lines: Vec<KeptLine>,
    pub dropped: u32,
    /// Every pattern matched by any line of the invocation.
    pub seen: PatternSet,
    /// The last line the function itself wrote (not a platform line).
    last: Last,
    pub activity: u32,
    /// Lines the function wrote that show no sign of a rotation function.
    pub foreign: u32,
    pub step: Option<Step>,
    pub step_inferred: bool,
    pub facts: Facts,
    pub runtime_version: Option<String>,
    /// Records since the stream saw this invocation's REPORT (for closing).
    reported_at_record: Option<u64>,
}

/// Where the invocation's last activity line is: among its kept lines (no copy), or its own copy
/// (a line not worth keeping as evidence, such as `print()` output).
#[derive(Clone, Debug, Default)]
enum Last {
    #[default]
    None,
    Kept(usize),
    Own(Box<KeptLine>),
}

/// How an invocation ended, as far as its lines tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Succeeded,
    Failed,
    Unknown,
}

impl Invocation {
    /// Failed: timed out, crashed, raised an unhandled error, or reported a non-success status.
    /// A fragment (no END/REPORT) that logged an error also counts as failed.
    pub fn outcome(&self) -> Outcome {
        let status = self.metrics.as_ref().and_then(|m| m.status);
        if self.timed_out
            || self.runtime_exit
            || self.unhandled
            || self.init_failed
            || matches!(
                status,
                Some(Status::Timeout | Status::Error | Status::Failure)
            )
        {
            return Outcome::Failed;
        }
        if self.ended || self.reported {
            return Outcome::Succeeded;
        }
        if self.error_lines > 0 {
            Outcome::Failed
        } else {
            Outcome::Unknown
        }
    }

    pub fn failed(&self) -> bool {
        self.outcome() == Outcome::Failed
    }

    /// No START was seen: the logs hold only a piece of this invocation.
    pub fn is_fragment(&self) -> bool {
        !self.started
    }

    pub fn duration_ms(&self) -> Option<f64> {
        self.metrics
            .as_ref()
            .and_then(|m| m.duration_ms)
            .or(self.timeout_ms)
    }

    /// The function's configured timeout, when the invocation hit it (Lambda timeouts are whole
    /// seconds: the duration at timeout, rounded down).
    pub fn configured_timeout_ms(&self) -> Option<f64> {
        if !self.timed_out {
            return None;
        }
        let d = self.timeout_ms.or(self.duration_ms())?;
        let billed = self.metrics.as_ref().and_then(|m| m.billed_ms);
        let d = match billed {
            // Legacy REPORT lines cap Billed Duration at the timeout: 30030.17 ms billed 30000.
            Some(b) if b < d && (d - b) < 1000.0 => b,
            _ => d,
        };
        Some((d / 1000.0).floor() * 1000.0)
    }

    fn touch(&mut self, ts: Option<EpochMs>) {
        if let Some(t) = ts {
            self.first_ts = Some(self.first_ts.map_or(t, |f| f.min(t)));
            self.last_ts = Some(self.last_ts.map_or(t, |l| l.max(t)));
        }
    }

    fn keep(&mut self, line: KeptLine) {
        if self.lines.len() < MAX_KEPT_LINES {
            self.lines.push(line);
        } else {
            self.dropped += 1;
        }
    }

    /// Records what a line says: the patterns it matched, its step, its facts.
    fn note(&mut self, hits: &Hits, step: Option<Step>, facts: Facts) {
        for &h in hits {
            self.seen.insert(h);
        }
        if self.step.is_none() {
            self.step = step;
        }
        self.facts.merge(facts);
    }

    /// The last line the function itself wrote (not a platform line).
    pub fn last_activity(&self) -> Option<&KeptLine> {
        match &self.last {
            Last::None => None,
            Last::Kept(i) => self.lines.get(*i),
            Last::Own(l) => Some(l),
        }
    }

    /// Remembers the line just kept as the last thing the function wrote.
    fn last_is_kept(&mut self) {
        if !self.lines.is_empty() && self.dropped == 0 {
            self.last = Last::Kept(self.lines.len() - 1);
        }
    }

    /// Remembers a line that was not kept as the last thing the function wrote, reusing the
    /// previous copy.
    fn set_last_activity(
        &mut self,
        source: u64,
        record: &Record,
        line: &Line,
        ts: Option<EpochMs>,
        hits: &Hits,
    ) {
        if !matches!(self.last, Last::Own(_)) {
            self.last = Last::Own(Box::new(KeptLine {
                source,
                line: 0,
                timestamp: None,
                request_id: None,
                kind: line.kind,
                level: None,
                hits: Hits::new(),
                text: String::new(),
            }));
        }
        let Last::Own(last) = &mut self.last else {
            unreachable!()
        };
        last.line = record.line;
        last.timestamp = ts;
        last.request_id = line.request_id;
        last.kind = line.kind;
        last.level = line.level;
        last.hits.clear();
        last.hits.extend_from_slice(hits);
        last.text.clear();
        push_text(&mut last.text, line.text(&record.message), 512);
    }
}

struct StreamState {
    name: Option<Arc<str>>,
    /// The invocation lines without a request id belong to.
    current: Option<RequestId>,
    /// Invocations that ended (END/REPORT) and close at this stream's next START.
    ended: Vec<RequestId>,
    /// Init-phase output waiting for the stream's next invocation.
    pending: Option<Invocation>,
    runtime_version: Option<String>,
    /// When the stream was last written to: the assembler's record count, and the latest event
    /// time (for [`StreamState::forgettable`]).
    last_record: u64,
    last_ts: Option<EpochMs>,
}

impl StreamState {
    fn new(name: Option<Arc<str>>) -> StreamState {
        StreamState {
            name,
            current: None,
            ended: Vec::new(),
            pending: None,
            runtime_version: None,
            last_record: 0,
            last_ts: None,
        }
    }

    fn touch(&mut self, record: u64, ts: Option<EpochMs>) {
        self.last_record = record;
        if let Some(t) = ts {
            self.last_ts = Some(self.last_ts.map_or(t, |l| l.max(t)));
        }
    }

    /// Can the state go? When it holds nothing in progress, and either remembers nothing (a
    /// fresh state would behave the same) or has been silent past [`STREAM_IDLE_MS`] (its
    /// runtime version, from the environment's `INIT_START`, is the only thing lost).
    fn forgettable(&self, records: u64, now: Option<EpochMs>) -> bool {
        if self.current.is_some() || !self.ended.is_empty() || self.pending.is_some() {
            return false;
        }
        if self.runtime_version.is_none() {
            return true;
        }
        match (self.last_ts, now) {
            (Some(l), Some(n)) => n - l > STREAM_IDLE_MS,
            _ => records - self.last_record > STREAM_IDLE_RECORDS,
        }
    }
}

/// Builds invocations from the records of one input.
pub struct Assembler<'r> {
    rules: &'r RuleSet,
    source: u64,
    open: FxHashMap<RequestId, Invocation>,
    streams: Vec<StreamState>,
    stream_index: FxHashMap<Option<Arc<str>>, usize>,
    /// The stream of the previous record (records of one stream come in runs).
    last_stream: Option<(Option<Arc<str>>, usize)>,
    /// The stream of records that carry none (an S3 export file's stream, from its path).
    default_stream: Option<Arc<str>>,
    closed: Vec<Invocation>,
    records: u64,
    max_ts: Option<EpochMs>,
    /// Invocations seen (START, or lines with a request id).
    pub invocations: u64,
}

impl<'r> Assembler<'r> {
    pub fn new(rules: &'r RuleSet, source: u64) -> Assembler<'r> {
        Assembler {
            rules,
            source,
            open: FxHashMap::default(),
            streams: Vec::new(),
            stream_index: FxHashMap::default(),
            last_stream: None,
            default_stream: None,
            closed: Vec::new(),
            records: 0,
            max_ts: None,
            invocations: 0,
        }
    }

    /// Names the stream of records that carry none.
    pub fn set_default_stream(&mut self, stream: Option<String>) {
        self.default_stream = stream.map(Arc::from);
    }

    /// Takes the invocations closed so far, in input order (the order they started in).
    pub fn drain_closed(&mut self) -> Vec<Invocation> {
        let mut v = std::mem::take(&mut self.closed);
        v.sort_by_key(|i| i.first_line);
        v
    }

    /// The latest event time seen in this input.
    pub fn max_ts(&self) -> Option<EpochMs> {
        self.max_ts
    }

    /// Index of the record's stream state.
    fn stream_of(&mut self, record: &Record) -> usize {
        let named = record.stream.as_deref();
        if let Some((name, idx)) = &self.last_stream {
            let same = match named {
                Some(s) => name.as_deref() == Some(s),
                None => *name == self.default_stream,
            };
            if same {
                return *idx;
            }
        }
        let name: Option<Arc<str>> = match named {
            Some(s) => Some(Arc::from(s)),
            None => self.default_stream.clone(),
        };
        let idx = match self.stream_index.get(&name) {
            Some(&i) => i,
            None => {
                self.streams.push(StreamState::new(name.clone()));
                self.stream_index
                    .insert(name.clone(), self.streams.len() - 1);
                self.streams.len() - 1
            }
        };
        self.last_stream = Some((name, idx));
        idx
    }

    fn new_invocation(&self, si: usize, record: &Record) -> Invocation {
        Invocation {
            source: self.source,
            stream: self.streams[si].name.clone(),
            group: record.group.as_deref().map(Arc::from),
            first_line: record.line,
            ..Invocation::default()
        }
    }

    /// Opens the invocation `rid` unless it is open, counting it.
    fn open_invocation(&mut self, rid: RequestId, si: usize, record: &Record) {
        if !self.open.contains_key(&rid) {
            self.invocations += 1;
            let mut inv = self.new_invocation(si, record);
            inv.request_id = Some(rid);
            self.open.insert(rid, inv);
        }
    }

    /// Adds one analysed record.
    pub fn push(&mut self, record: &Record, a: Analysis) {
        self.records += 1;
        let Analysis {
            mut line,
            hits,
            step,
            facts,
        } = a;
        let ts = record.timestamp.or(line.timestamp);
        if let Some(t) = ts {
            self.max_ts = Some(self.max_ts.map_or(t, |m| m.max(t)));
        }
        let si = self.stream_of(record);
        self.streams[si].touch(self.records, ts);
        let source = self.source;
        match line.kind {
            Kind::InitStart => {
                self.streams[si].runtime_version = runtime_version(&record.message);
                return;
            }
            Kind::Start => {
                let Some(rid) = line.request_id else { return };
                self.start(rid, si, record, &line, ts, hits, step, facts);
                return;
            }
            Kind::CloudTrail => {
                // A CloudTrail event stands on its own: it joins its rotation by the secret it
                // names.
                let mut inv = self.new_invocation(si, record);
                inv.touch(ts);
                inv.note(&hits, step, facts);
                if line.level >= Some(Level::Error) {
                    inv.error_lines += 1;
                }
                inv.activity = 1;
                inv.keep(kept(source, record, &line, ts, hits));
                inv.last_is_kept();
                self.closed.push(finish(inv, self.rules));
                return;
            }
            _ => {}
        }

        // Which invocation does this line belong to?
        let key = match line.request_id {
            Some(rid) => {
                if !self.open.contains_key(&rid) {
                    self.open_invocation(rid, si, record);
                    let st = &mut self.streams[si];
                    if st.current.is_none() {
                        // No START (cut off by `--since`, a console selection): the lines
                        // without a RequestId just before this one, in the same stream, are
                        // this invocation's (a stream runs one invocation at a time).
                        if let Some(p) = st.pending.take() {
                            absorb(self.open.get_mut(&rid).unwrap(), p);
                        }
                        if !matches!(line.kind, Kind::End | Kind::Report) {
                            self.streams[si].current = Some(rid);
                        }
                    }
                }
                Some(rid)
            }
            None => self.streams[si]
                .current
                .filter(|k| self.open.contains_key(k)),
        };
        let rules = self.rules;
        let records = self.records;
        let inv = match key {
            Some(k) => self.open.get_mut(&k).unwrap(),
            None => {
                // Init-phase output, or a fragment with nothing to attach to.
                let new = self.new_invocation(si, record);
                self.streams[si].pending.get_or_insert(new)
            }
        };
        inv.touch(ts);
        if inv.function.is_none() && line.function.is_some() {
            inv.function = line.function.clone();
        }
        let mut keep = !hits.is_empty();
        match line.kind {
            Kind::End => inv.ended = true,
            Kind::Report => {
                inv.reported = true;
                inv.ended = true;
                if let Some(m) = line.metrics.take() {
                    if m.status == Some(Status::Timeout) {
                        inv.timed_out = true;
                        inv.timeout_ms = inv.timeout_ms.or(m.duration_ms);
                    }
                    inv.metrics = Some(m);
                }
                inv.reported_at_record = Some(records);
                // The REPORT is evidence (its duration) only for an invocation that failed.
                keep |= inv.outcome() == Outcome::Failed;
            }
            Kind::InitReport => {
                let bad = line
                    .metrics
                    .as_ref()
                    .and_then(|m| m.status)
                    .is_some_and(|s| s != Status::Success);
                if bad {
                    inv.init_failed = true;
                    keep = true;
                }
            }
            Kind::Timeout => {
                inv.timed_out = true;
                inv.timeout_ms = line.metrics.as_ref().and_then(|m| m.duration_ms);
                keep = true;
            }
            Kind::RuntimeExit => {
                inv.runtime_exit = true;
                keep = true;
            }
            Kind::Unhandled => {
                inv.unhandled = true;
                inv.error_lines += 1;
                keep = true;
            }
            Kind::App | Kind::Other | Kind::RuntimeWarning => {
                let marked_error = line.level.is_none()
                    && rules.model.error_marker.is_some_and(|p| hits.contains(&p));
                if marked_error || line.level >= Some(Level::Error) {
                    inv.error_lines += 1;
                }
                keep |= marked_error || line.level >= Some(Level::Warning);
            }
            Kind::InitStart | Kind::Start | Kind::CloudTrail => {}
        }
        let activity = matches!(line.kind, Kind::App | Kind::Unhandled | Kind::Other);
        if activity {
            inv.activity += 1;
            if !rules.model.vouches_for_rotation(&hits) {
                inv.foreign += 1;
            }
            if !keep {
                inv.set_last_activity(source, record, &line, ts, &hits);
            }
        }
        let ends = matches!(line.kind, Kind::End | Kind::Report);
        if keep {
            inv.note(&hits, step, facts);
            inv.keep(kept(source, record, &line, ts, hits));
            if activity {
                inv.last_is_kept();
            }
        } else if !facts.is_empty() || step.is_some() {
            inv.note(&hits, step, facts);
        }
        if ends && let Some(k) = key {
            let st = &mut self.streams[si];
            if st.current == Some(k) {
                st.current = None;
            }
            if !st.ended.contains(&k) {
                st.ended.push(k);
            }
        }
        if self.records.is_multiple_of(SWEEP_EVERY) {
            self.sweep();
            self.forget_idle_streams();
        }
    }

    /// START: opens the invocation, closes what the stream had ended, hands it the stream's
    /// init output.
    #[allow(clippy::too_many_arguments)]
    fn start(
        &mut self,
        rid: RequestId,
        si: usize,
        record: &Record,
        line: &Line,
        ts: Option<EpochMs>,
        hits: Hits,
        step: Option<Step>,
        facts: Facts,
    ) {
        self.close_ended(si);
        self.open_invocation(rid, si, record);
        let st = &mut self.streams[si];
        // A new START in a known stream means the previous invocation there is over.
        if st.name.is_some()
            && let Some(prev) = st.current.take()
            && prev != rid
        {
            st.ended.push(prev);
        }
        let pending = st.pending.take();
        let rv = st.runtime_version.clone();
        st.current = Some(rid);
        let source = self.source;
        let inv = self.open.get_mut(&rid).unwrap();
        inv.started = true;
        inv.touch(ts);
        inv.first_line = inv.first_line.min(record.line);
        if inv.function.is_none() {
            inv.function = line.function.clone();
        }
        if inv.runtime_version.is_none() {
            inv.runtime_version = rv;
        }
        if let Some(p) = pending {
            absorb(inv, p);
        }
        if !hits.is_empty() {
            inv.note(&hits, step, facts);
            inv.keep(kept(source, record, line, ts, hits));
        }
        self.close_ended(si);
    }

    /// Closes the invocations of stream `si` that already ended.
    fn close_ended(&mut self, si: usize) {
        let ended = std::mem::take(&mut self.streams[si].ended);
        for k in ended {
            if let Some(inv) = self.open.remove(&k) {
                self.closed.push(finish(inv, self.rules));
            }
        }
    }

    /// Closes invocations that reported long ago or have been silent past any Lambda timeout.
    fn sweep(&mut self) {
        let now_rec = self.records;
        let max_ts = self.max_ts;
        let stale: Vec<RequestId> = self
            .open
            .iter()
            .filter(|(_, inv)| {
                let reported_long_ago = inv
                    .reported_at_record
                    .is_some_and(|r| now_rec.saturating_sub(r) > CLOSE_AFTER_RECORDS);
                let silent = match (inv.last_ts, max_ts) {
                    (Some(l), Some(m)) => m - l > STALE_AFTER_MS,
                    _ => false,
                };
                reported_long_ago || silent
            })
            .map(|(k, _)| *k)
            .collect();
        for k in stale {
            if let Some(inv) = self.open.remove(&k) {
                for st in &mut self.streams {
                    if st.current == Some(k) {
                        st.current = None;
                    }
                    st.ended.retain(|e| *e != k);
                }
                self.closed.push(finish(inv, self.rules));
            }
        }
    }

    /// Drops the states of streams that can go ([`StreamState::forgettable`]), keeping the others
    /// in order and their indices consistent.
    fn forget_idle_streams(&mut self) {
        let (records, now) = (self.records, self.max_ts);
        let keep: Vec<bool> = self
            .streams
            .iter()
            .map(|st| !st.forgettable(records, now))
            .collect();
        if keep.iter().all(|&k| k) {
            return;
        }
        // Old index -> new index (kept streams only).
        let mut moved_to = Vec::with_capacity(keep.len());
        let mut next = 0;
        for &k in &keep {
            moved_to.push(next);
            next += usize::from(k);
        }
        let mut kept = keep.iter();
        self.streams.retain(|_| *kept.next().unwrap());
        self.stream_index.retain(|_, i| {
            let k = keep[*i];
            *i = moved_to[*i];
            k
        });
        self.last_stream = None;
    }

    /// Closes everything still open (end of input).
    pub fn finish(&mut self) {
        let mut keys: Vec<RequestId> = self.open.keys().copied().collect();
        keys.sort_by_key(|k| self.open[k].first_line);
        for k in keys {
            if let Some(inv) = self.open.remove(&k) {
                self.closed.push(finish(inv, self.rules));
            }
        }
        let mut pending: Vec<Invocation> = self
            .streams
            .iter_mut()
            .filter_map(|st| st.pending.take())
            .collect();
        pending.sort_by_key(|p| p.first_line);
        for p in pending {
            if p.activity > 0 || !p.lines.is_empty() {
                self.closed.push(finish(p, self.rules));
            }
        }
    }
}

/// Moves init-phase output into the invocation that followed it.
fn absorb(inv: &mut Invocation, pending: Invocation) {
    inv.first_ts = match (inv.first_ts, pending.first_ts) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    inv.first_line = inv.first_line.min(pending.first_line);
    inv.init_failed |= pending.init_failed;
    inv.unhandled |= pending.unhandled;
    inv.error_lines += pending.error_lines;
    inv.seen.union(&pending.seen);
    inv.activity += pending.activity;
    inv.foreign += pending.foreign;
    if inv.step.is_none() {
        inv.step = pending.step;
    }
    inv.facts.merge(pending.facts);
    let shift = pending.lines.len();
    inv.last = match std::mem::take(&mut inv.last) {
        Last::None => pending.last,
        Last::Kept(i) => Last::Kept(i + shift),
        own => own,
    };
    let mut lines = pending.lines;
    lines.append(&mut inv.lines);
    inv.lines = lines;
    inv.lines.truncate(MAX_KEPT_LINES);
    if matches!(inv.last, Last::Kept(i) if i >= inv.lines.len()) {
        inv.last = Last::None;
    }
}

/// The line as evidence.
fn kept(source: u64, record: &Record, line: &Line, ts: Option<EpochMs>, hits: Hits) -> KeptLine {
    KeptLine {
        source,
        line: record.line,
        timestamp: ts,
        request_id: line.request_id,
        kind: line.kind,
        level: line.level,
        hits,
        text: text_for(line.text(&record.message)),
    }
}

/// Derives what an invocation knows about its function, once, when it closes.
fn finish(mut inv: Invocation, rules: &RuleSet) -> Invocation {
    let known = rules.known;
    if let Some(f) = inv.function.clone() {
        let name = f.rsplit(':').next().unwrap_or(&f).to_string();
        if f.starts_with("arn:") {
            inv.facts.insert_first(known.function_arn, f);
        }
        inv.facts
            .insert_first(known.function_name, name.into_boxed_str());
    }
    if let Some(name) = inv
        .group
        .as_deref()
        .and_then(|g| g.strip_prefix("/aws/lambda/"))
    {
        inv.facts.insert_first(known.function_name, name.into());
    }
    if let Some(rv) = &inv.runtime_version {
        inv.facts
            .insert_first(known.runtime_version, rv.as_str().into());
    }
    inv
}

/// `INIT_START Runtime Version: python:3.12.v48\t…` -> `python:3.12.v48`.
fn runtime_version(msg: &[u8]) -> Option<String> {
    let s = String::from_utf8_lossy(msg);
    let rest = s.split("Runtime Version:").nth(1)?;
    rest.split_whitespace().next().map(str::to_owned)
}

/// Lossy UTF-8, cut at [`MAX_TEXT`] bytes on a character boundary.
pub fn text_for(raw: &[u8]) -> String {
    let mut s = String::new();
    push_text(&mut s, raw, MAX_TEXT);
    s
}

/// Appends `raw` (trailing whitespace trimmed) as lossy UTF-8, at most about `max` bytes.
fn push_text(out: &mut String, raw: &[u8], max: usize) {
    let raw = trim_end_ws(raw);
    let cut = &raw[..raw.len().min(max)];
    match std::str::from_utf8(cut) {
        Ok(s) => out.push_str(s),
        Err(_) => out.push_str(&String::from_utf8_lossy(cut)),
    }
    if raw.len() > max {
        out.push('…');
    }
}

fn trim_end_ws(s: &[u8]) -> &[u8] {
    let n = s
        .iter()
        .rev()
        .take_while(|b| matches!(b, b'\n' | b'\r' | b' ' | b'\t'))
        .count();
    &s[..s.len() - n]
}

pub fn floor_char_boundary(s: &str, max: usize) -> usize {
    if max >= s.len() {
        return s.len();
    }
    let mut i = max;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
pub(crate) mod tests {
    use std::borrow::Cow;

    use super::*;
    use crate::rules::RuleSet;

    pub fn rules() -> &'static RuleSet {
        use std::sync::OnceLock;
        static RULES: OnceLock<RuleSet> = OnceLock::new();
        RULES.get_or_init(|| crate::rules::load(None).expect("embedded rules"))
    }

    /// Assembles `(stream, message)` pairs, one record each, numbered from line 1.
    pub fn assemble(lines: &[(Option<&str>, &str)]) -> Vec<Invocation> {
        let rules = rules();
        let mut a = Assembler::new(rules, 0);
        for (i, (stream, msg)) in lines.iter().enumerate() {
            let rec = Record {
                line: i as u64 + 1,
                offset: 0,
                timestamp: None,
                stream: stream.map(Cow::Borrowed),
                group: None,
                message: Cow::Borrowed(msg.as_bytes()),
            };
            a.push(&rec, crate::lambda::analyze(msg.as_bytes(), rules));
        }
        a.finish();
        a.drain_closed()
    }

    pub const A: &str = "11111111-1111-4111-8111-111111111111";
    pub const B: &str = "22222222-2222-4222-8222-222222222222";
    pub const ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-a1B2c3";
    pub const TOKEN: &str = "7c9e6679-7425-40de-944b-e07fc1f90ae7";

    fn by_rid(invs: &[Invocation], rid: &str) -> Invocation {
        let r = RequestId::parse(rid);
        invs.iter()
            .find(|i| i.request_id == r)
            .cloned()
            .unwrap_or_else(|| panic!("no invocation {rid}"))
    }

    #[test]
    fn interleaved_streams_keep_their_unhandled_errors() {
        let s1 = Some("2025/01/01/[$LATEST]aaaa");
        let s2 = Some("2025/01/01/[$LATEST]bbbb");
        let start_a = format!("START RequestId: {A} Version: $LATEST");
        let start_b = format!("START RequestId: {B} Version: $LATEST");
        let err = "[ERROR] KeyError: 'host key is missing from secret JSON'\nTraceback (most recent call last):";
        let end_a = format!("END RequestId: {A}");
        let rep_a = format!(
            "REPORT RequestId: {A}\tDuration: 12.00 ms\tBilled Duration: 12 ms\tMemory Size: 128 MB\tMax Memory Used: 80 MB"
        );
        let end_b = format!("END RequestId: {B}");
        let invs = assemble(&[
            (s1, &start_a),
            (s2, &start_b),
            (s2, err),
            (s1, &end_a),
            (s1, &rep_a),
            (s2, &end_b),
        ]);
        assert_eq!(invs.len(), 2);
        let a = by_rid(&invs, A);
        let b = by_rid(&invs, B);
        assert!(!a.unhandled && a.outcome() == Outcome::Succeeded);
        assert!(b.unhandled && b.failed());
        assert_eq!(b.lines[0].line, 3);
        assert_eq!(a.metrics.as_ref().unwrap().duration_ms, Some(12.0));
    }

    #[test]
    fn init_output_joins_the_next_invocation() {
        let found =
            "[INFO]\t2025-10-21T18:58:10.422Z\t\tFound credentials in environment variables.";
        let start = format!("START RequestId: {A} Version: $LATEST");
        let rep = format!(
            "REPORT RequestId: {A}\tDuration: 30000.00 ms\tBilled Duration: 30000 ms\tMemory Size: 128 MB\tMax Memory Used: 80 MB\tStatus: timeout"
        );
        let invs = assemble(&[
            (
                None,
                "INIT_START Runtime Version: python:3.12.v48\tRuntime Version ARN: arn:aws:lambda:us-east-1::runtime:abc",
            ),
            (None, found),
            (None, &start),
            (None, &rep),
        ]);
        assert_eq!(invs.len(), 1);
        let a = &invs[0];
        assert!(a.started && a.timed_out && a.failed());
        assert_eq!(a.configured_timeout_ms(), Some(30000.0));
        assert!(
            a.last_activity()
                .as_ref()
                .unwrap()
                .text
                .contains("Found credentials")
        );
        assert_eq!(a.runtime_version.as_deref(), Some("python:3.12.v48"));
    }

    #[test]
    fn legacy_timeout_line_after_report() {
        let start = format!("START RequestId: {A} Version: $LATEST");
        let end = format!("END RequestId: {A}");
        let rep = format!(
            "REPORT RequestId: {A}\tDuration: 30030.17 ms\tBilled Duration: 30000 ms\tMemory Size: 128 MB\tMax Memory Used: 84 MB\t"
        );
        let to = format!("2024-05-02T03:15:47.439Z {A} Task timed out after 30.03 seconds");
        let invs = assemble(&[(None, &start), (None, &end), (None, &rep), (None, &to)]);
        assert_eq!(invs.len(), 1);
        assert!(invs[0].timed_out);
        assert_eq!(invs[0].configured_timeout_ms(), Some(30000.0));
    }

    #[test]
    fn a_lone_pasted_error_is_a_failed_fragment_with_facts() {
        let line = format!(
            "setSecret: Unable to log into database with previous, current, or pending secret of secret arn {ARN}"
        );
        let invs = assemble(&[(None, &line)]);
        assert_eq!(invs.len(), 1);
        let f = &invs[0];
        assert!(f.is_fragment() && f.failed());
        assert_eq!(f.step, Some(Step::SetSecret));
        assert_eq!(f.facts.get(rules().known.secret_arn), Some(ARN));
    }

    #[test]
    fn an_invocation_whose_start_was_cut_off_keeps_the_lines_before_its_first_request_id() {
        // `aws logs tail --since` started after START: the runtime's error (no RequestId) comes
        // first, then END and REPORT name the invocation.
        let error = format!(
            "[ERROR] ValueError: Unable to log into database with previous, current, or pending secret of secret arn {ARN}"
        );
        let end = format!("END RequestId: {A}");
        let report = format!(
            "REPORT RequestId: {A}\tDuration: 15362.41 ms\tBilled Duration: 15363 ms\tMemory Size: 128 MB\tMax Memory Used: 86 MB"
        );
        let invs = assemble(&[(None, &error), (None, &end), (None, &report)]);
        assert_eq!(invs.len(), 1, "{invs:?}");
        let a = &invs[0];
        assert_eq!(a.request_id, RequestId::parse(A));
        assert!(a.failed());
        assert_eq!(a.facts.get(rules().known.secret_arn), Some(ARN));
        assert_eq!(
            a.metrics.as_ref().and_then(|m| m.duration_ms),
            Some(15362.41)
        );
        assert_eq!(a.first_line, 1);
    }

    #[test]
    fn steps_and_facts_from_template_lines_and_tracebacks() {
        let start = format!("START RequestId: {A} Version: $LATEST");
        let put = format!(
            "[INFO]\t2025-03-11T14:02:07.402Z\t{A}\tcreateSecret: Successfully put secret for ARN {ARN} and version {TOKEN}."
        );
        let invs = assemble(&[(None, &start), (None, &put)]);
        let a = &invs[0];
        assert_eq!(a.step, Some(Step::CreateSecret));
        assert_eq!(a.facts.get(rules().known.secret_arn), Some(ARN));
        assert_eq!(a.facts.get(rules().known.token), Some(TOKEN));

        let tb = "[ERROR] ValueError: boom\nTraceback (most recent call last):\n\u{a0}\u{a0}File \"/var/task/lambda_function.py\", line 81, in lambda_handler\n\u{a0}\u{a0}\u{a0}\u{a0}test_secret(service_client, arn, token)";
        let start_b = format!("START RequestId: {B} Version: $LATEST");
        let invs = assemble(&[(None, &start_b), (None, tb)]);
        assert_eq!(invs[0].step, Some(Step::TestSecret));
        assert!(invs[0].failed());
    }

    #[test]
    fn handled_error_lines_do_not_fail_a_completed_invocation() {
        let start = format!("START RequestId: {A} Version: $LATEST");
        let ssl = format!(
            "[ERROR]\t2025-03-11T14:02:09.102Z\t{A}\tUnable to establish SSL/TLS handshake, SSL/TLS is enforced on the host: db.example"
        );
        let ok = format!(
            "[INFO]\t2025-03-11T14:02:09.188Z\t{A}\tsetSecret: Successfully set password for user app in PostgreSQL DB for secret arn {ARN}."
        );
        let end = format!("END RequestId: {A}");
        let invs = assemble(&[(None, &start), (None, &ssl), (None, &ok), (None, &end)]);
        assert_eq!(invs[0].outcome(), Outcome::Succeeded);
    }

    /// One record of `stream` at `ts` (seconds), analysed.
    fn push_at(a: &mut Assembler, line: u64, stream: &str, ts: i64, msg: &str) {
        let rec = Record {
            line,
            offset: 0,
            timestamp: Some(ts * 1000),
            stream: Some(Cow::Owned(stream.to_string())),
            group: None,
            message: Cow::Borrowed(msg.as_bytes()),
        };
        a.push(&rec, crate::lambda::analyze(msg.as_bytes(), rules()));
    }

    /// A complete invocation (`START`, `END`, `REPORT`) in `stream`; returns the next line number.
    fn invocation_in(a: &mut Assembler, line: u64, stream: &str, ts: i64, n: u32) -> u64 {
        let rid = format!("{n:08x}-1111-4111-8111-111111111111");
        push_at(
            a,
            line,
            stream,
            ts,
            &format!("START RequestId: {rid} Version: $LATEST"),
        );
        push_at(a, line + 1, stream, ts, &format!("END RequestId: {rid}"));
        let report = format!(
            "REPORT RequestId: {rid}\tDuration: 1.00 ms\tBilled Duration: 1 ms\tMemory Size: 128 MB\tMax Memory Used: 80 MB"
        );
        push_at(a, line + 2, stream, ts, &report);
        line + 3
    }

    #[test]
    fn streams_that_hold_nothing_are_forgotten() {
        // Every execution environment writes its own stream: thousands of streams of one
        // invocation each must not leave thousands of states behind.
        let mut a = Assembler::new(rules(), 0);
        let mut line = 1;
        for n in 0..5000u32 {
            line = invocation_in(&mut a, line, &format!("2025/01/01/[$LATEST]{n:08x}"), 0, n);
        }
        assert!(a.streams.len() < 2000, "{} stream states", a.streams.len());
        assert_eq!(a.stream_index.len(), a.streams.len());
        a.finish();
        assert_eq!(a.drain_closed().len(), 5000);
    }

    #[test]
    fn a_stream_keeps_its_runtime_version_until_it_has_been_idle_for_hours() {
        let rules = rules();
        let mut a = Assembler::new(rules, 0);
        let env = "2025/01/01/[$LATEST]env";
        let init = "INIT_START Runtime Version: python:3.12.v48\tRuntime Version ARN: arn:aws:lambda:us-east-1::runtime:abc";
        push_at(&mut a, 1, env, 0, init);
        let mut line = invocation_in(&mut a, 2, env, 0, 0);
        // Other streams' records, spread over an hour: `env` is swept past but not forgotten.
        for n in 1..3000u32 {
            line = invocation_in(&mut a, line, &format!("other-{n}"), i64::from(n), n);
        }
        line = invocation_in(&mut a, line, env, 3600, 7777);
        // Four hours later: forgotten, its runtime version with it.
        for n in 3000..6000u32 {
            line = invocation_in(&mut a, line, &format!("other-{n}"), 4 * 3600, n);
        }
        invocation_in(&mut a, line, env, 4 * 3600, 8888);
        a.finish();
        let invs = a.drain_closed();
        let version = |n: u32| {
            let rid = RequestId::parse(&format!("{n:08x}-1111-4111-8111-111111111111"));
            let inv = invs.iter().find(|i| i.request_id == rid).unwrap();
            inv.runtime_version.clone()
        };
        assert_eq!(version(0).as_deref(), Some("python:3.12.v48"));
        assert_eq!(version(7777).as_deref(), Some("python:3.12.v48"));
        assert_eq!(version(8888), None);
    }

    #[test]
    fn pattern_set_membership() {
        let mut s = PatternSet::default();
        s.insert(3);
        s.insert(130);
        assert!(s.contains(3) && s.contains(130) && !s.contains(4) && !s.contains(1000));
        let mut t = PatternSet::default();
        t.insert(7);
        t.union(&s);
        assert!(t.contains(7) && t.contains(130));
    }
}
