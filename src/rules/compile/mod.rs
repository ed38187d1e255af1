//! Loading and compiling rule files, with errors that name the file and line.
//!
//! Files are read in order: the embedded `rules/` first, then `--rules DIR`. Definitions are keyed
//! by id (symptom id, cause id; the model is one definition), and a later file with the same id
//! replaces the earlier one, so a user overrides a single rule by dropping one file in DIR.
//!
//! [`compile`] runs in named phases, each reporting every problem it finds (with the file and
//! line) before the next starts:
//!
//! 1. [`Definitions::parse`]: TOML syntax and shape (unknown keys, a bad severity or tier), per
//!    file; definitions keyed by id.
//! 2. [`causes`]: the causes, by id.
//! 3. [`model::compile`]: the model's patterns and facts (their literals go first into the matcher).
//! 4. [`symptom_patterns`]: every symptom's patterns, so that every fact name is known...
//! 5. [`fact_names`]: ...the built-in facts, and the named groups and names of every fact rule;
//!    then [`model::inferences`], which may name any of them.
//! 6. [`symptom`]: triggers, candidates, evidence and templates, checked against those names.
//! 7. [`cause_templates`]: the causes' placeholders.
//! 8. [`assemble`]: fact ids, the matcher, the [`RuleSet`].

mod condition;
mod model;
mod patterns;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use toml::Spanned;

use super::schema::{
    CandidateSpec, CauseSpec, ConditionSpec, ModelSpec, PatternSpec, RuleFile, SymptomSpec,
};
use super::{
    Candidate, Cause, Condition, EvidenceRule, FactId, KnownFacts, Model, PatternId, RuleSet,
    Symptom,
};
use crate::problem::{Kind, Problem};
use condition::CondCx;
use patterns::Compiler;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded_rules.rs"));
}

/// The message catalog's files (`rules/catalog/*.toml`), embedded apart from the rules.
pub(crate) fn catalog_files() -> &'static [(&'static str, &'static str)] {
    embedded::CATALOG
}

/// Facts every invocation or rotation may know without a rule extracting them.
pub(crate) const BUILTIN_FACTS: &[&str] = &[
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

/// The fact the model's `[model.engines]` infer: the database engine's name.
pub(crate) const ENGINE_FACT: &str = "engine";

/// A problem with a rule file, at a line of it when one is known.
fn rule_error(file: &str, line: Option<usize>, message: String) -> Problem {
    let p = Problem::of(file, Kind::Rule(message));
    match line {
        Some(l) => p.at_line(l),
        None => p,
    }
}

/// The rule files built into the binary: `(path, contents)`.
pub(crate) fn embedded_files() -> &'static [(&'static str, &'static str)] {
    embedded::FILES
}

/// Loads the embedded rules plus the `*.toml` files under `extra` (recursively, sorted by path).
pub fn load(extra: Option<&Path>) -> Result<RuleSet, Vec<Problem>> {
    let mut files: Vec<(String, String)> = embedded_files()
        .iter()
        .map(|(n, t)| (n.to_string(), t.to_string()))
        .collect();
    let Some(dir) = extra else {
        return compile(&files);
    };
    files.extend(read_dir(dir)?);
    let rules = compile(&files)?;
    compiled_now(&rules, dir)?;
    Ok(rules)
}

/// Compiles every regex of a rule set that holds the user's rules: parsing at load finds syntax
/// errors, but only compiling finds a regex too big to compile, which must be an error here, not
/// a failure at the first line that needs it (the embedded rules' regexes are compiled by a test).
fn compiled_now(rules: &RuleSet, dir: &Path) -> Result<(), Vec<Problem>> {
    let errors: Vec<Problem> = rules
        .patterns
        .iter()
        .filter_map(|p| {
            let e = p.regex.as_ref()?.compile().err()?;
            let message = format!("pattern '{}': invalid regex: {e}", p.name);
            Some(rule_error(&dir.display().to_string(), None, message))
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
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

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// A definition and the file it came from (its path, and its text for line numbers).
struct Source<T> {
    file: String,
    text: String,
    spec: T,
}

/// A symptom: its table and the tables of its file that belong to it.
struct SymptomDef {
    spec: Spanned<SymptomSpec>,
    patterns: BTreeMap<String, Spanned<PatternSpec>>,
    trigger: Option<ConditionSpec>,
    candidates: Vec<Spanned<CandidateSpec>>,
}

/// Every definition of every file, later files replacing earlier ones of the same id.
#[derive(Default)]
struct Definitions {
    symptoms: BTreeMap<String, Source<SymptomDef>>,
    causes: BTreeMap<String, Source<Spanned<CauseSpec>>>,
    model: Option<Source<ModelSpec>>,
}

impl Definitions {
    /// Phase 1: parses every file (syntax and shape), keying definitions by id.
    fn parse(files: &[(String, String)], errors: &mut Vec<Problem>) -> Definitions {
        let mut defs = Definitions::default();
        for (file, text) in files {
            match toml::from_str::<RuleFile>(text) {
                Ok(parsed) => defs.add(file, text, parsed, errors),
                Err(e) => errors.push(rule_error(
                    file,
                    e.span().map(|s| line_of(text, s.start)),
                    e.message().trim().to_string(),
                )),
            }
        }
        defs
    }

    fn add(&mut self, file: &str, text: &str, parsed: RuleFile, errors: &mut Vec<Problem>) {
        let source = |spec| Source {
            file: file.to_owned(),
            text: text.to_owned(),
            spec,
        };
        for c in parsed.cause {
            self.causes.insert(c.get_ref().id.clone(), source(c));
        }
        if let Some(m) = parsed.model {
            self.model = Some(Source {
                file: file.to_owned(),
                text: text.to_owned(),
                spec: m,
            });
        }
        match parsed.symptom {
            Some(spec) => {
                let id = spec.get_ref().id.clone();
                let def = SymptomDef {
                    spec,
                    patterns: parsed.patterns,
                    trigger: parsed.trigger,
                    candidates: parsed.candidate,
                };
                self.symptoms.insert(
                    id,
                    Source {
                        file: file.to_owned(),
                        text: text.to_owned(),
                        spec: def,
                    },
                );
            }
            None if !parsed.patterns.is_empty()
                || parsed.trigger.is_some()
                || !parsed.candidate.is_empty() =>
            {
                errors.push(rule_error(file, None, "[patterns], [trigger] and [[candidate]] belong to a [symptom]; this file has no [symptom] table".into()));
            }
            None => {}
        }
    }
}

/// Compiles rule files (`(path, contents)`, later overriding earlier) into a [`RuleSet`].
pub(crate) fn compile(files: &[(String, String)]) -> Result<RuleSet, Vec<Problem>> {
    let mut errors = Vec::new();
    let defs = Definitions::parse(files, &mut errors);
    let (causes, cause_index) = causes(&defs.causes);
    let mut c = Compiler::default();
    let mut model = model::compile(defs.model.as_ref(), &mut c, &mut errors);
    let local = symptom_patterns(&defs.symptoms, &mut c, &mut errors);
    let fact_names = fact_names(&c, &model);
    model.inferences = model::inferences(defs.model.as_ref(), &fact_names, &mut errors);
    model.lookups = model::lookups(
        defs.model.as_ref(),
        &fact_names,
        &model.engines,
        &mut errors,
    );
    let mut symptoms = Vec::new();
    for (id, def) in &defs.symptoms {
        let cx = CondCx {
            file: &def.file,
            text: &def.text,
            patterns: &local[id],
            facts: &fact_names,
            errors: &mut errors,
        };
        symptoms.push(symptom(def, cx, &cause_index));
    }
    let mut fix_facts = fact_names.clone();
    fix_facts.extend(model.lookups.iter().map(|l| l.fact.clone()));
    cause_templates(&defs.causes, &fix_facts, &mut errors);
    if !errors.is_empty() {
        errors.sort_by(|a, b| a.at.cmp(&b.at));
        errors.dedup();
        return Err(errors);
    }
    let mut rules = assemble(c, model, symptoms, causes, fact_names);
    rules.fingerprint = fingerprint(files);
    Ok(rules)
}

/// The rule set's fingerprint: FNV-1a (64 bits) over every rule file's name and text, in the
/// order they were compiled, as `fnv1a64:<16 hex digits>`. Reports carry it so that `rotdiag
/// merge` refuses to merge reports made with different rules; a hash that is stable across
/// builds and platforms is all it needs (no adversary chooses rule files to collide).
fn fingerprint(files: &[(String, String)]) -> String {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0100_0000_01b3;
    let mut h = OFFSET;
    for (name, text) in files {
        for b in name.bytes().chain([0]).chain(text.bytes()).chain([0]) {
            h = (h ^ u64::from(b)).wrapping_mul(PRIME);
        }
    }
    format!("fnv1a64:{h:016x}")
}

/// Phase 2: the causes, in id order, and their index.
fn causes(
    defs: &BTreeMap<String, Source<Spanned<CauseSpec>>>,
) -> (Vec<Cause>, HashMap<String, usize>) {
    let mut list = Vec::new();
    let mut index = HashMap::new();
    for (id, def) in defs {
        let s = def.spec.get_ref();
        index.insert(id.clone(), list.len());
        list.push(Cause {
            id: s.id.clone(),
            titles: s.title.list(),
            explanation: s.explanation.clone(),
            remediation: s.remediation.clone(),
            references: s.references.clone(),
        });
    }
    (list, index)
}

/// Phase 4: every symptom's patterns, named `<symptom>/<pattern>`; per symptom, its names.
fn symptom_patterns(
    symptoms: &BTreeMap<String, Source<SymptomDef>>,
    c: &mut Compiler,
    errors: &mut Vec<Problem>,
) -> BTreeMap<String, HashMap<String, PatternId>> {
    let mut maps = BTreeMap::new();
    for (id, def) in symptoms {
        let mut local = HashMap::new();
        for (name, spec) in &def.spec.patterns {
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
        maps.insert(id.clone(), local);
    }
    maps
}

/// Phase 5: every fact a rule may name: the built-in ones, the named groups of every regex, the
/// positional facts.
fn fact_names(c: &Compiler, model: &Model) -> BTreeSet<String> {
    let mut names: BTreeSet<String> = BUILTIN_FACTS.iter().map(|s| s.to_string()).collect();
    if !model.engines.is_empty() {
        names.insert(ENGINE_FACT.to_string());
    }
    for p in &c.patterns {
        if let Some(re) = &p.regex {
            names.extend(re.capture_names().flatten().map(str::to_owned));
        }
    }
    names.extend(model.positional.iter().map(|p| p.name.clone()));
    names
}

/// Phase 6: one symptom, its trigger and candidates checked against its patterns and the facts.
fn symptom(
    def: &Source<SymptomDef>,
    mut cx: CondCx,
    cause_index: &HashMap<String, usize>,
) -> Symptom {
    let spec = def.spec.spec.get_ref();
    let symptom_line = def.spec.spec.span().start;
    let trigger = match &def.spec.trigger {
        Some(t) => cx.condition(t, symptom_line),
        None => {
            cx.error(symptom_line, "a symptom needs a [trigger] condition".into());
            Condition::All(vec![])
        }
    };
    if def.spec.candidates.is_empty() {
        cx.error(
            symptom_line,
            "a symptom needs at least one [[candidate]] cause".into(),
        );
    }
    let candidates = def
        .spec
        .candidates
        .iter()
        .filter_map(|cand| candidate(cand, &mut cx, cause_index))
        .collect();
    cx.placeholders(&spec.title, symptom_line);
    Symptom {
        id: spec.id.clone(),
        title: spec.title.clone(),
        severity: spec.severity,
        references: spec.references.clone(),
        tier: spec.tier,
        unknown_weight: spec.unknown_weight.unwrap_or(0.0),
        trigger,
        candidates,
        file: def.file.clone(),
    }
}

/// A candidate cause of a symptom: its cause must exist, its conditions and templates compile.
fn candidate(
    cand: &Spanned<CandidateSpec>,
    cx: &mut CondCx,
    cause_index: &HashMap<String, usize>,
) -> Option<Candidate> {
    let cs = cand.get_ref();
    let Some(&cause) = cause_index.get(cs.cause.get_ref()) else {
        cx.error(
            cs.cause.span().start,
            format!(
                "unknown cause '{}' (define it with [[cause]] in rules/causes/{}.toml)",
                cs.cause.get_ref(),
                cs.cause.get_ref()
            ),
        );
        return None;
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
    Some(Candidate {
        cause,
        prior: cs.prior,
        requires,
        evidence,
        remediation: cs.remediation.clone(),
    })
}

/// Phase 7: the placeholders of every cause's title and remediation.
fn cause_templates(
    causes: &BTreeMap<String, Source<Spanned<CauseSpec>>>,
    fact_names: &BTreeSet<String>,
    errors: &mut Vec<Problem>,
) {
    for def in causes.values() {
        let s = def.spec.get_ref();
        let mut cx = CondCx {
            file: &def.file,
            text: &def.text,
            patterns: &HashMap::new(),
            facts: fact_names,
            errors,
        };
        let titles = s.title.list();
        for r in s.remediation.iter().chain(&titles) {
            cx.placeholders(r, def.spec.span().start);
        }
        title_variants(&titles, &mut cx, def.spec.span().start);
    }
}

/// A title's variants: the last has no placeholders (so some variant always shows without a
/// `<name>` gap), and only the last (a variant after one without placeholders is never shown).
fn title_variants(titles: &[String], cx: &mut CondCx, at: usize) {
    let plain: Vec<bool> = titles
        .iter()
        .map(|t| crate::template::placeholders(t).is_empty())
        .collect();
    match plain.iter().position(|&p| p) {
        None => cx.error(
            at,
            format!(
                "the title \"{}\" needs a variant without placeholders: title = [\"... {{fact}} ...\", \"... without it ...\"]",
                titles.last().map_or("", String::as_str)
            ),
        ),
        Some(i) if i + 1 < titles.len() => cx.error(
            at,
            format!(
                "title variants after \"{}\" (which has no placeholders) are never shown",
                titles[i]
            ),
        ),
        Some(_) => {}
    }
}

/// Phase 8: fact names become ids (in patterns' captures, positional facts, the facts the model
/// reads), the matcher is built.
fn assemble(
    c: Compiler,
    mut model: Model,
    symptoms: Vec<Symptom>,
    causes: Vec<Cause>,
    fact_names: BTreeSet<String>,
) -> RuleSet {
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
    for p in &mut model.positional {
        p.fact = id_of(&p.name);
    }
    let known = KnownFacts {
        secret_arn: id_of("secret_arn"),
        token: id_of("token"),
        function_arn: id_of("function_arn"),
        function_name: id_of("function_name"),
        runtime_version: id_of("runtime_version"),
        engine: id_of(ENGINE_FACT),
    };
    let mut signatures = Vec::new();
    for sym in &symptoms {
        trigger_patterns(&sym.trigger, &mut signatures);
    }
    signatures.sort_unstable();
    signatures.dedup();
    RuleSet {
        matcher: c.matcher.build(),
        patterns,
        model,
        symptoms,
        causes,
        fact_names,
        known,
        signatures,
        fingerprint: String::new(),
    }
}

/// The patterns a trigger requires a failure line to match (`has`; `then`, after its `after`),
/// outside `not`. (`after`, `last` and `then_none` name the healthy lines around a failure.)
fn trigger_patterns(c: &Condition, out: &mut Vec<PatternId>) {
    match c {
        Condition::Has(p, _) => out.extend(p),
        Condition::AfterThen { then, .. } => out.extend(then),
        Condition::All(cs) | Condition::Any(cs) => {
            for c in cs {
                trigger_patterns(c, out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::{Severity, Tier};

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
        // Regexes compile on first use (`rules::lazy`): every embedded one must compile.
        for p in &rs.patterns {
            if let Some(re) = &p.regex {
                assert!(re.compile().is_ok(), "{}: {:?}", p.name, re.compile().err());
            }
        }
    }

    #[test]
    fn a_user_regex_too_big_to_compile_is_an_error_at_load() {
        let dir = tempfile::tempdir().unwrap();
        let rule = "[symptom]\nid = \"huge\"\ntitle = \"x\"\nseverity = \"low\"\n\n[patterns]\n\
                    p = { regex = '(?:\\w{100}){100}', needle = \"x\" }\n\n[trigger]\nhas = \"p\"\n\n\
                    [[candidate]]\ncause = \"database-unreachable\"\n";
        std::fs::write(dir.path().join("huge.toml"), rule).unwrap();
        let errors = load(Some(dir.path())).err().expect("an error");
        let text = errors.iter().map(|e| e.to_string()).collect::<String>();
        assert!(text.contains("pattern 'huge/p': invalid regex:"), "{text}");
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
                "step = \"makeSecret\"",
                "unknown step 'makeSecret'",
            ),
            (
                "has = \"login\"",
                "then = \"login\"",
                "`then` needs `after`",
            ),
            (
                "has = \"login\"",
                "after = \"login\"\nthen = \"slow\"\nthen_none = \"slow\"",
                "not both",
            ),
            (
                "has = \"login\"",
                "value = { enjin = \"mysql\" }",
                "unknown fact 'enjin'",
            ),
        ] {
            let bad = GOOD.replace(from, to);
            assert_ne!(bad, GOOD, "{from}");
            let e = errors(&bad);
            assert!(e.iter().any(|m| m.contains(want)), "{want}: {e:?}");
        }
    }

    #[test]
    fn a_sequence_condition_compiles() {
        let then = GOOD.replace("has = \"login\"", "after = \"login\"\nthen = \"slow\"");
        assert!(errors(&then).is_empty());
    }

    /// Severity, tier and scope are enums serde reads: a value that is none of them is reported
    /// at its line, with the values it may take.
    #[test]
    fn bad_severity_tier_and_scope_name_the_line_and_the_choices() {
        for (from, to, want) in [
            (
                "severity = \"high\"",
                "severity = \"urgent\"",
                "rules/symptoms/s.toml:5: unknown variant `urgent`, expected one of `info`, `low`, `medium`, `high`, `critical`",
            ),
            (
                "severity = \"high\"",
                "severity = \"high\"\ntier = \"sometimes\"",
                "rules/symptoms/s.toml:6: unknown variant `sometimes`, expected one of `specific`, `generic`, `fallback`",
            ),
            (
                "has = \"login\"",
                "scope = \"everywhere\"\nhas = \"login\"",
                "rules/symptoms/s.toml:12: unknown variant `everywhere`, expected `invocation` or `rotation`",
            ),
            (
                "severity = \"high\"",
                "severity = 3",
                "rules/symptoms/s.toml:5: wanted string or table",
            ),
        ] {
            let bad = GOOD.replace(from, to);
            let e = errors(&bad);
            assert_eq!(e.len(), 1, "{e:?}");
            assert!(e[0].starts_with(want), "{want}: {e:?}");
        }
        let rs = compile(&files(&GOOD.replace(
            "severity = \"high\"",
            "severity = \"critical\"\ntier = \"fallback\"",
        )))
        .unwrap();
        assert_eq!(
            (rs.symptoms[0].severity, rs.symptoms[0].tier),
            (Severity::Critical, Tier::Fallback)
        );
        assert_eq!(
            compile(&files(GOOD)).unwrap().symptoms[0].tier,
            Tier::Specific
        );
    }

    #[test]
    fn the_model_names_known_facts_and_a_service_principal() {
        let with = |extra: &str| {
            let mut f = files(GOOD);
            f[0].1 = format!("{MODEL}{extra}");
            match compile(&f) {
                Ok(rs) => Ok(rs.model),
                Err(e) => Err(e.iter().map(|e| e.to_string()).collect::<Vec<_>>()),
            }
        };
        let model = with("rotation_function_names = [\"Rotat\"]\nrotation_service = \"secretsmanager.amazonaws.com\"\n[[model.infer]]\nfact = \"token\"\nfrom = \"secret_arn\"\nwhen = { step = \"setSecret\" }\n").unwrap();
        assert!(model.is_rotation_function_name("SecretsManagerPgROTATION"));
        assert!(!model.is_rotation_function_name("orders-api"));
        assert_eq!(
            model.rotation_service.as_deref(),
            Some("secretsmanager.amazonaws.com")
        );
        assert_eq!(model.inferences.len(), 1);
        let e = with("rotation_service = \"arn:aws:iam::1:role/R\"\n").unwrap_err();
        assert!(e[0].contains("must be a service principal"), "{e:?}");
        let e = with("[[model.infer]]\nfact = \"token\"\nfrom = \"nope\"\n").unwrap_err();
        assert!(
            e[0].contains("unknown fact 'nope' in [[model.infer]]"),
            "{e:?}"
        );
        assert!(e[0].starts_with("rules/model.toml:"), "{e:?}");
        let e = with("rotation_function_names = [\" \"]\n").unwrap_err();
        assert!(e[0].contains("must be non-empty"), "{e:?}");
    }

    /// A lookup may name a fact only fixes know and test the engine; what it needs and tests
    /// are known facts (or an earlier lookup's), and the engine is one the model defines.
    #[test]
    fn lookups_name_known_facts_and_engines() {
        let with = |extra: &str| {
            let mut f = files(GOOD);
            f[0].1 = format!("{MODEL}[model.engines.mysql]\nclues = [\"PyMySQL\"]\n{extra}");
            compile(&f)
                .map(|rs| rs.model)
                .map_err(|e| e.iter().map(|e| e.to_string()).collect::<Vec<_>>())
        };
        let host = "[[model.lookup]]\nfact = \"host\"\ncommand = \"h {secret_arn}\"\n";
        let check = "[[model.lookup]]\nfact = \"check\"\nwhen = { engine = \"mysql\" }\ncommand = \"mysql -h {host}\"\n";
        let model = with(&format!("{host}{check}")).unwrap();
        let l = &model.lookups[1];
        assert_eq!(l.needs, ["host"]);
        let mut facts = std::collections::BTreeMap::from([("host".to_string(), "db".to_string())]);
        assert!(!l.applies(&facts), "no engine known");
        facts.insert("engine".into(), "mysql".into());
        assert!(l.applies(&facts));
        for (extra, want) in [
            (
                check.replace("mysql\"", "mysqlx\""),
                "no [model.engines.mysqlx]",
            ),
            (check.to_string(), "unknown fact 'host' in [[model.lookup]]"),
            (check.replace("engine =", "enjin ="), "unknown fact 'enjin'"),
        ] {
            let e = with(&extra).unwrap_err();
            assert!(e.iter().any(|m| m.contains(want)), "{want}: {e:?}");
            assert!(e[0].starts_with("rules/model.toml:"), "{e:?}");
        }
    }

    /// A cause, its symptom and its corpus cases line up by name: `rules/causes/<id>.toml`
    /// defines the cause `<id>`, `rules/symptoms/<id>.toml` the symptom `<id>`.
    #[test]
    fn embedded_rule_files_are_named_after_what_they_define() {
        for (path, text) in embedded_files() {
            let parsed: RuleFile = toml::from_str(text).unwrap();
            let stem = Path::new(path).file_stem().unwrap().to_str().unwrap();
            if path.starts_with("rules/causes/") {
                let ids: Vec<&str> = parsed
                    .cause
                    .iter()
                    .map(|c| c.get_ref().id.as_str())
                    .collect();
                assert_eq!(ids, [stem], "{path}");
                assert!(parsed.symptom.is_none() && parsed.model.is_none(), "{path}");
            } else if path.starts_with("rules/symptoms/") {
                assert_eq!(
                    parsed.symptom.map(|s| s.into_inner().id).as_deref(),
                    Some(stem),
                    "{path}"
                );
                assert!(
                    parsed.cause.is_empty(),
                    "{path}: causes go in rules/causes/"
                );
            } else {
                assert_eq!(*path, "rules/model.toml");
            }
        }
    }

    /// A title never prints a `<fact>` gap: its variants end with one without placeholders, and
    /// the first whose facts are known is shown.
    #[test]
    fn title_variants_end_without_placeholders() {
        let with = |title: &str| {
            let mut f = files(GOOD);
            f[1].1 = CAUSES.replace("title = \"Database unreachable\"", title);
            match compile(&f) {
                Ok(rs) => Ok(rs),
                Err(e) => Err(e.iter().map(|e| e.to_string()).collect::<Vec<_>>()),
            }
        };
        let e = with("title = \"Cannot reach {secret_arn}\"").err().unwrap();
        assert!(
            e[0].contains("needs a variant without placeholders"),
            "{e:?}"
        );
        assert!(e[0].starts_with("rules/causes.toml:2:"), "{e:?}");
        let e = with("title = [\"Plain\", \"Cannot reach {secret_arn}\"]")
            .err()
            .unwrap();
        assert!(e[0].contains("are never shown"), "{e:?}");
        let rs =
            with("title = [\"Cannot reach {secret_arn}\", \"Cannot reach the database\"]").unwrap();
        let cause = &rs.causes[0];
        let mut facts = BTreeMap::new();
        assert_eq!(cause.title_for(&facts), "Cannot reach the database");
        facts.insert("secret_arn".to_string(), "arn:x".to_string());
        assert_eq!(cause.title_for(&facts), "Cannot reach {secret_arn}");
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
