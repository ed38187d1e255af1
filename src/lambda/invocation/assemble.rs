//! The router of invocation assembly: each line goes, by its kind and request id, to the
//! invocation it belongs to, which [`super::state`] then updates.

use std::collections::hash_map::Entry;
use std::mem::take;
use std::num::NonZeroU64;
use std::sync::Arc;

use rustc_hash::{FxHashMap, FxHashSet};

use super::state::{absorb, finish, kept, kept_report, runtime_version};
use super::stream::StreamState;
use super::{Invocation, STALE_AFTER_MS, SpareLast, SpareLines, is_activity};
use crate::aws::RequestId;
use crate::format::Record;
use crate::lambda::Analysis;
use crate::lambda::line::{Kind, Level};
use crate::lambda::platform::{PlatformEvent, PlatformKind};
use crate::lambda::report::Metrics;
use crate::rules::RuleSet;
use crate::time::EpochMs;

/// An invocation that reported is closed once this many further records have gone by.
const CLOSE_AFTER_RECORDS: u64 = 512;
/// Records between two sweeps of stale invocations and idle streams.
const SWEEP_EVERY: u64 = 4096;
/// Stream keys remembered at most ([`Assembler::keyed`]).
const MAX_KEYED: usize = 4096;

/// Where a record falls: its stream's state and its time (its own, or the one its message prints).
#[derive(Clone, Copy)]
struct At {
    stream: usize,
    ts: Option<EpochMs>,
}

/// Where a line is, as an invocation it opens records it: its line number and log group.
#[derive(Clone, Copy)]
struct Origin<'a> {
    line: u64,
    group: Option<&'a str>,
}

impl<'a> Origin<'a> {
    fn of(record: &'a Record) -> Origin<'a> {
        Origin {
            line: record.line,
            group: record.group.as_deref(),
        }
    }
}

/// Builds invocations from the records of one input.
pub struct Assembler<'r> {
    rules: &'r RuleSet,
    source: u64,
    open: FxHashMap<RequestId, Invocation>,
    streams: Vec<StreamState>,
    /// Where in `streams` each named stream is (looked up by `&str`: a record's stream name is
    /// a slice of its input, and making an `Arc` of it only to look it up cost an allocation at
    /// every switch of stream in interleaved JSON events).
    stream_index: FxHashMap<Arc<str>, usize>,
    /// Where in `streams` the stream of records with a key is ([`Record::stream_key`]): found
    /// without reading their names. Emptied when indices change, and when it grows past
    /// [`MAX_KEYED`] (keys of one name are many: one per run of events read together).
    keyed: FxHashMap<NonZeroU64, usize>,
    /// Where the stream without a name is, once there is one.
    unnamed_stream: Option<usize>,
    /// The stream of the previous record (records of one stream come in runs).
    last_stream: Option<usize>,
    /// The stream of records that carry none (an S3 export file's stream, from its path).
    default_stream: Option<Arc<str>>,
    closed: Vec<Invocation>,
    /// The buffer [`Assembler::drain_closed`] sorts `closed` into (then swaps with it).
    sorted: Vec<Invocation>,
    /// Healthy invocations of other functions, dropped as they closed (see [`Assembler::close`]):
    /// the caller frees them where it likes ([`Assembler::drain_spent`]).
    spent: Vec<Invocation>,
    /// Their last-activity buffers, taken before they go, for the next invocations.
    spare_last: SpareLast,
    /// The kept-line lists of invocations the caller is done with, for the next invocations.
    spare_lines: SpareLines,
    /// How many of those there were.
    pub(crate) other_functions: u64,
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
            keyed: FxHashMap::default(),
            unnamed_stream: None,
            last_stream: None,
            default_stream: None,
            closed: Vec::new(),
            sorted: Vec::new(),
            spent: Vec::new(),
            spare_last: SpareLast::default(),
            spare_lines: SpareLines::default(),
            other_functions: 0,
            records: 0,
            max_ts: None,
            invocations: 0,
        }
    }

    /// Names the stream of records that carry none.
    pub(crate) fn set_default_stream(&mut self, stream: Option<String>) {
        self.default_stream = stream.map(Arc::from);
    }

    /// Takes the invocations closed so far, in input order (the order they started in).
    ///
    /// The closed invocations' buffer stays for the next ones: grown once to what closes between
    /// two calls, not again from the last call's size every time (reallocating hundreds of
    /// values of a few hundred bytes: 3.8 M instructions on 16 MiB of S3 export text).
    pub fn drain_closed(&mut self) -> std::vec::Drain<'_, Invocation> {
        if !self.closed.is_sorted_by_key(|i| i.first_line) {
            in_start_order(&mut self.closed, &mut self.sorted);
        }
        self.closed.drain(..)
    }

    /// Takes the invocations dropped as other functions' since the last call (to be freed off
    /// the fold's thread).
    pub(crate) fn drain_spent(&mut self) -> Vec<Invocation> {
        let capacity = self.spent.len();
        std::mem::replace(&mut self.spent, Vec::with_capacity(capacity))
    }

    /// Takes back the last-activity buffers and kept-line lists of invocations the caller is
    /// done with (those of rotations closed and recorded), for the next invocations
    /// ([`SpareLast`], [`SpareLines`]).
    pub(crate) fn reuse<'a>(&mut self, done: impl Iterator<Item = &'a mut Invocation>) {
        for inv in done {
            if self.spare_last.is_full() && self.spare_lines.is_full() {
                return;
            }
            self.spare_last.keep_from(inv);
            self.spare_lines.keep_from(inv);
        }
    }

    /// The latest event time seen in this input.
    pub(crate) fn max_ts(&self) -> Option<EpochMs> {
        self.max_ts
    }

    /// Index of the state of the stream `named` (`None`: the default stream), by its key when
    /// it has one that was seen before (its name is then not read).
    fn stream_of(&mut self, named: Option<&str>, key: Option<NonZeroU64>) -> usize {
        let Some(key) = key else {
            return self.stream_named(named);
        };
        if let Some(&i) = self.keyed.get(&key) {
            self.last_stream = Some(i);
            return i;
        }
        let i = self.stream_named(named);
        if self.keyed.len() >= MAX_KEYED {
            self.keyed.clear();
        }
        self.keyed.insert(key, i);
        i
    }

    /// Index of the state of the stream `named` (`None`: the default stream), by its name.
    ///
    /// Inlined for its common case (the previous record's stream), the rest kept out of line:
    /// a call with the whole look-up's frame cost 42 instructions a record.
    #[inline]
    fn stream_named(&mut self, named: Option<&str>) -> usize {
        let name = named.or(self.default_stream.as_deref());
        if let Some(i) = self.last_stream
            && self.streams[i].name.as_deref() == name
        {
            return i;
        }
        self.stream_looked_up(named)
    }

    /// [`Assembler::stream_named`] for a stream other than the previous record's.
    #[inline(never)]
    fn stream_looked_up(&mut self, named: Option<&str>) -> usize {
        let name = named.or(self.default_stream.as_deref());
        let known = match name {
            Some(s) => self.stream_index.get(s).copied(),
            None => self.unnamed_stream,
        };
        let i = match known {
            Some(i) => i,
            None => {
                let name = match named {
                    Some(s) => Some(Arc::from(s)),
                    None => self.default_stream.clone(),
                };
                self.add_stream(name)
            }
        };
        self.last_stream = Some(i);
        i
    }

    /// Adds the state of a stream not seen before; returns its index.
    fn add_stream(&mut self, name: Option<Arc<str>>) -> usize {
        let i = self.streams.len();
        match &name {
            Some(s) => {
                self.stream_index.insert(s.clone(), i);
            }
            None => self.unnamed_stream = Some(i),
        }
        self.streams.push(StreamState::new(name));
        i
    }

    fn new_invocation(&self, si: usize, origin: Origin) -> Invocation {
        new_invocation(self.source, &self.streams[si], origin)
    }

    /// Adds one analysed record: routes it by its kind. START opens an invocation (and closes
    /// what its stream had ended), INIT_START names its stream's runtime, a CloudTrail event stands
    /// on its own; every other line goes to the invocation it belongs to ([`Assembler::line`]).
    ///
    /// The analysis is taken by reference, its parts that are kept taken out of it (what is
    /// left is the caller's to drop): moved by value (160 bytes) from the caller's list through
    /// the calls here, it was copied field by field at each of them.
    pub fn push(&mut self, record: &Record, a: &mut Analysis) {
        let at = self.arrive(
            record.stream.as_deref(),
            record.stream_key,
            record.timestamp.or(a.line.timestamp),
        );
        match a.line.kind {
            Kind::InitStart => {
                let st = &mut self.streams[at.stream];
                st.runtime_version = runtime_version(&record.message);
                st.init_facts = (!a.facts.is_empty()).then(|| Arc::new(take(&mut a.facts)));
            }
            Kind::Start => {
                if let Some(rid) = a.line.request_id {
                    let source = self.source;
                    let inv = self.start(rid, at, Origin::of(record), a.line.function.as_deref());
                    if !a.hits.is_empty() {
                        inv.note(&a.hits, a.step, take(&mut a.facts));
                        let (hits, text) = (take(&mut a.hits), take(&mut a.text));
                        inv.keep(kept(source, record, &a.line, at.ts, hits, text));
                    }
                }
            }
            Kind::CloudTrail => self.cloudtrail(at, record, a),
            _ => self.line(at, record, a),
        }
    }

    /// Adds a START, END or REPORT that came as an event ([`PlatformEvent`]): what [`push`]
    /// does with such a line, which matched nothing and is no activity of the function.
    ///
    /// The event is taken by reference, its REPORT numbers taken out of it, as [`push`] takes
    /// an analysis: moved by value from the caller's list, it was copied at each call.
    ///
    /// [`push`]: Assembler::push
    pub(crate) fn push_platform(&mut self, event: &mut PlatformEvent) {
        let at = self.arrive(event.stream, None, event.timestamp);
        let origin = Origin {
            line: event.line,
            group: None,
        };
        let rid = event.request_id;
        match take(&mut event.kind) {
            PlatformKind::Start(function) => {
                self.start(rid, at, origin, function);
            }
            PlatformKind::End => self.ended_by(at, origin, rid, None, event.message),
            PlatformKind::Report(m) => self.ended_by(at, origin, rid, Some(m), event.message),
        }
    }

    /// Counts a record of stream `stream` (its key: [`Record::stream_key`]) at `ts`: where it
    /// falls.
    fn arrive(&mut self, stream: Option<&str>, key: Option<NonZeroU64>, ts: Option<EpochMs>) -> At {
        self.records += 1;
        if let Some(t) = ts {
            self.max_ts = Some(self.max_ts.map_or(t, |m| m.max(t)));
        }
        let stream = self.stream_of(stream, key);
        self.streams[stream].touch(self.records, ts);
        At { stream, ts }
    }

    /// END (`report` is `None`) or REPORT of `rid` as an event: [`Assembler::line`] for a line
    /// with a request id, no hits and no text copied ahead. A REPORT is kept (its text rebuilt
    /// from the message) when it leaves its invocation failed.
    fn ended_by(
        &mut self,
        at: At,
        origin: Origin,
        rid: RequestId,
        report: Option<Box<Metrics>>,
        message: &[u8],
    ) {
        let kind = if report.is_some() {
            Kind::Report
        } else {
            Kind::End
        };
        let (records, source) = (self.records, self.source);
        let st = &mut self.streams[at.stream];
        let opened = &mut self.invocations;
        let (_, inv) = owner(&mut self.open, opened, st, source, origin, Some(rid), kind)
            .expect("a line with a request id has an owner");
        inv.touch(at.ts);
        if inv.on_platform_end(report, records) {
            inv.keep(kept_report(source, origin.line, rid, at.ts, message));
        }
        self.ended(at.stream, rid);
        self.sweep_now_and_then();
    }

    /// A CloudTrail event stands on its own: a one-line invocation, closed at once, that joins
    /// its rotation by the secret it names.
    fn cloudtrail(&mut self, at: At, record: &Record, a: &mut Analysis) {
        let Analysis {
            line,
            hits,
            step,
            facts,
            text,
            binary: _,
        } = a;
        let mut inv = self.new_invocation(at.stream, Origin::of(record));
        inv.touch(at.ts);
        inv.note(hits, *step, take(facts));
        if line.level >= Some(Level::Error) {
            inv.error_lines += 1;
        }
        inv.activity = 1;
        inv.keep(kept(
            self.source,
            record,
            line,
            at.ts,
            take(hits),
            take(text),
        ));
        inv.last_is_kept();
        self.close(inv);
    }

    /// Any other line: to the invocation of its request id, or the one open in its stream, or the
    /// stream's init output; then what its kind does to that invocation, and whether it is kept.
    fn line(&mut self, at: At, record: &Record, a: &mut Analysis) {
        let Analysis {
            line,
            hits,
            step,
            facts,
            text,
            binary: _,
        } = a;
        let step = *step;
        let (rules, records, source) = (self.rules, self.records, self.source);
        let origin = Origin::of(record);
        let st = &mut self.streams[at.stream];
        let opened = &mut self.invocations;
        let (key, inv) = match owner(
            &mut self.open,
            opened,
            st,
            source,
            origin,
            line.request_id,
            line.kind,
        ) {
            Some((k, inv)) => (Some(k), inv),
            None => {
                // Init-phase output, or a fragment with nothing to attach to.
                let st = &mut self.streams[at.stream];
                if st.pending.is_none() {
                    st.pending = Some(new_invocation(source, st, origin));
                }
                (None, st.pending.as_mut().unwrap())
            }
        };
        inv.touch(at.ts);
        if inv.function.is_none() && line.function.is_some() {
            inv.function = line.function.clone();
        }
        let keep = inv.apply(line, hits, rules, records) | !hits.is_empty();
        let activity = is_activity(line.kind);
        if activity {
            inv.activity += 1;
            if !rules.model.vouches_for_rotation(hits) {
                inv.foreign += 1;
            }
            if !keep {
                inv.set_last_activity(&mut self.spare_last, record, line, at.ts, hits);
            }
        }
        if keep {
            inv.note(hits, step, take(facts));
            self.spare_lines.lend(inv);
            inv.keep(kept(source, record, line, at.ts, take(hits), take(text)));
            if activity {
                inv.last_is_kept();
            }
        } else if !facts.is_empty() || step.is_some() {
            inv.note(hits, step, take(facts));
        }
        if matches!(line.kind, Kind::End | Kind::Report)
            && let Some(k) = key
        {
            self.ended(at.stream, k);
        }
        self.sweep_now_and_then();
    }

    /// Every [`SWEEP_EVERY`] records (counted at lines routed to an invocation, not at START,
    /// INIT_START or CloudTrail events): closes stale invocations, forgets idle streams.
    /// Inlined: its test was a call a line.
    #[inline]
    fn sweep_now_and_then(&mut self) {
        if self.records.is_multiple_of(SWEEP_EVERY) {
            self.sweep();
            self.forget_idle_streams();
        }
    }

    /// END or REPORT of invocation `k`: it closes at its stream's next START.
    fn ended(&mut self, si: usize, k: RequestId) {
        let st = &mut self.streams[si];
        if st.current == Some(k) {
            st.current = None;
        }
        if !st.ended.contains(&k) {
            st.ended.push(k);
        }
    }

    /// START: closes what the stream had ended (and the invocation it was running: a new START
    /// in a known stream means that one is over), opens the invocation, hands it the stream's
    /// init output and the function the line names (JSON `platform.start`). What it matched is
    /// the caller's to note.
    ///
    /// The stream's list is walked once, the previous invocation at its end (closed in a second
    /// walk after `rid` opened, it cost a call a START), and `rid` is found or opened with one
    /// look-up (it was asked for, inserted, then looked up again).
    fn start(
        &mut self,
        rid: RequestId,
        at: At,
        origin: Origin,
        function: Option<&str>,
    ) -> &mut Invocation {
        let si = at.stream;
        let st = &mut self.streams[si];
        if st.name.is_some()
            && let Some(prev) = st.current
            && prev != rid
        {
            st.ended.push(prev);
        }
        self.close_ended(si);
        let st = &mut self.streams[si];
        let inv = match self.open.entry(rid) {
            Entry::Occupied(o) => o.into_mut(),
            Entry::Vacant(v) => {
                self.invocations += 1;
                let mut inv = new_invocation(self.source, st, origin);
                inv.request_id = Some(rid);
                v.insert(inv)
            }
        };
        st.current = Some(rid);
        inv.lifecycle = inv.lifecycle.start();
        inv.touch(at.ts);
        inv.first_line = inv.first_line.min(origin.line);
        if inv.function.is_none() {
            inv.function = function.map(Box::from);
        }
        if inv.runtime_version.is_none() {
            inv.runtime_version = st.runtime_version.clone();
        }
        if inv.init_facts.is_none() {
            inv.init_facts = st.init_facts.clone();
        }
        if let Some(p) = st.pending.take() {
            absorb(inv, p);
        }
        inv
    }

    /// Hands a closed invocation on, with what it knows about its function.
    ///
    /// A healthy invocation of another function goes no further: the rotation tracker would
    /// drop it unseen ([`Invocation::of_another_function`]), and in a rotation function's log
    /// group most invocations can be other handlers' (an API's). Deciding here spares the fold
    /// what it did to hand one on: its function's facts, its place among the closed invocations
    /// and the tracker's look at it. Only a healthy one: [`finish`] gives a failed invocation its
    /// environment's facts, which could name a secret.
    fn close(&mut self, mut inv: Invocation) {
        if !inv.failed() && inv.of_another_function(self.rules) {
            self.other_functions += 1;
            self.spare_last.keep_from(&mut inv);
            self.spent.push(inv);
            return;
        }
        finish(&mut inv, self.rules);
        self.closed.push(inv);
    }

    /// Closes the invocations of stream `si` that already ended. The stream's list is emptied,
    /// not freed: it is filled again at the stream's next END.
    fn close_ended(&mut self, si: usize) {
        for i in 0..self.streams[si].ended.len() {
            let k = self.streams[si].ended[i];
            if let Some(inv) = self.open.remove(&k) {
                self.close(inv);
            }
        }
        self.streams[si].ended.clear();
    }

    /// Closes invocations that reported long ago or have been silent past any Lambda timeout.
    #[inline(never)]
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
        if stale.is_empty() {
            return;
        }
        // No stream may name them any more: every stream looked at once, not once per stale
        // invocation (that was quadratic in an input of many streams).
        let gone: FxHashSet<RequestId> = stale.iter().copied().collect();
        for st in &mut self.streams {
            if st.current.is_some_and(|c| gone.contains(&c)) {
                st.current = None;
            }
            st.ended.retain(|e| !gone.contains(e));
        }
        for k in stale {
            if let Some(inv) = self.open.remove(&k) {
                self.close(inv);
            }
        }
    }

    /// Drops the states of streams that can go ([`StreamState::forgettable`]), keeping the others
    /// in order and their indices consistent.
    #[inline(never)]
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
        self.unnamed_stream = self
            .unnamed_stream
            .filter(|&i| keep[i])
            .map(|i| moved_to[i]);
        self.last_stream = None;
        self.keyed.clear();
    }

    /// How many stream states are kept, and how many the index of streams holds.
    #[cfg(test)]
    pub(super) fn stream_states(&self) -> (usize, usize) {
        let unnamed = usize::from(self.unnamed_stream.is_some());
        (self.streams.len(), self.stream_index.len() + unnamed)
    }

    /// Closes every invocation whose REPORT was seen, without waiting for its stream's next
    /// START (follow mode: a live stream may not start another for minutes). One with only its
    /// END waits for its REPORT, which holds its duration and status.
    pub(crate) fn close_reported(&mut self) {
        for si in 0..self.streams.len() {
            let open = &self.open;
            let (reported, waiting): (Vec<RequestId>, Vec<RequestId>) =
                std::mem::take(&mut self.streams[si].ended)
                    .into_iter()
                    .partition(|k| open.get(k).is_none_or(|i| i.reported_at_record.is_some()));
            self.streams[si].ended = waiting;
            for k in reported {
                if let Some(inv) = self.open.remove(&k) {
                    self.close(inv);
                }
            }
        }
    }

    /// Closes everything still open (end of input).
    pub fn finish(&mut self) {
        let mut keys: Vec<RequestId> = self.open.keys().copied().collect();
        keys.sort_by_key(|k| self.open[k].first_line);
        for k in keys {
            if let Some(inv) = self.open.remove(&k) {
                self.close(inv);
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
                self.close(p);
            }
        }
    }
}

/// A new invocation of stream `st`, opened by a line of input `source` at `origin`.
fn new_invocation(source: u64, st: &StreamState, origin: Origin) -> Invocation {
    Invocation {
        source,
        stream: st.name.clone(),
        group: origin.group.map(Arc::from),
        first_line: origin.line,
        ..Invocation::default()
    }
}

/// Which open invocation a line of stream `st` (of input `source`, at `origin`) belongs to, and
/// its key: its request id's (opened now if new, counted in `opened`), else the one running in
/// its stream; `None` for a line with nothing to attach to.
///
/// One look-up in `open` finds (or opens) it: the router used to ask whether the key was open,
/// then look the invocation up again, at every line. Inlined into its two callers (a call a
/// line, with seven arguments).
#[inline]
fn owner<'o>(
    open: &'o mut FxHashMap<RequestId, Invocation>,
    opened: &mut u64,
    st: &mut StreamState,
    source: u64,
    origin: Origin,
    request_id: Option<RequestId>,
    kind: Kind,
) -> Option<(RequestId, &'o mut Invocation)> {
    let Some(rid) = request_id else {
        let k = st.current?;
        return open.get_mut(&k).map(|inv| (k, inv));
    };
    let inv = match open.entry(rid) {
        Entry::Occupied(o) => return Some((rid, o.into_mut())),
        Entry::Vacant(v) => {
            *opened += 1;
            let mut inv = new_invocation(source, st, origin);
            inv.request_id = Some(rid);
            v.insert(inv)
        }
    };
    if st.current.is_none() {
        // No START (cut off by `--since`, a console selection): the lines without a RequestId
        // just before this one, in the same stream, are this invocation's (a stream runs one
        // invocation at a time).
        if let Some(p) = st.pending.take() {
            absorb(inv, p);
        }
        if !matches!(kind, Kind::End | Kind::Report) {
            st.current = Some(rid);
        }
    }
    Some((rid, inv))
}

/// Puts `closed` in the order its invocations started (by first line; ties in the order they
/// closed), through `spare` (left empty). The keys are sorted, and each invocation then moved
/// once: a stable sort of the invocations themselves (a few hundred bytes each) moved them many
/// times over (5.3 M instructions for 3,500 invocations on 16 MiB of filter-log-events JSON).
fn in_start_order(closed: &mut Vec<Invocation>, spare: &mut Vec<Invocation>) {
    // (first line, index): unique keys, so an unstable sort gives the stable order.
    let mut order: Vec<(u64, usize)> = closed.iter().map(|i| i.first_line).zip(0..).collect();
    order.sort_unstable();
    spare.extend(
        order
            .into_iter()
            .map(|(_, i)| std::mem::take(&mut closed[i])),
    );
    closed.clear();
    std::mem::swap(closed, spare);
}
