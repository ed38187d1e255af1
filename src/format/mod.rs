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
//!   decoded in parallel and streams are read with bounded memory.
//! * structured documents ([`events_json`]): `filter-log-events` / `get-log-events` JSON. These are
//!   decoded event by event with a streaming JSON parser, so memory does not grow with the input.
//!
//! [`detect`] picks the shape from the first bytes, following the sniffing order of
//! `log-formats.md` §0; `--input-format` overrides it.

pub mod detect;
pub mod events_json;
pub mod lines;

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use crate::time::EpochMs;

/// One CloudWatch log event recovered from an input.
#[derive(Clone, Debug)]
pub struct Record<'a> {
    /// 1-based line number (in the decoded text) where the record starts.
    pub line: u64,
    /// Byte offset of the record in the decoded input.
    pub offset: u64,
    /// Event timestamp from the container (export prefix, JSON `timestamp`), if any.
    pub timestamp: Option<EpochMs>,
    /// Log stream name, when the shape carries it.
    pub stream: Option<Cow<'a, str>>,
    /// Log group, when the shape carries it.
    pub group: Option<Cow<'a, str>>,
    /// The event's message, exactly as the function (or platform) wrote it.
    pub message: Cow<'a, [u8]>,
}

/// The input shapes rotdiag decodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Format {
    /// `filter-log-events` / `get-log-events` JSON (one or several pages), or a JSON array of
    /// messages (`--query 'events[].message'`).
    EventsJson,
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
    pub const ALL: [Format; 6] = [
        Format::EventsJson,
        Format::Tail,
        Format::TailShort,
        Format::S3Export,
        Format::Console,
        Format::Raw,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Format::EventsJson => "events-json",
            Format::Tail => "tail",
            Format::TailShort => "tail-short",
            Format::S3Export => "s3-export",
            Format::Console => "console",
            Format::Raw => "raw",
        }
    }

    /// Line-oriented shapes are decoded block by block; the others are parsed as documents.
    pub fn is_line_oriented(self) -> bool {
        matches!(self.decoder(), Decoder::Lines(_))
    }

    /// How inputs of this shape are decoded.
    pub fn decoder(self) -> Decoder {
        match self {
            Format::EventsJson => Decoder::Structured(events_json::decode),
            Format::Tail | Format::TailShort | Format::S3Export | Format::Console | Format::Raw => {
                Decoder::Lines(lines::LineDecoder::new(self))
            }
        }
    }
}

/// A decoder for structured documents: reads the whole input, calls the sink once per record
/// (in input order), and returns the problems it met. Memory must not grow with the input.
pub type StructuredDecoder =
    fn(&mut dyn std::io::Read, &mut dyn FnMut(Record<'static>)) -> Vec<DecodeError>;

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

/// A problem found while decoding an input: where it is and what was skipped.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DecodeError {
    pub line: Option<u64>,
    pub offset: Option<u64>,
    pub message: String,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.offset) {
            (Some(l), _) => write!(f, "line {l}: {}", self.message),
            (None, Some(o)) => write!(f, "byte {o}: {}", self.message),
            (None, None) => f.write_str(&self.message),
        }
    }
}
