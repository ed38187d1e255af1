//! Format decoders: bytes in one of the shapes users export CloudWatch Logs in -> [`Record`]s.
//!
//! A record is one CloudWatch log event: its timestamp, its log stream when the shape carries it,
//! and its message (which may span several physical lines: tracebacks, pretty JSON). Everything
//! after this stage is independent of the shape the logs arrived in.
//!
//! Shapes fall into two families:
//! * line-oriented text ([`lines`]): S3 export files, `aws logs tail`, console copies and raw
//!   Lambda text. A record starts at a line that carries the shape's prefix; lines without it
//!   continue the previous record. These decode block by block, so big inputs are split and
//!   decoded in parallel and streams are read with bounded memory. A line that carries another
//!   line shape's prefix also starts a record, so one file holding two pasted exports decodes.
//! * structured documents, decoded record by record from a reader so memory does not grow with the
//!   input: every JSON shape ([`events_json`]: `filter-log-events` / `get-log-events`,
//!   subscription payloads, Logs Insights results, CloudTrail containers), the CLI's `--output
//!   text` ([`events_text`], [`insights`]), `--output yaml` ([`yaml`]) and `--output table`
//!   ([`table`]), and console CSV downloads ([`csv`]).
//!
//! CloudTrail events are recognised in any container and rendered as one text line by
//! [`cloudtrail`] (called from [`crate::lambda::line::classify`]).
//!
//! [`detect`] picks the shape from the first bytes, in the order `docs/log-formats.md`
//! ("Detection") gives; `--input-format` overrides it. That page describes every shape byte for
//! byte as these decoders read it.

pub(crate) mod cloudtrail;
pub(crate) mod csv;
pub mod detect;
pub(crate) mod events_json;
pub(crate) mod events_text;
pub(crate) mod insights;
pub(crate) mod lines;
mod row;
pub(crate) mod table;
mod text;
pub(crate) mod yaml;

use std::borrow::Cow;
use std::fmt;
use std::num::NonZeroU64;
use std::str::FromStr;

use crate::problem::Problem;
use crate::time::EpochMs;

/// One CloudWatch log event recovered from an input.
#[derive(Clone, Debug)]
pub struct Record<'a> {
    /// 1-based line number (in the decoded text) where the record starts.
    pub(crate) line: u64,
    /// Byte offset of the record in the decoded input.
    pub(crate) offset: u64,
    /// Event timestamp from the container (export prefix, JSON `timestamp`), if any.
    pub timestamp: Option<EpochMs>,
    /// Log stream name, when the shape carries it.
    pub(crate) stream: Option<Cow<'a, str>>,
    /// Log group, when the shape carries it.
    pub(crate) group: Option<Cow<'a, str>>,
    /// The event's message, exactly as the function (or platform) wrote it.
    pub message: Cow<'a, [u8]>,
    /// Tells the stream without its name's bytes: records of one input whose keys are equal
    /// (and not `None`) have the same stream name. The JSON reader gives a record the offset,
    /// in the input, of the first occurrence of its stream's name among the events it read
    /// together ([`events_json`]), so the serial fold finds the stream of most records without
    /// reading the name, a slice of the input parsed on another thread, out of its caches
    /// ([`crate::lambda::invocation`]). A hint, not part of the event: `==` ignores it.
    pub(crate) stream_key: Option<NonZeroU64>,
}

impl PartialEq for Record<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.line == other.line
            && self.offset == other.offset
            && self.timestamp == other.timestamp
            && self.stream == other.stream
            && self.group == other.group
            && self.message == other.message
    }
}

impl Eq for Record<'_> {}

impl Record<'_> {
    /// The record with its message and names copied where they were borrowed.
    pub(crate) fn into_owned(self) -> Record<'static> {
        Record {
            line: self.line,
            offset: self.offset,
            timestamp: self.timestamp,
            stream: self.stream.map(|s| Cow::Owned(s.into_owned())),
            group: self.group.map(|g| Cow::Owned(g.into_owned())),
            message: Cow::Owned(self.message.into_owned()),
            stream_key: self.stream_key,
        }
    }
}

/// The input shapes rotdiag decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    /// `filter-log-events` / `get-log-events` JSON (one or several pages), or a JSON array of
    /// messages (`--query 'events[].message'`).
    EventsJson,
    /// `filter-log-events` / `get-log-events --output text`: `EVENTS⇥…` rows, or the rows of a
    /// `--query 'events[].[timestamp,logStreamName,message]'`.
    EventsText,
    /// `filter-log-events` / `get-log-events --output yaml` or `yaml-stream` (AWS CLI v2).
    EventsYaml,
    /// `filter-log-events` / `get-log-events --output table` (best effort).
    EventsTable,
    /// Subscription-filter payloads: decoded `DATA_MESSAGE` JSON, Firehose objects (`}{`), and the
    /// base64+gzip forms (Lambda `awslogs` events, Kinesis records, Firehose records).
    Subscription,
    /// Logs Insights `get-query-results` JSON.
    InsightsJson,
    /// Logs Insights `get-query-results --output text`.
    InsightsText,
    /// A console CSV download: Logs Insights results or log events (`timestamp,message`).
    Csv,
    /// CloudTrail: S3 log files (`{"Records":[…]}`), EventBridge envelopes, one event per line,
    /// `aws cloudtrail lookup-events` output.
    CloudTrail,
    /// `aws logs tail` (default `--format detailed`, also `--format json`): `<ts> <stream> <msg>`.
    Tail,
    /// `aws logs tail --format short`: `<ts> <msg>` with a zone-less timestamp.
    TailShort,
    /// S3 export task files (`000000.gz`): `<ts>Z <msg>`.
    S3Export,
    /// A copy from the CloudWatch console: `  | <ts> | <msg>` or `<ts>\t<msg>`.
    Console,
    /// Lambda text with no prefix (Live Tail, `--log-type Tail`, a pasted snippet).
    Raw,
}

impl Format {
    pub const ALL: [Format; 14] = [
        Format::EventsJson,
        Format::EventsText,
        Format::EventsYaml,
        Format::EventsTable,
        Format::Subscription,
        Format::InsightsJson,
        Format::InsightsText,
        Format::Csv,
        Format::CloudTrail,
        Format::Tail,
        Format::TailShort,
        Format::S3Export,
        Format::Console,
        Format::Raw,
    ];

    /// The name users type for `--input-format` (stable).
    pub fn name(self) -> &'static str {
        match self {
            Format::EventsJson => "events-json",
            Format::EventsText => "events-text",
            Format::EventsYaml => "events-yaml",
            Format::EventsTable => "events-table",
            Format::Subscription => "subscription",
            Format::InsightsJson => "insights-json",
            Format::InsightsText => "insights-text",
            Format::Csv => "csv",
            Format::CloudTrail => "cloudtrail",
            Format::Tail => "tail",
            Format::TailShort => "tail-short",
            Format::S3Export => "s3-export",
            Format::Console => "console",
            Format::Raw => "raw",
        }
    }

    /// For shapes that parse faster from memory than from a reader (JSON): the decoder of a
    /// whole input held in memory (a mapped file). It gives what [`Format::decoder`] gives.
    pub fn memory_decoder(self) -> Option<MemoryDecoder> {
        match self {
            Format::EventsJson
            | Format::Subscription
            | Format::InsightsJson
            | Format::CloudTrail => Some(events_json::scan_slice),
            _ => None,
        }
    }

    /// [`Format::memory_decoder`] taking runs of events read ahead on other threads
    /// (`events_json::scan_slice_ahead`): the same records and errors.
    pub(crate) fn reading_ahead_decoder(self) -> Option<AheadDecoder> {
        self.memory_decoder()
            .map(|_| events_json::scan_slice_ahead as AheadDecoder)
    }

    /// How inputs of this shape are decoded.
    pub fn decoder(self) -> Decoder {
        match self {
            // Every JSON shape goes through one streaming walker that recognises documents by
            // their keys, so pasted documents of different kinds may follow each other; pages
            // of `filter-log-events` / `get-log-events` (nearly every JSON input) are read by
            // hand first (`events_json::scan`), the walker taking every other document.
            Format::EventsJson
            | Format::Subscription
            | Format::InsightsJson
            | Format::CloudTrail => Decoder::Structured(events_json::scan_stream),
            Format::EventsText => Decoder::Structured(events_text::decode),
            Format::EventsYaml => Decoder::Structured(yaml::decode),
            Format::EventsTable => Decoder::Structured(table::decode),
            Format::InsightsText => Decoder::Structured(insights::decode_text),
            Format::Csv => Decoder::Structured(csv::decode),
            Format::Tail | Format::TailShort | Format::S3Export | Format::Console | Format::Raw => {
                Decoder::Lines(lines::LineDecoder::new(self))
            }
        }
    }
}

/// Puts records in time order, for shapes that list them newest first (Logs Insights sorts by
/// `@timestamp desc` unless told otherwise). A list that runs backwards is reversed first, so
/// records of the same millisecond keep their order of occurrence; then a stable sort. A record
/// without a timestamp stays right after the one before it.
pub(crate) fn reorder(v: &mut Vec<Record<'_>>) {
    let first = v.iter().find_map(|r| r.timestamp);
    let last = v.iter().rev().find_map(|r| r.timestamp);
    if let (Some(f), Some(l)) = (first, last)
        && f > l
    {
        v.reverse();
    }
    let mut cur = i64::MIN;
    let keys: Vec<i64> = v
        .iter()
        .map(|r| {
            if let Some(t) = r.timestamp {
                cur = t;
            }
            cur
        })
        .collect();
    if keys.windows(2).all(|w| w[0] <= w[1]) {
        return;
    }
    let mut pairs: Vec<(i64, Record<'_>)> = keys.into_iter().zip(v.drain(..)).collect();
    pairs.sort_by_key(|p| p.0);
    v.extend(pairs.into_iter().map(|p| p.1));
}

/// Records a sorting shape keeps before it puts them in order and hands them on (bounds memory
/// for very large result sets, which are then ordered window by window).
pub(crate) const REORDER_WINDOW: usize = 100_000;

/// A decoder for structured documents: reads the whole input, calls the sink once per record
/// (in input order), and returns the problems it met. Memory must not grow with the input.
pub(crate) type StructuredDecoder =
    fn(&mut dyn std::io::Read, &mut dyn FnMut(Record<'static>)) -> Vec<Problem>;

/// A structured decoder for an input held in memory: its records may borrow from it.
pub(crate) type MemoryDecoder = for<'d> fn(&'d [u8], &mut dyn FnMut(Record<'d>)) -> Vec<Problem>;

/// A [`MemoryDecoder`] of an input checked to be UTF-8 that takes runs of events read ahead
/// ([`events_json::Ahead`]).
pub(crate) type AheadDecoder = for<'d> fn(
    &'d str,
    &mut dyn FnMut(Record<'d>),
    &mut dyn events_json::Ahead<'d>,
) -> Vec<Problem>;

/// The two ways inputs are decoded.
#[derive(Clone, Copy)]
pub enum Decoder {
    /// Line-oriented text: decoded in blocks cut at record boundaries (in parallel when mapped).
    Lines(lines::LineDecoder),
    /// Documents (JSON, CSV, YAML…): decoded record by record from a reader.
    Structured(StructuredDecoder),
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Format, String> {
        Format::ALL
            .iter()
            .copied()
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Format::ALL.iter().map(|f| f.name()).collect();
                format!(
                    "unknown input format '{s}' (expected one of: {})",
                    names.join(", ")
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut names: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
        for f in Format::ALL {
            assert_eq!(f.name().parse::<Format>(), Ok(f));
            assert_eq!(f.to_string(), f.name());
        }
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Format::ALL.len());
        let err = "xml".parse::<Format>().unwrap_err();
        assert!(
            err.contains("events-yaml") && err.contains("cloudtrail"),
            "{err}"
        );
    }

    fn rec(line: u64, ts: Option<i64>) -> Record<'static> {
        Record {
            line,
            offset: 0,
            timestamp: ts,
            stream: None,
            group: None,
            message: Cow::Borrowed(b""),
            stream_key: None,
        }
    }

    fn lines(v: &[Record]) -> Vec<u64> {
        v.iter().map(|r| r.line).collect()
    }

    #[test]
    fn reorder_reverses_newest_first_and_keeps_ties_in_occurrence_order() {
        // Newest first, END and REPORT in the same millisecond.
        let mut v = vec![
            rec(1, Some(30)),
            rec(2, Some(30)),
            rec(3, Some(20)),
            rec(4, None),
            rec(5, Some(10)),
        ];
        reorder(&mut v);
        assert_eq!(lines(&v), [5, 4, 3, 2, 1]);
        let mut v = vec![rec(1, Some(10)), rec(2, Some(5)), rec(3, Some(20))];
        reorder(&mut v);
        assert_eq!(lines(&v), [2, 1, 3]);
        let mut v = vec![rec(1, None), rec(2, Some(5)), rec(3, None), rec(4, Some(1))];
        reorder(&mut v);
        assert_eq!(lines(&v), [4, 3, 2, 1]);
        let mut v: Vec<Record<'static>> = Vec::new();
        reorder(&mut v);
    }
}
