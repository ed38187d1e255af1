//! Evaluating rule conditions against one invocation in the context of its rotation.
//!
//! A condition that holds returns the lines that prove it (possibly none, e.g. `failed = true`
//! proves itself through the invocation's REPORT line only when one exists); a condition that does
//! not hold returns `None`. The proving lines become the diagnosis' evidence.

use std::collections::BTreeMap;

use crate::aws::same_resource;
use crate::lambda::invocation::{Invocation, KeptLine};
use crate::lambda::line::{Kind, Level};
use crate::lambda::rotation::Rotation;
use crate::rules::{Condition, PatternId, Range, RuleSet, Scope};

/// What conditions are evaluated against.
pub(crate) struct Context<'a> {
    pub(crate) rules: &'a RuleSet,
    pub(crate) rotation: &'a Rotation,
    /// Index of the invocation being diagnosed in `rotation.invocations`.
    pub(crate) index: usize,
    pub(crate) rotation_related: bool,
    pub(crate) facts: &'a BTreeMap<String, String>,
}

impl<'a> Context<'a> {
    pub(crate) fn invocation(&self) -> &'a Invocation {
        &self.rotation.invocations[self.index]
    }

    /// Lines in scope, in order.
    fn lines(&self, scope: Scope) -> Vec<&'a KeptLine> {
        let invs: &'a [Invocation] = match scope {
            Scope::Invocation => std::slice::from_ref(self.invocation()),
            Scope::Rotation => &self.rotation.invocations,
        };
        let mut out = Vec::new();
        for inv in invs {
            out.extend(inv.lines.iter());
            if let Some(last) = inv.last_activity()
                && !inv
                    .lines
                    .iter()
                    .any(|l| l.line == last.line && l.source == last.source)
            {
                out.push(last);
            }
        }
        out.sort_by_key(|l| (l.source, l.line));
        out.dedup_by_key(|l| (l.source, l.line));
        out
    }

    /// The REPORT or timeout line that shows how long the invocation ran.
    fn duration_line(&self) -> Vec<&'a KeptLine> {
        self.invocation()
            .lines
            .iter()
            .filter(|l| matches!(l.kind, Kind::Report | Kind::Timeout))
            .collect()
    }

    /// The lines that prove `c` holds for the invocation, or `None` when it does not hold.
    pub(crate) fn eval(&self, c: &Condition) -> Option<Vec<&'a KeptLine>> {
        let inv = self.invocation();
        match c {
            Condition::Has(pats, scope) => self.has(pats, *scope),
            Condition::Lacks(pats, scope) => holds(!self.seen(pats, *scope)),
            Condition::Last(pats, scope) => self.last(pats, *scope),
            Condition::AfterNone { after, none, scope } => self.after_none(*after, none, *scope),
            Condition::AfterThen { after, then, scope } => self.after_then(*after, then, *scope),
            Condition::Failed(b) => holds(inv.failed() == *b),
            Condition::Errors(b, scope) => self.errors(*b, *scope),
            Condition::TimedOut(b) => {
                (inv.timed_out() == *b).then(|| if *b { self.duration_line() } else { vec![] })
            }
            Condition::Completed(b) => holds(inv.lifecycle.ended() == *b),
            Condition::Fragment(b) => holds(inv.is_fragment() == *b),
            Condition::Rotation(b) => holds(self.rotation_related == *b),
            Condition::Step(steps) => holds(inv.step.is_some_and(|s| steps.contains(&s))),
            Condition::Duration(r) => self.within(inv.duration_ms(), r),
            Condition::Timeout(r) => self.within(inv.configured_timeout_ms(), r),
            Condition::Same(a, b) => self.compare(a, b, true),
            Condition::Differ(a, b) => self.compare(a, b, false),
            Condition::Fact(f) => holds(self.facts.contains_key(f)),
            Condition::Value(facts) => holds(facts.iter().all(|(f, values)| {
                self.facts
                    .get(f)
                    .is_some_and(|v| values.iter().any(|x| x == v))
            })),
            Condition::All(cs) => {
                let mut out = Vec::new();
                for c in cs {
                    out.extend(self.eval(c)?);
                }
                Some(out)
            }
            Condition::Any(cs) => {
                let mut out = None;
                for c in cs {
                    if let Some(l) = self.eval(c) {
                        out.get_or_insert_with(Vec::new).extend(l);
                    }
                }
                out
            }
            Condition::Not(c) => holds(self.eval(c).is_none()),
        }
    }

    /// Did a line in scope match one of `pats` (kept or not)?
    fn seen(&self, pats: &[PatternId], scope: Scope) -> bool {
        match scope {
            Scope::Invocation => pats.iter().any(|p| self.invocation().seen.contains(*p)),
            Scope::Rotation => self
                .rotation
                .invocations
                .iter()
                .any(|i| pats.iter().any(|p| i.seen.contains(*p))),
        }
    }

    /// `has`: the kept lines in scope that match; true without lines when the matching line was
    /// not kept (the invocation's cap was reached).
    fn has(&self, pats: &[PatternId], scope: Scope) -> Option<Vec<&'a KeptLine>> {
        if scope == Scope::Invocation && !self.seen(pats, scope) {
            return None;
        }
        let found: Vec<_> = self
            .lines(scope)
            .into_iter()
            .filter(|l| hit_any(l, pats))
            .collect();
        if found.is_empty() {
            return holds(self.seen(pats, scope));
        }
        Some(found)
    }

    /// `last`: the last thing the function wrote in scope matches.
    fn last(&self, pats: &[PatternId], scope: Scope) -> Option<Vec<&'a KeptLine>> {
        let last = match scope {
            Scope::Invocation => self.invocation().last_activity(),
            Scope::Rotation => self.rotation.invocations[..=self.index]
                .iter()
                .rev()
                .find_map(|i| i.last_activity()),
        };
        match last {
            Some(l) if hit_any(l, pats) => Some(vec![l]),
            _ => None,
        }
    }

    /// `after` + `then_none`: a line matching `after`, and no activity matching `none` after it.
    fn after_none(
        &self,
        after: PatternId,
        none: &[PatternId],
        scope: Scope,
    ) -> Option<Vec<&'a KeptLine>> {
        let lines = self.lines(scope);
        let pos = lines.iter().rposition(|l| l.hits.contains(&after))?;
        if lines[pos + 1..].iter().any(|l| hit_any(l, none)) {
            return None;
        }
        // Invocations after this one in the rotation count as activity after it too.
        if scope == Scope::Rotation {
            let later_seen = self.rotation.invocations[self.index + 1..]
                .iter()
                .any(|i| none.iter().any(|p| i.seen.contains(*p)));
            if later_seen {
                return None;
            }
        }
        Some(vec![lines[pos]])
    }

    /// `after` + `then`: a line matching `after`, then (later in scope) one matching `then`; both
    /// prove it.
    fn after_then(
        &self,
        after: PatternId,
        then: &[PatternId],
        scope: Scope,
    ) -> Option<Vec<&'a KeptLine>> {
        let lines = self.lines(scope);
        let first = lines.iter().position(|l| l.hits.contains(&after))?;
        let later = lines[first + 1..].iter().find(|l| hit_any(l, then))?;
        Some(vec![lines[first], later])
    }

    /// `errors`: error lines (ERROR/CRITICAL, unhandled errors, timeouts, crashes) in scope.
    fn errors(&self, want: bool, scope: Scope) -> Option<Vec<&'a KeptLine>> {
        let errors: Vec<_> = self
            .lines(scope)
            .into_iter()
            .filter(|l| {
                l.level >= Some(Level::Error)
                    || matches!(l.kind, Kind::Unhandled | Kind::Timeout | Kind::RuntimeExit)
            })
            .collect();
        match (errors.is_empty(), want) {
            (false, true) => Some(errors),
            (true, false) => Some(vec![]),
            _ => None,
        }
    }

    /// `duration_ms` / `timeout_ms`: the value is known and in range; the REPORT proves it.
    fn within(&self, value: Option<f64>, range: &Range) -> Option<Vec<&'a KeptLine>> {
        match value {
            Some(v) if range.contains(v) => Some(self.duration_line()),
            _ => None,
        }
    }

    /// `same` (or `differ`): both facts are known and name the same resource (or not).
    fn compare(&self, a: &str, b: &str, same: bool) -> Option<Vec<&'a KeptLine>> {
        match (self.facts.get(a), self.facts.get(b)) {
            (Some(x), Some(y)) if same_resource(x, y) == same => Some(vec![]),
            _ => None,
        }
    }
}

/// A condition that holds with no line to show for it, or does not hold.
fn holds<'a>(b: bool) -> Option<Vec<&'a KeptLine>> {
    if b { Some(Vec::new()) } else { None }
}

fn hit_any(l: &KeptLine, pats: &[PatternId]) -> bool {
    pats.iter().any(|p| l.hits.contains(p))
}
