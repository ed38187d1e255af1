//! The summary per secret: for each secret (and the functions that rotate it), its rotations,
//! the last that succeeded and the last that failed, its status now (that of its latest
//! rotation), and the causes of its failed rotations, most frequent first.
//!
//! Computed from the run's rotation records and diagnoses only, after redaction, so every format
//! shows the same, and a merge of partial reports can compute it again from their `rotations`.
//! Rotations that name no secret are summed per function (`secret` empty); the diagnoses of a
//! secret are those whose subject it is.

use std::collections::BTreeMap;

use serde::Serialize;

use super::egress::{Ranked, Shown};
use crate::lambda::rotation::{RotationStatus, RotationView};
use crate::time::{EpochMs, format_iso};

/// The summary of one secret.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct SecretSummary<'a> {
    /// Its ARN (`None`: rotations that name no secret, grouped by function).
    pub(crate) secret: Option<&'a str>,
    /// The functions whose logs hold its rotations.
    pub(crate) functions: Vec<&'a str>,
    pub(crate) rotations: u64,
    pub(crate) succeeded: u64,
    pub(crate) failed: u64,
    /// The status of its latest rotation: `succeeded`, `failed` or `incomplete`.
    pub(crate) status: &'static str,
    /// When its latest rotation last did something.
    pub(crate) status_at: Option<String>,
    /// When the last successful rotation finished (its last invocation started).
    pub(crate) last_success: Option<String>,
    /// When the last failed rotation last did something.
    pub(crate) last_failure: Option<String>,
    /// The causes of its failed rotations, most frequent first (ties: by name).
    pub(crate) causes: Vec<CauseCount<'a>>,
    /// The ranks of the diagnoses about it.
    pub(crate) diagnoses: Vec<usize>,
}

/// A cause and how many rotations it failed.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub(crate) struct CauseCount<'a> {
    pub(crate) cause: &'a str,
    pub(crate) rotations: u64,
}

impl SecretSummary<'_> {
    /// Does it fail now?
    pub(crate) fn failing(&self) -> bool {
        self.status == RotationStatus::Failed.name()
    }

    pub(crate) fn top_cause(&self) -> Option<&CauseCount<'_>> {
        self.causes.first()
    }
}

/// What is gathered for one secret while going through the rotations.
#[derive(Default)]
struct Acc<'a> {
    functions: Vec<&'a str>,
    rotations: u64,
    succeeded: u64,
    failed: u64,
    latest: Option<(Option<EpochMs>, RotationStatus)>,
    last_success: Option<EpochMs>,
    last_failure: Option<EpochMs>,
    causes: BTreeMap<&'a str, u64>,
}

impl<'a> Acc<'a> {
    fn add(&mut self, r: &RotationView<'a>) {
        self.rotations += 1;
        if let Some(f) = r.function
            && !self.functions.contains(&f)
        {
            self.functions.push(f);
        }
        let at = r.last_start();
        // The rotation list is in order of first start, so the last one seen started last.
        self.latest = Some((at, r.status));
        match r.status {
            RotationStatus::Succeeded => {
                self.succeeded += 1;
                self.last_success = self.last_success.max(at);
            }
            RotationStatus::Failed => {
                self.failed += 1;
                self.last_failure = self.last_failure.max(at);
                if let Some(c) = r.cause {
                    *self.causes.entry(c).or_default() += 1;
                }
            }
            RotationStatus::Incomplete => {}
        }
    }

    fn finish(self, secret: Option<&'a str>, diagnoses: Vec<usize>) -> SecretSummary<'a> {
        let mut causes: Vec<CauseCount> = self
            .causes
            .into_iter()
            .map(|(cause, rotations)| CauseCount { cause, rotations })
            .collect();
        causes.sort_by(|a, b| b.rotations.cmp(&a.rotations).then(a.cause.cmp(b.cause)));
        let mut functions = self.functions;
        functions.sort_unstable();
        let (at, status) = self.latest.unwrap_or((None, RotationStatus::Incomplete));
        SecretSummary {
            secret,
            functions,
            rotations: self.rotations,
            succeeded: self.succeeded,
            failed: self.failed,
            status: status.name(),
            status_at: at.map(format_iso),
            last_success: self.last_success.map(format_iso),
            last_failure: self.last_failure.map(format_iso),
            causes,
            diagnoses,
        }
    }
}

/// The summary of every secret of `run`: those failing now first, then by failed rotations (most
/// first), then the latest failure first, then by name.
pub(crate) fn summarize<'a>(shown: &'a Shown, diagnoses: &Ranked) -> Vec<SecretSummary<'a>> {
    let run = shown.run();
    // Keyed by secret, or for rotations without one by function.
    let mut by: BTreeMap<(Option<&str>, Option<&str>), Acc> = BTreeMap::new();
    for r in run.rotations.iter() {
        let key = match r.secret {
            Some(s) => (Some(s), None),
            None => (None, r.function),
        };
        by.entry(key).or_default().add(&r);
    }
    let secrets = diagnoses.secrets();
    let mut ranks: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, s) in secrets.iter().enumerate() {
        if let Some(s) = s {
            ranks.entry(s).or_default().push(i + 1);
        }
    }
    let mut out: Vec<SecretSummary> = by
        .into_iter()
        .map(|((secret, _), acc)| {
            let diagnoses = secret
                .and_then(|s| ranks.get(s).cloned())
                .unwrap_or_default();
            acc.finish(secret, diagnoses)
        })
        .collect();
    out.sort_by(|a, b| {
        b.failing()
            .cmp(&a.failing())
            .then(b.failed.cmp(&a.failed))
            .then(b.last_failure.cmp(&a.last_failure))
            .then(a.secret.is_none().cmp(&b.secret.is_none()))
            .then(a.secret.cmp(&b.secret))
            .then(a.functions.cmp(&b.functions))
    });
    out
}

/// How many secrets each cause failed, and how many rotations: the causes of a summary, most
/// rotations first.
pub(crate) fn causes<'a>(secrets: &[SecretSummary<'a>]) -> Vec<(&'a str, u64, u64)> {
    let mut by: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for s in secrets {
        for c in &s.causes {
            let e = by.entry(c.cause).or_default();
            e.0 += 1;
            e.1 += c.rotations;
        }
    }
    let mut out: Vec<(&str, u64, u64)> = by.into_iter().map(|(c, (s, r))| (c, s, r)).collect();
    out.sort_by(|a, b| b.2.cmp(&a.2).then(b.1.cmp(&a.1)).then(a.0.cmp(b.0)));
    out
}
