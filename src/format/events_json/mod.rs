//! Every JSON shape, decoded event by event: `filter-log-events` / `get-log-events` documents,
//! subscription-filter payloads, Logs Insights results and CloudTrail containers.
//!
//! The CLI merges every page of `filter-log-events` into one document (which can be gigabytes for a
//! busy log group), users concatenate documents with `>>` or paging loops, and Firehose writes
//! subscription payloads back to back (`}{`). So the decoder never materialises a document: a serde
//! visitor walks each top-level value and hands every element of its container arrays to the
//! caller as soon as it is parsed. What a document is follows from its keys, not its first bytes,
//! so documents of different kinds may follow each other in one input:
//!
//! | key | what it holds | `docs/log-formats.md` |
//! | --- | --- | --- |
//! | `events` | CloudWatch events (`filter-log-events`, `get-log-events`) | "`filter-log-events` and `get-log-events`" |
//! | `logEvents` | a decoded subscription payload; `logGroup` / `logStream` of the envelope go to every event, `CONTROL_MESSAGE` payloads are skipped | "Subscription payloads" |
//! | `awslogs.data`, `Records[].kinesis.data`, `Records[].Data`, `records[].data` | base64 (of gzip) of a subscription payload: Lambda subscription events, Kinesis, `aws kinesis get-records`, Firehose | "Subscription payloads" |
//! | `results` | Logs Insights rows of `{field, value}` (`@timestamp`, `@message`, `@logStream`, `@log`), put in time order | "Logs Insights and console CSV" |
//! | `Records[]` of CloudTrail events, an EventBridge envelope, a bare CloudTrail event, `Events[].CloudTrailEvent` (`aws cloudtrail lookup-events`) | one record per event, its compact JSON as the message | "CloudTrail" |
//!
//! A top-level array is read element by element the same way: message strings (`--query
//! 'events[].message'`), event objects, Insights rows or field objects. A top-level object that is
//! itself a CloudWatch event (`jq -c '.events[]'`) or a Lambda JSON log record is one record.
//!
//! Positions: a counting reader tracks newlines consumed, so every record knows the line its
//! `"message"` sits on and a syntax error names its line. After a syntax error the decoder skips to
//! the next line that starts with `{` or `[` (stray shell prompts between pasted documents) and goes
//! on; everything parsed before it has been delivered.
//!
//! Order: events without a log stream (`get-log-events` pages, whose loop over
//! `nextBackwardToken` writes the newest page first) and Logs Insights rows (newest first by
//! default) are put in time order within a window of up to 100 000 records or 64 MiB; everything
//! else is handed on as it is read. Memory is bounded by that window and the largest single event
//! (or CloudTrail record).
//!
//! Files: this one walks documents (`Node` and the containers it meets); `stream` feeds the
//! parser from a reader and counts where it is; `memory` parses an input held in memory (a
//! mapped file, several times faster) and works out the same positions from where the parsed
//! text sits; `payload` opens base64 payloads; `record` turns a parsed object into a record.
//!
//! The hot path, `scan`: a hand reader of `filter-log-events` / `get-log-events` pages (the shape
//! nearly every JSON input has), which hands each page it is sure of straight to the walker's
//! sink and gives every other document to the serde_json walker above ([`scan_slice`] for a
//! mapped file, [`scan_stream`] for a stream read in windows that end where a page, or an event
//! of a page, ends). The tests read it against serde_json alone ([`decode`], and from memory
//! `decode_slice`).

use std::borrow::Cow;
use std::fmt;
use std::io::{self, Read};
use std::rc::Rc;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

use super::{REORDER_WINDOW, Record, cloudtrail, reorder};
use crate::problem::{Kind, Problem};

mod memory;
mod payload;
mod record;
mod scan;
mod stream;

use payload::nested;
use record::{
    Acc, cloudtrail_record, finish, flat_object_row, insights_group, query_row, record, string_of,
};
pub(crate) use scan::{Ahead, Run, event_start, read_run};

/// Where the parser is, for the line and offset of what it delivers: counted as a stream is read
/// ([`stream::Position`]), or worked out from where the parsed text sits in an input held in
/// memory ([`memory::Position`]). Both give the same answers for the same bytes.
trait Locate {
    /// The line the parser is on (1-based).
    fn line(&self) -> u64;
    /// Bytes consumed.
    fn offset(&self) -> u64;
    /// A record was just made (a stream bounds the bytes between two records).
    fn record_made(&self) {}
    /// In memory: the parser has just read `text`, a key borrowed from the input.
    fn passed(&self, _text: &str) {}
    /// In memory: the input, values of which are parsed again from their own bytes to know
    /// where they are. `None` for a stream.
    fn memory(&self) -> Option<&memory::Position<'_>> {
        None
    }
}

/// How deep base64 payloads may nest (a payload whose events hold payloads…).
const MAX_NESTING: u8 = 3;
/// Syntax errors reported one by one; more are summarised.
const MAX_ERRORS: usize = 16;

/// Where decoded records go, and the problems met (shared by nested payloads).
struct Walker<'s, 'r> {
    sink: &'s mut dyn FnMut(Record<'r>),
    errors: Vec<Problem>,
    suppressed: u64,
    /// The line number given to the last record created.
    last_line: u64,
    /// Records without a log stream (`get-log-events` pages), kept to be put in time order: a
    /// loop over `nextBackwardToken` writes the newest page first. `None` in nested walkers.
    window: Option<Window<'r>>,
}

/// Records held back to be put in time order, up to [`REORDER_WINDOW`] records or
/// [`WINDOW_BYTES`] of messages; then they are ordered and handed on, and a new window starts.
#[derive(Default)]
struct Window<'r> {
    records: Vec<Record<'r>>,
    bytes: usize,
}

const WINDOW_BYTES: usize = 64 << 20;

impl<'s, 'r> Walker<'s, 'r> {
    /// A walker handing records to `sink`, putting stream-less ones in time order through
    /// `window` (none for nested payloads: their container's walker does it).
    fn new(sink: &'s mut dyn FnMut(Record<'r>), window: Option<Window<'r>>) -> Self {
        Walker {
            sink,
            errors: Vec::new(),
            suppressed: 0,
            last_line: 0,
            window,
        }
    }

    /// Hands a finished record on: to the sink, or to the time-order window.
    fn deliver(&mut self, r: Record<'r>) {
        match &mut self.window {
            Some(w) if r.stream.is_none() && r.timestamp.is_some() => {
                w.bytes += r.message.len();
                w.records.push(r);
                if w.records.len() >= REORDER_WINDOW || w.bytes >= WINDOW_BYTES {
                    self.flush_window();
                }
            }
            _ => (self.sink)(r),
        }
    }

    fn flush_window(&mut self) {
        if let Some(w) = &mut self.window {
            let mut v = std::mem::take(&mut w.records);
            w.bytes = 0;
            reorder(&mut v);
            v.into_iter().for_each(&mut *self.sink);
        }
    }

    /// Records are told apart by their line, so records that share a physical line (compact JSON,
    /// events of one base64 payload) are numbered on from it: a record's line is its physical line,
    /// or the line after the previous record's when that is not past it.
    fn stamp<'m>(&mut self, mut r: Record<'m>) -> Record<'m> {
        if r.line <= self.last_line {
            r.line = self.last_line + 1;
        }
        self.last_line = r.line;
        r
    }

    /// Hands on what is left and returns the problems met.
    fn finish(mut self) -> Vec<Problem> {
        self.flush_window();
        if self.suppressed > 0 {
            self.errors
                .push(Problem::at(None, None, Kind::Suppressed(self.suppressed)));
        }
        self.errors
    }

    /// A decoding problem at `line` / `offset`, in the decoder's words.
    fn error(&mut self, line: Option<u64>, offset: Option<u64>, message: String) {
        self.problem(Problem::at(line, offset, Kind::Decode(message)));
    }

    fn problem(&mut self, p: Problem) {
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(p);
        } else {
            self.suppressed += 1;
        }
    }
}

/// Where a nested payload sits in the outer input: its records and errors are reported there.
#[derive(Clone, Copy)]
struct Origin {
    line: u64,
    offset: u64,
    depth: u8,
}

/// Decodes every JSON document in `input`, calling `sink` once per event. Returns the problems
/// found: syntax errors (the decoder resumes at the next line that starts a document), truncation,
/// undecodable payloads.
pub(crate) fn decode(input: &mut dyn Read, sink: &mut dyn FnMut(Record<'static>)) -> Vec<Problem> {
    let mut w = Walker::new(sink, Some(Window::default()));
    walk(input, &mut w, None);
    w.finish()
}

/// [`decode`] for an input held in memory (a mapped file): the same records and errors, parsed
/// from the slice (many times faster than through a reader). Only the tests read with
/// serde_json alone from memory, to compare [`scan_slice`] with.
#[cfg(test)]
pub(crate) fn decode_slice<'d>(data: &'d [u8], sink: &mut dyn FnMut(Record<'d>)) -> Vec<Problem> {
    if std::str::from_utf8(data).is_err() {
        // Invalid UTF-8 is replaced on the way in, which only the stream path does.
        return decode(&mut &data[..], &mut |r| sink(r));
    }
    let mut w = Walker::new(sink, Some(Window::default()));
    memory::walk(data, &mut w);
    w.finish()
}

/// `decode_slice` with the hand reader of `filter-log-events` / `get-log-events` pages
/// ([`scan`]) first, serde_json for every document it gives up on: the same records and errors.
/// Messages and stream names without an escape (nearly all) are borrowed from `data`.
pub(crate) fn scan_slice<'d>(data: &'d [u8], sink: &mut dyn FnMut(Record<'d>)) -> Vec<Problem> {
    match text_of(data) {
        Some(text) => scan_slice_with(text, sink, None),
        // Invalid UTF-8 is replaced on the way in, which only the stream path does.
        None => decode(&mut &data[..], &mut |r| sink(r)),
    }
}

/// `data` as text if it is UTF-8 (the same answer as `std::str::from_utf8`), checked with SIMD.
///
/// Why: every JSON input is checked whole before it is read by hand (the reader borrows its
/// strings as text); with the standard check that was 5.5 % of the CPU samples of a 1 GiB
/// `filter-log-events` run on two threads (`perf record`, 267 of 4,855), 0.75 instructions a
/// byte. Where it is not UTF-8 the caller asks the standard check where it fails (rare).
pub(crate) fn text_of(data: &[u8]) -> Option<&str> {
    simdutf8::basic::from_utf8(data).ok()
}

/// [`scan_slice`] of an input checked to be UTF-8, taking the runs of events of pages that
/// `ahead` read on other threads ([`scan::read_run`]) where the hand reader reaches their start:
/// the same records and errors.
pub(crate) fn scan_slice_ahead<'d>(
    text: &'d str,
    sink: &mut dyn FnMut(Record<'d>),
    ahead: &mut dyn Ahead<'d>,
) -> Vec<Problem> {
    scan_slice_with(text, sink, Some(ahead))
}

fn scan_slice_with<'d>(
    text: &'d str,
    sink: &mut dyn FnMut(Record<'d>),
    mut ahead: Option<&mut dyn Ahead<'d>>,
) -> Vec<Problem> {
    let mut w = Walker::new(sink, Some(Window::default()));
    memory::walk_with(text.as_bytes(), &mut w, |_, from, pos, w| {
        let ahead: Option<&mut dyn Ahead<'d>> = match &mut ahead {
            Some(a) => Some(&mut **a),
            None => None,
        };
        scan::documents_ahead(text, from, pos, w, ahead)
    });
    w.finish()
}

/// [`decode`] with the hand reader of `filter-log-events` / `get-log-events` pages ([`scan`])
/// first: the input is read in windows that end where a document (or, in a page, an event)
/// ends, each read from its slice.
/// From the first document the reader gives up on (or a document, or an event of a page, longer
/// than [`MAX_DOCUMENT`], or invalid UTF-8) on, the rest of the input is decoded by [`decode`]'s
/// serde_json walker, as a stream, from that document's start (or, inside a page the windows cut,
/// from its head and its last event read whole: `scan::Open`): the same records and errors as
/// [`decode`].
pub(crate) fn scan_stream(
    input: &mut dyn Read,
    sink: &mut dyn FnMut(Record<'static>),
) -> Vec<Problem> {
    scan_stream_in(input, sink, scan::Windows::default())
}

/// [`scan_stream`] reading `read_bytes` at a time
/// and documents of up to `max_document` bytes by hand: small windows, for tests that cut pages
/// and events anywhere.
#[cfg(test)]
pub(crate) fn scan_stream_in_windows(
    input: &mut dyn Read,
    sink: &mut dyn FnMut(Record<'static>),
    (read_bytes, max_document): (usize, usize),
) -> Vec<Problem> {
    let windows = scan::Windows::new(read_bytes, max_document);
    scan_stream_in(input, sink, windows)
}

/// [`scan_stream`] in `windows` (of the sizes tests choose).
fn scan_stream_in(
    input: &mut dyn Read,
    sink: &mut dyn FnMut(Record<'static>),
    mut windows: scan::Windows,
) -> Vec<Problem> {
    let mut w = Walker::new(sink, Some(Window::default()));
    let rest = windows.read(input, &mut w);
    if let Some(rest) = rest {
        let mut chained = (&rest.head[..])
            .chain(&windows.buf.bytes()[rest.at..])
            .chain(input);
        let pos = stream::Position::starting_at(rest.offset, rest.line)
            .with_gap(rest.offset + rest.head.len() as u64, rest.gap);
        with_skip(&mut w, rest.skip, |inner| {
            walk_at(&mut chained, inner, None, pos)
        });
    }
    w.finish()
}

/// The longest document [`scan_stream`] reads by hand, but for a page of events, which it reads
/// a window at a time: then the longest event. Its window stays below twice this.
const MAX_DOCUMENT: usize = 8 << 20;

/// Runs `decode` with a walker whose first `skip.records` records are dropped: they were
/// delivered already, by the hand reader, which gave up on their document; `skip.last_line` is
/// `w`'s last line from before them. Everything else goes to `w`.
fn with_skip<'r, T>(
    w: &mut Walker<'_, 'r>,
    skip: Skip,
    decode: impl FnOnce(&mut Walker<'_, 'r>) -> T,
) -> T {
    if skip.records == 0 {
        return decode(w);
    }
    let mut dropped = 0;
    let (result, last_line, errors, suppressed) = {
        let mut sink = |r| {
            if dropped < skip.records {
                dropped += 1;
            } else {
                w.deliver(r);
            }
        };
        let mut inner = Walker::new(&mut sink, None);
        inner.last_line = skip.last_line;
        let result = decode(&mut inner);
        (result, inner.last_line, inner.errors, inner.suppressed)
    };
    w.last_line = w.last_line.max(last_line);
    for e in errors {
        w.problem(e);
    }
    w.suppressed += suppressed;
    result
}

/// Records of a document already delivered when serde_json takes it over.
#[derive(Clone, Copy, Debug, Default)]
struct Skip {
    records: u64,
    last_line: u64,
}

/// Decodes a base64 subscription payload met outside JSON: the `Data` column of `aws kinesis
/// get-records --output text | yaml | table`. Its records go to `sink` (numbered on from `line`, the
/// line of the column), the problems met are returned.
pub(crate) fn decode_payload(
    data: &str,
    line: u64,
    offset: u64,
    sink: &mut dyn FnMut(Record<'static>),
) -> Vec<Problem> {
    let mut w = Walker::new(sink, None);
    let pos = stream::Position::default();
    let mut target = Target::direct();
    let mut node = Node {
        w: &mut w,
        pos: &pos,
        origin: None,
        depth: 0,
        target: &mut target,
    };
    nested(&mut node, data, line, offset);
    w.finish()
}

fn walk(input: &mut dyn Read, w: &mut Walker, origin: Option<Origin>) {
    walk_at(input, w, origin, stream::Position::default());
}

/// [`walk`] from a position in the input (the reader's first byte is there).
fn walk_at(input: &mut dyn Read, w: &mut Walker, origin: Option<Origin>, pos: stream::Position) {
    let pos = Rc::new(pos);
    // serde_json reads byte by byte from an `io::Read`: buffer underneath, and count what it
    // consumes on top, so positions are where the parser is, not where the buffer is.
    let mut reader = stream::Source::new(input, pos.clone());
    let at = |pos: &stream::Position| match origin {
        Some(o) => (Some(o.line), None),
        None => (Some(pos.line()), None),
    };
    let prefix = if origin.is_some() {
        "in a base64 payload: "
    } else {
        ""
    };
    loop {
        // serde_json counts the lines of its errors from where its parser started.
        let base = pos.line();
        let failure = {
            let mut de = serde_json::Deserializer::from_reader(&mut reader);
            loop {
                pos.mark_document();
                let mut target = Target::direct();
                let node = Node {
                    w: &mut *w,
                    pos: &*pos,
                    origin,
                    depth: 0,
                    target: &mut target,
                };
                match node.deserialize(&mut de) {
                    Ok(()) => {}
                    Err(e) if e.is_eof() && !pos.content_since_mark() => break None,
                    Err(e) => break Some(e),
                }
            }
        };
        let Some(e) = failure else { return };
        let (line, offset) = at(&pos);
        if e.is_eof() {
            w.error(
                line,
                offset,
                format!(
                    "{prefix}input ends inside a JSON document (truncated?); the rest of that document is missing"
                ),
            );
            return;
        }
        if e.is_io() {
            w.error(
                line,
                offset,
                format!("{prefix}read error ({e}); everything before this point was read"),
            );
            return;
        }
        let (line, offset) = match origin {
            None if e.line() > 0 => (Some(base + e.line() as u64 - 1), None),
            _ => (line, offset),
        };
        // Unwinding out of an array or object, serde_json skips the whitespace after the fault
        // and peeks at the next byte: a document starting the next line may be read already.
        let resumed = if reader.at_document_start() {
            Some(())
        } else {
            resync(&mut reader)
        };
        match resumed {
            Some(()) => {
                w.error(
                    line,
                    offset,
                    format!(
                        "{prefix}invalid JSON ({}); skipped to the next document, at line {}",
                        bare(&e),
                        pos.line()
                    ),
                );
                reader.unread();
            }
            None => {
                w.error(
                    line,
                    offset,
                    format!(
                        "{prefix}invalid JSON ({}); the rest of the input was skipped",
                        bare(&e)
                    ),
                );
                return;
            }
        }
    }
}

/// Skips to the next line that starts with `{` or `[`, and stops just after that byte.
fn resync(r: &mut impl Read) -> Option<()> {
    let mut prev_newline = false;
    let mut b = [0u8; 1];
    loop {
        match r.read(&mut b) {
            Ok(0) => return None,
            Ok(_) => {
                if prev_newline && (b[0] == b'{' || b[0] == b'[') {
                    return Some(());
                }
                prev_newline = b[0] == b'\n';
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
}

/// Where the records of a container go: straight to the sink, or kept until the container ends
/// (subscription events before their envelope, Insights rows that are put in time order). Records
/// without a log group or stream get the container's.
struct Target {
    buf: Option<Vec<Record<'static>>>,
    group: Option<String>,
    stream: Option<String>,
}

impl Target {
    fn direct() -> Target {
        Target {
            buf: None,
            group: None,
            stream: None,
        }
    }

    fn collect() -> Target {
        Target {
            buf: Some(Vec::new()),
            group: None,
            stream: None,
        }
    }

    fn put(&mut self, w: &mut Walker, mut r: Record<'static>) {
        if r.group.is_none() && self.group.is_some() {
            r.group = self.group.clone().map(Cow::Owned);
        }
        if r.stream.is_none() && self.stream.is_some() {
            r.stream = self.stream.clone().map(Cow::Owned);
        }
        match &mut self.buf {
            Some(v) => v.push(r),
            None => w.deliver(r),
        }
    }
}

/// Any JSON value met where records may be: a document, an element of a container array.
struct Node<'a, 's, 'r> {
    w: &'a mut Walker<'s, 'r>,
    pos: &'a dyn Locate,
    origin: Option<Origin>,
    depth: u32,
    target: &'a mut Target,
}

impl Node<'_, '_, '_> {
    /// The next value of `map`, as a [`Value`]; in memory, the position moves past it (a stream
    /// position moves by reading it).
    fn next_value_passed<'de, A: MapAccess<'de>>(&self, map: &mut A) -> Result<Value, A::Error> {
        match self.pos.memory() {
            Some(mem) => {
                let raw = map.next_value::<&'de RawValue>()?;
                mem.leave(raw.get());
                serde_json::from_str(raw.get()).map_err(de::Error::custom)
            }
            None => map.next_value(),
        }
    }

    fn line(&self) -> u64 {
        self.origin.map_or_else(|| self.pos.line(), |o| o.line)
    }

    fn offset(&self) -> u64 {
        self.origin.map_or_else(|| self.pos.offset(), |o| o.offset)
    }

    /// Hands on a record already numbered (collected from a container).
    fn put(&mut self, r: Record<'static>) {
        self.target.put(self.w, r);
    }

    /// Hands on a record created here.
    fn emit(&mut self, r: Record<'static>) {
        self.pos.record_made();
        let r = self.w.stamp(r);
        self.target.put(self.w, r);
    }
}

impl<'de> DeserializeSeed<'de> for Node<'_, '_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Node<'_, '_, '_> {
    /// A key whose value holds records (`events`, `logEvents`, `results`, `Records`, …): its records
    /// are read and handed on. `false` for any other key (its value is left to read).
    fn container<A: MapAccess<'de>>(
        &mut self,
        key: &str,
        map: &mut A,
        env: &Envelope,
        early: &mut Vec<Record<'static>>,
    ) -> Result<bool, A::Error> {
        match key {
            "events" => {
                let mut c = Container {
                    parent: &mut *self,
                    target: Target::direct(),
                };
                map.next_value_seed(&mut c)?;
            }
            "logEvents" if env.control => {
                map.next_value::<IgnoredAny>()?;
            }
            "logEvents" => {
                // The envelope comes first in real payloads; when it does not, keep the
                // events until it is complete.
                let known = env.group.is_some() && env.stream.is_some();
                let mut target = if known {
                    Target::direct()
                } else {
                    Target::collect()
                };
                target.group = env.group.clone();
                target.stream = env.stream.clone();
                let mut c = Container {
                    parent: &mut *self,
                    target,
                };
                map.next_value_seed(&mut c)?;
                if let Some(v) = c.target.buf {
                    early.extend(v);
                }
            }
            "results" => {
                let mut c = Container {
                    parent: &mut *self,
                    target: Target::collect(),
                };
                map.next_value_seed(&mut c)?;
                if let Some(mut v) = c.target.buf {
                    reorder(&mut v);
                    for r in v {
                        self.put(r);
                    }
                }
            }
            "Records" | "records" | "Events" => {
                map.next_value_seed(Payloads { node: &mut *self })?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Any other key: a field of the envelope (subscription payloads), of the record (a CloudWatch
    /// event, an Insights row), or of a CloudTrail event (kept whole).
    fn field<A: MapAccess<'de>>(
        &mut self,
        key: Cow<'de, str>,
        map: &mut A,
        acc: &mut Acc,
        env: &mut Envelope,
    ) -> Result<(), A::Error> {
        match key.as_ref() {
            "awslogs" => {
                let v = self.next_value_passed(map)?;
                if let Some(data) = v.get("data").and_then(Value::as_str) {
                    let (line, offset) = (self.line(), self.offset());
                    nested(self, data, line, offset);
                } else {
                    acc.extra.insert(key.into_owned(), v);
                }
            }
            "messageType" => {
                let v = map.next_value::<Value>()?;
                env.control = v.as_str() == Some("CONTROL_MESSAGE");
                acc.extra.insert(key.into_owned(), v);
            }
            "logGroup" | "logStream" => {
                let v = map.next_value::<Value>()?;
                if let Some(s) = v.as_str().filter(|s| !s.is_empty()) {
                    if key == "logGroup" {
                        env.group = Some(s.to_owned());
                    } else {
                        env.stream = Some(s.to_owned());
                    }
                }
                acc.extra.insert(key.into_owned(), v);
            }
            "message" | "@message" => {
                acc.line = self.line();
                acc.message = Some(map.next_value::<Value>()?);
            }
            "timestamp" | "@timestamp" => acc.timestamp = Some(map.next_value::<Value>()?),
            "logStreamName" | "@logStream" => {
                acc.cloudwatch = true;
                acc.stream = string_of(map.next_value::<Value>()?);
            }
            "logGroupName" => acc.group = string_of(map.next_value::<Value>()?),
            "@log" => {
                acc.group =
                    string_of(map.next_value::<Value>()?).map(|g| insights_group(&g).to_owned())
            }
            "ingestionTime" | "eventId" | "@ptr" => {
                acc.cloudwatch = true;
                map.next_value::<IgnoredAny>()?;
            }
            _ => {
                let v = map.next_value::<Value>()?;
                acc.extra.insert(key.into_owned(), v);
            }
        }
        Ok(())
    }
}

/// Envelope of a subscription payload.
#[derive(Default)]
struct Envelope {
    control: bool,
    group: Option<String>,
    stream: Option<String>,
}

impl<'de> Visitor<'de> for Node<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a CloudWatch Logs, subscription, Insights or CloudTrail JSON document")
    }

    fn visit_str<E: de::Error>(mut self, v: &str) -> Result<(), E> {
        let r = record(self.line(), self.offset(), None, None, None, v.to_owned());
        self.emit(r);
        Ok(())
    }

    fn visit_string<E: de::Error>(mut self, v: String) -> Result<(), E> {
        let r = record(self.line(), self.offset(), None, None, None, v);
        self.emit(r);
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(mut self, mut seq: A) -> Result<(), A::Error> {
        if self.depth == 0 {
            // A top-level array: every element may be a record.
            let mut c = Container {
                parent: &mut self,
                target: Target::direct(),
            };
            return c.visit_seq(seq);
        }
        // An array inside a container: a Logs Insights row of `{field, value}` objects, or the
        // values a `--query 'events[].[timestamp,logStreamName,message]'` kept of an event.
        let mut acc = Acc {
            line: self.line(),
            offset: self.offset(),
            cloudwatch: true,
            ..Acc::default()
        };
        let mut cells = Vec::new();
        let mut fields = false;
        while let Some(f) = seq.next_element::<Value>()? {
            let (Some(name), Some(value)) = (
                f.get("field").and_then(Value::as_str),
                f.get("value").cloned(),
            ) else {
                cells.push(f);
                continue;
            };
            fields = true;
            match name {
                "@timestamp" => acc.timestamp = Some(value),
                "@message" => acc.message = Some(value),
                "@logStream" => acc.stream = value.as_str().map(str::to_owned),
                "@log" => acc.group = value.as_str().map(|g| insights_group(g).to_owned()),
                _ => {}
            }
        }
        let r = if fields {
            finish(acc)
        } else {
            query_row(acc.line, acc.offset, cells.iter())
        };
        if let Some(r) = r {
            self.emit(r);
        }
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        let mut acc = Acc {
            line: self.line(),
            offset: self.offset(),
            ..Acc::default()
        };
        let mut env = Envelope::default();
        let mut early: Vec<Record<'static>> = Vec::new();
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            if let Cow::Borrowed(k) = key {
                self.pos.passed(k);
            }
            if !self.container(&key, &mut map, &env, &mut early)? {
                self.field(key, &mut map, &mut acc, &mut env)?;
            }
        }
        if !env.control {
            for mut r in early {
                if r.group.is_none() {
                    r.group = env.group.clone().map(Cow::Owned);
                }
                if r.stream.is_none() {
                    r.stream = env.stream.clone().map(Cow::Owned);
                }
                self.put(r);
            }
        }
        // An element of a list that names none of an event's keys: the object a `--query
        // 'events[*].{t:timestamp,m:message}'` made of an event (flat, keys of the user's choice).
        let row = (self.depth == 1 && acc.message.is_none() && acc.timestamp.is_none())
            .then(|| flat_object_row(&acc))
            .flatten();
        if let Some(r) = finish(acc).or(row) {
            self.emit(r);
        }
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
}

/// An object key, borrowed from the input when it can be (no escapes, input in memory): no
/// allocation per key, and its place in the input tells where the parser is.
struct Key<'de>(Cow<'de, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// A serde_json error's message without its position: serde_json counts lines from where its
/// parser started (after the last resync, or inside an element parsed on its own); the error
/// report carries the line in the input instead.
///
/// Text of the input that serde quotes (`invalid type: string "…"`, ``unknown field `…` ``) is
/// left out: it can be a credential with no key name beside it, which no redaction recognises.
fn bare(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let msg = match text.rsplit_once(" at line ") {
        Some((msg, _)) if e.line() > 0 => msg,
        _ => &text,
    };
    without_quoted_input(msg)
}

fn without_quoted_input(msg: &str) -> String {
    static QUOTED: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
        regex::Regex::new(r#""(?:[^"\\]|\\.)*"|`[^`]*`"#).expect("quoted input regex")
    });
    QUOTED.replace_all(msg, "…").into_owned()
}

/// A container array (`events`, `logEvents`, `results`, a top-level array): each element is a
/// [`Node`] whose records go to the container's target.
struct Container<'n, 'a, 's, 'r> {
    parent: &'n mut Node<'a, 's, 'r>,
    target: Target,
}

impl<'a, 's, 'r> Container<'_, 'a, 's, 'r> {
    /// The node an element of the array is read as: one level deeper, records to this
    /// container's target.
    fn element(&mut self) -> Node<'_, 's, 'r> {
        Node {
            w: &mut *self.parent.w,
            pos: self.parent.pos,
            origin: self.parent.origin,
            depth: self.parent.depth + 1,
            target: &mut self.target,
        }
    }
}

impl<'de> DeserializeSeed<'de> for &mut Container<'_, '_, '_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for &mut Container<'_, '_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of log events")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        if let Some(mem) = self.parent.pos.memory() {
            // Each element is taken whole first, to know where it is, then parsed from its bytes.
            while let Some(raw) = seq.next_element::<&'de RawValue>()? {
                mem.enter(raw.get());
                mem.parse(raw.get(), self.element())
                    .map_err(|e| de::Error::custom(bare(&e)))?;
                mem.leave(raw.get());
            }
            return Ok(());
        }
        loop {
            if seq.next_element_seed(self.element())?.is_none() {
                break;
            }
        }
        // Records collected by a direct container have already gone to the sink; a collecting
        // container hands its records to its owner.
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

/// `Records` / `records` / `Events`: CloudTrail events (S3 log files, `lookup-events`), or Kinesis
/// / Firehose records carrying base64 payloads.
struct Payloads<'n, 'a, 's, 'r> {
    node: &'n mut Node<'a, 's, 'r>,
}

impl<'de> DeserializeSeed<'de> for Payloads<'_, '_, '_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Payloads<'_, '_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of records")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let node = self.node;
        let mem = node.pos.memory();
        if let Some(mem) = mem {
            mem.past_bracket();
        }
        loop {
            let line = node.line();
            let offset = node.offset();
            let v = match mem {
                // Where the element is must be known before it is parsed: take it whole first.
                Some(mem) => {
                    let Some(raw) = seq.next_element::<&'de RawValue>()? else {
                        break;
                    };
                    mem.leave(raw.get());
                    serde_json::from_str::<Value>(raw.get()).map_err(de::Error::custom)?
                }
                None => {
                    let Some(v) = seq.next_element::<Value>()? else {
                        break;
                    };
                    v
                }
            };
            if cloudtrail::is_event(&v) {
                node.emit(cloudtrail_record(line, offset, &v));
                continue;
            }
            // `aws cloudtrail lookup-events`: the event is a JSON string in `CloudTrailEvent`.
            if let Some(text) = v.get("CloudTrailEvent").and_then(Value::as_str) {
                match serde_json::from_str::<Value>(text) {
                    Ok(e) if cloudtrail::is_event(&e) => {
                        node.put(cloudtrail_record(line, offset, &e))
                    }
                    _ => node.w.error(
                        Some(line),
                        None,
                        "a CloudTrailEvent is not a CloudTrail event; skipped".into(),
                    ),
                }
                continue;
            }
            let data = v
                .get("kinesis")
                .and_then(|k| k.get("data"))
                .or_else(|| v.get("Data"))
                .or_else(|| v.get("data"))
                .and_then(Value::as_str);
            if let Some(data) = data {
                nested(node, data, line, offset);
            }
        }
        Ok(())
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{decode_all, msg};
    use crate::time;
    use base64::Engine as _;

    /// The SIMD check answers as the standard one, wherever a character of one to four bytes, a
    /// cut character or a byte never in UTF-8 falls in inputs long enough for its vector loops
    /// (and their tails).
    #[test]
    fn text_of_answers_as_the_standard_check() {
        let text = "plain ASCII {\"message\": 1} ab\u{e9}c\u{20ac}d\u{1f600}e ".repeat(9);
        let bytes = text.as_bytes();
        let mut inputs = Vec::new();
        for len in [
            0,
            1,
            15,
            16,
            31,
            32,
            63,
            64,
            65,
            127,
            128,
            129,
            200,
            bytes.len(),
        ] {
            let mut whole = bytes[..len.min(bytes.len())].to_vec();
            for at in 0..whole.len() {
                let mut short = whole.clone();
                short.remove(at);
                inputs.push(short);
                for bad in [0x80, 0xc3, 0xed, 0xf4, 0xff] {
                    let mut odd = whole.clone();
                    odd[at] = bad;
                    inputs.push(odd);
                }
            }
            inputs.push(std::mem::take(&mut whole));
        }
        for data in &inputs {
            assert_eq!(text_of(data), std::str::from_utf8(data).ok(), "{data:?}");
        }
    }

    #[test]
    fn error_messages_leave_out_the_input_they_quote() {
        assert_eq!(
            without_quoted_input("invalid type: string \"hunter2\", expected u64"),
            "invalid type: string …, expected u64"
        );
        assert_eq!(
            without_quoted_input("unknown field `pw`"),
            "unknown field …"
        );
        assert_eq!(without_quoted_input("expected value"), "expected value");
    }

    fn run(input: &str) -> (Vec<Record<'static>>, Vec<Problem>) {
        run_bytes(input.as_bytes())
    }

    /// Decodes as a stream, and checks decoding from memory gives the same.
    fn run_bytes(input: &[u8]) -> (Vec<Record<'static>>, Vec<Problem>) {
        let (out, errors) = decode_all(decode, input);
        assert_same_from_memory(input, &out, &errors);
        (out, errors)
    }

    pub(crate) fn assert_same_from_memory(
        input: &[u8],
        records: &[Record<'static>],
        errors: &[Problem],
    ) {
        let mut mem = Vec::new();
        let mem_errors = decode_slice(input, &mut |r| mem.push(r));
        assert_eq!(
            records,
            &mem[..],
            "records differ from memory for {:?}",
            String::from_utf8_lossy(input)
        );
        assert_eq!(
            errors,
            &mem_errors[..],
            "errors differ from memory for {:?}",
            String::from_utf8_lossy(input)
        );
        assert_same_scanned(input, records, errors);
    }

    /// The hand reader of pages ([`scan_slice`]) gives what serde_json gives.
    pub(crate) fn assert_same_scanned(
        input: &[u8],
        records: &[Record<'static>],
        errors: &[Problem],
    ) {
        let mut scanned = Vec::new();
        let scan_errors = scan_slice(input, &mut |r| scanned.push(r));
        assert_eq!(
            records,
            &scanned[..],
            "records differ when scanned for {:?}",
            String::from_utf8_lossy(input)
        );
        assert_eq!(
            errors,
            &scan_errors[..],
            "errors differ when scanned for {:?}",
            String::from_utf8_lossy(input)
        );
    }

    /// Every JSON input of the corpus decodes the same from memory as from a stream.
    #[test]
    fn memory_and_stream_agree_on_the_corpus() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/corpus");
        let mut checked = 0;
        // Every file, the outputs of the real CLI (corpus/shapes-real-cli/<scenario>/) included.
        for entry in walkdir::WalkDir::new(root).sort_by_file_name() {
            let f = entry.unwrap().into_path();
            if !f.is_file() || f.extension().is_some_and(|e| e == "gz") {
                continue;
            }
            let Ok(data) = std::fs::read(&f) else {
                continue;
            };
            let format = crate::format::detect::detect(&data[..data.len().min(64 << 10)]);
            if format.memory_decoder().is_none() {
                continue;
            }
            let mut out = Vec::new();
            let errors = decode(&mut &data[..], &mut |r| out.push(r));
            assert_same_from_memory(&data, &out, &errors);
            checked += 1;
        }
        assert!(checked >= 20, "only {checked} JSON corpus files found");
    }

    fn b64gz(s: &str) -> String {
        crate::testing::b64gz(s.as_bytes())
    }

    const DOC: &str = r#"{
    "events": [
        {
            "logStreamName": "2024/05/01/[$LATEST]0123",
            "timestamp": 1714564800123,
            "message": "START RequestId: 1f4c2b7e-8d7a-4f6e-9c1a-2b3c4d5e6f70 Version: $LATEST\n",
            "ingestionTime": 1714564800173,
            "eventId": "377625493902"
        },
        {
            "logStreamName": "2024/05/01/[$LATEST]0123",
            "timestamp": 1714564801000,
            "message": "[ERROR] OperationalError: failed\nTraceback (most recent call last):\n  File \"/var/task/lambda_function.py\", line 76, in lambda_handler",
            "ingestionTime": 1714564801050,
            "eventId": "377625493904"
        }
    ],
    "searchedLogStreams": []
}
"#;

    const PAYLOAD: &str = r#"{"messageType":"DATA_MESSAGE","owner":"264100014405","logGroup":"/aws/lambda/test","logStream":"2021/06/29/[$LATEST]f53daacc6fd1499c89f959bbd3b42a81","subscriptionFilters":["logs"],"logEvents":[{"id":"36237048169840917029152547719247745064030651972363026432","timestamp":1624925438466,"message":"START RequestId: ec412a2f-6d7c-4d38-aa76-d711e645d8a4 Version: $LATEST\n"},{"id":"36237048172583908688571814365656638411566400437598617601","timestamp":1624925438589,"message":"END RequestId: ec412a2f-6d7c-4d38-aa76-d711e645d8a4\n"}]}"#;

    const CONTROL: &str = r#"{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","subscriptionFilters":[],"logEvents":[{"id":"","timestamp":1498519943285,"message":"CWL CONTROL MESSAGE: Checking health of destination Kinesis stream."}]}"#;

    #[test]
    fn events_with_stream_timestamp_and_line() {
        let (r, e) = run(DOC);
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].line, 6);
        assert_eq!(r[0].timestamp, Some(1_714_564_800_123));
        assert_eq!(r[0].stream.as_deref(), Some("2024/05/01/[$LATEST]0123"));
        assert!(r[1].message.starts_with(b"[ERROR] OperationalError"));
        assert_eq!(r[1].line, 13);
    }

    #[test]
    fn concatenated_pages_and_empty_pages() {
        let two = format!("{DOC}{DOC}{{\"events\": [], \"nextForwardToken\": \"f/1\"}}\n");
        let (r, e) = run(&two);
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(r.len(), 4);
    }

    #[test]
    fn get_log_events_pages_newest_first_are_put_in_time_order() {
        let page = |a: i64, b: i64| {
            format!(
                "{{\"events\": [{{\"timestamp\": {a}, \"message\": \"m{a}\", \"ingestionTime\": 1}}, {{\"timestamp\": {b}, \"message\": \"m{b}\", \"ingestionTime\": 1}}], \"nextForwardToken\": \"f/1\", \"nextBackwardToken\": \"b/1\"}}\n"
            )
        };
        let text = format!(
            "{}{}{}",
            page(1_714_564_805_000, 1_714_564_806_000),
            page(1_714_564_803_000, 1_714_564_804_000),
            page(1_714_564_801_000, 1_714_564_802_000)
        );
        let (r, e) = run(&text);
        assert!(e.is_empty(), "{e:?}");
        let ts: Vec<i64> = r.iter().map(|r| r.timestamp.unwrap() % 100_000).collect();
        assert_eq!(ts, [1000, 2000, 3000, 4000, 5000, 6000]);
        // Events with a stream are handed on as read.
        let (r, _) = run(&format!("{DOC}{DOC}"));
        assert_eq!(
            r.iter().map(|r| r.line).collect::<Vec<_>>(),
            [6, 13, 25, 32]
        );
    }

    #[test]
    fn query_messages_array() {
        let (r, e) = run("[\n    \"START RequestId: x\\n\",\n    \"END RequestId: x\\n\"\n]\n");
        assert!(e.is_empty());
        assert_eq!(r.len(), 2);
        assert_eq!(&r[1].message[..], b"END RequestId: x\n");
    }

    #[test]
    fn query_rows_of_values_and_of_objects() {
        // `--query 'events[].[timestamp,logStreamName,message]'`, then the same of
        // get-log-events (no logStreamName: null), as the real CLI prints them.
        let tuple = "[\n    [\n        1744277457694,\n        \"2025/04/10/[$LATEST]3db9c7b88382e6481e072f78fa8c352e\",\n        \"START RequestId: x Version: $LATEST\\n\"\n    ],\n    [\n        1744277458748,\n        null,\n        \"END RequestId: x\\n\"\n    ]\n]\n";
        let (r, e) = run(tuple);
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].timestamp, Some(1_744_277_457_694));
        assert_eq!(
            r[0].stream.as_deref(),
            Some("2025/04/10/[$LATEST]3db9c7b88382e6481e072f78fa8c352e")
        );
        assert_eq!(msg(&r[0]), "START RequestId: x Version: $LATEST\n");
        assert_eq!((r[1].stream.as_deref(), r[1].line), (None, 7));
        // `--query 'events[*].{t:timestamp,m:message}'`: keys of the user's choice.
        let (r, e) = run(
            "[{\"t\": 1744277457694, \"m\": \"START RequestId: x\\n\"}, {\"m\": \"END RequestId: x\\n\", \"t\": 1744277458748}]",
        );
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(r.len(), 2);
        assert_eq!(
            (r[1].timestamp, msg(&r[1]).as_str()),
            (Some(1_744_277_458_748), "END RequestId: x\n")
        );
        // Objects that are something else are no rows: nested values, Insights fields, known
        // CloudWatch keys without a message.
        for other in [
            r#"[{"a": {"b": "c"}, "t": 1744277457694}]"#,
            r#"[{"field": "@message", "value": "x"}]"#,
            r#"[{"logStreamName": "s", "arn": "arn:aws:logs:x", "creationTime": 1744277457694}]"#,
        ] {
            assert!(run(other).0.is_empty(), "{other}");
        }
    }

    #[test]
    fn json_log_records_joined_by_tabs() {
        // `--query 'events[].message' --output text` of a function with `LogFormat=JSON`: the CLI
        // joins messages with TABs; only application records end in a newline.
        let text = concat!(
            r#"{"time":"2025-04-10T10:20:12.061Z","type":"platform.initStart","record":{"phase":"init"}}"#,
            "\t",
            r#"{"time":"2025-04-10T10:20:12.488Z","type":"platform.start","record":{"requestId":"5c6d7e8f-90a1-4b2c-8d3e-4f5a6b7c8d9e"}}"#,
            "\t",
            r#"{"timestamp": "2025-04-10T10:20:12Z", "level": "INFO", "message": "Found credentials in environment variables.", "logger": "botocore.credentials", "requestId": "5c6d7e8f-90a1-4b2c-8d3e-4f5a6b7c8d9e"}"#,
            "\n\t",
            r#"{"time":"2025-04-10T10:20:42.488Z","type":"platform.report","record":{"requestId":"5c6d7e8f-90a1-4b2c-8d3e-4f5a6b7c8d9e","status":"timeout"}}"#,
            "\n"
        );
        assert_eq!(
            crate::format::detect::detect(text.as_bytes()),
            crate::format::Format::EventsJson
        );
        let (r, e) = run(text);
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(r.len(), 4);
        assert!(msg(&r[1]).contains("platform.start"));
        assert!(msg(&r[2]).contains("Found credentials"));
        // Records that share a line are numbered on from it.
        assert_eq!(r.iter().map(|r| r.line).collect::<Vec<_>>(), [1, 2, 3, 4]);
    }

    #[test]
    fn truncated_document_keeps_what_parsed_and_names_the_line() {
        let cut = &DOC[..DOC.find("\"ingestionTime\": 1714564801050").unwrap()];
        let (r, e) = run(cut);
        assert_eq!(r.len(), 1);
        assert_eq!(e.len(), 1);
        assert!(e[0].to_string().contains("truncated"), "{}", e[0]);
        assert!(e[0].at.line.unwrap() >= 13);
    }

    #[test]
    fn a_fault_inside_an_array_does_not_swallow_the_document_on_the_next_line() {
        // Unwinding out of the array, serde_json reads past the newline and peeks at the `{`.
        let input = "{\"events\": [- \n{\"events\": [{\"timestamp\": 1714564800000, \"message\": \"hi\"}]}\n";
        let (r, errors) = run(input);
        assert_eq!(r.len(), 1, "{errors:?}");
        assert_eq!((r[0].line, msg(&r[0]).as_str()), (2, "hi"));
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].at.line, Some(1));
        assert!(
            errors[0]
                .to_string()
                .ends_with("skipped to the next document, at line 2"),
            "{errors:?}"
        );
    }

    #[test]
    fn stray_text_between_documents_is_skipped_and_reported() {
        let (r, e) = run(&format!("{DOC}\n$ aws logs filter-log-events ...\n{DOC}"));
        assert_eq!(r.len(), 4);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].at.line, Some(21));
        assert!(
            e[0].to_string().contains("skipped to the next document"),
            "{e:?}"
        );
        let (r, e) = run(&format!("{DOC}\n$ aws logs ...\n"));
        assert_eq!(r.len(), 2);
        assert_eq!(e.len(), 1);
    }

    #[test]
    fn subscription_payloads_back_to_back_with_a_control_message() {
        let (r, e) = run(&format!("{CONTROL}{PAYLOAD}{PAYLOAD}"));
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(r.len(), 4);
        assert_eq!(r[0].group.as_deref(), Some("/aws/lambda/test"));
        assert_eq!(
            r[0].stream.as_deref(),
            Some("2021/06/29/[$LATEST]f53daacc6fd1499c89f959bbd3b42a81")
        );
        assert_eq!(r[0].timestamp, Some(1_624_925_438_466));
        // One physical line: records are numbered on from it.
        let lines: Vec<u64> = r.iter().map(|r| r.line).collect();
        assert_eq!(lines, [1, 2, 3, 4]);
    }

    #[test]
    fn envelope_after_the_events() {
        let p = r#"{"logEvents":[{"id":"1","timestamp":1,"message":"m"}],"logStream":"s","logGroup":"g","messageType":"DATA_MESSAGE"}"#;
        let (r, _) = run(p);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].stream.as_deref(), Some("s"));
        assert_eq!(r[0].group.as_deref(), Some("g"));
        let c = r#"{"logEvents":[{"id":"1","timestamp":1,"message":"m"}],"messageType":"CONTROL_MESSAGE"}"#;
        assert!(run(c).0.is_empty());
    }

    #[test]
    fn base64_gzip_envelopes() {
        let data = b64gz(PAYLOAD);
        let docs = [
            format!(r#"{{"awslogs":{{"data":"{data}"}}}}"#),
            format!(
                r#"{{"Records":[{{"kinesis":{{"partitionKey":"p","data":"{data}","sequenceNumber":"1"}},"eventSource":"aws:kinesis","eventVersion":"1.0","eventName":"aws:kinesis:record"}}]}}"#
            ),
            format!(
                r#"{{"Records":[{{"SequenceNumber":"1","ApproximateArrivalTimestamp":"2021-06-29T00:10:40+00:00","Data":"{data}","PartitionKey":"p"}}],"NextShardIterator":"x","MillisBehindLatest":0}}"#
            ),
            format!(
                r#"{{"invocationId":"i","deliveryStreamArn":"arn","region":"us-east-1","records":[{{"recordId":"r","approximateArrivalTimestamp":1,"data":"{data}"}}]}}"#
            ),
            format!(
                r#"{{"requestId":"3657C3DE","timestamp":1771274398000,"records":[{{"data":"{data}"}}]}}"#
            ),
        ];
        for d in docs {
            let (r, e) = run(&d);
            assert!(e.is_empty(), "{d}: {e:?}");
            assert_eq!(r.len(), 2, "{d}");
            assert_eq!(r[0].group.as_deref(), Some("/aws/lambda/test"));
            assert!(msg(&r[1]).starts_with("END RequestId"));
        }
    }

    #[test]
    fn base64_with_whitespace_plain_json_and_extracted_messages() {
        let data = b64gz(PAYLOAD);
        let wrapped: String = data
            .as_bytes()
            .chunks(60)
            .map(|c| format!("{}\\n", std::str::from_utf8(c).unwrap()))
            .collect();
        let (r, e) = run(&format!(r#"{{"awslogs":{{"data":"{wrapped}"}}}}"#));
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(r.len(), 2);
        let plain = base64::engine::general_purpose::STANDARD.encode(PAYLOAD);
        assert_eq!(
            run(&format!(r#"{{"records":[{{"data":"{plain}"}}]}}"#))
                .0
                .len(),
            2
        );
        let text = base64::engine::general_purpose::STANDARD
            .encode("START RequestId: x\nEND RequestId: x\n");
        let (r, _) = run(&format!(r#"{{"records":[{{"data":"{text}"}}]}}"#));
        assert_eq!(r.len(), 2);
        assert_eq!(msg(&r[1]), "END RequestId: x");
    }

    #[test]
    fn bad_payloads_are_reported_not_fatal() {
        let (r, e) = run(&format!(
            r#"{{"records":[{{"data":"%%%"}},{{"data":"H4sIAAAA"}},{{"data":"{}"}}]}}"#,
            b64gz(PAYLOAD)
        ));
        assert_eq!(r.len(), 2);
        assert_eq!(e.len(), 2, "{e:?}");
        let mut nested = PAYLOAD.to_string();
        for _ in 0..5 {
            nested = format!(r#"{{"awslogs":{{"data":"{}"}}}}"#, b64gz(&nested));
        }
        let (r, e) = run(&nested);
        assert!(r.is_empty());
        assert!(
            e.iter()
                .any(|e| e.to_string().contains("nested too deeply")),
            "{e:?}"
        );
    }

    #[test]
    fn insights_results_in_time_order_with_group() {
        let doc = r#"{"results":[
            [{"field":"@timestamp","value":"2024-05-01 12:00:01.000"},{"field":"@message","value":"second"},{"field":"@log","value":"111122223333:/aws/lambda/Rot"},{"field":"@ptr","value":"x"}],
            [{"field":"@timestamp","value":"2024-05-01 12:00:00.456"},{"field":"@message","value":"first"},{"field":"@logStream","value":"s"}]
        ],"statistics":{"recordsMatched":2.0},"status":"Complete"}"#;
        let (r, e) = run(doc);
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(msg(&r[0]), "first");
        assert_eq!(r[0].stream.as_deref(), Some("s"));
        assert_eq!(msg(&r[1]), "second");
        assert_eq!(r[1].group.as_deref(), Some("/aws/lambda/Rot"));
        assert_eq!(r[0].timestamp, time::parse_any("2024-05-01T12:00:00.456Z"));
    }

    #[test]
    fn cloudtrail_containers() {
        let ev = r#"{"eventVersion":"1.08","eventTime":"2022-09-13T02:17:48Z","eventSource":"secretsmanager.amazonaws.com","eventName":"RotationFailed","additionalEventData":{"SecretId":"arn:s"}}"#;
        let docs = [
            format!(r#"{{"Records":[{ev},{ev}]}}"#),
            format!("{ev}\n{ev}\n"),
            format!(
                r#"{{"version":"0","id":"1","detail-type":"AWS Service Event via CloudTrail","source":"aws.secretsmanager","time":"2022-09-13T02:17:48Z","resources":[],"detail":{ev}}}
{{"version":"0","id":"2","detail-type":"AWS Service Event via CloudTrail","source":"aws.secretsmanager","time":"2022-09-13T02:17:48Z","resources":[],"detail":{ev}}}"#
            ),
            format!(
                r#"{{"Events":[{{"EventId":"1","EventName":"RotationFailed","CloudTrailEvent":{}}},{{"EventId":"2","CloudTrailEvent":{}}}]}}"#,
                serde_json::to_string(ev).unwrap(),
                serde_json::to_string(ev).unwrap()
            ),
        ];
        for d in docs {
            let (r, e) = run(&d);
            assert!(e.is_empty(), "{d}: {e:?}");
            assert_eq!(r.len(), 2, "{d}");
            assert_eq!(r[0].stream.as_deref(), Some("cloudtrail"));
            assert_eq!(r[0].timestamp, time::parse_any("2022-09-13T02:17:48Z"));
            let v: Value = serde_json::from_slice(&r[0].message).unwrap();
            assert!(cloudtrail::render(&v).is_some(), "{d}");
        }
        // S3 / Kinesis notifications are not CloudTrail.
        let (r, _) = run(
            r#"{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","eventName":"ObjectCreated:Put"}]}"#,
        );
        assert!(r.is_empty());
    }

    #[test]
    fn json_lines_of_events_and_of_lambda_records() {
        let (r, _) = run(
            "{\"logStreamName\":\"s\",\"timestamp\":1714564800123,\"message\":\"START RequestId: x\\n\",\"ingestionTime\":1,\"eventId\":\"1\"}\n\
             {\"timestamp\": \"2025-03-11T14:02:07Z\", \"level\": \"INFO\", \"message\": \"createSecret: ok\", \"requestId\": \"x\"}\n",
        );
        assert_eq!(r.len(), 2);
        assert_eq!(msg(&r[0]), "START RequestId: x\n");
        let v: Value = serde_json::from_slice(&r[1].message).unwrap();
        assert_eq!(v["level"], "INFO");
        assert_eq!(v["message"], "createSecret: ok");
    }

    #[test]
    fn invalid_utf8_inside_strings_is_replaced() {
        let mut doc = DOC.as_bytes().to_vec();
        let at = doc.windows(9).position(|w| w == b"Operation").unwrap();
        doc.splice(at..at, [0xE9, 0xff, b' ']);
        let (r, e) = run_bytes(&doc);
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(r.len(), 2);
        assert!(msg(&r[1]).starts_with("[ERROR] \u{FFFD}\u{FFFD} Operation"));
        // A multi-byte character cut at the very end.
        let (_, e) = run_bytes(b"[\"caf\xc3");
        assert_eq!(e.len(), 1);
    }

    #[test]
    fn scalars_and_odd_documents_do_not_panic() {
        for d in [
            "1",
            "null",
            "true",
            "\"x\"",
            "[[]]",
            "[1, {}, []]",
            "{\"message\": null}",
            "{\"events\": 5}",
            "{\"Records\": {}}",
            "{\"awslogs\": 3}",
            "}{",
            "]",
        ] {
            let _ = run(d);
        }
        let (r, _) = run("[[{\"field\":\"@message\",\"value\":\"x\"}]]");
        assert_eq!(r.len(), 1);
    }
}
