//! `--format json`: one document, stable field names (the contract in the README).

use std::io::{self, Write};

use serde::Serialize;

use crate::diagnosis::Diagnosis;
use crate::pipeline::{InputReport, Run};

#[derive(Serialize)]
struct Document<'a> {
    version: &'static str,
    inputs: &'a [InputReport],
    summary: Summary,
    diagnoses: &'a [Diagnosis],
}

#[derive(Serialize)]
struct Summary {
    #[serde(flatten)]
    read: super::Read,
    invocations: u64,
    rotations: u64,
    failed_rotations: u64,
    succeeded_rotations: u64,
}

pub fn write(run: &Run, out: &mut dyn Write) -> io::Result<()> {
    let doc = Document {
        version: env!("CARGO_PKG_VERSION"),
        inputs: &run.inputs,
        summary: Summary {
            read: super::Read::of(run),
            invocations: run.invocations,
            rotations: run.counts.rotations,
            failed_rotations: run.counts.failed,
            succeeded_rotations: run.counts.succeeded,
        },
        diagnoses: &run.diagnoses,
    };
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    out.write_all(b"\n")
}
