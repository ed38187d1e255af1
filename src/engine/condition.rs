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
use crate::rules::{Condition, PatternId, RuleSet, Scope};

/// What conditions are evaluated against.
pub struct Context<'a> {
    pub rules: &'a RuleSet,
    pub rotation: &'a Rotation,
    /// Index of the invocation being diagnosed in `rotation.invocations`.
    pub index: usize,
    pub rotation_related: bool,
    pub facts: &'a BTreeMap<String, String>,
}

impl<'a> Context<'a> {
    pub fn invocation(&self) -> &'a Invocation {
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

    pub fn eval(&self, c: &Condition) -> Option<Vec<&'a KeptLine>> {
        let inv = self.invocation();
        let holds = |b: bool| if b { Some(Vec::new()) } else { None };
        match c {
            Condition::Has(pats, scope) => {
                if *scope == Scope::Invocation && !pats.iter().any(|p| inv.seen.contains(*p)) {
                    return None;
                }
                let found: Vec<_> = self
                    .lines(*scope)
                    .into_iter()
                    .filter(|l| hit_any(l, pats))
                    .collect();
                if found.is_empty() {
                    // The pattern matched a line that was not kept (cap reached): still true.
                    let seen = match scope {
                        Scope::Invocation => pats.iter().any(|p| inv.seen.contains(*p)),
                        Scope::Rotation => self
                            .rotation
                            .invocations
                            .iter()
                            .any(|i| pats.iter().any(|p| i.seen.contains(*p))),
                    };
                    return holds(seen);
                }
                Some(found)
            }
            Condition::Lacks(pats, scope) => {
                let any = match scope {
                    Scope::Invocation => pats.iter().any(|p| inv.seen.contains(*p)),
                    Scope::Rotation => self
                        .rotation
                        .invocations
                        .iter()
                        .any(|i| pats.iter().any(|p| i.seen.contains(*p))),
                };
                holds(!any)
            }
            Condition::Last(pats, scope) => {
                let last = match scope {
                    Scope::Invocation => inv.last_activity(),
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
            Condition::AfterNone { after, none, scope } => {
                let lines = self.lines(*scope);
                let pos = lines.iter().rposition(|l| l.hits.contains(after))?;
                if lines[pos + 1..].iter().any(|l| hit_any(l, none)) {
                    return None;
                }
                // Invocations after this one in the rotation count as activity after it too.
                if *scope == Scope::Rotation {
                    let later_seen = self.rotation.invocations[self.index + 1..]
                        .iter()
                        .any(|i| none.iter().any(|p| i.seen.contains(*p)));
                    if later_seen {
                        return None;
                    }
                }
                Some(vec![lines[pos]])
            }
            Condition::Failed(b) => holds(inv.failed() == *b),
            Condition::Errors(b, scope) => {
                let errors: Vec<_> = self
                    .lines(*scope)
                    .into_iter()
                    .filter(|l| {
                        l.level >= Some(Level::Error)
                            || matches!(l.kind, Kind::Unhandled | Kind::Timeout | Kind::RuntimeExit)
                    })
                    .collect();
                match (errors.is_empty(), *b) {
                    (false, true) => Some(errors),
                    (true, false) => Some(vec![]),
                    _ => None,
                }
            }
            Condition::TimedOut(b) => {
                if inv.timed_out() == *b {
                    Some(if *b { self.duration_line() } else { vec![] })
                } else {
                    None
                }
            }
            Condition::Completed(b) => holds(inv.lifecycle.ended() == *b),
            Condition::Fragment(b) => holds(inv.is_fragment() == *b),
            Condition::Rotation(b) => holds(self.rotation_related == *b),
            Condition::Step(steps) => holds(inv.step.is_some_and(|s| steps.contains(&s))),
            Condition::Duration(r) => match inv.duration_ms() {
                Some(d) if r.contains(d) => Some(self.duration_line()),
                _ => None,
            },
            Condition::Timeout(r) => match inv.configured_timeout_ms() {
                Some(t) if r.contains(t) => Some(self.duration_line()),
                _ => None,
            },
            Condition::Same(a, b) => match (self.facts.get(a), self.facts.get(b)) {
                (Some(x), Some(y)) if same_resource(x, y) => Some(vec![]),
                _ => None,
            },
            Condition::Differ(a, b) => match (self.facts.get(a), self.facts.get(b)) {
                (Some(x), Some(y)) if !same_resource(x, y) => Some(vec![]),
                _ => None,
            },
            Condition::Fact(f) => holds(self.facts.contains_key(f)),
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
}

fn hit_any(l: &KeptLine, pats: &[PatternId]) -> bool {
    pats.iter().any(|p| l.hits.contains(p))
}
