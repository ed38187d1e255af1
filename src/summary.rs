//! The run summary: what was read from each input, and the totals the reports show beside the
//! diagnoses (inputs, bytes, records, invocations, rotations).
//!
//! The pipeline fills it in; the reports read it. It lives apart from both so that `report` does
//! not depend on `pipeline` (the module that runs everything), only on what a run found.

use serde::Serialize;

use crate::problem::Problem;

/// What was read from one input.
#[derive(Clone, Debug, Serialize)]
pub struct InputReport {
    pub source: String,
    pub format: String,
    pub records: u64,
    pub skipped: u64,
    /// Records left out by `--since` / `--until`.
    pub filtered: u64,
    /// Records kept although `--since` / `--until` was given, because nothing in the input
    /// before them carried a timestamp.
    #[serde(skip_serializing_if = "is_zero")]
    pub untimed: u64,
    pub bytes: u64,
    pub errors: Vec<Problem>,
    /// False when the input could not be opened or read at all.
    #[serde(skip)]
    pub readable: bool,
}

impl InputReport {
    /// The report of an input about to be read (its format not known yet).
    pub fn new(source: String) -> InputReport {
        InputReport {
            source,
            format: "unknown".into(),
            records: 0,
            skipped: 0,
            filtered: 0,
            untimed: 0,
            bytes: 0,
            errors: Vec::new(),
            readable: true,
        }
    }

    /// The report of an input that could not be opened at all.
    pub fn unreadable(source: String, problem: Problem) -> InputReport {
        InputReport {
            errors: vec![problem],
            readable: false,
            ..InputReport::new(source)
        }
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Rotations seen, for the report summary (each counted once, however many inputs held a piece).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RotationCounts {
    pub rotations: u64,
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
pub struct Totals {
    pub inputs: u64,
    pub bytes: u64,
    pub records: u64,
    pub skipped: u64,
    pub filtered: u64,
}

impl Summary {
    pub fn totals(&self) -> Totals {
        let mut t = Totals {
            inputs: self.inputs.len() as u64,
            ..Totals::default()
        };
        for i in &self.inputs {
            t.bytes += i.bytes;
            t.records += i.records;
            t.skipped += i.skipped;
            t.filtered += i.filtered;
        }
        t
    }
}
