//! How the rules scored a rotation, step by step, for someone writing or testing a rule
//! (`rotdiag --rules DIR --test FILE`): which patterns each line hit, and for each failed
//! invocation every symptom whose trigger held, every candidate cause with each piece of its
//! evidence (held or not, and its weight), its score `z` and its confidence. The same evaluation
//! as [`super::evaluate`] (it calls the same functions), told instead of decided.
//!
//! [`describe`] puts a compiled condition back into words (`has db_unreachable`,
//! `duration_ms > 5000`), which `rotdiag explain` uses too.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use super::condition::Context;
use super::{Scored, Softmax, context, evaluated, facts_for, score_candidate};
use crate::lambda::rotation::Rotation;
use crate::rules::{Condition, PatternId, Range, RuleSet, Scope, Tier};
use crate::time::format_iso;

/// The trace of every rotation of a test file.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Trace {
    /// Every kept line that hit a pattern, in input order.
    pub(crate) lines: Vec<LineHits>,
    /// Every failed invocation of a rotation that was evaluated.
    pub(crate) invocations: Vec<InvocationTrace>,
}

#[derive(Clone, Debug, Serialize)]
pub(crate) struct LineHits {
    pub(crate) source: Arc<str>,
    pub(crate) line: u64,
    pub(crate) text: String,
    /// The patterns it hit, as `<file id>/<pattern>`.
    pub(crate) patterns: Vec<String>,
}

#[derive(Clone, Debug, Serialize)]
pub(crate) struct InvocationTrace {
    pub(crate) source: Arc<str>,
    pub(crate) line: u64,
    pub(crate) request_id: Option<String>,
    pub(crate) start: Option<String>,
    pub(crate) step: Option<&'static str>,
    pub(crate) secret: Option<String>,
    pub(crate) symptoms: Vec<SymptomTrace>,
    /// Tiers not tried because an earlier one explained the invocation.
    pub(crate) skipped_tiers: Vec<&'static str>,
}

#[derive(Clone, Debug, Serialize)]
pub(crate) struct SymptomTrace {
    pub(crate) symptom: String,
    pub(crate) tier: &'static str,
    pub(crate) trigger: String,
    pub(crate) candidates: Vec<CandidateTrace>,
}

#[derive(Clone, Debug, Serialize)]
pub(crate) struct CandidateTrace {
    pub(crate) cause: String,
    /// Its `requires`, and whether it held (a candidate whose `requires` fails is not scored).
    pub(crate) requires: Option<(String, bool)>,
    pub(crate) prior: f64,
    pub(crate) evidence: Vec<EvidenceTrace>,
    pub(crate) z: Option<f64>,
    pub(crate) confidence: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub(crate) struct EvidenceTrace {
    pub(crate) condition: String,
    pub(crate) weight: f64,
    pub(crate) held: bool,
    pub(crate) why: Option<String>,
}

fn tier_name(t: Tier) -> &'static str {
    match t {
        Tier::Specific => "specific",
        Tier::Generic => "generic",
        Tier::Fallback => "fallback",
    }
}

/// The trace of `rotations` (kept whole by the run). `sources` names inputs by source id.
pub fn trace(rotations: &[Rotation], rules: &RuleSet, sources: &[(u64, String)]) -> Trace {
    let names = Names(
        sources
            .iter()
            .map(|(i, s)| (*i, Arc::from(s.as_str())))
            .collect(),
    );
    let mut out = Trace::default();
    for rot in rotations {
        for inv in &rot.invocations {
            for l in inv.lines.iter().filter(|l| !l.hits.is_empty()) {
                out.lines.push(LineHits {
                    source: names.get(l.source),
                    line: l.line,
                    text: l.text.clone(),
                    patterns: patterns(&l.hits, rules),
                });
            }
        }
        if !evaluated(rot, rules) {
            continue;
        }
        for (index, inv) in rot.invocations.iter().enumerate() {
            if inv.failed() {
                out.invocations
                    .push(invocation(rot, index, rules, names.get(inv.source)));
            }
        }
    }
    out.lines
        .sort_by(|a, b| (&a.source, a.line).cmp(&(&b.source, b.line)));
    out.lines
        .dedup_by(|a, b| a.source == b.source && a.line == b.line);
    out
}

/// Input names by source id.
struct Names(BTreeMap<u64, Arc<str>>);

impl Names {
    fn get(&self, i: u64) -> Arc<str> {
        self.0
            .get(&i)
            .cloned()
            .unwrap_or_else(|| format!("input {i}").into())
    }
}

/// The trace of failed invocation `index`: the symptoms of each tier, until one explains it.
fn invocation(rot: &Rotation, index: usize, rules: &RuleSet, source: Arc<str>) -> InvocationTrace {
    let inv = &rot.invocations[index];
    let facts = facts_for(rot, index, rules);
    let cx = context(rules, rot, index, &facts);
    let mut t = InvocationTrace {
        source,
        line: inv.first_line,
        request_id: inv.request_id.map(|r| r.to_string()),
        start: inv.first_ts.map(format_iso),
        step: inv.step.map(|s| s.name()),
        secret: facts.get("secret_arn").cloned(),
        symptoms: Vec::new(),
        skipped_tiers: Vec::new(),
    };
    for tier in Tier::ALL {
        let explained = t
            .symptoms
            .iter()
            .any(|s| s.candidates.iter().any(|c| c.z.is_some()));
        if explained {
            t.skipped_tiers.push(tier_name(tier));
            continue;
        }
        for (si, sym) in rules.symptoms.iter().enumerate() {
            if sym.tier == tier && cx.eval(&sym.trigger).is_some() {
                t.symptoms.push(symptom(&cx, si));
            }
        }
    }
    t
}

/// Symptom `si`, whose trigger holds: each candidate, scored as `evaluate` scores it.
fn symptom(cx: &Context, si: usize) -> SymptomTrace {
    let rules = cx.rules;
    let sym = &rules.symptoms[si];
    let owner = sym.id.as_str();
    let scored: Vec<Scored> = sym
        .candidates
        .iter()
        .enumerate()
        .filter_map(|(ci, c)| score_candidate(cx, ci, c))
        .collect();
    let softmax = Softmax::new(&scored, sym.unknown_weight);
    let candidates = sym
        .candidates
        .iter()
        .enumerate()
        .map(|(ci, cand)| {
            let s = scored.iter().find(|s| s.candidate == ci);
            CandidateTrace {
                cause: rules.causes[cand.cause].id.clone(),
                requires: cand
                    .requires
                    .as_ref()
                    .map(|r| (describe(r, rules, owner), cx.eval(r).is_some())),
                prior: cand.prior,
                evidence: cand
                    .evidence
                    .iter()
                    .enumerate()
                    .map(|(ei, ev)| EvidenceTrace {
                        condition: describe(&ev.condition, rules, owner),
                        weight: ev.weight,
                        held: s.is_some_and(|s| s.held.contains(&ei)),
                        why: ev.why.clone(),
                    })
                    .collect(),
                z: s.map(|s| s.z),
                confidence: s.map(|s| softmax.probability(s.z)),
            }
        })
        .collect();
    SymptomTrace {
        symptom: sym.id.clone(),
        tier: tier_name(sym.tier),
        trigger: describe(&sym.trigger, rules, owner),
        candidates,
    }
}

fn patterns(hits: &[PatternId], rules: &RuleSet) -> Vec<String> {
    let mut v: Vec<String> = hits
        .iter()
        .filter_map(|&p| rules.patterns.get(p as usize))
        .map(|p| p.name.clone())
        .collect();
    v.sort();
    v.dedup();
    v
}

/// A pattern's name as a rule file of `owner` writes it (`db_unreachable`), or in full for
/// another file's (`model/secret_arn`).
fn pattern(p: PatternId, rules: &RuleSet, owner: &str) -> String {
    let Some(pat) = rules.patterns.get(p as usize) else {
        return format!("pattern {p}");
    };
    match pat.name.split_once('/') {
        Some((o, n)) if o == owner => n.to_string(),
        _ => pat.name.clone(),
    }
}

fn pattern_list(ps: &[PatternId], rules: &RuleSet, owner: &str) -> String {
    let names: Vec<String> = ps.iter().map(|&p| pattern(p, rules, owner)).collect();
    match names.len() {
        1 => names[0].clone(),
        _ => format!("any of [{}]", names.join(", ")),
    }
}

fn scope(s: Scope) -> &'static str {
    match s {
        Scope::Invocation => "",
        Scope::Rotation => " (in the rotation)",
    }
}

fn range(name: &str, r: &Range) -> String {
    let mut parts = Vec::new();
    for (op, v) in [(">", r.gt), (">=", r.gte), ("<", r.lt), ("<=", r.lte)] {
        if let Some(v) = v {
            parts.push(format!("{name} {op} {v}"));
        }
    }
    parts.join(" and ")
}

/// A compiled condition in words, pattern names as the file of symptom `owner` writes them.
pub(crate) fn describe(c: &Condition, rules: &RuleSet, owner: &str) -> String {
    let not = |b: bool| if b { "" } else { "not " };
    match c {
        Condition::Has(p, s) => format!("has {}{}", pattern_list(p, rules, owner), scope(*s)),
        Condition::Lacks(p, s) => format!("lacks {}{}", pattern_list(p, rules, owner), scope(*s)),
        Condition::Last(p, s) => format!(
            "its last line matches {}{}",
            pattern_list(p, rules, owner),
            scope(*s)
        ),
        Condition::AfterNone {
            after,
            none,
            scope: s,
        } => format!(
            "after {}, none of {}{}",
            pattern(*after, rules, owner),
            pattern_list(none, rules, owner),
            scope(*s)
        ),
        Condition::AfterThen {
            after,
            then,
            scope: s,
        } => format!(
            "after {}, then {}{}",
            pattern(*after, rules, owner),
            pattern_list(then, rules, owner),
            scope(*s)
        ),
        Condition::Failed(b) => format!("the invocation {}failed", not(*b)),
        Condition::Errors(b, s) => format!("{}logged an error{}", not(*b), scope(*s)),
        Condition::TimedOut(b) => format!("{}timed out", not(*b)),
        Condition::Completed(b) => format!("{}completed (END or REPORT seen)", not(*b)),
        Condition::Fragment(b) => format!("{}a fragment (no START)", not(*b)),
        Condition::Rotation(b) => format!("{}a rotation function's", not(*b)),
        Condition::Step(steps) => {
            let names: Vec<&str> = steps.iter().map(|s| s.name()).collect();
            format!("step is {}", names.join(" or "))
        }
        Condition::Duration(r) => range("duration_ms", r),
        Condition::Timeout(r) => range("timeout_ms", r),
        Condition::Same(a, b) => format!("{a} = {b}"),
        Condition::Differ(a, b) => format!("{a} != {b}"),
        Condition::Fact(f) => format!("{f} is known"),
        Condition::Value(facts) => {
            let parts: Vec<String> = facts
                .iter()
                .map(|(f, vs)| format!("{f} is {}", vs.join(" or ")))
                .collect();
            parts.join(" and ")
        }
        Condition::All(cs) => join(cs, " and ", rules, owner),
        Condition::Any(cs) => join(cs, " or ", rules, owner),
        Condition::Not(c) => format!("not ({})", describe(c, rules, owner)),
    }
}

fn join(cs: &[Condition], sep: &str, rules: &RuleSet, owner: &str) -> String {
    let parts: Vec<String> = cs.iter().map(|c| describe(c, rules, owner)).collect();
    match parts.len() {
        1 => parts[0].clone(),
        _ => format!("({})", parts.join(sep)),
    }
}
