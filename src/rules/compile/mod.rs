//! Loading and compiling rule files, with errors that name the file and line.
//!
//! Files are read in order: the embedded `rules/` first, then `--rules DIR`. Definitions are keyed
//! by id (symptom id, cause id; the model is one definition), and a later file with the same id
//! replaces the earlier one, so a user overrides a single rule by dropping one file in DIR.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use regex::bytes::Regex;
use toml::Spanned;

use super::matcher::MatcherBuilder;
use super::schema::{
    CandidateSpec, CauseSpec, ConditionSpec, ModelSpec, OneOrMany, PatternSpec, RangeSpec,
    RuleFile, SymptomSpec,
};
use super::{
    Candidate, Cause, Condition, EvidenceRule, FactId, KnownFacts, Model, Pattern, PatternId,
    PositionalFact, Range, RuleSet, Scope, Severity, Symptom, Tier,
};
use crate::aws::Step;
use crate::problem::{Kind, Problem};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded_rules.rs"));
}

/// Facts every invocation or rotation may know without a rule extracting them.
pub const BUILTIN_FACTS: &[&str] = &[
    "secret_arn",
    "secret_name",
    "token",
    "function_name",
    "function_arn",
    "role_name",
    "region",
    "account",
    "request_id",
    "stream",
    "step",
    "duration_ms",
    "timeout_ms",
    "timeout_s",
    "runtime_version",
];

/// A problem with a rule file, at a line of it when one is known.
fn rule_error(file: &str, line: Option<usize>, message: String) -> Problem {
    let p = Problem::of(file, Kind::Rule(message));
    match line {
        Some(l) => p.at_line(l),
        None => p,
    }
}

/// The rule files built into the binary: `(path, contents)`.
pub fn embedded_files() -> &'static [(&'static str, &'static str)] {
    embedded::FILES
}

/// Loads the embedded rules plus the `*.toml` files under `extra` (recursively, sorted by path).
pub fn load(extra: Option<&Path>) -> Result<RuleSet, Vec<Problem>> {
    let mut files: Vec<(String, String)> = embedded_files()
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
    if let Some(dir) = extra {
        files.extend(read_dir(dir)?);
    }
    compile(&files)
}

fn read_dir(dir: &Path) -> Result<Vec<(String, String)>, Vec<Problem>> {
    let err =
        |file: &Path, message: String| vec![rule_error(&file.display().to_string(), None, message)];
    if !dir.is_dir() {
        return Err(err(
            dir,
            "--rules expects a directory of .toml rule files".into(),
        ));
    }
    let mut out = Vec::new();
    let mut paths: Vec<_> = walkdir::WalkDir::new(dir)
        .follow_links(true)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    for p in paths {
        match std::fs::read_to_string(&p) {
            Ok(t) => out.push((p.display().to_string(), t)),
            Err(e) => return Err(err(&p, format!("cannot read rule file: {e}"))),
        }
    }
    Ok(out)
}

/// Compiles a positional fact's value regex to an anchored DFA over bytes, ASCII semantics.
fn value_dfa(value: &str) -> Result<regex_automata::dfa::dense::DFA<Vec<u32>>, String> {
    use regex_automata::dfa::{StartKind, dense};
    use regex_automata::util::syntax;
    dense::Builder::new()
        .syntax(syntax::Config::new().unicode(false).utf8(false))
        .configure(dense::Config::new().start_kind(StartKind::Anchored))
        .build(value)
        .map_err(|e| e.to_string())
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

struct SymptomDef {
    file: String,
    text: String,
    spec: Spanned<SymptomSpec>,
    patterns: BTreeMap<String, Spanned<PatternSpec>>,
    trigger: Option<ConditionSpec>,
    candidates: Vec<Spanned<CandidateSpec>>,
}

/// Compiles rule files (`(path, contents)`, later overriding earlier) into a [`RuleSet`].
pub fn compile(files: &[(String, String)]) -> Result<RuleSet, Vec<Problem>> {
    let mut errors = Vec::new();
    let mut symptoms: BTreeMap<String, SymptomDef> = BTreeMap::new();
    let mut causes: BTreeMap<String, (String, String, Spanned<CauseSpec>)> = BTreeMap::new();
    let mut model: Option<(String, String, ModelSpec)> = None;

    for (file, text) in files {
        let parsed: RuleFile = match toml::from_str(text) {
            Ok(p) => p,
            Err(e) => {
                errors.push(rule_error(
                    file,
                    e.span().map(|s| line_of(text, s.start)),
                    e.message().trim().to_string(),
                ));
                continue;
            }
        };
        for c in parsed.cause {
            causes.insert(c.get_ref().id.clone(), (file.clone(), text.clone(), c));
        }
        if let Some(m) = parsed.model {
            model = Some((file.clone(), text.clone(), m));
        }
        match parsed.symptom {
            Some(spec) => {
                let id = spec.get_ref().id.clone();
                symptoms.insert(
                    id,
                    SymptomDef {
                        file: file.clone(),
                        text: text.clone(),
                        spec,
                        patterns: parsed.patterns,
                        trigger: parsed.trigger,
                        candidates: parsed.candidate,
                    },
                );
            }
            None => {
                if !parsed.patterns.is_empty()
                    || parsed.trigger.is_some()
                    || !parsed.candidate.is_empty()
                {
                    errors.push(rule_error(file, None, "[patterns], [trigger] and [[candidate]] belong to a [symptom]; this file has no [symptom] table".into()));
                }
            }
        }
    }

    let mut c = Compiler::default();

    // Causes.
    let mut cause_list = Vec::new();
    let mut cause_index = HashMap::new();
    for (id, (_file, _text, spec)) in &causes {
        let s = spec.get_ref();
        cause_index.insert(id.clone(), cause_list.len());
        cause_list.push(Cause {
            id: s.id.clone(),
            title: s.title.clone(),
            explanation: s.explanation.clone(),
            remediation: s.remediation.clone(),
            references: s.references.clone(),
        });
    }

    // Model.
    let mut compiled_model = Model::default();
    match &model {
        None => errors.push(rule_error(
            "rules/",
            None,
            "no [model] definition found (rules/model.toml)".into(),
        )),
        Some((file, text, m)) => {
            for (name, lits) in &m.steps {
                match Step::parse(name) {
                    Some(step) => {
                        let id = c.literal_pattern(&format!("model/step.{name}"), lits);
                        compiled_model.steps.push((step, id));
                    }
                    None => errors.push(rule_error(file, None, format!(
                            "unknown step '{name}' in [model.steps] (expected createSecret, setSecret, testSecret or finishSecret)"
                        ))),
                }
            }
            if !m.rotation_succeeded.is_empty() {
                compiled_model.rotation_succeeded =
                    Some(c.literal_pattern("model/rotation_succeeded", &m.rotation_succeeded));
            }
            if !m.rotation_related.is_empty() {
                compiled_model.rotation_related =
                    Some(c.literal_pattern("model/rotation_related", &m.rotation_related));
            }
            if !m.neutral.is_empty() {
                compiled_model.neutral = Some(c.literal_pattern("model/neutral", &m.neutral));
            }
            if !m.error_markers.is_empty() {
                compiled_model.error_marker =
                    Some(c.literal_pattern("model/error_markers", &m.error_markers));
            }
            for (i, f) in m.facts.iter().enumerate() {
                let err = |message: String| {
                    rule_error(file, Some(line_of(text, f.span().start)), message)
                };
                let spec = f.get_ref();
                match (&spec.regex, &spec.value) {
                    (Some(re), None) if spec.name.is_none() && spec.after.is_none() && spec.at.is_none() => {
                        let p = PatternSpec {
                            literal: None,
                            any: None,
                            regex: Some(re.clone()),
                            needle: spec.needle.clone(),
                            needles: spec.needles.clone(),
                        };
                        match c.pattern(&format!("model/fact{i}"), &p, false) {
                            Ok(id) => compiled_model.facts.push(id),
                            Err(msg) => errors.push(err(msg)),
                        }
                    }
                    (None, Some(value)) if spec.needle.is_none() && spec.needles.is_none() => {
                        let Some(name) = &spec.name else {
                            errors.push(err("a positional fact needs `name`".into()));
                            continue;
                        };
                        let (lits, at) = match (&spec.after, &spec.at) {
                            (Some(a), None) => (a, false),
                            (None, Some(a)) => (a, true),
                            _ => {
                                errors.push(err("give exactly one of `after` or `at`".into()));
                                continue;
                            }
                        };
                        if lits.is_empty() || lits.iter().any(String::is_empty) {
                            errors.push(err("`after`/`at` literals must be non-empty".into()));
                            continue;
                        }
                        let re = match value_dfa(value) {
                            Ok(r) => r,
                            Err(e) => {
                                errors.push(err(format!("invalid value regex: {e}")));
                                continue;
                            }
                        };
                        let index = compiled_model.positional.len();
                        c.matcher.add_positional(index, lits, at);
                        compiled_model.positional.push(PositionalFact {
                            fact: 0,
                            value: re,
                            name: name.clone(),
                        });
                    }
                    _ => errors.push(err(
                        "a fact is either `name` + `after`/`at` + `value`, or `regex` with `needle`/`needles`"
                            .into(),
                    )),
                }
            }
        }
    }

    // Symptom patterns first, so fact names are all known before conditions are compiled.
    let mut local_maps: BTreeMap<String, HashMap<String, PatternId>> = BTreeMap::new();
    for (id, def) in &symptoms {
        let mut local = HashMap::new();
        for (name, spec) in &def.patterns {
            match c.pattern(&format!("{id}/{name}"), spec.get_ref(), true) {
                Ok(pid) => {
                    local.insert(name.clone(), pid);
                }
                Err(msg) => errors.push(rule_error(
                    &def.file,
                    Some(line_of(&def.text, spec.span().start)),
                    format!("pattern '{name}': {msg}"),
                )),
            }
        }
        local_maps.insert(id.clone(), local);
    }

    let mut fact_names: BTreeSet<String> = BUILTIN_FACTS.iter().map(|s| s.to_string()).collect();
    for p in &c.patterns {
        if let Some(re) = &p.regex {
            fact_names.extend(re.capture_names().flatten().map(str::to_owned));
        }
    }
    fact_names.extend(compiled_model.positional.iter().map(|p| p.name.clone()));

    let mut compiled_symptoms = Vec::new();
    for (id, def) in &symptoms {
        let local = &local_maps[id];
        let mut cx = CondCx {
            file: &def.file,
            text: &def.text,
            patterns: local,
            facts: &fact_names,
            errors: &mut errors,
        };
        let spec = def.spec.get_ref();
        let severity = match Severity::parse(spec.severity.get_ref()) {
            Some(s) => s,
            None => {
                cx.error(
                    spec.severity.span().start,
                    format!(
                        "unknown severity '{}' (expected info, low, medium, high or critical)",
                        spec.severity.get_ref()
                    ),
                );
                Severity::Medium
            }
        };
        let symptom_line = def.spec.span().start;
        let tier = match &spec.tier {
            None => Tier::Specific,
            Some(t) => match t.get_ref().as_str() {
                "specific" => Tier::Specific,
                "generic" => Tier::Generic,
                "fallback" => Tier::Fallback,
                other => {
                    cx.error(
                        t.span().start,
                        format!("unknown tier '{other}' (expected specific, generic or fallback)"),
                    );
                    Tier::Specific
                }
            },
        };
        let trigger = match &def.trigger {
            Some(t) => cx.condition(t, symptom_line),
            None => {
                cx.error(symptom_line, "a symptom needs a [trigger] condition".into());
                Condition::All(vec![])
            }
        };
        if def.candidates.is_empty() {
            cx.error(
                symptom_line,
                "a symptom needs at least one [[candidate]] cause".into(),
            );
        }
        let mut candidates = Vec::new();
        for cand in &def.candidates {
            let cs = cand.get_ref();
            let Some(&cause) = cause_index.get(cs.cause.get_ref()) else {
                cx.error(
                    cs.cause.span().start,
                    format!(
                        "unknown cause '{}' (define it with [[cause]] in rules/causes.toml)",
                        cs.cause.get_ref()
                    ),
                );
                continue;
            };
            let at = cand.span().start;
            let requires = cs.requires.as_ref().map(|r| cx.condition(r, at));
            let evidence = cs
                .evidence
                .iter()
                .map(|e| {
                    if let Some(why) = &e.why {
                        cx.placeholders(why, at);
                    }
                    EvidenceRule {
                        condition: cx.condition(&e.when, at),
                        weight: e.weight,
                        why: e.why.clone(),
                    }
                })
                .collect();
            for r in &cs.remediation {
                cx.placeholders(r, at);
            }
            candidates.push(Candidate {
                cause,
                prior: cs.prior,
                requires,
                evidence,
                remediation: cs.remediation.clone(),
            });
        }
        cx.placeholders(&spec.title, symptom_line);
        compiled_symptoms.push(Symptom {
            id: spec.id.clone(),
            title: spec.title.clone(),
            severity,
            references: spec.references.clone(),
            tier,
            unknown_weight: spec.unknown_weight.unwrap_or(0.0),
            trigger,
            candidates,
            file: def.file.clone(),
        });
    }

    for (file, text, spec) in causes.values() {
        let s = spec.get_ref();
        let mut cx = CondCx {
            file,
            text,
            patterns: &HashMap::new(),
            facts: &fact_names,
            errors: &mut errors,
        };
        for r in s.remediation.iter().chain(std::iter::once(&s.title)) {
            cx.placeholders(r, spec.span().start);
        }
    }

    if !errors.is_empty() {
        errors.sort_by(|a, b| a.at.cmp(&b.at));
        errors.dedup();
        return Err(errors);
    }
    let fact_names: Vec<String> = fact_names.into_iter().collect();
    let id_of = |n: &str| fact_names.iter().position(|f| f == n).unwrap_or(0) as FactId;
    let mut patterns = c.patterns;
    for p in &mut patterns {
        if let Some(re) = &p.regex {
            p.captures = re
                .capture_names()
                .enumerate()
                .filter_map(|(i, n)| n.map(|n| (i, id_of(n))))
                .collect();
        }
    }
    for p in &mut compiled_model.positional {
        p.fact = id_of(&p.name);
    }
    let known = KnownFacts {
        secret_arn: id_of("secret_arn"),
        token: id_of("token"),
        function_arn: id_of("function_arn"),
        function_name: id_of("function_name"),
        runtime_version: id_of("runtime_version"),
    };
    Ok(RuleSet {
        matcher: c.matcher.build(),
        patterns,
        model: compiled_model,
        symptoms: compiled_symptoms,
        causes: cause_list,
        cause_index,
        fact_names,
        known,
    })
}

#[derive(Default)]
struct Compiler {
    patterns: Vec<Pattern>,
    matcher: MatcherBuilder,
}

impl Compiler {
    fn next_id(&self) -> Result<PatternId, String> {
        PatternId::try_from(self.patterns.len()).map_err(|_| "too many patterns".to_string())
    }

    fn literal_pattern(&mut self, name: &str, literals: &[String]) -> PatternId {
        let id = self.next_id().expect("pattern count");
        let lits: Vec<String> = literals.iter().filter(|l| !l.is_empty()).cloned().collect();
        self.matcher.add_literals(id, &lits);
        self.patterns.push(Pattern {
            name: name.to_string(),
            literals: lits,
            regex: None,
            captures: Vec::new(),
        });
        id
    }

    fn pattern(
        &mut self,
        name: &str,
        spec: &PatternSpec,
        confirm: bool,
    ) -> Result<PatternId, String> {
        let given = [
            spec.literal.is_some(),
            spec.any.is_some(),
            spec.regex.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if given != 1 {
            return Err("give exactly one of `literal`, `any` or `regex`".into());
        }
        if let Some(re) = &spec.regex {
            let needles: Vec<String> = match (&spec.needle, &spec.needles) {
                (Some(n), None) => vec![n.clone()],
                (None, Some(ns)) => ns.clone(),
                _ => {
                    return Err("a regex pattern needs `needle` (or `needles`): a literal every match contains, so the regex only runs on lines that have it".into());
                }
            };
            if needles.is_empty() || needles.iter().any(|n| n.is_empty()) {
                return Err("needles must be non-empty literals".into());
            }
            let compiled = Regex::new(re).map_err(|e| format!("invalid regex: {e}"))?;
            let id = self.next_id()?;
            self.matcher
                .add_regex(id, compiled.clone(), &needles, confirm);
            self.patterns.push(Pattern {
                name: name.to_string(),
                literals: needles,
                regex: Some(compiled),
                captures: Vec::new(),
            });
            return Ok(id);
        }
        if spec.needle.is_some() || spec.needles.is_some() {
            return Err("`needle` only goes with `regex`".into());
        }
        let lits: Vec<String> = match (&spec.literal, &spec.any) {
            (Some(l), _) => vec![l.clone()],
            (_, Some(a)) => a.clone(),
            _ => unreachable!(),
        };
        if lits.is_empty() || lits.iter().any(|l| l.is_empty()) {
            return Err("literals must be non-empty".into());
        }
        Ok(self.literal_pattern(name, &lits))
    }
}

struct CondCx<'a> {
    file: &'a str,
    text: &'a str,
    patterns: &'a HashMap<String, PatternId>,
    facts: &'a BTreeSet<String>,
    errors: &'a mut Vec<Problem>,
}

impl CondCx<'_> {
    fn error(&mut self, offset: usize, message: String) {
        self.errors.push(rule_error(
            self.file,
            Some(line_of(self.text, offset)),
            message,
        ));
    }

    fn pattern_refs(&mut self, refs: &OneOrMany) -> Vec<PatternId> {
        let mut out = Vec::new();
        for r in refs.items() {
            match self.patterns.get(r.get_ref().as_str()) {
                Some(&id) => out.push(id),
                None => {
                    let mut known: Vec<_> = self.patterns.keys().cloned().collect();
                    known.sort();
                    self.error(
                        r.span().start,
                        format!(
                            "unknown pattern '{}' (this symptom's [patterns] are: {})",
                            r.get_ref(),
                            known.join(", ")
                        ),
                    );
                }
            }
        }
        out
    }

    fn fact(&mut self, f: &Spanned<String>) -> String {
        if !self.facts.contains(f.get_ref()) {
            self.error(
                f.span().start,
                format!(
                    "unknown fact '{}' (known: a named group of a fact or pattern regex, or one of {})",
                    f.get_ref(),
                    BUILTIN_FACTS.join(", ")
                ),
            );
        }
        f.get_ref().clone()
    }

    /// Checks the `{name}` placeholders of a template (parsed as [`crate::template::render`] does).
    fn placeholders(&mut self, template: &str, at: usize) {
        for name in crate::template::placeholders(template) {
            if !self.facts.contains(name) {
                self.error(
                    at,
                    format!("unknown placeholder '{{{name}}}' in \"{template}\""),
                );
            }
        }
    }

    fn condition(&mut self, spec: &ConditionSpec, at: usize) -> Condition {
        let scope = match &spec.scope {
            None => Scope::Invocation,
            Some(s) => match s.get_ref().as_str() {
                "invocation" => Scope::Invocation,
                "rotation" => Scope::Rotation,
                other => {
                    self.error(
                        s.span().start,
                        format!("unknown scope '{other}' (expected invocation or rotation)"),
                    );
                    Scope::Invocation
                }
            },
        };
        let mut parts = Vec::new();
        if let Some(h) = &spec.has {
            parts.push(Condition::Has(self.pattern_refs(h), scope));
        }
        if let Some(h) = &spec.lacks {
            parts.push(Condition::Lacks(self.pattern_refs(h), scope));
        }
        if let Some(h) = &spec.last {
            parts.push(Condition::Last(self.pattern_refs(h), scope));
        }
        match (&spec.after, &spec.then_none) {
            (Some(a), Some(n)) => {
                let after = self.pattern_refs(&OneOrMany::one(a.clone()));
                let none = self.pattern_refs(n);
                if let Some(&after) = after.first() {
                    parts.push(Condition::AfterNone { after, none, scope });
                }
            }
            (Some(a), None) => self.error(a.span().start, "`after` needs `then_none`".into()),
            (None, Some(_)) => self.error(at, "`then_none` needs `after`".into()),
            (None, None) => {}
        }
        if let Some(b) = spec.failed {
            parts.push(Condition::Failed(b));
        }
        if let Some(b) = spec.errors {
            parts.push(Condition::Errors(b, scope));
        }
        if let Some(b) = spec.timed_out {
            parts.push(Condition::TimedOut(b));
        }
        if let Some(b) = spec.completed {
            parts.push(Condition::Completed(b));
        }
        if let Some(b) = spec.fragment {
            parts.push(Condition::Fragment(b));
        }
        if let Some(b) = spec.rotation {
            parts.push(Condition::Rotation(b));
        }
        if let Some(steps) = &spec.step {
            let mut v = Vec::new();
            for s in steps.items() {
                match Step::parse(s.get_ref()) {
                    Some(st) => v.push(st),
                    None => self.error(s.span().start, format!("unknown step '{}'", s.get_ref())),
                }
            }
            parts.push(Condition::Step(v));
        }
        if let Some(r) = &spec.duration_ms {
            parts.push(Condition::Duration(self.range(r, at)));
        }
        if let Some(r) = &spec.timeout_ms {
            parts.push(Condition::Timeout(self.range(r, at)));
        }
        if let Some([a, b]) = &spec.same {
            parts.push(Condition::Same(self.fact(a), self.fact(b)));
        }
        if let Some([a, b]) = &spec.differ {
            parts.push(Condition::Differ(self.fact(a), self.fact(b)));
        }
        if let Some(f) = &spec.fact {
            parts.push(Condition::Fact(self.fact(f)));
        }
        if let Some(all) = &spec.all {
            parts.push(Condition::All(
                all.iter().map(|c| self.condition(c, at)).collect(),
            ));
        }
        if let Some(any) = &spec.any {
            if any.is_empty() {
                self.error(at, "`any = []` can never hold".into());
            }
            parts.push(Condition::Any(
                any.iter().map(|c| self.condition(c, at)).collect(),
            ));
        }
        if let Some(not) = &spec.not {
            parts.push(Condition::Not(Box::new(self.condition(not, at))));
        }
        if parts.is_empty() {
            self.error(at, "empty condition: give at least one of has, lacks, last, after/then_none, failed, errors, timed_out, completed, fragment, rotation, step, duration_ms, timeout_ms, same, differ, fact, all, any, not".into());
        }
        if parts.len() == 1 {
            parts.pop().unwrap()
        } else {
            Condition::All(parts)
        }
    }

    fn range(&mut self, r: &RangeSpec, at: usize) -> Range {
        if r.gt.is_none() && r.gte.is_none() && r.lt.is_none() && r.lte.is_none() {
            self.error(at, "a range needs gt, gte, lt or lte".into());
        }
        Range {
            gt: r.gt,
            gte: r.gte,
            lt: r.lt,
            lte: r.lte,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODEL: &str = r#"
[model]
steps = { setSecret = ["setSecret:"] }
rotation_succeeded = ["finishSecret: Successfully"]
facts = [ { regex = 'secret arn (?P<secret_arn>arn:\S+)', needle = "secret arn" } ]
"#;

    const CAUSES: &str = r#"
[[cause]]
id = "database-unreachable"
title = "Database unreachable"
remediation = ["check {secret_arn}"]
"#;

    fn files(symptom: &str) -> Vec<(String, String)> {
        vec![
            ("rules/model.toml".into(), MODEL.into()),
            ("rules/causes.toml".into(), CAUSES.into()),
            ("rules/symptoms/s.toml".into(), symptom.into()),
        ]
    }

    fn errors(symptom: &str) -> Vec<String> {
        match compile(&files(symptom)) {
            Ok(_) => vec![],
            Err(e) => e.iter().map(|e| e.to_string()).collect(),
        }
    }

    const GOOD: &str = r#"
[symptom]
id = "s"
title = "login failed"
severity = "high"

[patterns]
login = { literal = "Unable to log into database" }
slow = { regex = 'timed? ?out', needle = "out" }

[trigger]
has = "login"

[[candidate]]
cause = "database-unreachable"
prior = 1.0
evidence = [ { if = { duration_ms = { gt = 5000 } }, weight = 2.0, why = "slow" } ]
"#;

    #[test]
    fn the_embedded_rules_compile() {
        let rs = load(None).unwrap_or_else(|e| {
            panic!(
                "{}",
                e.iter()
                    .map(|e| e.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            )
        });
        assert!(!rs.symptoms.is_empty());
        assert!(!rs.matcher.literals().is_empty());
    }

    #[test]
    fn a_good_symptom_compiles() {
        let rs = compile(&files(GOOD)).unwrap();
        assert_eq!(rs.symptoms.len(), 1);
        assert_eq!(rs.symptoms[0].candidates.len(), 1);
        assert!(rs.fact_names.contains(&"secret_arn".to_string()));
    }

    #[test]
    fn unknown_pattern_is_reported_with_file_and_line() {
        let bad = GOOD.replace("has = \"login\"", "has = \"logn\"");
        let e = errors(&bad);
        assert_eq!(e.len(), 1, "{e:?}");
        assert!(
            e[0].starts_with("rules/symptoms/s.toml:12: unknown pattern 'logn'"),
            "{}",
            e[0]
        );
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let bad = GOOD.replace("severity = \"high\"", "severity = high");
        let e = errors(&bad);
        assert_eq!(e.len(), 1);
        assert!(e[0].starts_with("rules/symptoms/s.toml:5:"), "{}", e[0]);
    }

    #[test]
    fn semantic_errors() {
        for (from, to, want) in [
            (
                "cause = \"database-unreachable\"",
                "cause = \"nope\"",
                "unknown cause 'nope'",
            ),
            (
                "severity = \"high\"",
                "severity = \"urgent\"",
                "unknown severity 'urgent'",
            ),
            (
                "needle = \"out\"",
                "needle = \"\"",
                "needles must be non-empty",
            ),
            (
                "regex = 'timed? ?out'",
                "regex = 'timed( out'",
                "invalid regex",
            ),
            (
                "why = \"slow\"",
                "why = \"slow {nope}\"",
                "unknown placeholder '{nope}'",
            ),
            (
                "duration_ms = { gt = 5000 }",
                "duration_ms = { }",
                "a range needs",
            ),
            (
                "has = \"login\"",
                "scope = \"everywhere\"\nhas = \"login\"",
                "unknown scope",
            ),
            (
                "has = \"login\"",
                "step = \"makeSecret\"",
                "unknown step 'makeSecret'",
            ),
        ] {
            let bad = GOOD.replace(from, to);
            assert_ne!(bad, GOOD, "{from}");
            let e = errors(&bad);
            assert!(e.iter().any(|m| m.contains(want)), "{want}: {e:?}");
        }
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let bad = GOOD.replace("prior = 1.0", "prior = 1.0\nweight = 2");
        let e = errors(&bad);
        assert!(e[0].contains("unknown field `weight`"), "{e:?}");
    }

    #[test]
    fn later_files_override_by_id() {
        let mut f = files(GOOD);
        f.push((
            "custom/s.toml".into(),
            GOOD.replace("title = \"login failed\"", "title = \"overridden\""),
        ));
        let rs = compile(&f).unwrap();
        assert_eq!(rs.symptoms.len(), 1);
        assert_eq!(rs.symptoms[0].title, "overridden");
        assert_eq!(rs.symptoms[0].file, "custom/s.toml");
    }
}
