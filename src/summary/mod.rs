//! The run summary: what was read from each input, and the totals the reports show beside the
//! diagnoses (inputs, bytes, records, invocations, rotations).
//!
//! The pipeline fills it in; the reports read it. It lives apart from both so that `report` does
//! not depend on `pipeline` (the module that runs everything), only on what a run found. How far
//! each input was read ([`InputState`]) is what the exit status is made of.

mod state;

pub use state::InputState;

use serde::Serialize;

use crate::problem::Problem;

/// What was read from one input.
#[derive(Clone, Debug, Serialize)]
pub struct InputReport {
    pub(crate) source: String,
    /// The shape it was decoded as: exactly an `--input-format` value (`unknown` before
    /// detection).
    pub(crate) format: String,
    /// What was peeled off before decoding, outermost last: `gzip`, `utf-16le`, `in tar`, …
    pub(crate) transport: Vec<String>,
    pub records: u64,
    pub(crate) skipped: u64,
    /// Records left out by `--since` / `--until`.
    pub(crate) filtered: u64,
    /// Records kept although `--since` / `--until` was given, because nothing in the input
    /// before them carried a timestamp.
    #[serde(skip_serializing_if = "is_zero")]
    pub(crate) untimed: u64,
    pub(crate) bytes: u64,
    pub(crate) errors: Vec<Problem>,
    /// How far it was read: `read`, `empty`, `incomplete`, `unread`, `skipped`.
    pub state: InputState,
}

impl InputReport {
    /// The format and its transport layers for a person: `s3-export (gzip)`.
    pub(crate) fn format_shown(&self) -> String {
        if self.transport.is_empty() {
            self.format.clone()
        } else {
            format!("{} ({})", self.format, self.transport.join(", "))
        }
    }

    /// The report of an input about to be read (its format not known yet).
    pub(crate) fn new(source: String) -> InputReport {
        InputReport {
            source,
            format: "unknown".into(),
            transport: Vec::new(),
            records: 0,
            skipped: 0,
            filtered: 0,
            untimed: 0,
            bytes: 0,
            errors: Vec::new(),
            state: InputState::Read,
        }
    }

    /// The report of an input that could not be read at all (or was skipped on purpose).
    pub(crate) fn unread(source: String, state: InputState, problem: Problem) -> InputReport {
        InputReport {
            errors: vec![problem],
            state,
            ..InputReport::new(source)
        }
    }

    /// Marks the input read in part (a read error, a file that shrank), with the reason.
    pub(crate) fn incomplete(&mut self, problem: Problem) {
        self.state = self.state.worst(InputState::Incomplete);
        self.errors.push(problem);
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Rotations seen, for the report summary (each counted once, however many inputs held a piece).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RotationCounts {
    pub(crate) rotations: u64,
    pub failed: u64,
    pub succeeded: u64,
}

/// What a run read and found, apart from the diagnoses.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// Every input, in the order given (inputs that could not be opened last).
    pub inputs: Vec<InputReport>,
    /// Lambda invocations seen.
    pub invocations: u64,
    pub rotations: RotationCounts,
}

/// Totals over every input: what was read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Totals {
    /// Inputs read (in full, in part, or found empty).
    pub(crate) inputs: u64,
    /// Inputs that could not be read at all (a missing path is not an input of data).
    pub(crate) unread: u64,
    pub(crate) bytes: u64,
    pub(crate) records: u64,
    pub(crate) skipped: u64,
    pub(crate) filtered: u64,
}

impl Summary {
    pub(crate) fn totals(&self) -> Totals {
        let mut t = Totals::default();
        for i in &self.inputs {
            if i.state.was_read() {
                t.inputs += 1;
            } else if i.state.is_failure() {
                t.unread += 1;
            }
            t.bytes += i.bytes;
            t.records += i.records;
            t.skipped += i.skipped;
            t.filtered += i.filtered;
        }
        t
    }
}
