//! Rules: what rotation failures look like in the logs, as data.
//!
//! The knowledge lives in `rules/*.toml` (embedded in the binary at build time, see `build.rs`;
//! `--rules DIR` adds or overrides files). Three kinds of definitions:
//!
//! * the **model** (`rules/model.toml`): which lines name a rotation step, show a rotation
//!   succeeded, mark a function as a rotation function, and which regexes extract facts (secret ARN,
//!   version token, function, role) used to group invocations into rotations and to fill fixes;
//! * **symptoms** (`rules/symptoms/*.toml`): a trigger condition on a failed invocation, and the
//!   candidate causes with the evidence that raises or lowers each of them;
//! * **causes** (`rules/causes/*.toml`, one file per cause): stable ids, titles, remediation
//!   templates, references.
//!
//! [`compile`] turns the files into a [`RuleSet`]: every literal of every pattern goes into one
//! aho-corasick automaton ([`matcher`]), so each byte of input is scanned once, and regexes run only
//! on lines the automaton selected.

pub mod compile;
pub mod matcher;
pub mod schema;

use std::collections::HashMap;
use std::fmt;

use serde::Deserialize;

use crate::aws::Step;

pub use compile::load;
pub use matcher::Matcher;

/// Index of a compiled pattern.
pub type PatternId = u16;

/// How bad a symptom is for the secret's owner (`severity` in a rule file).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// When a symptom is looked for (`tier` in a rule file): generic symptoms only for invocations no
/// specific symptom matched, fallback symptoms only for invocations nothing else matched.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    #[default]
    Specific,
    Generic,
    Fallback,
}

impl Tier {
    pub const ALL: [Tier; 3] = [Tier::Specific, Tier::Generic, Tier::Fallback];
}

/// A compiled pattern.
#[derive(Debug)]
pub struct Pattern {
    /// `<owner>/<name>`: `model/secret_arn`, `setsecret-login-failed/login_failed`.
    pub name: String,
    pub literals: Vec<String>,
    /// For regex patterns: the regex, also used to extract named captures as facts.
    pub regex: Option<regex::bytes::Regex>,
    /// The regex's named groups: (group index, fact id).
    pub captures: Vec<(usize, FactId)>,
}

/// A fact whose value follows (or starts with) a literal: `secret arn <ARN>`.
#[derive(Clone, Debug)]
pub struct PositionalFact {
    pub fact: FactId,
    /// The value, as a DFA searched anchored at the position the literal gives (ASCII classes,
    /// any bytes): one tight loop per value, no regex engine set-up.
    pub value: regex_automata::dfa::dense::DFA<Vec<u32>>,
    /// Fact name until ids are assigned.
    pub name: String,
}

/// Index of a fact name in [`RuleSet::fact_names`].
pub type FactId = u16;

/// The facts the Lambda model itself reads.
#[derive(Clone, Copy, Debug, Default)]
pub struct KnownFacts {
    pub secret_arn: FactId,
    pub token: FactId,
    pub function_arn: FactId,
    pub function_name: FactId,
    pub runtime_version: FactId,
}

/// Where a condition looks (`scope` in a rule file).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// The invocation being diagnosed.
    Invocation,
    /// Every invocation of its rotation (for `last`: up to the end of this invocation).
    Rotation,
}

/// An inclusive/exclusive numeric range; `None` bounds are open.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Range {
    pub gt: Option<f64>,
    pub gte: Option<f64>,
    pub lt: Option<f64>,
    pub lte: Option<f64>,
}

impl Range {
    pub fn contains(&self, v: f64) -> bool {
        self.gt.is_none_or(|b| v > b)
            && self.gte.is_none_or(|b| v >= b)
            && self.lt.is_none_or(|b| v < b)
            && self.lte.is_none_or(|b| v <= b)
    }
}

/// A compiled condition (see `rules/README.md` for the meaning of each).
#[derive(Clone, Debug)]
pub enum Condition {
    Has(Vec<PatternId>, Scope),
    Lacks(Vec<PatternId>, Scope),
    Last(Vec<PatternId>, Scope),
    AfterNone {
        after: PatternId,
        none: Vec<PatternId>,
        scope: Scope,
    },
    Failed(bool),
    Errors(bool, Scope),
    TimedOut(bool),
    Completed(bool),
    Fragment(bool),
    Rotation(bool),
    Step(Vec<Step>),
    Duration(Range),
    Timeout(Range),
    Same(String, String),
    Differ(String, String),
    Fact(String),
    All(Vec<Condition>),
    Any(Vec<Condition>),
    Not(Box<Condition>),
}

/// One piece of evidence a candidate cause weighs.
#[derive(Clone, Debug)]
pub struct EvidenceRule {
    pub condition: Condition,
    pub weight: f64,
    pub why: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Candidate {
    pub cause: usize,
    pub prior: f64,
    pub requires: Option<Condition>,
    pub evidence: Vec<EvidenceRule>,
    pub remediation: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct Symptom {
    pub id: String,
    pub title: String,
    pub severity: Severity,
    pub references: Vec<String>,
    pub tier: Tier,
    pub unknown_weight: f64,
    pub trigger: Condition,
    pub candidates: Vec<Candidate>,
    /// Where the symptom was defined (`rules/symptoms/x.toml`), for `--list-rules`.
    pub file: String,
}

#[derive(Clone, Debug)]
pub struct Cause {
    pub id: String,
    pub title: String,
    pub explanation: Option<String>,
    pub remediation: Vec<String>,
    pub references: Vec<String>,
}

/// How the lines tell the rotation model apart.
#[derive(Clone, Debug, Default)]
pub struct Model {
    pub steps: Vec<(Step, PatternId)>,
    pub rotation_succeeded: Option<PatternId>,
    pub rotation_related: Option<PatternId>,
    pub error_marker: Option<PatternId>,
    pub neutral: Option<PatternId>,
    /// Regex patterns whose named groups are facts.
    pub facts: Vec<PatternId>,
    /// Facts read right after (or at) a literal.
    pub positional: Vec<PositionalFact>,
    /// Lowercase substrings of the names of rotation functions (and their roles).
    pub rotation_function_names: Vec<String>,
    /// The service principal that invokes rotation functions.
    pub rotation_service: Option<String>,
    /// Facts inferred from others, in order.
    pub inferences: Vec<Inference>,
}

/// A fact inferred from others when the logs do not state it (`[[model.infer]]`).
#[derive(Clone, Debug, Default)]
pub struct Inference {
    /// The fact inferred, when it is not known...
    pub fact: String,
    /// ...takes the value of this one...
    pub from: String,
    /// ...when these facts have these values...
    pub when: Vec<(String, String)>,
    /// ...and, when given, this fact is known and names another secret than the value.
    pub unless_same: Option<String>,
}

impl Model {
    /// The step named by a line with these hits, if any.
    pub fn step_of(&self, hits: &[PatternId]) -> Option<crate::aws::Step> {
        self.steps
            .iter()
            .find(|(_, p)| hits.contains(p))
            .map(|(s, _)| *s)
    }

    /// Is a function (or role) of this name a rotation function, by its name?
    pub fn is_rotation_function_name(&self, name: &str) -> bool {
        let name = name.to_ascii_lowercase();
        self.rotation_function_names
            .iter()
            .any(|n| name.contains(n.as_str()))
    }

    /// Does a line with these hits show it comes from a rotation function, or at least nothing
    /// against it (a neutral line)?
    pub fn vouches_for_rotation(&self, hits: &[PatternId]) -> bool {
        hits.iter().any(|h| {
            Some(*h) == self.rotation_related
                || Some(*h) == self.neutral
                || Some(*h) == self.rotation_succeeded
                || self.steps.iter().any(|(_, p)| p == h)
        })
    }
}

/// Everything rotdiag knows, compiled.
pub struct RuleSet {
    pub matcher: Matcher,
    pub patterns: Vec<Pattern>,
    pub model: Model,
    pub symptoms: Vec<Symptom>,
    pub causes: Vec<Cause>,
    pub cause_index: HashMap<String, usize>,
    /// Every fact name a rule may use (`{name}` placeholders, `same`/`differ`), sorted.
    pub fact_names: Vec<String>,
    pub known: KnownFacts,
}

impl RuleSet {
    pub fn cause(&self, id: &str) -> Option<&Cause> {
        self.cause_index.get(id).map(|&i| &self.causes[i])
    }

    /// Is `p` one of the model's own patterns (steps, markers, fact needles), as opposed to a
    /// symptom's?
    pub fn is_model_pattern(&self, p: PatternId) -> bool {
        self.patterns
            .get(p as usize)
            .is_some_and(|x| x.name.starts_with("model/"))
    }

    pub fn pattern_count(&self) -> usize {
        self.patterns.len()
    }

    pub fn fact_id(&self, name: &str) -> Option<FactId> {
        self.fact_names
            .binary_search_by(|n| n.as_str().cmp(name))
            .ok()
            .map(|i| i as FactId)
    }
}
