//! `--format ndjson`: one JSON object per line, each with `schema_version` and `type`: every
//! diagnosis (`"type": "diagnosis"`, best first), then every secret (`secret`), every rotation
//! (`rotation`), the timeline's rotations when one was asked for (`timeline`), and last the
//! summary (`summary`: rotdiag's version, the inputs, and the counts under `summary` as in the
//! document), so a reader that stops early still has the diagnoses. The fields of each record are those of the JSON document's entries of the same kind
//! (`schema/report.schema.json` describes both).
//!
//! A batch run writes them when it ends. Follow mode first writes each diagnosis and each
//! rotation's outcome as soon as it is decided, marked `"live": true` ([`super::live`]), then
//! these records when it stops.

use std::io::{self, Write};

use serde::Serialize;

use super::Page;
use super::SCHEMA_VERSION;
use super::json::{Compact, Counts, RotationOut, Rotations};
use super::secrets::summarize;
use crate::summary::{InputReport, Settings};

/// One line: the schema version, the record's type, then its fields.
#[derive(Serialize)]
struct Line<'a, T: Serialize> {
    schema_version: u32,
    #[serde(rename = "type")]
    kind: &'a str,
    /// Follow mode's report of a decision, written before the full report.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    live: bool,
    #[serde(flatten)]
    body: T,
}

/// The last line: what the JSON document holds besides its lists.
#[derive(Serialize)]
struct End<'a> {
    version: &'static str,
    settings: &'a Settings,
    inputs: &'a [InputReport],
    summary: Counts,
}

pub(crate) fn write(page: Page, out: &mut dyn Write) -> io::Result<()> {
    let run = page.shown.run();
    let secrets = summarize(page.shown, &page.diagnoses);
    let count = page.diagnoses.len();
    for d in page.diagnoses.stream() {
        line(out, "diagnosis", d)?;
    }
    for s in &secrets {
        line(out, "secret", s)?;
    }
    for r in Rotations::of(run, page.layout).iter() {
        line(out, "rotation", RotationOut::of(&r))?;
    }
    if let Some(t) = &run.timeline {
        for r in &t.rotations {
            line(out, "timeline", r)?;
        }
    }
    if let Some(t) = &run.trace {
        line(out, "trace", t)?;
    }
    let end = End {
        version: env!("CARGO_PKG_VERSION"),
        settings: &run.summary.settings,
        inputs: &run.summary.inputs,
        summary: Counts::of(page.shown, count, secrets.len()),
    };
    line(out, "summary", end)
}

fn line<T: Serialize>(out: &mut dyn Write, kind: &str, body: T) -> io::Result<()> {
    record(out, kind, false, body)
}

/// A record of follow mode (`"live": true`).
pub(super) fn live_line<T: Serialize>(out: &mut dyn Write, kind: &str, body: T) -> io::Result<()> {
    record(out, kind, true, body)
}

fn record<T: Serialize>(out: &mut dyn Write, kind: &str, live: bool, body: T) -> io::Result<()> {
    let record = Line {
        schema_version: SCHEMA_VERSION,
        kind,
        live,
        body,
    };
    let mut ser = serde_json::Serializer::with_formatter(&mut *out, Compact::default());
    record.serialize(&mut ser)?;
    out.write_all(b"\n")
}
