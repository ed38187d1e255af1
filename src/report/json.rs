//! `--format json`: one document, stable field names (the contract in the README).

use std::io::{self, Write};

use serde::Serialize;

use crate::diagnosis::Diagnosis;
use crate::summary::{InputReport, Summary, Totals};

#[derive(Serialize)]
struct Document<'a> {
    version: &'static str,
    inputs: &'a [InputReport],
    summary: Counts,
    diagnoses: &'a [Diagnosis],
}

/// The document's `summary` object.
#[derive(Serialize)]
struct Counts {
    #[serde(flatten)]
    read: Totals,
    invocations: u64,
    rotations: u64,
    failed_rotations: u64,
    succeeded_rotations: u64,
}

pub fn write(summary: &Summary, diagnoses: &[Diagnosis], out: &mut dyn Write) -> io::Result<()> {
    let doc = Document {
        version: env!("CARGO_PKG_VERSION"),
        inputs: &summary.inputs,
        summary: Counts {
            read: summary.totals(),
            invocations: summary.invocations,
            rotations: summary.rotations.rotations,
            failed_rotations: summary.rotations.failed,
            succeeded_rotations: summary.rotations.succeeded,
        },
        diagnoses,
    };
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    out.write_all(b"\n")
}
