//! Rule evaluation: a closed rotation that did not succeed -> scored cause occurrences.
//!
//! For every failed invocation of the rotation, each symptom's trigger is tested. When it holds,
//! every candidate cause is scored: `z = prior + Σ weight` over the evidence conditions that hold,
//! and turned into a probability with a softmax that also includes "a cause these rules do not
//! know" (score `unknown_weight`, 0 by default). The best candidate becomes an [`Occurrence`]; the
//! others are its alternatives. Symptoms come in tiers: `generic` ones (any access denial) are
//! tried only for invocations no `specific` one explained, `fallback` ones (`unexplained-failure`)
//! only when nothing else did. The README's "Confidence" section documents this.
//!
//! CloudTrail events of the rotation are scored the same way, then correlated with what the Lambda
//! logs gave ([`correlate`]): a CloudTrail event that points at the same cause is more evidence for
//! that diagnosis, not a second one; an event that only says the rotation failed (`RotationFailed
//! … during setSecret step`) is evidence of the diagnosis of that step.

pub mod condition;
mod correlate;
mod template;

pub use correlate::correlate;
pub use template::{derive_facts, facts_for, placeholders, render};

use std::collections::BTreeMap;

use crate::lambda::Step;
use crate::lambda::invocation::KeptLine;
use crate::lambda::rotation::{Rotation, is_cloudtrail, is_rotation_related};
use crate::rules::{RuleSet, Severity, Tier};
use crate::time::EpochMs;
use condition::Context;

/// The highest confidence rotdiag states.
pub const MAX_CONFIDENCE: f64 = 0.99;

/// One diagnosed failure: the winning cause for one failed invocation.
#[derive(Clone, Debug)]
pub struct Occurrence {
    pub cause: usize,
    pub symptom: usize,
    pub candidate: usize,
    pub confidence: f64,
    pub severity: Severity,
    /// Other candidates of the symptom with their confidence, best first.
    pub alternatives: Vec<(usize, f64)>,
    pub evidence: Vec<KeptLine>,
    /// Explanations of the evidence that weighed in (templates, rendered later).
    pub why: Vec<String>,
    pub facts: BTreeMap<String, String>,
    pub step: Option<Step>,
    pub secret: Option<String>,
    pub function: Option<String>,
    pub stream: Option<String>,
    pub source: u64,
    pub first_seen: Option<EpochMs>,
    pub last_seen: Option<EpochMs>,
}

/// Evaluates every failed invocation of a rotation that did not succeed.
pub fn evaluate(rot: &Rotation, rules: &RuleSet) -> Vec<Occurrence> {
    if rot.succeeded {
        return Vec::new();
    }
    let related = rot.is_rotation(rules) || rot.invocations.iter().all(|i| i.is_fragment());
    if !related {
        return Vec::new();
    }
    let mut lambda = Vec::new();
    let mut trail = Vec::new();
    for (index, inv) in rot.invocations.iter().enumerate() {
        if !inv.failed() {
            continue;
        }
        let facts = facts_for(rot, index, rules);
        let cx = Context {
            rules,
            rotation: rot,
            index,
            rotation_related: related || is_rotation_related(inv, rules),
            facts: &facts,
        };
        let mut found: Vec<Occurrence> = Vec::new();
        for tier in Tier::ALL {
            for (si, sym) in rules.symptoms.iter().enumerate() {
                if sym.tier != tier {
                    continue;
                }
                if let Some(o) = score(&cx, si) {
                    found.push(o);
                }
            }
            if !found.is_empty() {
                break;
            }
        }
        if is_cloudtrail(inv) {
            trail.extend(found);
        } else {
            lambda.extend(found);
        }
    }
    correlate(lambda, trail, rules)
}

fn score(cx: &Context, si: usize) -> Option<Occurrence> {
    let rules = cx.rules;
    let sym = &rules.symptoms[si];
    let trigger_lines = cx.eval(&sym.trigger)?;
    struct Scored<'a> {
        candidate: usize,
        z: f64,
        lines: Vec<&'a KeptLine>,
        why: Vec<String>,
    }
    let mut scored: Vec<Scored> = Vec::new();
    for (ci, cand) in sym.candidates.iter().enumerate() {
        let mut lines = Vec::new();
        if let Some(req) = &cand.requires {
            match cx.eval(req) {
                Some(l) => lines.extend(l),
                None => continue,
            }
        }
        let mut z = cand.prior;
        let mut why = Vec::new();
        for ev in &cand.evidence {
            if let Some(l) = cx.eval(&ev.condition) {
                z += ev.weight;
                if ev.weight >= 0.0 {
                    lines.extend(l);
                }
                if let Some(w) = &ev.why {
                    let sign = if ev.weight >= 0.0 { "+" } else { "-" };
                    why.push(format!("{sign} {w}"));
                }
            }
        }
        scored.push(Scored {
            candidate: ci,
            z,
            lines,
            why,
        });
    }
    if scored.is_empty() {
        return None;
    }
    let max = scored
        .iter()
        .map(|s| s.z)
        .fold(sym.unknown_weight, f64::max);
    let denom: f64 =
        (sym.unknown_weight - max).exp() + scored.iter().map(|s| (s.z - max).exp()).sum::<f64>();
    // No log line proves a cause beyond doubt: confidence stops at MAX_CONFIDENCE.
    let prob = |z: f64| ((z - max).exp() / denom).min(MAX_CONFIDENCE);
    // Best score first; ties keep the rule file's order.
    let mut order: Vec<usize> = (0..scored.len()).collect();
    order.sort_by(|&a, &b| {
        scored[b]
            .z
            .partial_cmp(&scored[a].z)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then(a.cmp(&b))
    });
    let best = &scored[order[0]];
    let cand = &sym.candidates[best.candidate];
    let alternatives = order[1..]
        .iter()
        .map(|&i| (sym.candidates[scored[i].candidate].cause, prob(scored[i].z)))
        .collect();
    let inv = cx.invocation();
    let mut evidence: Vec<KeptLine> = trigger_lines
        .into_iter()
        .chain(best.lines.iter().copied())
        .cloned()
        .collect();
    evidence.sort_by_key(|l| (l.source, l.line));
    evidence.dedup_by_key(|l| (l.source, l.line));
    if evidence.len() > crate::diagnosis::MAX_EVIDENCE {
        // Keep the first lines and the last one (usually the failure itself).
        let last = evidence.pop().unwrap();
        evidence.truncate(crate::diagnosis::MAX_EVIDENCE - 1);
        evidence.push(last);
    }
    let secret = cx
        .facts
        .get("secret_arn")
        .cloned()
        .or(cx.rotation.secret.clone());
    let function = cx
        .facts
        .get("function_name")
        .cloned()
        .or_else(|| cx.facts.get("function_arn").cloned());
    let first_seen = inv
        .first_ts
        .or_else(|| evidence.iter().filter_map(|l| l.timestamp).min());
    let last_seen = inv
        .last_ts
        .or_else(|| evidence.iter().filter_map(|l| l.timestamp).max());
    Some(Occurrence {
        cause: cand.cause,
        symptom: si,
        candidate: best.candidate,
        confidence: prob(best.z),
        severity: sym.severity,
        alternatives,
        evidence,
        why: best.why.clone(),
        facts: cx.facts.clone(),
        step: inv.step,
        secret,
        function,
        stream: inv.stream.as_deref().map(str::to_owned),
        source: inv.source,
        first_seen,
        last_seen,
    })
}

#[cfg(test)]
pub(crate) mod scoring_tests {
    use super::*;
    use crate::lambda::invocation::tests::{A, ARN, assemble, rules};
    use crate::lambda::rotation::Tracker;

    /// Every occurrence the rules find in `lines` (stream, message), rotation by rotation.
    pub(crate) fn evaluate_lines(lines: &[(Option<&str>, &str)]) -> Vec<Occurrence> {
        let mut t = Tracker::new();
        for inv in assemble(lines) {
            t.add(inv, rules());
        }
        t.finish(rules());
        t.drain_closed()
            .iter()
            .flat_map(|r| evaluate(r, rules()))
            .collect()
    }

    fn occurrences(lines: &[String]) -> Vec<(String, f64)> {
        let refs: Vec<(Option<&str>, &str)> = lines.iter().map(|l| (None, l.as_str())).collect();
        evaluate_lines(&refs)
            .into_iter()
            .map(|o| (rules().causes[o.cause].id.clone(), o.confidence))
            .collect()
    }

    fn login_failure(duration_ms: f64) -> Vec<String> {
        vec![
            format!("START RequestId: {A} Version: $LATEST"),
            format!(
                "[ERROR]\t2025-04-10T09:31:22.851Z\t{A}\tsetSecret: Unable to log into database with previous, current, or pending secret of secret arn {ARN}"
            ),
            format!(
                "[ERROR] ValueError: Unable to log into database with previous, current, or pending secret of secret arn {ARN}\nTraceback (most recent call last):"
            ),
            format!("END RequestId: {A}"),
            format!(
                "REPORT RequestId: {A}\tDuration: {duration_ms:.2} ms\tBilled Duration: {:.0} ms\tMemory Size: 128 MB\tMax Memory Used: 86 MB",
                duration_ms.ceil()
            ),
        ]
    }

    #[test]
    fn the_5000_ms_threshold_splits_network_from_credentials() {
        let long = occurrences(&login_failure(15362.41));
        assert_eq!(long.len(), 1);
        assert_eq!(long[0].0, "database-unreachable");
        assert!(long[0].1 > 0.5);
        let short = occurrences(&login_failure(362.41));
        assert_eq!(short[0].0, "database-credentials-invalid");
        assert!(short[0].1 > 0.5);
    }

    #[test]
    fn driver_text_outweighs_duration() {
        let mut lines = login_failure(362.41);
        lines.insert(
            1,
            format!("[ERROR]\t2025-04-10T09:31:22.800Z\t{A}\tSCRAM authentication requires libpq version 10 or above"),
        );
        assert_eq!(occurrences(&lines)[0].0, "scram-auth-unsupported");
    }

    #[test]
    fn confidence_is_a_probability_and_alternatives_sum_with_it_below_one() {
        let refs: Vec<String> = login_failure(15362.41);
        let r: Vec<(Option<&str>, &str)> = refs.iter().map(|l| (None, l.as_str())).collect();
        let o = &evaluate_lines(&r)[0];
        let total: f64 = o.confidence + o.alternatives.iter().map(|a| a.1).sum::<f64>();
        assert!(total < 1.0 && total > 0.5, "{total}");
        assert!(o.alternatives.windows(2).all(|w| w[0].1 >= w[1].1));
    }

    #[test]
    fn errors_of_other_functions_are_not_diagnosed() {
        let lines = vec![
            format!("START RequestId: {A} Version: $LATEST"),
            "[ERROR] KeyError: 'body'\nTraceback (most recent call last):".to_string(),
            format!("END RequestId: {A}"),
        ];
        assert!(occurrences(&lines).is_empty());
    }

    #[test]
    fn an_unknown_error_in_a_rotation_step_falls_back_to_unexplained() {
        let lines = vec![
            format!("START RequestId: {A} Version: $LATEST"),
            format!(
                "[ERROR] NameError: name 'conn' is not defined\nTraceback (most recent call last):\n  File \"/var/task/lambda_function.py\", line 77, in lambda_handler\n    set_secret(service_client, arn, token)"
            ),
            format!("END RequestId: {A}"),
        ];
        let o = occurrences(&lines);
        assert_eq!(o.len(), 1);
        assert_eq!(o[0].0, "unexplained-failure");
    }
}
