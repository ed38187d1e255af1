//! Grouping classified lines into Lambda invocations.
//!
//! Invocations are keyed by request id, which is globally unique, so interleaved functions and
//! streams cannot bleed into each other. Lines that carry no request id (the runtime's unhandled
//! `[ERROR]` block, `print()` output, init-phase lines, a pasted fragment) belong to the invocation
//! currently open in the same log stream; before the first `START` of a stream they are held as
//! that stream's init output and handed to the invocation that starts next. Lines that never find
//! an invocation become a *fragment* invocation, so a pasted one-line error is still diagnosed.
//!
//! [`Assembler::push`] routes each line by its kind ([`assemble`]); what a line of each kind does to
//! its invocation is in [`state`]; a log stream's own state is in [`stream`].
//!
//! Memory is bounded by the invocations open at a time: an invocation closes at its stream's next
//! `START`, some records after its `REPORT`, or when it has been silent longer than the longest
//! Lambda timeout; only the lines rules care about are kept, and at most [`MAX_KEPT_LINES`] of them.
//! A log stream's state is forgotten once it holds nothing (no open invocation, no init output) and
//! nothing worth remembering, or has been silent for [`STREAM_IDLE_MS`]: every execution
//! environment writes its own stream, so an input of a month has as many streams as it has cold
//! starts, and only the recent ones are still in use.

mod assemble;
mod state;
mod stream;

pub use assemble::Assembler;
use state::evidence_by_itself;

use std::sync::Arc;

use super::facts::Facts;
use super::line::{Kind, Level, Line};
use super::report::{Metrics, Status};
use crate::aws::{RequestId, Step};
use crate::format::Record;
use crate::rules::matcher::Hits;
use crate::rules::{PatternSet, RuleSet};
use crate::time::EpochMs;

/// Lines kept per invocation; the rest are counted in [`Invocation::dropped`].
pub(crate) const MAX_KEPT_LINES: usize = 200;
/// Longest text kept for a line (evidence is about recognising the line, not archiving it).
pub(crate) const MAX_TEXT: usize = 1024;
/// Longest text kept of an invocation's last activity when it is not evidence.
pub(crate) const LAST_TEXT: usize = 512;
/// What an invocation's last-activity buffer holds at first: most lines fit (the S3-export
/// bench's are 100-250 bytes), so it grows rarely; grown from empty to each longer line, it was
/// reallocated 16,000 times on 16 MiB of S3-export text.
const LAST_TEXT_AT_FIRST: usize = 256;
/// Lambda's longest timeout is 15 minutes; an invocation silent for longer is over.
pub(crate) const STALE_AFTER_MS: EpochMs = 16 * 60 * 1000;
/// A stream silent this long (event time) is forgotten even though it remembers its runtime
/// version: Lambda shuts idle execution environments down long before, and a stream belongs to
/// one environment.
pub(crate) const STREAM_IDLE_MS: EpochMs = 2 * 60 * 60 * 1000;

/// A line an invocation keeps: it matched a pattern, or is an error, a warning, or a REPORT.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct KeptLine {
    /// Index of the input it came from.
    pub(crate) source: u64,
    pub(crate) line: u64,
    pub(crate) timestamp: Option<EpochMs>,
    pub(crate) request_id: Option<RequestId>,
    pub(crate) kind: Kind,
    pub(crate) level: Option<Level>,
    pub(crate) hits: Hits,
    pub(crate) text: String,
}

/// One Lambda invocation (or fragment of one).
#[derive(Clone, Debug, Default)]
pub struct Invocation {
    pub(crate) request_id: Option<RequestId>,
    pub(crate) source: u64,
    pub(crate) stream: Option<Arc<str>>,
    pub(crate) group: Option<Arc<str>>,
    /// `functionArn`/`functionName` from JSON platform records, or the log group's function.
    pub(crate) function: Option<Box<str>>,
    pub first_ts: Option<EpochMs>,
    pub last_ts: Option<EpochMs>,
    pub(crate) first_line: u64,
    /// Which of its platform lines (START; END or REPORT) were seen.
    pub(crate) lifecycle: Lifecycle,
    pub(crate) metrics: Option<Box<Metrics>>,
    /// What made it fail, as far as its lines tell (a REPORT's status aside).
    pub(crate) failures: Failures,
    /// Duration the timeout fired at (legacy `Task timed out after N s` or `Status: timeout`).
    pub(crate) timeout_ms: Option<f64>,
    pub(crate) error_lines: u32,
    pub(crate) lines: Vec<KeptLine>,
    pub(crate) dropped: u32,
    /// Every pattern matched by any line of the invocation.
    pub(crate) seen: PatternSet,
    /// The last line the function itself wrote (not a platform line).
    last: Last,
    pub(crate) activity: u32,
    /// Lines the function wrote that show no sign of a rotation function.
    pub(crate) foreign: u32,
    pub(crate) step: Option<Step>,
    /// The step was inferred from the invocation before it in its rotation, not logged.
    pub(crate) step_inferred: bool,
    pub(crate) facts: Facts,
    /// Shared with its stream's state (every START hands it on: a clone of a `String` each showed
    /// up in profiles).
    pub(crate) runtime_version: Option<Arc<str>>,
    /// What its environment's `INIT_START` stated (shared by the stream's invocations; a failed
    /// invocation takes it into its facts when it closes).
    pub(crate) init_facts: Option<Arc<Facts>>,
    /// Records since the stream saw this invocation's REPORT (for closing).
    reported_at_record: Option<u64>,
}

/// Which platform lines of an invocation the input holds: its START, and its END or REPORT.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Lifecycle {
    /// Neither: lines of an invocation whose platform lines are not in the input (a fragment).
    #[default]
    Unbounded,
    /// START, and no END or REPORT yet.
    Running,
    /// END or REPORT, but no START (cut off by `--since`, a console selection).
    EndOnly,
    /// START, then END or REPORT.
    Complete,
}

impl Lifecycle {
    pub(crate) fn started(self) -> bool {
        matches!(self, Lifecycle::Running | Lifecycle::Complete)
    }

    /// END or REPORT was seen.
    pub(crate) fn ended(self) -> bool {
        matches!(self, Lifecycle::EndOnly | Lifecycle::Complete)
    }

    /// After a START.
    pub(crate) fn start(self) -> Lifecycle {
        if self.ended() {
            Lifecycle::Complete
        } else {
            Lifecycle::Running
        }
    }

    /// After an END or a REPORT.
    pub(crate) fn end(self) -> Lifecycle {
        if self.started() {
            Lifecycle::Complete
        } else {
            Lifecycle::EndOnly
        }
    }
}

/// A way an invocation fails that its lines show (besides a REPORT's status).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Failure {
    /// Lambda stopped it at its timeout (`Task timed out`, `Status: timeout`).
    TimedOut,
    /// The runtime process exited (`Runtime exited`, out of memory).
    RuntimeExit,
    /// The init phase failed (`INIT_REPORT … Status:` other than success).
    InitFailed,
    /// The handler raised an error it did not catch (the runtime's `[ERROR] Type: message` block).
    Unhandled,
}

/// The [`Failure`]s seen, as a small set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Failures(u8);

impl Failures {
    pub(crate) fn insert(&mut self, f: Failure) {
        self.0 |= 1 << f as u8;
    }

    pub(crate) fn contains(self, f: Failure) -> bool {
        self.0 & (1 << f as u8) != 0
    }

    pub(crate) fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Adds every failure of `other`.
    pub(crate) fn extend(&mut self, other: Failures) {
        self.0 |= other.0;
    }
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
pub(crate) enum Outcome {
    Succeeded,
    Failed,
    Unknown,
}

impl Invocation {
    /// Failed: timed out, crashed, raised an unhandled error, or reported a non-success status.
    /// A fragment (no END/REPORT) that logged an error also counts as failed.
    pub(crate) fn outcome(&self) -> Outcome {
        let status = self.metrics.as_ref().and_then(|m| m.status);
        if !self.failures.is_empty()
            || matches!(
                status,
                Some(Status::Timeout | Status::Error | Status::Failure)
            )
        {
            return Outcome::Failed;
        }
        if self.lifecycle.ended() {
            return Outcome::Succeeded;
        }
        if self.error_lines > 0 {
            Outcome::Failed
        } else {
            Outcome::Unknown
        }
    }

    pub(crate) fn failed(&self) -> bool {
        self.outcome() == Outcome::Failed
    }

    /// Another function's complete invocation: it started, names no secret or token, logged no
    /// step, and wrote lines that show no sign of a rotation function. The rotation tracker
    /// drops it (nothing about it can be diagnosed; a fragment of one stands alone instead), and
    /// a healthy one never reaches the tracker ([`Assembler`] drops it as it closes).
    pub(crate) fn of_another_function(&self, rules: &RuleSet) -> bool {
        self.lifecycle.started()
            && self.foreign > 0
            && self.step.is_none()
            && !self.facts.contains(rules.known.secret_arn)
            && !self.facts.contains(rules.known.token)
    }

    /// No START was seen: the logs hold only a piece of this invocation.
    pub(crate) fn is_fragment(&self) -> bool {
        !self.lifecycle.started()
    }

    /// Lambda stopped it at its timeout.
    pub(crate) fn timed_out(&self) -> bool {
        self.failures.contains(Failure::TimedOut)
    }

    pub(crate) fn duration_ms(&self) -> Option<f64> {
        self.metrics
            .as_ref()
            .and_then(|m| m.duration_ms)
            .or(self.timeout_ms)
    }

    /// The function's configured timeout, when the invocation hit it (Lambda timeouts are whole
    /// seconds: the duration at timeout, rounded down).
    pub(crate) fn configured_timeout_ms(&self) -> Option<f64> {
        if !self.timed_out() {
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

    pub(super) fn touch(&mut self, ts: Option<EpochMs>) {
        if let Some(t) = ts {
            self.first_ts = Some(self.first_ts.map_or(t, |f| f.min(t)));
            self.last_ts = Some(self.last_ts.map_or(t, |l| l.max(t)));
        }
    }

    pub(super) fn keep(&mut self, line: KeptLine) {
        if self.lines.len() < MAX_KEPT_LINES {
            self.lines.push(line);
        } else {
            self.dropped += 1;
        }
    }

    /// Records what a line says: the patterns it matched, its step, its facts.
    pub(super) fn note(&mut self, hits: &Hits, step: Option<Step>, facts: Facts) {
        for &h in hits {
            self.seen.insert(h);
        }
        if self.step.is_none() {
            self.step = step;
        }
        self.facts.merge(facts);
    }

    /// The last line the function itself wrote (not a platform line).
    pub(crate) fn last_activity(&self) -> Option<&KeptLine> {
        match &self.last {
            Last::None => None,
            Last::Kept(i) => self.lines.get(*i),
            Last::Own(l) => Some(l),
        }
    }

    /// Remembers the line just kept as the last thing the function wrote.
    pub(super) fn last_is_kept(&mut self) {
        if !self.lines.is_empty() && self.dropped == 0 {
            self.last = Last::Kept(self.lines.len() - 1);
        }
    }

    /// Remembers a line that was not kept as the last thing the function wrote: its text copied
    /// into the previous copy's buffer, or into one of `spare` (see [`SpareLast`]).
    pub(super) fn set_last_activity(
        &mut self,
        spare: &mut SpareLast,
        record: &Record,
        line: &Line,
        ts: Option<EpochMs>,
        hits: &Hits,
    ) {
        if !matches!(self.last, Last::Own(_)) {
            self.last = Last::Own(spare.take());
        }
        let Last::Own(last) = &mut self.last else {
            unreachable!()
        };
        // Every field is set: the buffer may be one a spent invocation held.
        last.source = self.source;
        last.line = record.line;
        last.timestamp = ts;
        last.request_id = line.request_id;
        last.kind = line.kind;
        last.level = line.level;
        last.hits.clear();
        // A line that matched a pattern is kept, so its own copy is rare: an empty slice
        // copied cost a `memmove` call a line.
        if !hits.is_empty() {
            last.hits.extend_from_slice(hits);
        }
        last.text.clear();
        push_text(&mut last.text, line.text(&record.message), LAST_TEXT);
    }
}

/// Kept-line lists of invocations the caller is done with, emptied, for the next invocations'
/// first kept lines.
///
/// Why: a rotation function's invocation keeps a line or two (its template lines match the
/// rules), and its list was allocated by the fold (10,578 allocations on 16 MiB of S3-export
/// text) and freed on the pool once its rotation was reported. Handed back with the
/// last-activity buffers ([`SpareLast`]), a list is allocated once per invocation open at a
/// time. Only short lists are kept: a rotation retried for hours can keep hundreds of lines.
#[derive(Default)]
pub(crate) struct SpareLines(Vec<Vec<KeptLine>>);

impl SpareLines {
    /// Lists kept at most (as [`SpareLast::MAX`]).
    const MAX: usize = 512;
    /// The longest list kept (what a fourth kept line grows one to).
    const MAX_CAPACITY: usize = 8;

    pub(super) fn is_full(&self) -> bool {
        self.0.len() >= Self::MAX
    }

    /// Takes the kept lines of `inv` (dropping them) for another invocation, if their list is
    /// short.
    pub(super) fn keep_from(&mut self, inv: &mut Invocation) {
        if !self.is_full() && (1..=Self::MAX_CAPACITY).contains(&inv.lines.capacity()) {
            let mut lines = std::mem::take(&mut inv.lines);
            lines.clear();
            self.0.push(lines);
        }
    }

    /// Gives `inv` a spare list if it has none, before it keeps a line.
    pub(super) fn lend(&mut self, inv: &mut Invocation) {
        if inv.lines.capacity() == 0
            && let Some(lines) = self.0.pop()
        {
            inv.lines = lines;
        }
    }
}

/// Last-activity buffers ([`Last::Own`]) of invocations spent by the assembler, for the next
/// invocations to copy their last line into.
///
/// Why: nearly every invocation copies a line it does not keep as its last activity, into a
/// buffer of its own (a box and its text: two allocations), and most invocations in a rotation
/// function's log group are healthy ones of other handlers, dropped as they close. Their buffers
/// were freed by the pool (off the fold's thread: a free of memory allocated on another thread
/// each) while the fold allocated the same two for the next invocation. Passed on instead, the
/// fold allocates them once per invocation open at a time.
// Boxes, not lines: a buffer goes back into `Last::Own` as it came out, a pointer moved.
#[allow(clippy::vec_box)]
#[derive(Default)]
pub(crate) struct SpareLast(Vec<Box<KeptLine>>);

impl SpareLast {
    /// Buffers kept at most: about as many invocations as close between two hand-overs of
    /// closed rotations (`pipeline::session`), a few hundred KiB.
    const MAX: usize = 512;

    pub(super) fn is_full(&self) -> bool {
        self.0.len() >= Self::MAX
    }

    /// Takes the last-activity buffer of `inv`, if it has one, for another invocation.
    pub(super) fn keep_from(&mut self, inv: &mut Invocation) {
        if !self.is_full()
            && let Last::Own(b) = std::mem::take(&mut inv.last)
        {
            self.0.push(b);
        }
    }

    /// A buffer for a last activity: a spare one, or a new one.
    fn take(&mut self) -> Box<KeptLine> {
        self.0.pop().unwrap_or_else(|| {
            Box::new(KeptLine {
                source: 0,
                line: 0,
                timestamp: None,
                request_id: None,
                kind: Kind::Other,
                level: None,
                hits: Hits::new(),
                text: String::with_capacity(LAST_TEXT_AT_FIRST),
            })
        })
    }
}

/// Lossy UTF-8, cut at [`MAX_TEXT`] bytes on a character boundary.
pub(crate) fn text_for(raw: &[u8]) -> String {
    text_at_most(raw, MAX_TEXT)
}

/// Lossy UTF-8 of `raw` (trailing whitespace trimmed), at most about `max` bytes.
fn text_at_most(raw: &[u8], max: usize) -> String {
    // Sized for the cut text and its ellipsis: one allocation, none left over.
    let len = trim_end_ws(raw).len();
    let mut s = String::with_capacity(if len > max {
        max + '…'.len_utf8()
    } else {
        len
    });
    push_text(&mut s, raw, max);
    s
}

/// A line's text, copied by the parallel stage for what the serial stage will do with the line
/// ([`copy_ahead`]), so the fold, which runs on one thread, only moves it. A use that finds no
/// copy of its own makes one.
#[derive(Clone, Debug, Default)]
pub(crate) enum Copied {
    #[default]
    None,
    /// As evidence ([`KeptLine::text`], at most [`MAX_TEXT`] bytes).
    Evidence(Box<str>),
}

/// The copy the fold will want: as evidence for a line that is evidence whatever invocation it
/// joins ([`evidence_by_itself`]), none for the rest.
///
/// The other lines the function wrote are not copied ahead as their invocation's last activity:
/// the fold copies each into the one buffer its invocation keeps for it
/// ([`Invocation::set_last_activity`]). A copy each, made on the pool, was an allocation a line
/// (and a free on the fold's thread, of memory allocated on another), for a text the next line
/// replaced: the same bytes are copied either way.
pub(crate) fn copy_ahead(line: &Line, message: &[u8], hits: &Hits, rules: &RuleSet) -> Copied {
    if evidence_by_itself(line, hits, rules) {
        Copied::Evidence(text_for(line.text(message)).into_boxed_str())
    } else {
        Copied::None
    }
}

/// A line the function itself wrote (its last one is remembered), not a platform line.
pub(super) fn is_activity(kind: Kind) -> bool {
    matches!(kind, Kind::App | Kind::Unhandled | Kind::Other)
}

/// Appends `raw` (trailing whitespace trimmed) as lossy UTF-8, at most about `max` bytes.
/// Checked with `simdutf8` (the same check; a last activity of every invocation, most lines
/// over 64 bytes): 11.7 -> 8.5 M instructions on 16 MiB of S3 export text (45,159 lines).
pub(super) fn push_text(out: &mut String, raw: &[u8], max: usize) {
    let raw = trim_end_ws(raw);
    let cut = &raw[..raw.len().min(max)];
    match simdutf8::basic::from_utf8(cut) {
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

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;
    use crate::testing::{A, ARN, B, TOKEN, assemble, rules};

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
        assert!(!a.failures.contains(Failure::Unhandled) && a.outcome() == Outcome::Succeeded);
        assert!(b.failures.contains(Failure::Unhandled) && b.failed());
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
        assert!(a.lifecycle.started() && a.timed_out() && a.failed());
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
        assert!(invs[0].timed_out());
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

    /// Node's `Invoke Error`, Go's error JSON and the Java runtime's stack trace end an invocation
    /// as Python's `[ERROR] Type: message` does, though REPORT says nothing.
    #[test]
    fn the_runtimes_reports_of_an_error_fail_the_invocation() {
        let start = format!("START RequestId: {A} Version: $LATEST");
        let end = format!("END RequestId: {A}");
        let report = format!(
            "REPORT RequestId: {A}\tDuration: 80.00 ms\tBilled Duration: 80 ms\tMemory Size: 128 MB\tMax Memory Used: 80 MB"
        );
        for error in [
            format!(
                "2024-05-01T12:00:01.234Z\t{A}\tERROR\tInvoke Error \t{{\"errorType\":\"TimeoutError\",\"errorMessage\":\"connect ETIMEDOUT 10.0.0.5:443\"}}"
            ),
            "2024/05/01 12:00:01 {\"errorMessage\":\"operation error Secrets Manager: GetSecretValue, https response error StatusCode: 0\",\"errorType\":\"OperationError\"}".to_string(),
            "Connection refused: java.net.ConnectException\njava.net.ConnectException: Connection refused\n\tat example.Rotation.setSecret(Rotation.java:88)\n".to_string(),
        ] {
            let invs = assemble(&[(None, &start), (None, &error), (None, &end), (None, &report)]);
            assert_eq!(invs.len(), 1, "{error}");
            assert!(invs[0].failures.contains(Failure::Unhandled), "{error}");
            assert!(invs[0].failed(), "{error}");
        }
        // A Node.js INFO line is not an error report: the invocation succeeded (and, as its
        // lines show no rotation function, the assembler drops it as it closes).
        let info = format!("2024-05-01T12:00:01.234Z\t{A}\tINFO\tconnected in 12 ms");
        let mut a = assembler_of(&[&start, &info, &end, &report]);
        assert_eq!(a.drain_closed().count(), 0);
        let spent = a.drain_spent();
        assert_eq!(spent.len(), 1);
        assert_eq!(spent[0].outcome(), Outcome::Succeeded);
    }

    /// An assembler fed `lines` (one record each, numbered from line 1, no stream), finished.
    fn assembler_of(lines: &[&str]) -> Assembler<'static> {
        assembler_with(lines, |_| ())
    }

    /// Line `line` of an input, with no prefix: `msg` is its message.
    fn record(line: u64, msg: &str) -> Record<'_> {
        Record {
            line,
            offset: 0,
            timestamp: None,
            stream: None,
            group: None,
            message: Cow::Borrowed(msg.as_bytes()),
            stream_key: None,
        }
    }

    /// [`assembler_of`], each line's analysis changed by `change` before the fold takes it.
    fn assembler_with(
        lines: &[&str],
        change: impl Fn(&mut crate::lambda::Analysis),
    ) -> Assembler<'static> {
        let mut a = Assembler::new(rules(), 0);
        for (i, msg) in lines.iter().enumerate() {
            let rec = record(i as u64 + 1, msg);
            let mut an = crate::lambda::analyze(msg.as_bytes(), rules());
            change(&mut an);
            a.push(&rec, &mut an);
        }
        a.finish();
        a
    }

    /// A pasted line without a level is an error when it holds a signature (a pattern a trigger
    /// looks for) or an error marker, and not otherwise.
    #[test]
    fn signatures_make_a_bare_paste_a_failure() {
        for paste in [
            "(1045, \"Access denied for user 'appuser'@'10.0.1.23' (using password: YES)\")",
            "pq: password authentication failed for user \"appuser\"",
            "KeyError: 'masterarn'",
        ] {
            let invs = assemble(&[(None, paste)]);
            assert!(invs[0].is_fragment() && invs[0].failed(), "{paste}");
        }
        let invs = assemble(&[(None, "createSecret: Successfully put secret for ARN x")]);
        assert!(!invs[0].failed());
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
            stream_key: None,
        };
        a.push(&rec, &mut crate::lambda::analyze(msg.as_bytes(), rules()));
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

    /// [`push_at`] for a record whose stream has a key ([`Record::stream_key`]).
    fn push_keyed(a: &mut Assembler, line: u64, (stream, key): (&str, u64), msg: &str) {
        let rec = Record {
            line,
            offset: 0,
            timestamp: Some(0),
            stream: Some(Cow::Owned(stream.to_string())),
            group: None,
            message: Cow::Borrowed(msg.as_bytes()),
            stream_key: std::num::NonZeroU64::new(key),
        };
        a.push(&rec, &mut crate::lambda::analyze(msg.as_bytes(), rules()));
    }

    /// A stream found by its key is the one its name finds, also after the states of idle
    /// streams were dropped and the others moved.
    #[test]
    fn keyed_streams_are_found_after_idle_ones_are_forgotten() {
        let mut a = Assembler::new(rules(), 0);
        let (old, live) = (
            ("2025/01/01/[$LATEST]0ld", 7),
            ("2025/01/01/[$LATEST]11ve", 9),
        );
        let rid = |n: u32| format!("{n:08x}-1111-4111-8111-111111111111");
        push_keyed(
            &mut a,
            1,
            old,
            &format!("START RequestId: {} Version: $LATEST", rid(1)),
        );
        let report = format!(
            "REPORT RequestId: {}\tDuration: 1.00 ms\tBilled Duration: 1 ms\tMemory Size: 128 MB\tMax Memory Used: 80 MB",
            rid(1)
        );
        push_keyed(&mut a, 2, old, &report);
        push_keyed(
            &mut a,
            3,
            live,
            &format!("START RequestId: {} Version: $LATEST", rid(2)),
        );
        // Past a sweep: the old stream's invocation closes (it reported long ago), its stream
        // state goes, and the live one's moves to the front.
        let mut line = 4;
        while line < 5000 {
            push_keyed(&mut a, line, live, "working");
            line += 1;
        }
        assert_eq!(a.stream_states(), (1, 1));
        push_keyed(&mut a, line, live, &format!("END RequestId: {}", rid(2)));
        push_keyed(
            &mut a,
            line + 1,
            live,
            &format!("START RequestId: {} Version: $LATEST", rid(3)),
        );
        let mut closed: Vec<Invocation> = a.drain_closed().collect();
        closed.extend(a.drain_spent());
        let lines: Vec<u64> = closed.iter().map(|i| i.first_line).collect();
        assert!(lines.contains(&3), "{lines:?}");
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
        let (states, indexed) = a.stream_states();
        assert!(states < 2000, "{states} stream states");
        assert_eq!(indexed, states);
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
        let invs: Vec<Invocation> = a.drain_closed().collect();
        let version = |n: u32| {
            let rid = RequestId::parse(&format!("{n:08x}-1111-4111-8111-111111111111"));
            let inv = invs.iter().find(|i| i.request_id == rid).unwrap();
            inv.runtime_version.clone()
        };
        assert_eq!(version(0).as_deref(), Some("python:3.12.v48"));
        assert_eq!(version(7777).as_deref(), Some("python:3.12.v48"));
        assert_eq!(version(8888), None);
    }

    /// The text the parallel stage copies ahead ([`copy_ahead`]) is what the fold would have
    /// copied: assembling without it keeps the same lines and the same last activity.
    #[test]
    fn lines_copied_ahead_are_the_lines_the_fold_keeps() {
        let start = format!("START RequestId: {A} Version: $LATEST");
        let lines = [
            start.as_str(),
            "[INFO]\t2025-03-11T14:02:07.402Z\tcreateSecret: Successfully put secret   \t",
            "[WARNING]\t2025-03-11T14:02:07.402Z\tslow",
            "[ERROR] KeyError: 'host key is missing from secret JSON'\nTraceback (most recent call last):",
            "Task timed out after 30.03 seconds",
            "plain output",
        ];
        let assemble_with = |ahead: bool| {
            let mut a = assembler_with(&lines, |an| {
                if !ahead {
                    an.text = Copied::None;
                }
            });
            let inv = a.drain_closed().next().unwrap();
            (inv.last_activity().cloned(), inv.lines)
        };
        let (last, kept) = assemble_with(true);
        assert!(kept.len() >= 4, "{kept:?}");
        assert_eq!(last.as_ref().map(|l| l.text.as_str()), Some("plain output"));
        assert_eq!((last, kept), assemble_with(false));
    }

    /// [`Assembler::push_platform`] leaves the invocations as [`Assembler::push`] does: the
    /// same messages assembled with every record on the record path, and with the platform
    /// lines as events, close the same invocations (compared whole, by their `Debug` form).
    #[test]
    fn platform_events_assemble_as_their_records() {
        let report = |rid: &str, status: &str| {
            format!(
                "REPORT RequestId: {rid}\tDuration: 12.00 ms\tBilled Duration: 12 ms\tMemory Size: 128 MB\tMax Memory Used: 80 MB\t{status}"
            )
        };
        let mut lines: Vec<(Option<&str>, Option<i64>, String)> = Vec::new();
        let s1 = Some("2025/01/01/[$LATEST]aaaa");
        let s2 = Some("2025/01/01/[$LATEST]bbbb");
        // Init output before the first START; an invocation whose START was cut off; a failed
        // one (its REPORT kept as evidence); a timeout (a REPORT with a status: record path);
        // two streams interleaved; enough records to pass sweeps (every 4,096).
        lines.push((
            None,
            Some(0),
            "[INFO]\t2025-10-21T18:58:10.422Z\t\tFound credentials".into(),
        ));
        lines.push((None, Some(1), format!("END RequestId: {B}")));
        lines.push((None, Some(2), report(B, "")));
        // Every fourth invocation logs in JSON (`platform.start` naming its function,
        // `platform.report`), every eighth without a timestamp of the record's own.
        let json_start = |rid: &str| {
            format!(
                r#"{{"time":"2025-03-28T13:36:56.990Z","type":"platform.start","record":{{"requestId":"{rid}","functionArn":"arn:aws:lambda:us-east-1:123456789012:function:rot","version":"$LATEST"}}}}"#
            )
        };
        let json_report = |rid: &str, status: &str| {
            format!(
                r#"{{"time":"2025-03-28T13:36:57.077Z","type":"platform.report","record":{{"requestId":"{rid}","metrics":{{"durationMs":87.56,"billedDurationMs":88,"memorySizeMB":128,"maxMemoryUsedMB":80}},"status":"{status}"}}}}"#
            )
        };
        for n in 0..3000u32 {
            let rid = format!("{n:08x}-1111-4111-8111-111111111111");
            let stream = if n % 3 == 0 { s1 } else { s2 };
            let t = (n % 8 != 1).then_some(i64::from(n) * 1000);
            let json = n % 4 == 1;
            lines.push((
                stream,
                t,
                if json {
                    json_start(&rid)
                } else {
                    format!("START RequestId: {rid} Version: $LATEST")
                },
            ));
            if n % 5 == 0 {
                lines.push((stream, t, "[ERROR] KeyError: 'host key is missing from secret JSON'\nTraceback (most recent call last):".into()));
            } else {
                lines.push((
                    stream,
                    t,
                    format!("[INFO]\t2025-03-11T14:02:07.402Z\t{rid}\tcreateSecret: ok"),
                ));
            }
            if json {
                let status = if n % 11 == 0 { "timeout" } else { "success" };
                lines.push((stream, t, json_report(&rid, status)));
                continue;
            }
            lines.push((stream, t, format!("END RequestId: {rid}")));
            let status = if n % 11 == 0 { "Status: timeout" } else { "" };
            lines.push((stream, t, report(&rid, status)));
        }
        let assemble_with = |events: bool| {
            let mut a = Assembler::new(rules(), 0);
            let mut made = 0;
            for (i, (stream, ts, msg)) in lines.iter().enumerate() {
                let rec = Record {
                    line: i as u64 + 1,
                    offset: 0,
                    timestamp: *ts,
                    stream: stream.map(Cow::Borrowed),
                    group: None,
                    message: Cow::Borrowed(msg.as_bytes()),
                    stream_key: None,
                };
                match crate::lambda::platform::PlatformEvent::of(&rec).filter(|_| events) {
                    Some(mut e) => {
                        made += 1;
                        a.push_platform(&mut e);
                    }
                    None => a.push(&rec, &mut crate::lambda::analyze(msg.as_bytes(), rules())),
                }
            }
            a.finish();
            let invs: Vec<Invocation> = a.drain_closed().collect();
            (made, format!("{invs:?}"), invs.len())
        };
        let (made, with_events, count) = assemble_with(true);
        assert!(
            made > 7500 && count > 3000,
            "{made} events, {count} invocations"
        );
        let (none, without, _) = assemble_with(false);
        assert_eq!(none, 0);
        assert!(with_events == without, "the invocations differ");
    }

    /// A healthy invocation of another function (an API handler's) closes into nothing the
    /// rotation tracker would see; a failed one, and one that names a secret, are handed on.
    #[test]
    fn healthy_invocations_of_other_functions_are_dropped_as_they_close() {
        let report = |rid: &str| {
            format!(
                "REPORT RequestId: {rid}\tDuration: 12.00 ms\tBilled Duration: 12 ms\tMemory Size: 128 MB\tMax Memory Used: 80 MB"
            )
        };
        let handler = |rid: &str, body: &str| {
            vec![
                format!("START RequestId: {rid} Version: $LATEST"),
                format!("[INFO]\t2025-03-11T14:02:07.402Z\t{rid}\t{body}"),
                format!("END RequestId: {rid}"),
                report(rid),
            ]
        };
        let run = |lines: Vec<String>| {
            let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
            let mut a = assembler_of(&lines);
            let closed: Vec<Invocation> = a.drain_closed().collect();
            (closed, a.drain_spent().len(), a.other_functions)
        };
        let (closed, spent, dropped) = run(handler(A, "GET /orders/12 from 10.0.0.1"));
        assert!(closed.is_empty(), "{closed:?}");
        assert_eq!((spent, dropped), (1, 1));
        let mut failed = handler(B, "GET /orders/12 from 10.0.0.1");
        failed.insert(2, "[ERROR] KeyError: 'body'".into());
        let (closed, spent, _) = run(failed);
        assert_eq!((closed.len(), spent), (1, 0));
        assert!(closed[0].failed() && closed[0].of_another_function(rules()));
        let named = handler(
            A,
            &format!("createSecret: Successfully put secret for ARN {ARN} and version {TOKEN}."),
        );
        let (closed, spent, _) = run(named);
        assert_eq!((closed.len(), spent), (1, 0));
    }

    /// A short kept-line list handed back is lent, empty, to the next invocation that keeps a
    /// line and has no list; a long one is left to be freed.
    #[test]
    fn spare_line_lists_are_short_empty_and_lent_once() {
        let line = |n| KeptLine {
            source: 0,
            line: n,
            timestamp: None,
            request_id: None,
            kind: Kind::Other,
            level: None,
            hits: Hits::new(),
            text: format!("line {n}"),
        };
        let with_lines = |n: u64| Invocation {
            lines: (0..n).map(line).collect(),
            ..Invocation::default()
        };
        let mut spare = SpareLines::default();
        let (mut short, mut long) = (with_lines(2), with_lines(40));
        spare.keep_from(&mut short);
        spare.keep_from(&mut long);
        assert_eq!(spare.0.len(), 1);
        assert!(spare.0[0].is_empty() && spare.0[0].capacity() >= 2);
        assert!(short.lines.is_empty() && long.lines.len() == 40);

        let mut has_one = with_lines(1);
        spare.lend(&mut has_one);
        assert_eq!((has_one.lines.len(), spare.0.len()), (1, 1));
        let mut next = Invocation::default();
        spare.lend(&mut next);
        assert!(next.lines.is_empty() && next.lines.capacity() >= 2 && spare.0.is_empty());
    }

    /// A last-activity buffer passed from a spent invocation to the next one keeps nothing of
    /// the line it held: the next invocation's last activity is what a new buffer would hold.
    #[test]
    fn a_reused_last_activity_buffer_holds_only_the_new_line() {
        let set = |inv: &mut Invocation, spare: &mut SpareLast, rec: &Record, ts| {
            let a = crate::lambda::analyze(&rec.message, rules());
            inv.set_last_activity(spare, rec, &a.line, ts, &a.hits);
        };
        let (old, new) = (
            record(
                7,
                "[WARNING]\t2025-03-11T14:02:07.402Z\t3c2c8a35-6f0e-4d5e-9d9b-2a1c3b4d5e6f\tUnable to log into database: a long line of another function's handler",
            ),
            record(2, "connecting"),
        );
        let mut spare = SpareLast::default();
        let mut spent = Invocation {
            source: 9,
            ..Invocation::default()
        };
        set(&mut spent, &mut spare, &old, Some(1_000));
        assert!(spent.last_activity().unwrap().request_id.is_some());
        assert!(!spent.last_activity().unwrap().hits.is_empty());
        spare.keep_from(&mut spent);
        assert!(spent.last_activity().is_none() && spare.0.len() == 1);

        let mut reused = Invocation::default();
        set(&mut reused, &mut spare, &new, None);
        assert!(spare.0.is_empty(), "the spare buffer is taken");
        let mut fresh = Invocation::default();
        set(&mut fresh, &mut SpareLast::default(), &new, None);
        assert_eq!(reused.last_activity(), fresh.last_activity());
        assert_eq!(fresh.last_activity().unwrap().text, "connecting");
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
