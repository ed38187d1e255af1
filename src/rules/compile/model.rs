//! The `[model]` of `rules/model.toml`: how the Lambda model reads steps, success, rotation
//! functions and facts out of log lines, which facts it infers from others, and which a fix
//! looks up when the logs do not state them.

use std::collections::BTreeSet;

use toml::Spanned;

use super::super::schema::{FactSpec, InferSpec, ModelSpec, PatternSpec};
use super::super::{Engine, Inference, Lookup, Model, PositionalFact};
use super::patterns::{Compiler, value_dfa};
use super::{ENGINE_FACT, Source, line_of, rule_error};
use crate::aws::{Principal, Step};
use crate::problem::Problem;
use crate::template::placeholders;

/// Compiles the model's patterns and facts (their literals join the matcher in this order:
/// steps, success, rotation markers, neutral lines, error markers, runtime error reports,
/// engines, facts). Its inferences are checked later, once every fact name is known
/// ([`inferences`]).
pub(super) fn compile(
    def: Option<&Source<ModelSpec>>,
    c: &mut Compiler,
    errors: &mut Vec<Problem>,
) -> Model {
    let mut model = Model::default();
    let Some(def) = def else {
        errors.push(rule_error(
            "rules/",
            None,
            "no [model] definition found (rules/model.toml)".into(),
        ));
        return model;
    };
    let m = &def.spec;
    for (name, lits) in &m.steps {
        match Step::parse(name) {
            Some(step) => {
                let id = c.literal_pattern(&format!("model/step.{name}"), lits);
                model.steps.push((step, id));
            }
            None => errors.push(rule_error(
                &def.file,
                None,
                format!(
                    "unknown step '{name}' in [model.steps] (expected createSecret, setSecret, testSecret or finishSecret)"
                ),
            )),
        }
    }
    let mut markers = |name: &str, lits: &[String]| {
        (!lits.is_empty()).then(|| c.literal_pattern(&format!("model/{name}"), lits))
    };
    model.rotation_succeeded = markers("rotation_succeeded", &m.rotation_succeeded);
    model.rotation_related = markers("rotation_related", &m.rotation_related);
    model.neutral = markers("neutral", &m.neutral);
    model.error_marker = markers("error_markers", &m.error_markers);
    model.unhandled = markers("unhandled", &m.unhandled);
    engines(def, c, &mut model, errors);
    for (i, f) in m.facts.iter().enumerate() {
        if let Err(message) = fact(i, f.get_ref(), c, &mut model) {
            errors.push(rule_error(
                &def.file,
                Some(line_of(&def.text, f.span().start)),
                message,
            ));
        }
    }
    // Sorted, so the parallel stage looks a hit up by binary search (`lambda::facts::extract`).
    model.facts.sort_unstable();
    model.index_hit_lookups();
    names(def, &mut model, errors);
    model
}

/// `[model.engines.<name>]`: each engine's clues become a literal pattern, its names lowercase
/// substrings of function names.
fn engines(
    def: &Source<ModelSpec>,
    c: &mut Compiler,
    model: &mut Model,
    errors: &mut Vec<Problem>,
) {
    for (name, spec) in &def.spec.engines {
        let e = spec.get_ref();
        let empty = e.clues.iter().chain(&e.names).any(|x| x.trim().is_empty());
        if empty || (e.clues.is_empty() && e.names.is_empty()) {
            errors.push(rule_error(
                &def.file,
                Some(line_of(&def.text, spec.span().start)),
                format!("engine '{name}' needs non-empty `clues` or `names`"),
            ));
            continue;
        }
        let clues = (!e.clues.is_empty())
            .then(|| c.literal_pattern(&format!("model/engine.{name}"), &e.clues));
        model.engines.push(Engine {
            name: name.clone(),
            clues,
            names: e.names.iter().map(|n| n.to_ascii_lowercase()).collect(),
        });
    }
}

/// One `[[model.facts]]` entry: a regex whose named groups are facts, or a positional fact.
fn fact(i: usize, spec: &FactSpec, c: &mut Compiler, model: &mut Model) -> Result<(), String> {
    match (&spec.regex, &spec.value) {
        (Some(re), None) if spec.name.is_none() && spec.after.is_none() && spec.at.is_none() => {
            let p = PatternSpec {
                literal: None,
                any: None,
                regex: Some(re.clone()),
                needle: spec.needle.clone(),
                needles: spec.needles.clone(),
            };
            let id = c.pattern(&format!("model/fact{i}"), &p, false)?;
            model.facts.push(id);
            Ok(())
        }
        (None, Some(value)) if spec.needle.is_none() && spec.needles.is_none() => {
            let name = spec.name.as_ref().ok_or("a positional fact needs `name`")?;
            let (lits, at) = match (&spec.after, &spec.at) {
                (Some(a), None) => (a, false),
                (None, Some(a)) => (a, true),
                _ => return Err("give exactly one of `after` or `at`".into()),
            };
            if lits.is_empty() || lits.iter().any(String::is_empty) {
                return Err("`after`/`at` literals must be non-empty".into());
            }
            let value = value_dfa(value).map_err(|e| format!("invalid value regex: {e}"))?;
            c.matcher.add_positional(model.positional.len(), lits, at);
            model.positional.push(PositionalFact {
                fact: 0,
                value,
                name: name.clone(),
            });
            Ok(())
        }
        _ => Err(
            "a fact is either `name` + `after`/`at` + `value`, or `regex` with `needle`/`needles`"
                .into(),
        ),
    }
}

/// `rotation_function_names` and `rotation_service`: who is a rotation function.
fn names(def: &Source<ModelSpec>, model: &mut Model, errors: &mut Vec<Problem>) {
    let m = &def.spec;
    for n in &m.rotation_function_names {
        if n.get_ref().trim().is_empty() {
            errors.push(rule_error(
                &def.file,
                Some(line_of(&def.text, n.span().start)),
                "`rotation_function_names` entries must be non-empty".into(),
            ));
        }
    }
    model.rotation_function_names = m
        .rotation_function_names
        .iter()
        .map(|n| n.get_ref().trim().to_ascii_lowercase())
        .filter(|n| !n.is_empty())
        .collect();
    if let Some(s) = &m.rotation_service {
        if matches!(Principal::parse(s.get_ref()), Principal::Service(_)) {
            model.rotation_service = Some(s.get_ref().clone());
        } else {
            errors.push(rule_error(
                &def.file,
                Some(line_of(&def.text, s.span().start)),
                format!(
                    "`rotation_service` must be a service principal such as secretsmanager.amazonaws.com, not '{}'",
                    s.get_ref()
                ),
            ));
        }
    }
}

/// The `[[model.lookup]]` entries. A lookup may name a fact of its own, which only fixes know (a
/// login check); what it needs and what its `when` tests are facts of the logs or of an earlier
/// lookup, and an `engine` it tests is one of `[model.engines]`.
pub(super) fn lookups(
    def: Option<&Source<ModelSpec>>,
    facts: &BTreeSet<String>,
    engines: &[Engine],
    errors: &mut Vec<Problem>,
) -> Vec<Lookup> {
    let Some(def) = def else {
        return Vec::new();
    };
    let mut known = facts.clone();
    let mut out = Vec::new();
    for spec in &def.spec.lookup {
        let s = spec.get_ref();
        let mut error = |message: String| {
            let line = line_of(&def.text, spec.span().start);
            errors.push(rule_error(&def.file, Some(line), message));
        };
        let needs: Vec<String> = placeholders(&s.command)
            .into_iter()
            .map(str::to_owned)
            .collect();
        for name in needs.iter().chain(s.when.keys()) {
            if !known.contains(name) {
                error(format!("unknown fact '{name}' in [[model.lookup]]"));
            }
        }
        if needs.contains(&s.fact) {
            error(format!(
                "[[model.lookup]] of '{}' needs '{}' itself",
                s.fact, s.fact
            ));
        }
        if let Some(e) = s.when.get(ENGINE_FACT)
            && !engines.iter().any(|k| &k.name == e)
        {
            error(format!("[[model.lookup]]: no [model.engines.{e}]"));
        }
        known.insert(s.fact.clone());
        out.push(Lookup {
            fact: s.fact.clone(),
            command: s.command.clone(),
            needs,
            when: s.when.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        });
    }
    out
}

/// The `[[model.infer]]` entries, each naming only known facts.
pub(super) fn inferences(
    def: Option<&Source<ModelSpec>>,
    facts: &BTreeSet<String>,
    errors: &mut Vec<Problem>,
) -> Vec<Inference> {
    let Some(def) = def else {
        return Vec::new();
    };
    def.spec
        .infer
        .iter()
        .map(|spec| inference(def, spec, facts, errors))
        .collect()
}

fn inference(
    def: &Source<ModelSpec>,
    spec: &Spanned<InferSpec>,
    facts: &BTreeSet<String>,
    errors: &mut Vec<Problem>,
) -> Inference {
    let s = spec.get_ref();
    let named = std::iter::once(&s.fact)
        .chain(std::iter::once(&s.from))
        .chain(s.when.keys())
        .chain(s.unless_same.iter());
    for name in named {
        if !facts.contains(name) {
            errors.push(rule_error(
                &def.file,
                Some(line_of(&def.text, spec.span().start)),
                format!("unknown fact '{name}' in [[model.infer]]"),
            ));
        }
    }
    Inference {
        fact: s.fact.clone(),
        from: s.from.clone(),
        when: s.when.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        unless_same: s.unless_same.clone(),
    }
}
