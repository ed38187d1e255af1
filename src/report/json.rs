//! `--format json`: one document, stable field names (the contract is
//! `schema/report.schema.json`, its version [`SCHEMA_VERSION`]).
//!
//! Beside the diagnoses, the document carries every rotation (`rotations`) and the summary per
//! secret (`secrets`) so scripts need not rebuild them, and what a merge of partial reports needs
//! to give what one run over all the inputs would have (README, "JSON report"): each diagnosis'
//! `subject` (with `cause`, the key diagnoses are merged by) and `representative` (the unrounded
//! confidence and place that choose which occurrence is shown), the inputs in order, the
//! rotations by token (every one with `--all-rotations`), and the `settings` the results depend
//! on (the rule set's fingerprint, `--since`, `--until`, `--input-format`): `rotdiag merge`
//! (`crate::merge`) reads them back.

use std::cell::RefCell;
use std::io::{self, Write};

use serde::Serialize;
use serde::ser::Serializer;

use super::egress::Shown;
use super::secrets::{SecretSummary, summarize};
use super::{Layout, Page, SCHEMA_VERSION};
use crate::diagnosis::Diagnosis;
use crate::diagnosis::timeline::Timeline;
use crate::engine::trace::Trace;
use crate::lambda::rotation::{RotationList, RotationStatus, RotationView};
use crate::redact::is_control;
use crate::summary::{InputReport, Settings, Totals};
use crate::time::format_iso;

#[derive(Serialize)]
struct Document<'a, D: Serialize> {
    schema_version: u32,
    version: &'static str,
    settings: &'a Settings,
    inputs: &'a [InputReport],
    summary: Counts,
    diagnoses: D,
    secrets: Vec<SecretSummary<'a>>,
    #[serde(serialize_with = "rotations")]
    rotations: Rotations<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    timeline: Option<&'a Timeline>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trace: Option<&'a Trace>,
}

/// The document's `summary` object (and the ndjson summary record's).
#[derive(Serialize)]
pub(crate) struct Counts {
    #[serde(flatten)]
    read: Totals,
    invocations: u64,
    rotations: u64,
    failed_rotations: u64,
    succeeded_rotations: u64,
    diagnoses: usize,
    secrets: usize,
}

impl Counts {
    /// The counts of `shown`, with `diagnoses` diagnoses and `secrets` secrets.
    pub(crate) fn of(shown: &Shown, diagnoses: usize, secrets: usize) -> Counts {
        let run = shown.run();
        let summary = &run.summary;
        Counts {
            read: summary.totals(),
            invocations: summary.invocations,
            rotations: summary.rotations.rotations,
            failed_rotations: summary.rotations.failed,
            succeeded_rotations: summary.rotations.succeeded,
            diagnoses,
            secrets,
        }
    }
}

/// One rotation, as the reports show it.
#[derive(Serialize)]
pub(crate) struct RotationOut<'a> {
    secret: Option<&'a str>,
    token: Option<String>,
    function: Option<&'a str>,
    status: &'static str,
    cause: Option<&'a str>,
    start: Option<String>,
    steps: Vec<StepOut>,
}

#[derive(Serialize)]
struct StepOut {
    step: Option<&'static str>,
    inferred: bool,
    request_id: Option<String>,
    start: Option<String>,
    duration_ms: Option<f64>,
    outcome: &'static str,
}

impl<'a> RotationOut<'a> {
    pub(crate) fn of(r: &RotationView<'a>) -> RotationOut<'a> {
        RotationOut {
            secret: r.secret,
            token: r.token.map(|t| t.to_string()),
            function: r.function,
            status: r.status.name(),
            cause: r.cause,
            start: r.start().map(format_iso),
            steps: r
                .steps
                .iter()
                .map(|s| StepOut {
                    step: s.step().map(|s| s.name()),
                    inferred: s.inferred(),
                    request_id: s.request_id().map(|r| r.to_string()),
                    start: s.start().map(format_iso),
                    duration_ms: s.duration_ms(),
                    outcome: s.outcome().name(),
                })
                .collect(),
        }
    }
}

/// The rotations a report lists: those that did not succeed, or all of them.
#[derive(Clone, Copy)]
pub(crate) struct Rotations<'a> {
    list: &'a RotationList,
    all: bool,
}

impl<'a> Rotations<'a> {
    pub(crate) fn of(run: &'a super::Run, layout: &Layout) -> Rotations<'a> {
        Rotations {
            list: &run.rotations,
            all: layout.all_rotations,
        }
    }

    pub(crate) fn iter(self) -> impl Iterator<Item = RotationView<'a>> {
        self.list
            .iter()
            .filter(move |r| self.all || r.status != RotationStatus::Succeeded)
    }
}

/// The rotations, one per line (each compact, made and written one at a time: a month of logs
/// holds 150,000 of them).
fn rotations<S: Serializer>(list: &Rotations, s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(list.iter().map(OneLine))
}

/// Diagnoses made and redacted a chunk at a time as they are written ([`egress::Ranked::stream`](super::egress::Ranked::stream)):
/// serde serializes what it borrows, so the iterator is in a cell, and each serialization
/// writes what is left of it (the document is written once).
struct Stream<I>(RefCell<I>);

impl<I: Iterator<Item = Diagnosis>> Serialize for Stream<I> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(&mut *self.0.borrow_mut())
    }
}

/// A rotation written compact, on a line of its own inside the pretty document.
struct OneLine<'a>(RotationView<'a>);

impl Serialize for OneLine<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::Error;
        let mut line = Vec::new();
        let mut ser = serde_json::Serializer::with_formatter(&mut line, Compact::default());
        RotationOut::of(&self.0)
            .serialize(&mut ser)
            .map_err(S::Error::custom)?;
        let line = String::from_utf8(line).map_err(S::Error::custom)?;
        serde_json::value::RawValue::from_string(line)
            .map_err(S::Error::custom)?
            .serialize(s)
    }
}

pub(crate) fn write(page: Page, out: &mut dyn Write) -> io::Result<()> {
    let run = page.shown.run();
    let secrets = summarize(page.shown, &page.diagnoses);
    let doc = Document {
        schema_version: SCHEMA_VERSION,
        version: env!("CARGO_PKG_VERSION"),
        settings: &run.summary.settings,
        inputs: &run.summary.inputs,
        summary: Counts::of(page.shown, page.diagnoses.len(), secrets.len()),
        diagnoses: Stream(RefCell::new(page.diagnoses.stream())),
        secrets,
        rotations: Rotations::of(run, page.layout),
        timeline: run.timeline.as_ref(),
        trace: run.trace.as_ref(),
    };
    let mut ser = serde_json::Serializer::with_formatter(&mut *out, Pretty::default());
    doc.serialize(&mut ser)?;
    out.write_all(b"\n")
}

/// serde_json's formatter `F`, also escaping what it leaves raw but a terminal obeys: DEL, the
/// C1 controls (`U+009B` is CSI) and bidirectional overrides, as `\uXXXX` (C0 controls it
/// escapes already). `jq` and every JSON parser read the escapes back to the same text.
#[derive(Default)]
pub(crate) struct Escaping<F>(F);

/// The JSON document's formatter: pretty, escaping what a terminal obeys.
pub(crate) type Pretty = Escaping<serde_json::ser::PrettyFormatter<'static>>;
/// ndjson's: one line per record, escaping the same.
pub(crate) type Compact = Escaping<serde_json::ser::CompactFormatter>;

impl<F: serde_json::ser::Formatter> serde_json::ser::Formatter for Escaping<F> {
    fn write_string_fragment<W: ?Sized + Write>(&mut self, w: &mut W, s: &str) -> io::Result<()> {
        // Printable ASCII holds no control character: written whole. The check is one pass the
        // compiler vectorises; walking the characters of every string of a report of thousands
        // of diagnoses was most of the time spent writing it.
        if s.bytes()
            .fold(true, |ok, b| ok & (b' '..=b'~').contains(&b))
        {
            return w.write_all(s.as_bytes());
        }
        let mut start = 0;
        for (i, c) in s.char_indices() {
            if is_control(c) {
                w.write_all(&s.as_bytes()[start..i])?;
                write!(w, "\\u{:04x}", c as u32)?;
                start = i + c.len_utf8();
            }
        }
        w.write_all(&s.as_bytes()[start..])
    }
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_a_terminal_obeys_are_escaped() {
        let mut out = Vec::new();
        let mut ser = serde_json::Serializer::with_formatter(&mut out, Pretty::default());
        ["a\r\x1b[2J\u{9b}\u{7f}\u{202e}é✓"]
            .serialize(&mut ser)
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(!text.chars().any(is_control), "{text:?}");
        assert!(text.contains(r"a\r\u001b[2J\u009b\u007f\u202eé✓"), "{text}");
        let back: Vec<String> = serde_json::from_str(&text).unwrap();
        assert_eq!(back, ["a\r\x1b[2J\u{9b}\u{7f}\u{202e}é✓"]);
    }

    #[test]
    fn printable_ascii_is_written_whole_and_its_edges_are_not() {
        let mut out = Vec::new();
        let mut ser = serde_json::Serializer::with_formatter(&mut out, Compact::default());
        [" plain ~ASCII}", "tilde~\u{7f}", "\u{1f}x"]
            .serialize(&mut ser)
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text, r#"[" plain ~ASCII}","tilde~\u007f","\u001fx"]"#);
    }
}
