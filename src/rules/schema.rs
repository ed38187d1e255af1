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
pub(crate) struct RuleFile {
    pub(crate) symptom: Option<Spanned<SymptomSpec>>,
    #[serde(default)]
    pub(crate) patterns: BTreeMap<String, Spanned<PatternSpec>>,
    pub(crate) trigger: Option<ConditionSpec>,
    #[serde(default)]
    pub(crate) candidate: Vec<Spanned<CandidateSpec>>,
    #[serde(default)]
    pub(crate) cause: Vec<Spanned<CauseSpec>>,
    pub(crate) model: Option<ModelSpec>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct SymptomSpec {
    pub(crate) id: String,
    pub(crate) title: String,
    /// `info`, `low`, `medium`, `high` or `critical`.
    pub(crate) severity: Severity,
    #[serde(default)]
    pub(crate) references: Vec<String>,
    /// `specific` (default), `generic` (only when no specific symptom matched the invocation) or
    /// `fallback` (only when nothing else did).
    #[serde(default)]
    pub(crate) tier: Tier,
    /// Score of "a cause this rule does not know" in the softmax (see README, Confidence).
    #[serde(default)]
    pub(crate) unknown_weight: Option<f64>,
    /// For whoever reads the rule file; rotdiag does not print it.
    #[serde(default, rename = "description")]
    _description: Option<String>,
}

/// A named pattern: one literal, any of several literals, or a regex confirmed on lines that
/// contain one of its needles.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct PatternSpec {
    pub(crate) literal: Option<String>,
    pub(crate) any: Option<Vec<String>>,
    pub(crate) regex: Option<String>,
    pub(crate) needle: Option<String>,
    pub(crate) needles: Option<Vec<String>>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct CandidateSpec {
    pub(crate) cause: Spanned<String>,
    #[serde(default)]
    pub(crate) prior: f64,
    pub(crate) requires: Option<ConditionSpec>,
    #[serde(default)]
    pub(crate) evidence: Vec<EvidenceSpec>,
    /// Remediation lines added to the cause's own for this symptom.
    #[serde(default)]
    pub(crate) remediation: Vec<String>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct EvidenceSpec {
    #[serde(rename = "if")]
    pub(crate) when: ConditionSpec,
    pub(crate) weight: f64,
    pub(crate) why: Option<String>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct CauseSpec {
    pub(crate) id: String,
    /// One title, or several: the first whose placeholders the facts fill is shown, and the last
    /// has none.
    pub(crate) title: Titles,
    #[serde(default)]
    pub(crate) explanation: Option<String>,
    #[serde(default)]
    pub(crate) remediation: Vec<String>,
    #[serde(default)]
    pub(crate) references: Vec<String>,
}

/// A cause's title: one, or variants from the most specific to one without placeholders.
#[derive(Deserialize, Debug)]
#[serde(untagged)]
pub(crate) enum Titles {
    One(String),
    Many(Vec<String>),
}

impl Titles {
    pub(crate) fn list(&self) -> Vec<String> {
        match self {
            Titles::One(t) => vec![t.clone()],
            Titles::Many(v) => v.clone(),
        }
    }
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct ModelSpec {
    /// Step name -> literals that show an invocation runs that step.
    #[serde(default)]
    pub(crate) steps: BTreeMap<String, Vec<String>>,
    /// Literals that show a rotation completed (finishSecret succeeded).
    #[serde(default)]
    pub(crate) rotation_succeeded: Vec<String>,
    /// Literals that show an invocation belongs to a rotation function.
    #[serde(default)]
    pub(crate) rotation_related: Vec<String>,
    /// Literals any function prints, which say nothing about what it is.
    #[serde(default)]
    pub(crate) neutral: Vec<String>,
    /// Literals that make a line an error even without an `[ERROR]` prefix (pasted messages).
    #[serde(default)]
    pub(crate) error_markers: Vec<String>,
    /// Literals that make a line a runtime's report of the error that ended the invocation.
    #[serde(default)]
    pub(crate) unhandled: Vec<String>,
    /// The database engines: engine name -> the clues that name it.
    #[serde(default)]
    pub(crate) engines: BTreeMap<String, Spanned<EngineSpec>>,
    /// Regexes whose named groups are facts (secret_arn, token, function_arn, …).
    #[serde(default)]
    pub(crate) facts: Vec<Spanned<FactSpec>>,
    /// A function (or role) whose name contains one of these, in any case, is a rotation function.
    #[serde(default)]
    pub(crate) rotation_function_names: Vec<Spanned<String>>,
    /// The service principal that invokes rotation functions (its calls belong to whichever
    /// rotation it runs).
    pub(crate) rotation_service: Option<Spanned<String>>,
    /// Facts inferred from others, in this order.
    #[serde(default)]
    pub(crate) infer: Vec<Spanned<InferSpec>>,
    /// Commands that look up, in a fix, a fact the logs do not state.
    #[serde(default)]
    pub(crate) lookup: Vec<Spanned<LookupSpec>>,
}

/// `[[model.lookup]]`: in a fix, fact `fact`, when the logs do not state it, is the shell command
/// `command` that looks it up (its `{placeholders}` filled from the facts, and all needed), when
/// the facts of `when` have those values. The first that applies wins.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct LookupSpec {
    pub(crate) fact: String,
    pub(crate) command: String,
    #[serde(default)]
    pub(crate) when: BTreeMap<String, String>,
}

/// `[[model.infer]]`: fact `fact` takes the value of fact `from` when it is not known, when the
/// facts of `when` have those values, and (with `unless_same`) when that value names another
/// secret than that fact does.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct InferSpec {
    pub(crate) fact: String,
    pub(crate) from: String,
    #[serde(default)]
    pub(crate) when: BTreeMap<String, String>,
    pub(crate) unless_same: Option<String>,
}

/// `[model.engines.<name>]`: what shows a function talks to that database engine.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct EngineSpec {
    /// Literals of log lines (a driver module, an error code's wording, a port).
    #[serde(default)]
    pub(crate) clues: Vec<String>,
    /// Substrings (any case) of the function's name or log group.
    #[serde(default)]
    pub(crate) names: Vec<String>,
}

/// A fact: either a value read right after (or at) literals, or a regex with named groups.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct FactSpec {
    /// Positional form: the fact's name…
    pub(crate) name: Option<String>,
    /// …and the literals its value follows…
    pub(crate) after: Option<Vec<String>>,
    /// …or starts with…
    pub(crate) at: Option<Vec<String>>,
    /// …and the regex the value matches there (anchored).
    pub(crate) value: Option<String>,
    /// Regex form: named groups are facts; runs on lines with one of the needles.
    pub(crate) regex: Option<String>,
    pub(crate) needle: Option<String>,
    pub(crate) needles: Option<Vec<String>>,
}

/// A condition: every key given must hold (keys are AND-ed).
#[derive(Deserialize, Debug, Default, Clone)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConditionSpec {
    /// Some line in scope matches one of these patterns.
    pub(crate) has: Option<OneOrMany>,
    /// No line in scope matches any of these patterns.
    pub(crate) lacks: Option<OneOrMany>,
    /// The last activity in scope matches one of these patterns.
    pub(crate) last: Option<OneOrMany>,
    /// A line matching this pattern occurs in scope...
    pub(crate) after: Option<Spanned<String>>,
    /// ...and no line after it (in scope) matches any of these.
    pub(crate) then_none: Option<OneOrMany>,
    /// ...or: a line after it (in scope) matches one of these.
    pub(crate) then: Option<OneOrMany>,
    /// `invocation` (default) or `rotation`.
    pub(crate) scope: Option<Scope>,
    pub(crate) failed: Option<bool>,
    /// The scope has error lines: ERROR/CRITICAL lines, unhandled errors, timeouts, crashes.
    pub(crate) errors: Option<bool>,
    pub(crate) timed_out: Option<bool>,
    /// END or REPORT was seen.
    pub(crate) completed: Option<bool>,
    /// No START was seen: a pasted fragment.
    pub(crate) fragment: Option<bool>,
    /// The invocation belongs to a rotation function.
    pub(crate) rotation: Option<bool>,
    pub(crate) step: Option<OneOrMany>,
    pub(crate) duration_ms: Option<RangeSpec>,
    pub(crate) timeout_ms: Option<RangeSpec>,
    /// Both facts are known and equal / differ.
    pub(crate) same: Option<[Spanned<String>; 2]>,
    pub(crate) differ: Option<[Spanned<String>; 2]>,
    /// The fact is known.
    pub(crate) fact: Option<Spanned<String>>,
    /// Each fact named is known and has one of the values listed for it.
    pub(crate) value: Option<Spanned<BTreeMap<String, OneOrMany>>>,
    pub(crate) all: Option<Vec<ConditionSpec>>,
    pub(crate) any: Option<Vec<ConditionSpec>>,
    pub(crate) not: Option<Box<ConditionSpec>>,
}

/// A name or a list of names (`has = "a"` or `has = ["a", "b"]`), with the span of the value.
#[derive(Deserialize, Debug, Clone)]
#[serde(transparent)]
pub(crate) struct OneOrMany(pub Spanned<Names>);

#[derive(Deserialize, Debug, Clone)]
#[serde(untagged)]
pub(crate) enum Names {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub(crate) fn one(s: Spanned<String>) -> OneOrMany {
        let span = s.span();
        OneOrMany(Spanned::new(span, Names::One(s.into_inner())))
    }

    /// The names, each with the span of the whole value.
    pub(crate) fn items(&self) -> Vec<Spanned<String>> {
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
pub(crate) struct RangeSpec {
    pub(crate) gt: Option<f64>,
    pub(crate) gte: Option<f64>,
    pub(crate) lt: Option<f64>,
    pub(crate) lte: Option<f64>,
}
