//! The serial fold of one input: analysed records, in input order, through invocation assembly
//! and rotation tracking; rotations evaluated as they close (on the pool) and handed to a sink
//! ([`super::sink`]). Whichever strategy decoded the input feeds a [`Session`].

use super::sink::{self, Closed};
use super::{MAX_RECORD_BYTES, Options};
use crate::format::Record;
use crate::lambda::Analysis;
use crate::lambda::invocation::{Assembler, Invocation};
use crate::lambda::platform::PlatformEvent;
use crate::lambda::rotation::{Rotation, Tracker};
use crate::pool;
use crate::problem::{Kind, Problem};
use crate::progress::Progress;
use crate::rules::RuleSet;
use crate::summary::InputReport;
use crate::time::{EpochMs, Window};

/// Records between two hand-overs of closed invocations to the rotation tracker (and sweeps of
/// idle rotations).
const PUMP_EVERY: u64 = 4096;

/// What one input gave: its report, the diagnoses of the rotations closed in it, and what is left
/// open for the run to carry on with the other inputs.
pub(super) struct SourceOutcome {
    /// The input's source id (see `pipeline::source_id`).
    pub(super) id: u64,
    pub(super) report: InputReport,
    pub(super) closed: Closed,
    pub(super) open: Vec<Rotation>,
    pub(super) unattributed: Vec<Invocation>,
    pub(super) invocations: u64,
}

/// Per-input state: assembly, rotation tracking and the diagnoses of rotations closed so far.
pub(super) struct Session<'r> {
    pub(super) rules: &'r RuleSet,
    pub(super) assembler: Assembler<'r>,
    tracker: Tracker,
    /// What becomes of closed rotations (this input's share of the batch report).
    closed: Closed,
    records: u64,
    skipped: u64,
    binary_at: Option<u64>,
    window: Window,
    /// The last timestamp seen: records without one are placed by it.
    last_ts: Option<EpochMs>,
    filtered: u64,
    untimed: u64,
    /// Advanced as blocks are assembled (mapped inputs; streams count as they are read).
    pub(super) progress: Progress,
    source: u64,
    /// Lines of records cut at [`MAX_RECORD_BYTES`].
    pub(super) cut: Vec<u64>,
}

impl<'r> Session<'r> {
    pub(super) fn new(rules: &'r RuleSet, source: u64, opts: &Options) -> Session<'r> {
        Session {
            rules,
            assembler: Assembler::new(rules, source),
            tracker: Tracker::new(),
            closed: Closed::new(opts),
            records: 0,
            skipped: 0,
            binary_at: None,
            window: opts.window,
            last_ts: None,
            filtered: 0,
            untimed: 0,
            progress: Progress::default(),
            source,
            cut: Vec::new(),
        }
    }

    /// Feeds records in order; `analyzed` is emptied (its buffer is reused). Each analysis is
    /// fed where it lies, not moved out first ([`Assembler::push`]).
    pub(super) fn feed(&mut self, records: &[Record], analyzed: &mut Vec<Analysis>) {
        for (rec, a) in records.iter().zip(analyzed.iter_mut()) {
            self.feed_record(rec, a);
        }
        analyzed.clear();
    }

    /// Feeds a block's records and platform events (each in input order) merged into input
    /// order by line number; `analyzed` and `events` are emptied (their buffers are reused).
    pub(super) fn feed_with_events(
        &mut self,
        records: &[Record],
        analyzed: &mut Vec<Analysis>,
        events: &mut Vec<PlatformEvent>,
    ) {
        // The next record is told by its index and its analysis fed where it lies: an analysis
        // (160 bytes) held in an `Option` ahead of its turn was copied about four times a record
        // (`memcpy` calls, 6 M instructions on 16 MiB of S3-export text), and one moved out of
        // the list once more ([`Session::feed`]).
        // Events are fed where they lie too (moved out of a drain, each was copied on its way).
        let mut at = 0;
        for event in events.iter_mut() {
            while let Some(rec) = records.get(at).filter(|rec| rec.line < event.line) {
                let Some(a) = analyzed.get_mut(at) else { break };
                self.feed_record(rec, a);
                at += 1;
            }
            self.feed_platform(event);
        }
        for (rec, a) in records[at..].iter().zip(analyzed.iter_mut().skip(at)) {
            self.feed_record(rec, a);
        }
        analyzed.clear();
        events.clear();
    }

    fn feed_record(&mut self, rec: &Record, a: &mut Analysis) {
        if a.binary {
            self.skipped += 1;
            self.binary_at.get_or_insert(rec.line);
            return;
        }
        if !self.window.is_open() && !self.in_window(rec.timestamp.or(a.line.timestamp)) {
            return;
        }
        self.records += 1;
        self.assembler.push(rec, a);
        self.pump_now_and_then();
    }

    /// A platform event: as [`Session::feed_record`] for its line (never binary: events are
    /// made only in blocks without a NUL byte).
    fn feed_platform(&mut self, event: &mut PlatformEvent) {
        if !self.window.is_open() && !self.in_window(event.timestamp) {
            return;
        }
        self.records += 1;
        self.assembler.push_platform(event);
        self.pump_now_and_then();
    }

    /// At fixed record counts, not at block ends: where rotations are swept must not depend on
    /// how the input was cut into blocks (thread count, stdin or file).
    fn pump_now_and_then(&mut self) {
        if self.records.is_multiple_of(PUMP_EVERY) {
            self.pump(true);
        }
    }

    /// Is a record at `ts` inside `--since` / `--until`? A record without a timestamp (its own
    /// or its message's: a continuation, a raw line) is placed by the last one before it.
    fn in_window(&mut self, ts: Option<EpochMs>) -> bool {
        if let Some(ts) = ts {
            self.last_ts = Some(ts);
        }
        match self.last_ts {
            Some(ts) if !self.window.contains(ts) => {
                self.filtered += 1;
                false
            }
            Some(_) => true,
            None => {
                self.untimed += 1;
                true
            }
        }
    }

    fn pump(&mut self, sweep: bool) {
        for inv in self.assembler.drain_closed() {
            self.tracker.add(inv, self.rules);
        }
        if sweep && let Some(now) = self.assembler.max_ts() {
            self.tracker.sweep(now, self.rules);
        }
        pool::discard(self.assembler.drain_spent());
        pool::discard(self.tracker.drain_spent());
        let closed = self.tracker.drain_closed();
        self.close(closed);
    }

    /// Evaluates closed rotations and hands them to this input's sink ([`sink::close`]); the
    /// last-activity buffers of the invocations it gives back go back to the assembler, for the
    /// next invocations, before the rest is dropped off this thread.
    fn close(&mut self, rotations: Vec<Rotation>) {
        if rotations.is_empty() {
            // Most pumps of a small input (a folder of S3 export objects) close nothing.
            return;
        }
        let mut spent = sink::close_returning(rotations, self.rules, &mut self.closed);
        self.assembler
            .reuse(spent.iter_mut().flat_map(|r| r.invocations.iter_mut()));
        pool::discard(spent);
    }

    /// Follow mode: closes the invocations that reported, places those that name no rotation,
    /// and shows `watch` every rotation that closed (`true`, before it is diagnosed and
    /// recorded as in batch) and every one still open (`false`), so it can report what is
    /// decided without waiting for the rotation to close.
    pub(super) fn settle(&mut self, watch: &mut dyn FnMut(&Rotation, bool)) {
        self.assembler.close_reported();
        for inv in self.assembler.drain_closed() {
            self.tracker.add(inv, self.rules);
        }
        self.tracker.place_waiting(self.rules);
        if let Some(now) = self.assembler.max_ts() {
            self.tracker.sweep(now, self.rules);
        }
        pool::discard(self.assembler.drain_spent());
        pool::discard(self.tracker.drain_spent());
        let closed = self.tracker.drain_closed();
        for rot in &closed {
            watch(rot, true);
        }
        self.close(closed);
        for rot in self.tracker.open_rotations() {
            watch(rot, false);
        }
    }

    pub(super) fn end(mut self, mut report: InputReport) -> SourceOutcome {
        self.assembler.finish();
        self.pump(false);
        let (open, unattributed) = self.tracker.take_open();
        report.records = self.records;
        report.skipped = self.skipped;
        report.filtered = self.filtered;
        report.untimed = self.untimed;
        if let Some(line) = self.binary_at {
            report.errors.push(Problem::at(
                Some(line),
                None,
                Kind::Binary {
                    skipped: self.skipped,
                },
            ));
        }
        if let Some(&line) = self.cut.first() {
            report.errors.push(Problem::at(
                Some(line),
                None,
                Kind::RecordsCut {
                    count: self.cut.len(),
                    max_kib: MAX_RECORD_BYTES >> 10,
                },
            ));
        }
        SourceOutcome {
            id: self.source,
            report,
            closed: self.closed,
            open,
            unattributed,
            invocations: self.assembler.invocations,
        }
    }
}
