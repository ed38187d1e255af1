//! The timeline of one secret's (or one version token's) rotations: `createSecret -> setSecret ->
//! testSecret -> finishSecret`, each invocation with its start, duration, attempt, timeout and
//! the line that failed. The view a person reads when the ranked cause is not enough.
//!
//! Built from the rotations the run kept whole for it (`lambda::rotation::Keep`), after the
//! run: pieces of one rotation (closed apart, in several inputs) are put back together by token.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use super::Evidence;
use crate::aws::RequestId;
use crate::engine;
use crate::lambda::invocation::{Invocation, KeptLine};
use crate::lambda::line::{Kind, Level};
use crate::lambda::rotation::{Rotation, RotationStatus, Selector, StepOutcome, is_cloudtrail};
use crate::rules::RuleSet;
use crate::time::format_iso;

/// The rotations of one secret or token, oldest first.
#[derive(Clone, Debug, Serialize)]
pub struct Timeline {
    /// What was asked for, as typed.
    pub(crate) selector: String,
    pub(crate) rotations: Vec<TimelineRotation>,
}

#[derive(Clone, Debug, Serialize)]
pub(crate) struct TimelineRotation {
    pub(crate) secret: Option<String>,
    pub(crate) token: Option<String>,
    pub(crate) function: Option<String>,
    pub(crate) status: &'static str,
    /// The cause of its best-scored failure.
    pub(crate) cause: Option<String>,
    pub(crate) steps: Vec<TimelineStep>,
}

/// One invocation.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct TimelineStep {
    pub(crate) step: Option<&'static str>,
    /// The step was inferred from the invocation before it (it logged none).
    pub(crate) inferred: bool,
    /// 1 for the first invocation of this step in the rotation, 2 for its first retry, …
    pub(crate) attempt: u32,
    pub(crate) request_id: Option<String>,
    pub(crate) start: Option<String>,
    pub(crate) duration_ms: Option<f64>,
    pub(crate) outcome: &'static str,
    /// The function's configured timeout, when the invocation ran into it.
    pub(crate) timeout_ms: Option<f64>,
    /// The line that shows why it failed (its error, or for a timeout the last thing it did).
    pub(crate) failed_line: Option<Evidence>,
}

/// The timeline of the kept rotations `kept` that `selector` names. `sources` names inputs.
pub(crate) fn build(
    selector: &Selector,
    kept: Vec<Rotation>,
    rules: &RuleSet,
    sources: &[(u64, String)],
) -> Timeline {
    let names: BTreeMap<u64, Arc<str>> = sources
        .iter()
        .map(|(i, s)| (*i, Arc::from(s.as_str())))
        .collect();
    let mut rotations: Vec<TimelineRotation> = join_pieces(kept)
        .into_iter()
        .filter(|r| selector.matches(r))
        .map(|r| rotation(&r, rules, &names))
        .collect();
    rotations.sort_by(|a, b| {
        let start = |r: &TimelineRotation| r.steps.iter().find_map(|s| s.start.clone());
        (start(a).is_none(), start(a), &a.token).cmp(&(start(b).is_none(), start(b), &b.token))
    });
    Timeline {
        selector: selector.text().to_string(),
        rotations,
    }
}

/// Pieces of one rotation (same token) as one, their invocations in time order.
fn join_pieces(kept: Vec<Rotation>) -> Vec<Rotation> {
    let mut out: Vec<Rotation> = Vec::new();
    for piece in kept {
        let same = piece
            .token
            .as_ref()
            .and_then(|t| out.iter().position(|r| r.token.as_ref() == Some(t)));
        match same {
            Some(i) => {
                let r = &mut out[i];
                r.succeeded |= piece.succeeded;
                r.secret = r.secret.take().or(piece.secret);
                r.invocations.extend(piece.invocations);
            }
            None => out.push(piece),
        }
    }
    for r in &mut out {
        r.invocations
            .sort_by_key(|i| (i.first_ts.is_none(), i.first_ts, i.source, i.first_line));
    }
    out
}

fn rotation(rot: &Rotation, rules: &RuleSet, names: &BTreeMap<u64, Arc<str>>) -> TimelineRotation {
    let cause = engine::evaluate(rot, rules)
        .into_iter()
        .reduce(|a, b| if b.confidence > a.confidence { b } else { a })
        .map(|o| rules.causes[o.cause].id.clone());
    let status = RotationStatus::of(rot);
    let mut attempts: BTreeMap<Option<&'static str>, u32> = BTreeMap::new();
    let steps = rot
        .invocations
        .iter()
        .filter(|i| !is_cloudtrail(i))
        .map(|inv| {
            let step = inv.step.map(|s| s.name());
            let n = attempts.entry(step).or_default();
            *n += 1;
            step_of(inv, *n, names)
        })
        .collect();
    TimelineRotation {
        secret: rot.secret.clone(),
        token: rot.token.clone(),
        function: rot
            .invocations
            .iter()
            .find_map(|i| i.facts.get(rules.known.function_name))
            .map(str::to_owned),
        status: status.name(),
        cause,
        steps,
    }
}

fn step_of(inv: &Invocation, attempt: u32, names: &BTreeMap<u64, Arc<str>>) -> TimelineStep {
    let outcome = StepOutcome::of(inv);
    TimelineStep {
        step: inv.step.map(|s| s.name()),
        inferred: inv.step_inferred,
        attempt,
        request_id: inv.request_id.map(|r| r.to_string()),
        start: inv.first_ts.map(format_iso),
        // As REPORT prints it (two decimals), not as the sum that parsed it.
        duration_ms: inv.duration_ms().map(|d| (d * 100.0).round() / 100.0),
        outcome: outcome.name(),
        timeout_ms: inv.configured_timeout_ms(),
        failed_line: inv
            .failed()
            .then(|| failed_line(inv))
            .flatten()
            .map(|l| evidence(l, names)),
    }
}

/// The line that shows why an invocation failed: its first error (an unhandled exception, an
/// ERROR or CRITICAL line, a runtime exit), else for a timeout the last thing it did before it
/// hung, else its last kept line.
fn failed_line(inv: &Invocation) -> Option<&KeptLine> {
    let error = inv.lines.iter().find(|l| {
        matches!(
            l.kind,
            Kind::Unhandled | Kind::RuntimeExit | Kind::CloudTrail
        ) || l.level >= Some(Level::Error)
    });
    error
        .or_else(|| inv.timed_out().then(|| inv.last_activity()).flatten())
        .or_else(|| {
            inv.lines
                .iter()
                .rev()
                .find(|l| !matches!(l.kind, Kind::Report | Kind::End | Kind::Start))
        })
        .or_else(|| inv.lines.last())
}

fn evidence(l: &KeptLine, names: &BTreeMap<u64, Arc<str>>) -> Evidence {
    Evidence {
        source: names
            .get(&l.source)
            .cloned()
            .unwrap_or_else(|| format!("input {}", l.source).into()),
        line: l.line,
        timestamp: l.timestamp.map(format_iso),
        request_id: l.request_id.map(|r: RequestId| r.to_string()),
        text: l.text.clone(),
    }
}
