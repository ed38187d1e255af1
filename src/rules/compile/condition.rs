//! Conditions: a `[trigger]`, a candidate's `requires` or an evidence's `if`, checked against the
//! names it may use (its symptom's patterns, the known facts) and compiled to a [`Condition`].

use std::collections::{BTreeSet, HashMap};

use toml::Spanned;

use super::super::schema::{ConditionSpec, OneOrMany, RangeSpec};
use super::super::{Condition, PatternId, Range, Scope};
use super::{BUILTIN_FACTS, line_of, rule_error};
use crate::aws::Step;
use crate::problem::Problem;

/// What a condition of one file may name, and where its problems go.
pub(super) struct CondCx<'a> {
    pub(super) file: &'a str,
    pub(super) text: &'a str,
    pub(super) patterns: &'a HashMap<String, PatternId>,
    pub(super) facts: &'a BTreeSet<String>,
    pub(super) errors: &'a mut Vec<Problem>,
}

impl CondCx<'_> {
    pub(super) fn error(&mut self, offset: usize, message: String) {
        let line = line_of(self.text, offset);
        self.errors.push(rule_error(self.file, Some(line), message));
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
    pub(super) fn placeholders(&mut self, template: &str, at: usize) {
        for name in crate::template::placeholders(template) {
            if !self.facts.contains(name) {
                self.error(
                    at,
                    format!("unknown placeholder '{{{name}}}' in \"{template}\""),
                );
            }
        }
    }

    /// Compiles a condition: every key given must hold (the parts are AND-ed). `at` is where the
    /// table that holds it starts, for problems no key of its own can be placed at.
    pub(super) fn condition(&mut self, spec: &ConditionSpec, at: usize) -> Condition {
        let scope = spec.scope.unwrap_or(Scope::Invocation);
        let mut parts = Vec::new();
        self.line_parts(spec, scope, at, &mut parts);
        self.invocation_parts(spec, scope, at, &mut parts);
        self.fact_parts(spec, &mut parts);
        self.compound_parts(spec, at, &mut parts);
        if parts.is_empty() {
            self.error(at, "empty condition: give at least one of has, lacks, last, after/then_none, after/then, failed, errors, timed_out, completed, fragment, rotation, step, duration_ms, timeout_ms, same, differ, fact, value, all, any, not".into());
        }
        if parts.len() == 1 {
            parts.pop().unwrap()
        } else {
            Condition::All(parts)
        }
    }

    /// `has`, `lacks`, `last`, `after` + `then_none`: what the lines in scope match.
    fn line_parts(
        &mut self,
        spec: &ConditionSpec,
        scope: Scope,
        at: usize,
        parts: &mut Vec<Condition>,
    ) {
        if let Some(h) = &spec.has {
            parts.push(Condition::Has(self.pattern_refs(h), scope));
        }
        if let Some(h) = &spec.lacks {
            parts.push(Condition::Lacks(self.pattern_refs(h), scope));
        }
        if let Some(h) = &spec.last {
            parts.push(Condition::Last(self.pattern_refs(h), scope));
        }
        match (&spec.after, &spec.then_none, &spec.then) {
            (Some(a), Some(n), None) => {
                let after = self.pattern_refs(&OneOrMany::one(a.clone()));
                let none = self.pattern_refs(n);
                if let Some(&after) = after.first() {
                    parts.push(Condition::AfterNone { after, none, scope });
                }
            }
            (Some(a), None, Some(t)) => {
                let after = self.pattern_refs(&OneOrMany::one(a.clone()));
                let then = self.pattern_refs(t);
                if let Some(&after) = after.first() {
                    parts.push(Condition::AfterThen { after, then, scope });
                }
            }
            (Some(a), Some(_), Some(_)) => self.error(
                a.span().start,
                "`after` takes `then_none` or `then`, not both".into(),
            ),
            (Some(a), None, None) => {
                self.error(a.span().start, "`after` needs `then_none` or `then`".into());
            }
            (None, Some(_), _) => self.error(at, "`then_none` needs `after`".into()),
            (None, None, Some(_)) => self.error(at, "`then` needs `after`".into()),
            (None, None, None) => {}
        }
    }

    /// What the invocation itself shows: how it ended, its step, its duration.
    fn invocation_parts(
        &mut self,
        spec: &ConditionSpec,
        scope: Scope,
        at: usize,
        parts: &mut Vec<Condition>,
    ) {
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
    }

    /// `same`, `differ`, `fact`, `value`: what the facts of the invocation say.
    fn fact_parts(&mut self, spec: &ConditionSpec, parts: &mut Vec<Condition>) {
        if let Some([a, b]) = &spec.same {
            parts.push(Condition::Same(self.fact(a), self.fact(b)));
        }
        if let Some([a, b]) = &spec.differ {
            parts.push(Condition::Differ(self.fact(a), self.fact(b)));
        }
        if let Some(f) = &spec.fact {
            parts.push(Condition::Fact(self.fact(f)));
        }
        if let Some(v) = &spec.value {
            let mut facts = Vec::new();
            for (name, values) in v.get_ref() {
                let fact = self.fact(&Spanned::new(v.span(), name.clone()));
                let values: Vec<String> =
                    values.items().into_iter().map(|s| s.into_inner()).collect();
                if values.is_empty() {
                    self.error(
                        v.span().start,
                        format!("`value` lists no value for '{name}'"),
                    );
                }
                facts.push((fact, values));
            }
            if facts.is_empty() {
                self.error(v.span().start, "`value = {}` names no fact".into());
            }
            parts.push(Condition::Value(facts));
        }
    }

    /// `all`, `any`, `not`: conditions of conditions.
    fn compound_parts(&mut self, spec: &ConditionSpec, at: usize, parts: &mut Vec<Condition>) {
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
