//! The one error type: where a problem is ([`Location`]) and what it is ([`Kind`]).
//!
//! Everything rotdiag reports about what it could not read is a [`Problem`]: an input it cannot
//! open, a decoder's account of a document it had to skip, a rule file that does not compile. The
//! location is a source (an input or a rule file) and a line and/or byte offset in it; `Display`
//! gives the `PATH:LINE: reason` form of compilers and grep (`PATH (byte N): reason` when only
//! the offset is known), and the JSON report serializes a problem of an input as its line, offset
//! and message (the input is the object it sits in).
//!
//! A leaf of the crate: it imports nothing from it.

use std::fmt;

use serde::Deserialize;
use serde::ser::{Serialize, SerializeStruct, Serializer};

/// Where a problem is. Every part is optional: a decoder knows the line, the stream reader the
/// byte offset, the pipeline which input it was.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Location {
    /// The input (a path, `<stdin>`) or the rule file.
    pub(crate) source: Option<String>,
    /// 1-based line.
    pub(crate) line: Option<u64>,
    /// Byte offset from the start of the (decoded) input.
    pub(crate) offset: Option<u64>,
}

/// What went wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A path named on the command line (or met walking a folder) cannot be read or is skipped
    /// (missing, a link loop, a folder of no files): the walk's account of it.
    Path(String),
    /// An input was found but cannot be opened or read: the operating system's reason.
    Open(String),
    /// Compressed data ends early (a truncated `.gz`): what came before was read.
    Truncated,
    /// Reading stopped on an error: what came before was read.
    Read(String),
    /// A line longer than this many MiB: its rest was skipped.
    LineTooLong { max_mib: usize },
    /// Records holding NUL bytes were skipped (the location is the first one).
    Binary { skipped: u64 },
    /// Records longer than CloudWatch's limit for one event were cut there (the location is the
    /// first one).
    RecordsCut { count: usize, max_kib: usize },
    /// Nothing in the input: 0 bytes, or only blank lines.
    Empty { bytes: u64 },
    /// Non-empty input that gave no log record: only binary data.
    OnlyBinary,
    /// Non-empty input that gave no log record, read as `read_as` (forced with `--input-format`
    /// or detected).
    NoRecords {
        bytes: u64,
        read_as: String,
        forced: bool,
    },
    /// A mapped file changed while it was read: how.
    Changed(String),
    /// An archive, or a member of one, that could not be read as one.
    Archive(String),
    /// A decoder's account of what it could not decode and what it skipped (invalid JSON or YAML,
    /// a payload that is not base64, a CSV quote left open).
    Decode(String),
    /// More problems of this input were left out of the report.
    Suppressed(u64),
    /// A rule file does not compile.
    Rule(String),
    /// A problem as a JSON report listed it (`rotdiag merge` reads partial reports): its message.
    Reported(String),
    /// A partial report `rotdiag merge` cannot merge: why.
    Merge(String),
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Kind::Path(reason)
            | Kind::Decode(reason)
            | Kind::Rule(reason)
            | Kind::Changed(reason)
            | Kind::Reported(reason)
            | Kind::Merge(reason)
            | Kind::Archive(reason) => f.write_str(reason),
            Kind::Open(reason) => write!(f, "cannot read: {reason}"),
            Kind::Truncated => f.write_str(
                "compressed data ends early (truncated .gz?); everything before this point was read",
            ),
            Kind::Read(error) => {
                write!(f, "read error: {error}; everything before this point was read")
            }
            Kind::LineTooLong { max_mib } => {
                write!(f, "line longer than {max_mib} MiB; the rest of it was skipped")
            }
            Kind::Binary { skipped } => write!(
                f,
                "binary data (NUL bytes): {skipped} record(s) skipped, first at this line"
            ),
            Kind::Suppressed(n) => write!(f, "{n} more invalid JSON regions were skipped"),
            Kind::RecordsCut { count, max_kib } => write!(
                f,
                "{count} record(s) longer than {max_kib} KiB (CloudWatch's limit for one event) cut there, first at this line"
            ),
            Kind::Empty { bytes: 0 } => f.write_str("empty input (0 bytes): nothing to diagnose"),
            Kind::Empty { bytes } => {
                write!(f, "only blank lines ({bytes} bytes): nothing to diagnose")
            }
            Kind::OnlyBinary => f.write_str("no log records: only binary data"),
            Kind::NoRecords {
                bytes,
                read_as,
                forced: true,
            } => write!(
                f,
                "no {read_as} records in {bytes} bytes: is --input-format {read_as} right for it?"
            ),
            Kind::NoRecords {
                bytes,
                read_as,
                forced: false,
            } => write!(
                f,
                "no log records in {bytes} bytes read as {read_as}: not a CloudWatch export rotdiag knows (see --input-format)"
            ),
        }
    }
}

/// A problem and where it is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub(crate) at: Location,
    pub(crate) kind: Kind,
}

impl Problem {
    /// A problem at a line and/or byte offset of the input being decoded.
    pub(crate) fn at(line: Option<u64>, offset: Option<u64>, kind: Kind) -> Problem {
        Problem {
            at: Location {
                source: None,
                line,
                offset,
            },
            kind,
        }
    }

    /// A problem with a whole source (an input that cannot be opened, a rule file).
    pub(crate) fn of(source: impl Into<String>, kind: Kind) -> Problem {
        Problem {
            at: Location {
                source: Some(source.into()),
                line: None,
                offset: None,
            },
            kind,
        }
    }

    /// The same problem, at `line`.
    pub(crate) fn at_line(mut self, line: usize) -> Problem {
        self.at.line = Some(line as u64);
        self
    }

    /// The problem read from an I/O error: a truncated compressed stream, or another read error.
    pub(crate) fn read(offset: Option<u64>, e: &std::io::Error) -> Problem {
        let kind = if e.kind() == std::io::ErrorKind::UnexpectedEof {
            Kind::Truncated
        } else {
            Kind::Read(e.to_string())
        };
        Problem::at(None, offset, kind)
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Location {
            source,
            line,
            offset,
        } = &self.at;
        match (source, line, offset) {
            (Some(s), Some(l), _) => write!(f, "{s}:{l}: {}", self.kind),
            (Some(s), None, Some(o)) => write!(f, "{s} (byte {o}): {}", self.kind),
            (Some(s), None, None) => write!(f, "{s}: {}", self.kind),
            (None, Some(l), _) => write!(f, "line {l}: {}", self.kind),
            (None, None, Some(o)) => write!(f, "byte {o}: {}", self.kind),
            (None, None, None) => write!(f, "{}", self.kind),
        }
    }
}

/// As the JSON report lists an input's problems: `{"line", "offset", "message"}` (the input is
/// the object the list sits in).
impl Serialize for Problem {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("Problem", 3)?;
        s.serialize_field("line", &self.at.line)?;
        s.serialize_field("offset", &self.at.offset)?;
        s.serialize_field("message", &self.kind.to_string())?;
        s.end()
    }
}

/// A problem as a JSON report listed it, read back (`rotdiag merge`): the message is kept as it
/// was written, so the merged report lists it unchanged.
impl<'de> Deserialize<'de> for Problem {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Problem, D::Error> {
        #[derive(Deserialize)]
        struct Listed {
            line: Option<u64>,
            offset: Option<u64>,
            message: String,
        }
        let l = Listed::deserialize(d)?;
        Ok(Problem::at(l.line, l.offset, Kind::Reported(l.message)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `p`, placed in `source`.
    fn in_source(mut p: Problem, source: &str) -> Problem {
        p.at.source = Some(source.to_owned());
        p
    }

    #[test]
    fn display_names_the_place_as_compilers_do() {
        let p = Problem::at(Some(12), Some(400), Kind::LineTooLong { max_mib: 16 });
        assert_eq!(
            p.to_string(),
            "line 12: line longer than 16 MiB; the rest of it was skipped"
        );
        assert_eq!(
            in_source(p.clone(), "logs/a.txt").to_string(),
            "logs/a.txt:12: line longer than 16 MiB; the rest of it was skipped"
        );
        let p = in_source(Problem::at(None, Some(70), Kind::Truncated), "<stdin>");
        assert!(
            p.to_string()
                .starts_with("<stdin> (byte 70): compressed data ends early")
        );
        assert_eq!(
            Problem::of("rules/x.toml", Kind::Rule("unknown cause 'y'".into()))
                .at_line(3)
                .to_string(),
            "rules/x.toml:3: unknown cause 'y'"
        );
        assert_eq!(
            Problem::of("x.log", Kind::Empty { bytes: 0 }).to_string(),
            "x.log: empty input (0 bytes): nothing to diagnose"
        );
    }

    #[test]
    fn serialized_as_line_offset_and_message() {
        let p = in_source(
            Problem::at(Some(3), None, Kind::Decode("invalid JSON".into())),
            "x",
        );
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"line":3,"offset":null,"message":"invalid JSON"}"#
        );
        let e = std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "eof");
        assert_eq!(Problem::read(Some(5), &e).kind, Kind::Truncated);
        let e = std::io::Error::other("disk on fire");
        assert_eq!(
            Problem::read(None, &e).to_string(),
            "read error: disk on fire; everything before this point was read"
        );
    }
}
