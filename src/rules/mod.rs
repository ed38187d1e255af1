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

pub(crate) mod catalog;
pub(crate) mod compile;
pub(crate) mod lazy;
pub mod matcher;
pub(crate) mod schema;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use crate::aws::Step;

pub(crate) use compile::ENGINE_FACT;
pub use compile::load;
pub(crate) use matcher::Matcher;

/// Index of a compiled pattern.
pub(crate) type PatternId = u16;

/// How bad a symptom is for the secret's owner (`severity` in a rule file, `--fail-on`).
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Deserialize,
    Serialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub(crate) fn name(self) -> &'static str {
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
pub(crate) enum Tier {
    #[default]
    Specific,
    Generic,
    Fallback,
}

impl Tier {
    pub(crate) const ALL: [Tier; 3] = [Tier::Specific, Tier::Generic, Tier::Fallback];
}

/// A compiled pattern.
#[derive(Debug)]
pub struct Pattern {
    /// `<owner>/<name>`: `model/secret_arn`, `database-login-failed/login_failed`.
    pub(crate) name: String,
    /// The literals (or a regex's needles) that fire it: what a query over the logs looks for.
    pub literals: Vec<String>,
    /// For regex patterns: the regex, also used to extract named captures as facts.
    pub(crate) regex: Option<std::sync::Arc<lazy::LazyRegex>>,
    /// The regex's named groups: (group index, fact id).
    pub(crate) captures: Vec<(usize, FactId)>,
}

/// A fact whose value follows (or starts with) a literal: `secret arn <ARN>`.
#[derive(Clone, Debug)]
pub(crate) struct PositionalFact {
    pub(crate) fact: FactId,
    /// The value, as a DFA searched anchored at the position the literal gives (ASCII classes,
    /// any bytes): one tight loop per value, no regex engine set-up.
    pub(crate) value: regex_automata::dfa::dense::DFA<Vec<u32>>,
    /// Fact name until ids are assigned.
    pub(crate) name: String,
}

/// Index of a fact name in [`RuleSet::fact_names`].
pub(crate) type FactId = u16;

/// The facts the Lambda model itself reads.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct KnownFacts {
    pub(crate) secret_arn: FactId,
    pub(crate) token: FactId,
    pub(crate) function_arn: FactId,
    pub(crate) function_name: FactId,
    pub(crate) runtime_version: FactId,
    pub(crate) engine: FactId,
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
    pub(crate) gt: Option<f64>,
    pub(crate) gte: Option<f64>,
    pub(crate) lt: Option<f64>,
    pub(crate) lte: Option<f64>,
}

impl Range {
    pub(crate) fn contains(&self, v: f64) -> bool {
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
    AfterThen {
        after: PatternId,
        then: Vec<PatternId>,
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
    /// Each fact is known and has one of its values.
    Value(Vec<(String, Vec<String>)>),
    All(Vec<Condition>),
    Any(Vec<Condition>),
    Not(Box<Condition>),
}

/// One piece of evidence a candidate cause weighs.
#[derive(Clone, Debug)]
pub(crate) struct EvidenceRule {
    pub(crate) condition: Condition,
    pub(crate) weight: f64,
    pub(crate) why: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Candidate {
    pub(crate) cause: usize,
    pub(crate) prior: f64,
    pub(crate) requires: Option<Condition>,
    pub(crate) evidence: Vec<EvidenceRule>,
    pub remediation: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct Symptom {
    pub(crate) id: String,
    pub(crate) title: String,
    pub(crate) severity: Severity,
    pub(crate) references: Vec<String>,
    pub(crate) tier: Tier,
    pub(crate) unknown_weight: f64,
    pub trigger: Condition,
    pub candidates: Vec<Candidate>,
    /// Where the symptom was defined (`rules/symptoms/x.toml`), for `--list-rules`.
    pub(crate) file: String,
}

#[derive(Clone, Debug)]
pub struct Cause {
    pub id: String,
    /// The title's variants, most specific first; the last has no placeholders.
    pub(crate) titles: Vec<String>,
    pub(crate) explanation: Option<String>,
    pub remediation: Vec<String>,
    pub(crate) references: Vec<String>,
}

impl Cause {
    /// The title as written (its first variant).
    pub(crate) fn title(&self) -> &str {
        &self.titles[0]
    }

    /// The variant without placeholders.
    pub(crate) fn plain_title(&self) -> &str {
        self.titles.last().map_or("", String::as_str)
    }

    /// The first variant whose placeholders `facts` all fill: a title never prints a fact
    /// nobody found.
    pub(crate) fn title_for(&self, facts: &std::collections::BTreeMap<String, String>) -> &str {
        self.titles
            .iter()
            .find(|t| {
                crate::template::placeholders(t)
                    .iter()
                    .all(|p| facts.contains_key(*p))
            })
            .map_or(self.plain_title(), String::as_str)
    }
}

/// A database engine the logs can name (`[model.engines]`).
#[derive(Clone, Debug, Default)]
pub(crate) struct Engine {
    pub(crate) name: String,
    /// The literals of log lines that name it.
    pub(crate) clues: Option<PatternId>,
    /// Lowercase substrings of function names (and log groups) that name it.
    pub(crate) names: Vec<String>,
}

/// How the lines tell the rotation model apart.
#[derive(Clone, Debug, Default)]
pub struct Model {
    pub(crate) steps: Vec<(Step, PatternId)>,
    pub(crate) rotation_succeeded: Option<PatternId>,
    pub(crate) rotation_related: Option<PatternId>,
    pub error_marker: Option<PatternId>,
    /// A runtime's report of the error that ended an invocation (Node's `Invoke Error`, Go's
    /// error JSON, a Java or .NET stack trace).
    pub(crate) unhandled: Option<PatternId>,
    pub(crate) neutral: Option<PatternId>,
    /// The database engines, in the order the model lists them.
    pub(crate) engines: Vec<Engine>,
    /// Regex patterns whose named groups are facts (sorted).
    pub(crate) facts: Vec<PatternId>,
    /// The patterns of the model a line's hits are looked up in (steps, engine clues, fact
    /// regexes), as a set: most lines hit none of them, and these answer that with a bit test
    /// per hit (a search of the hits per step and per engine cost 8.6 M instructions on 16 MiB).
    pub(crate) lookups_of_hits: HitLookups,
    /// Facts read right after (or at) a literal.
    pub(crate) positional: Vec<PositionalFact>,
    /// Lowercase substrings of the names of rotation functions (and their roles).
    pub(crate) rotation_function_names: Vec<String>,
    /// The service principal that invokes rotation functions.
    pub(crate) rotation_service: Option<String>,
    /// Facts inferred from others, in order.
    pub(crate) inferences: Vec<Inference>,
    /// Commands a fix looks a fact up with when the logs do not state it.
    pub(crate) lookups: Vec<Lookup>,
}

/// The sets of [`Model::lookups_of_hits`], filled once the model is compiled
/// ([`Model::index_hit_lookups`]).
#[derive(Clone, Debug, Default)]
pub(crate) struct HitLookups {
    steps: PatternSet,
    engine_clues: PatternSet,
    fact_regexes: PatternSet,
}

/// A set of pattern ids, one bit each, sized to the largest id inserted (the first 128 ids
/// without a heap allocation: an invocation keeps one).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct PatternSet(smallvec::SmallVec<[u64; 2]>);

impl PatternSet {
    pub(crate) fn insert(&mut self, id: PatternId) {
        let (word, bit) = (usize::from(id) / 64, id % 64);
        if self.0.len() <= word {
            self.0.resize(word + 1, 0);
        }
        self.0[word] |= 1 << bit;
    }

    pub(crate) fn contains(&self, id: PatternId) -> bool {
        let (word, bit) = (usize::from(id) / 64, id % 64);
        self.0.get(word).is_some_and(|w| w & (1 << bit) != 0)
    }

    /// Does any of `ids` belong to the set?
    pub(crate) fn any(&self, ids: &[PatternId]) -> bool {
        ids.iter().any(|&id| self.contains(id))
    }

    /// Adds every id of `other`.
    pub(crate) fn union(&mut self, other: &PatternSet) {
        if self.0.len() < other.0.len() {
            self.0.resize(other.0.len(), 0);
        }
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a |= b;
        }
    }
}

impl Model {
    /// Fills [`Model::lookups_of_hits`] from the steps, engines and fact regexes.
    pub(crate) fn index_hit_lookups(&mut self) {
        let mut l = HitLookups::default();
        for &(_, p) in &self.steps {
            l.steps.insert(p);
        }
        for p in self.engines.iter().filter_map(|e| e.clues) {
            l.engine_clues.insert(p);
        }
        for &p in &self.facts {
            l.fact_regexes.insert(p);
        }
        self.lookups_of_hits = l;
    }
}

/// A fact a fix looks up when the logs do not state it (`[[model.lookup]]`): the shell command
/// that prints it, the facts that command needs, and the values facts must have for it to apply
/// (a login check differs by database engine).
#[derive(Clone, Debug, Default)]
pub(crate) struct Lookup {
    pub(crate) fact: String,
    pub(crate) command: String,
    pub(crate) needs: Vec<String>,
    pub(crate) when: Vec<(String, String)>,
}

impl Lookup {
    /// Does it apply to these facts: the fact is not known, every fact it needs is, and the
    /// facts of `when` have their values?
    pub(crate) fn applies(&self, facts: &std::collections::BTreeMap<String, String>) -> bool {
        !facts.contains_key(&self.fact)
            && self.needs.iter().all(|n| facts.contains_key(n))
            && self.when.iter().all(|(f, v)| facts.get(f) == Some(v))
    }
}

/// A fact inferred from others when the logs do not state it (`[[model.infer]]`).
#[derive(Clone, Debug, Default)]
pub(crate) struct Inference {
    /// The fact inferred, when it is not known...
    pub(crate) fact: String,
    /// ...takes the value of this one...
    pub(crate) from: String,
    /// ...when these facts have these values...
    pub(crate) when: Vec<(String, String)>,
    /// ...and, when given, this fact is known and names another secret than the value.
    pub(crate) unless_same: Option<String>,
}

impl Model {
    /// The step named by a line with these hits, if any.
    pub(crate) fn step_of(&self, hits: &[PatternId]) -> Option<crate::aws::Step> {
        if !self.lookups_of_hits.steps.any(hits) {
            return None;
        }
        self.steps
            .iter()
            .find(|(_, p)| hits.contains(p))
            .map(|(s, _)| *s)
    }

    /// The engine a line with these hits names, if any.
    pub(crate) fn engine_of(&self, hits: &[PatternId]) -> Option<&str> {
        if !self.lookups_of_hits.engine_clues.any(hits) {
            return None;
        }
        self.engines
            .iter()
            .find(|e| e.clues.is_some_and(|p| hits.contains(&p)))
            .map(|e| e.name.as_str())
    }

    /// Is `pattern` one of the regexes whose groups are facts?
    pub(crate) fn is_fact_regex(&self, pattern: PatternId) -> bool {
        self.lookups_of_hits.fact_regexes.contains(pattern)
    }

    /// The engine a function (or log group) of this name talks to, by its name.
    pub(crate) fn engine_by_name(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.engines
            .iter()
            .find(|e| e.names.iter().any(|n| name.contains(n.as_str())))
            .map(|e| e.name.as_str())
    }

    /// Is a function (or role) of this name a rotation function, by its name?
    pub(crate) fn is_rotation_function_name(&self, name: &str) -> bool {
        let name = name.to_ascii_lowercase();
        self.rotation_function_names
            .iter()
            .any(|n| name.contains(n.as_str()))
    }

    /// Does a line with these hits show it comes from a rotation function, or at least nothing
    /// against it (a neutral line)?
    pub(crate) fn vouches_for_rotation(&self, hits: &[PatternId]) -> bool {
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
    /// Every fact name a rule may use (`{name}` placeholders, `same`/`differ`), sorted.
    pub(crate) fact_names: Vec<String>,
    pub(crate) known: KnownFacts,
    /// Signatures: the patterns symptoms' triggers look for (`has`, outside `not`). A line that
    /// matches one is an error wherever it appears, `[ERROR]` prefix or not (sorted).
    pub(crate) signatures: Vec<PatternId>,
    /// A hash of the rule files it was compiled from (reports carry it: `rotdiag merge` merges
    /// only reports made with the same rules).
    pub fingerprint: String,
}

impl RuleSet {
    /// Does a line with these hits read as an error without a level: an error marker of the model
    /// or a signature?
    pub(crate) fn marks_error(&self, hits: &[PatternId]) -> bool {
        hits.iter().any(|h| {
            Some(*h) == self.model.error_marker || self.signatures.binary_search(h).is_ok()
        })
    }

    /// Is `p` one of the model's own patterns (steps, markers, fact needles), as opposed to a
    /// symptom's?
    pub(crate) fn is_model_pattern(&self, p: PatternId) -> bool {
        self.patterns
            .get(p as usize)
            .is_some_and(|x| x.name.starts_with("model/"))
    }

    pub(crate) fn fact_id(&self, name: &str) -> Option<FactId> {
        self.fact_names
            .binary_search_by(|n| n.as_str().cmp(name))
            .ok()
            .map(|i| i as FactId)
    }
}
