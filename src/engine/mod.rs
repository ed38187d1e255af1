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
//! logs gave ([`correlate`](mod@correlate)): a CloudTrail event that points at the same cause is more evidence for
//! that diagnosis, not a second one; an event that only says the rotation failed (`RotationFailed
//! … during setSecret step`) is evidence of the diagnosis of that step.

pub(crate) mod condition;
mod correlate;
mod facts;
pub mod trace;

pub(crate) use correlate::correlate;
pub(crate) use facts::facts_for;

use std::collections::BTreeMap;

use crate::aws::Step;
use crate::lambda::invocation::KeptLine;
use crate::lambda::rotation::{Rotation, is_cloudtrail};
use crate::rules::{Candidate, RuleSet, Severity, Tier};
use crate::time::EpochMs;
use condition::Context;

/// Evidence lines kept per occurrence (and so shown per diagnosis): the first ones and the last.
pub(crate) const MAX_EVIDENCE: usize = 12;

/// The highest confidence rotdiag states.
pub(crate) const MAX_CONFIDENCE: f64 = 0.99;

/// One diagnosed failure: the winning cause for one failed invocation.
#[derive(Clone, Debug)]
pub struct Occurrence {
    pub cause: usize,
    pub(crate) symptom: usize,
    pub(crate) candidate: usize,
    pub(crate) confidence: f64,
    pub(crate) severity: Severity,
    /// Other candidates of the symptom with their confidence, best first.
    pub(crate) alternatives: Vec<(usize, f64)>,
    pub(crate) evidence: Vec<KeptLine>,
    /// Explanations of the evidence that weighed in (templates, rendered later).
    pub(crate) why: Vec<Reason>,
    pub(crate) facts: BTreeMap<String, String>,
    pub(crate) step: Option<Step>,
    pub(crate) secret: Option<String>,
    pub(crate) function: Option<String>,
    pub(crate) stream: Option<String>,
    pub(crate) source: u64,
    pub(crate) first_seen: Option<EpochMs>,
    pub(crate) last_seen: Option<EpochMs>,
}

/// A piece of evidence that weighed in, in words: its `why` (a template) and the weight it added
/// to the cause's score (negative: it spoke against it).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Reason {
    pub(crate) text: String,
    pub(crate) weight: f64,
}

/// Is a rotation evaluated at all: it did not succeed, and it is a rotation function's (or only
/// fragments, a paste)?
fn evaluated(rot: &Rotation, rules: &RuleSet) -> bool {
    !rot.succeeded && (rot.is_rotation(rules) || rot.invocations.iter().all(|i| i.is_fragment()))
}

/// The context conditions of invocation `index` of an evaluated rotation are evaluated in.
fn context<'a>(
    rules: &'a RuleSet,
    rot: &'a Rotation,
    index: usize,
    facts: &'a BTreeMap<String, String>,
) -> Context<'a> {
    Context {
        rules,
        rotation: rot,
        index,
        rotation_related: true,
        facts,
    }
}

/// Evaluates every failed invocation of a rotation that did not succeed.
pub fn evaluate(rot: &Rotation, rules: &RuleSet) -> Vec<Occurrence> {
    if !evaluated(rot, rules) {
        return Vec::new();
    }
    let mut lambda = Vec::new();
    let mut trail = Vec::new();
    for (index, inv) in rot.invocations.iter().enumerate() {
        if !inv.failed() {
            continue;
        }
        let facts = facts_for(rot, index, rules);
        let cx = context(rules, rot, index, &facts);
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

/// A candidate cause of a symptom, scored for one invocation.
struct Scored<'a> {
    candidate: usize,
    /// `prior + Σ weight` of the evidence that holds.
    z: f64,
    /// The lines that prove its `requires` and its positive evidence.
    lines: Vec<&'a KeptLine>,
    /// The `why` of the evidence that weighed in.
    why: Vec<Reason>,
    /// Which of the candidate's evidence conditions held.
    held: Vec<usize>,
}

/// The occurrence of symptom `si` for the invocation of `cx`, when its trigger holds and a
/// candidate's `requires` does: the best candidate, its confidence, the others as alternatives.
fn score(cx: &Context, si: usize) -> Option<Occurrence> {
    let sym = &cx.rules.symptoms[si];
    let trigger_lines = cx.eval(&sym.trigger)?;
    let scored: Vec<Scored> = sym
        .candidates
        .iter()
        .enumerate()
        .filter_map(|(ci, cand)| score_candidate(cx, ci, cand))
        .collect();
    if scored.is_empty() {
        return None;
    }
    let softmax = Softmax::new(&scored, sym.unknown_weight);
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
    let alternatives = order[1..]
        .iter()
        .map(|&i| {
            let cause = sym.candidates[scored[i].candidate].cause;
            (cause, softmax.probability(scored[i].z))
        })
        .collect();
    let evidence = evidence(trigger_lines, &best.lines);
    Some(occurrence(
        cx,
        si,
        best,
        softmax.probability(best.z),
        alternatives,
        evidence,
    ))
}

/// A candidate's score: `None` when its `requires` does not hold.
fn score_candidate<'a>(cx: &Context<'a>, ci: usize, cand: &Candidate) -> Option<Scored<'a>> {
    let mut lines = Vec::new();
    if let Some(req) = &cand.requires {
        lines.extend(cx.eval(req)?);
    }
    let mut z = cand.prior;
    let mut why = Vec::new();
    let mut held = Vec::new();
    for (i, ev) in cand.evidence.iter().enumerate() {
        if let Some(l) = cx.eval(&ev.condition) {
            z += ev.weight;
            held.push(i);
            if ev.weight >= 0.0 {
                lines.extend(l);
            }
            if let Some(w) = &ev.why {
                why.push(Reason {
                    text: w.clone(),
                    weight: ev.weight,
                });
            }
        }
    }
    Some(Scored {
        candidate: ci,
        z,
        lines,
        why,
        held,
    })
}

/// Scores turned into probabilities: a softmax over the candidates and "a cause these rules do
/// not know" (score `unknown_weight`).
struct Softmax {
    max: f64,
    denom: f64,
}

impl Softmax {
    fn new(scored: &[Scored], unknown_weight: f64) -> Softmax {
        let max = scored.iter().map(|s| s.z).fold(unknown_weight, f64::max);
        let denom: f64 =
            (unknown_weight - max).exp() + scored.iter().map(|s| (s.z - max).exp()).sum::<f64>();
        Softmax { max, denom }
    }

    /// The probability of a candidate that scored `z`. No log line proves a cause beyond doubt:
    /// confidence stops at [`MAX_CONFIDENCE`].
    fn probability(&self, z: f64) -> f64 {
        ((z - self.max).exp() / self.denom).min(MAX_CONFIDENCE)
    }
}

/// The trigger's lines and the winner's, in input order, at most [`MAX_EVIDENCE`] of them: the
/// first ones and the last (usually the failure itself).
fn evidence(trigger: Vec<&KeptLine>, best: &[&KeptLine]) -> Vec<KeptLine> {
    let mut evidence: Vec<KeptLine> = trigger
        .into_iter()
        .chain(best.iter().copied())
        .cloned()
        .collect();
    evidence.sort_by_key(|l| (l.source, l.line));
    evidence.dedup_by_key(|l| (l.source, l.line));
    if evidence.len() > MAX_EVIDENCE {
        let last = evidence.pop().unwrap();
        evidence.truncate(MAX_EVIDENCE - 1);
        evidence.push(last);
    }
    evidence
}

/// The occurrence: the winner, where and when, and what the facts say about the secret and
/// function.
fn occurrence(
    cx: &Context,
    si: usize,
    best: &Scored,
    confidence: f64,
    alternatives: Vec<(usize, f64)>,
    evidence: Vec<KeptLine>,
) -> Occurrence {
    let sym = &cx.rules.symptoms[si];
    let inv = cx.invocation();
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
    Occurrence {
        cause: sym.candidates[best.candidate].cause,
        symptom: si,
        candidate: best.candidate,
        confidence,
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
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::{A, ARN, evaluate_lines, rules};

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

    /// The database engine a line names decides which causes are offered: SCRAM is PostgreSQL's,
    /// so a MySQL function's login failure does not offer it, a PostgreSQL one's does.
    #[test]
    fn scram_is_offered_only_where_the_engine_can_have_it() {
        let offered = |clue: &str| {
            let mut lines = login_failure(362.41);
            lines.insert(
                1,
                format!("[INFO]\t2025-04-10T09:31:22.800Z\t{A}\tconnecting with {clue}"),
            );
            let r: Vec<(Option<&str>, &str)> = lines.iter().map(|l| (None, l.as_str())).collect();
            let o = &evaluate_lines(&r)[0];
            assert_eq!(rules().causes[o.cause].id, "database-credentials-invalid");
            o.alternatives
                .iter()
                .any(|(c, _)| rules().causes[*c].id == "scram-auth-unsupported")
        };
        assert!(!offered("pymysql"));
        assert!(offered("pgdb"));
        // A fast login failure keeps a TLS requirement among its alternatives.
        let lines = login_failure(362.41);
        let r: Vec<(Option<&str>, &str)> = lines.iter().map(|l| (None, l.as_str())).collect();
        let o = &evaluate_lines(&r)[0];
        assert!(
            o.alternatives
                .iter()
                .any(|(c, _)| rules().causes[*c].id == "database-requires-tls")
        );
    }

    /// MariaDB refuses a GRANT without GRANT OPTION with the login's own 1045: after a login
    /// succeeded, that is a privilege problem; alone, a refused login.
    #[test]
    fn access_denied_after_a_login_is_a_privilege_problem() {
        let denied = "[ERROR] OperationalError: (1045, \"Access denied for user 'rotmaster'@'%' (using password: YES)\")\nTraceback (most recent call last):\n  File \"/var/task/lambda_function.py\", line 80, in lambda_handler\n    set_secret(service_client, arn, token)".to_string();
        let login = format!(
            "[INFO]\t2025-04-10T09:31:22.800Z\t{A}\tSuccessfully established SSL/TLS connection as user 'rotmaster' with host: '10.0.1.23'"
        );
        let start = format!("START RequestId: {A} Version: $LATEST");
        let end = format!("END RequestId: {A}");
        let after = occurrences(&[start.clone(), login, denied.clone(), end.clone()]);
        assert_eq!(after[0].0, "database-privileges-insufficient");
        let alone = occurrences(&[start, denied, end]);
        assert_eq!(alone[0].0, "database-credentials-invalid");
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
