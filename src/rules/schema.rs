//! The TOML shape of rule files, exactly as written in `rules/` (see `rules/README.md`).
//!
//! These types only describe syntax; [`super::compile`] checks meaning (that every pattern a
//! condition names exists, that regexes compile, that causes are defined) and reports problems
//! with the file and line they come from. Fields that name things are `Spanned` so those errors
//! can point at the exact line.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::{Scope, Severity, Tier};

/// One rule file. A file may define a symptom, causes, the model, or several of them.
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    pub symptom: Option<Spanned<SymptomSpec>>,
    #[serde(default)]
    pub patterns: BTreeMap<String, Spanned<PatternSpec>>,
    pub trigger: Option<ConditionSpec>,
    #[serde(default)]
    pub candidate: Vec<Spanned<CandidateSpec>>,
    #[serde(default)]
    pub cause: Vec<Spanned<CauseSpec>>,
    pub model: Option<ModelSpec>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct SymptomSpec {
    pub id: String,
    pub title: String,
    /// `info`, `low`, `medium`, `high` or `critical`.
    pub severity: Severity,
    #[serde(default)]
    pub references: Vec<String>,
    /// `specific` (default), `generic` (only when no specific symptom matched the invocation) or
    /// `fallback` (only when nothing else did).
    #[serde(default)]
    pub tier: Tier,
    /// Score of "a cause this rule does not know" in the softmax (see README, Confidence).
    #[serde(default)]
    pub unknown_weight: Option<f64>,
    #[serde(default)]
    pub description: Option<String>,
}

/// A named pattern: one literal, any of several literals, or a regex confirmed on lines that
/// contain one of its needles.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct PatternSpec {
    pub literal: Option<String>,
    pub any: Option<Vec<String>>,
    pub regex: Option<String>,
    pub needle: Option<String>,
    pub needles: Option<Vec<String>>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct CandidateSpec {
    pub cause: Spanned<String>,
    #[serde(default)]
    pub prior: f64,
    pub requires: Option<ConditionSpec>,
    #[serde(default)]
    pub evidence: Vec<EvidenceSpec>,
    /// Remediation lines added to the cause's own for this symptom.
    #[serde(default)]
    pub remediation: Vec<String>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct EvidenceSpec {
    #[serde(rename = "if")]
    pub when: ConditionSpec,
    pub weight: f64,
    pub why: Option<String>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct CauseSpec {
    pub id: String,
    pub title: String,
    #[serde(default)]
    pub explanation: Option<String>,
    #[serde(default)]
    pub remediation: Vec<String>,
    #[serde(default)]
    pub references: Vec<String>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// Step name -> literals that show an invocation runs that step.
    #[serde(default)]
    pub steps: BTreeMap<String, Vec<String>>,
    /// Literals that show a rotation completed (finishSecret succeeded).
    #[serde(default)]
    pub rotation_succeeded: Vec<String>,
    /// Literals that show an invocation belongs to a rotation function.
    #[serde(default)]
    pub rotation_related: Vec<String>,
    /// Literals any function prints, which say nothing about what it is.
    #[serde(default)]
    pub neutral: Vec<String>,
    /// Literals that make a line an error even without an `[ERROR]` prefix (pasted messages).
    #[serde(default)]
    pub error_markers: Vec<String>,
    /// Regexes whose named groups are facts (secret_arn, token, function_arn, …).
    #[serde(default)]
    pub facts: Vec<Spanned<FactSpec>>,
    /// A function (or role) whose name contains one of these, in any case, is a rotation function.
    #[serde(default)]
    pub rotation_function_names: Vec<Spanned<String>>,
    /// The service principal that invokes rotation functions (its calls belong to whichever
    /// rotation it runs).
    pub rotation_service: Option<Spanned<String>>,
    /// Facts inferred from others, in this order.
    #[serde(default)]
    pub infer: Vec<Spanned<InferSpec>>,
}

/// `[[model.infer]]`: fact `fact` takes the value of fact `from` when it is not known, when the
/// facts of `when` have those values, and (with `unless_same`) when that value names another
/// secret than that fact does.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct InferSpec {
    pub fact: String,
    pub from: String,
    #[serde(default)]
    pub when: BTreeMap<String, String>,
    pub unless_same: Option<String>,
}

/// A fact: either a value read right after (or at) literals, or a regex with named groups.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct FactSpec {
    /// Positional form: the fact's name…
    pub name: Option<String>,
    /// …and the literals its value follows…
    pub after: Option<Vec<String>>,
    /// …or starts with…
    pub at: Option<Vec<String>>,
    /// …and the regex the value matches there (anchored).
    pub value: Option<String>,
    /// Regex form: named groups are facts; runs on lines with one of the needles.
    pub regex: Option<String>,
    pub needle: Option<String>,
    pub needles: Option<Vec<String>>,
}

/// A condition: every key given must hold (keys are AND-ed).
#[derive(Deserialize, Debug, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct ConditionSpec {
    /// Some line in scope matches one of these patterns.
    pub has: Option<OneOrMany>,
    /// No line in scope matches any of these patterns.
    pub lacks: Option<OneOrMany>,
    /// The last activity in scope matches one of these patterns.
    pub last: Option<OneOrMany>,
    /// A line matching this pattern occurs in scope...
    pub after: Option<Spanned<String>>,
    /// ...and no line after it (in scope) matches any of these.
    pub then_none: Option<OneOrMany>,
    /// `invocation` (default) or `rotation`.
    pub scope: Option<Scope>,
    pub failed: Option<bool>,
    /// The scope has error lines: ERROR/CRITICAL lines, unhandled errors, timeouts, crashes.
    pub errors: Option<bool>,
    pub timed_out: Option<bool>,
    /// END or REPORT was seen.
    pub completed: Option<bool>,
    /// No START was seen: a pasted fragment.
    pub fragment: Option<bool>,
    /// The invocation belongs to a rotation function.
    pub rotation: Option<bool>,
    pub step: Option<OneOrMany>,
    pub duration_ms: Option<RangeSpec>,
    pub timeout_ms: Option<RangeSpec>,
    /// Both facts are known and equal / differ.
    pub same: Option<[Spanned<String>; 2]>,
    pub differ: Option<[Spanned<String>; 2]>,
    /// The fact is known.
    pub fact: Option<Spanned<String>>,
    pub all: Option<Vec<ConditionSpec>>,
    pub any: Option<Vec<ConditionSpec>>,
    pub not: Option<Box<ConditionSpec>>,
}

/// A name or a list of names (`has = "a"` or `has = ["a", "b"]`), with the span of the value.
#[derive(Deserialize, Debug, Clone)]
#[serde(transparent)]
pub struct OneOrMany(pub Spanned<Names>);

#[derive(Deserialize, Debug, Clone)]
#[serde(untagged)]
pub enum Names {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub fn one(s: Spanned<String>) -> OneOrMany {
        let span = s.span();
        OneOrMany(Spanned::new(span, Names::One(s.into_inner())))
    }

    /// The names, each with the span of the whole value.
    pub fn items(&self) -> Vec<Spanned<String>> {
        let span = self.0.span();
        match self.0.get_ref() {
            Names::One(s) => vec![Spanned::new(span.clone(), s.clone())],
            Names::Many(v) => v
                .iter()
                .map(|s| Spanned::new(span.clone(), s.clone()))
                .collect(),
        }
    }
}

#[derive(Deserialize, Debug, Default, Clone, Copy, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RangeSpec {
    pub gt: Option<f64>,
    pub gte: Option<f64>,
    pub lt: Option<f64>,
    pub lte: Option<f64>,
}
