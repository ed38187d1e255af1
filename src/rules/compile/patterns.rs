//! Patterns: the literals and regexes rules look for, numbered and handed to the one
//! aho-corasick automaton ([`super::super::matcher`]) that finds them all in one pass.

use std::sync::Arc;

use super::super::lazy::LazyRegex;
use super::super::matcher::MatcherBuilder;
use super::super::schema::PatternSpec;
use super::super::{Pattern, PatternId};

/// Numbers patterns in the order they are defined (the model's first, then each symptom's) and
/// registers their literals with the matcher.
#[derive(Default)]
pub(super) struct Compiler {
    pub(super) patterns: Vec<Pattern>,
    pub(super) matcher: MatcherBuilder,
}

impl Compiler {
    fn next_id(&self) -> Result<PatternId, String> {
        PatternId::try_from(self.patterns.len()).map_err(|_| "too many patterns".to_string())
    }

    pub(super) fn literal_pattern(&mut self, name: &str, literals: &[String]) -> PatternId {
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

    pub(super) fn pattern(
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
            let compiled = Arc::new(LazyRegex::new(re).map_err(|e| format!("invalid regex: {e}"))?);
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

/// Compiles a positional fact's value regex to an anchored DFA over bytes, ASCII semantics.
pub(super) fn value_dfa(value: &str) -> Result<regex_automata::dfa::dense::DFA<Vec<u32>>, String> {
    use regex_automata::dfa::{StartKind, dense};
    use regex_automata::util::syntax;
    dense::Builder::new()
        .syntax(syntax::Config::new().unicode(false).utf8(false))
        .configure(dense::Config::new().start_kind(StartKind::Anchored))
        .build(value)
        .map_err(|e| e.to_string())
}
