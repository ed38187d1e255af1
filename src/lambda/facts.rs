//! Facts: named values read off log lines (secret ARN, version token, role, denied action…).
//!
//! The regexes are the `facts` of `rules/model.toml`. They run in the parallel stage, only on
//! messages where the literal automaton found one of their needles, and the values travel with the
//! record to the invocation, where the first value of each fact wins.

use regex_automata::dfa::Automaton;
use regex_automata::{Anchored, Input};

use crate::rules::matcher::{Hits, Positions};
use crate::rules::{FactId, RuleSet};

/// A small first-value-wins map from fact id to value.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Facts(Vec<(FactId, Box<str>)>);

impl Facts {
    pub(crate) fn get(&self, id: FactId) -> Option<&str> {
        self.0.iter().find(|(k, _)| *k == id).map(|(_, v)| &**v)
    }

    pub(crate) fn contains(&self, id: FactId) -> bool {
        self.0.iter().any(|(k, _)| *k == id)
    }

    /// Records `value` unless the fact is already known.
    pub(crate) fn insert_first(&mut self, id: FactId, value: Box<str>) {
        if !self.contains(id) {
            self.0.push((id, value));
        }
    }

    /// Adds every fact of `other` not already known.
    ///
    /// Into an empty map, `other` is taken whole: an invocation's first facts are its first
    /// line's, whose list then becomes the invocation's (pushed one by one into an empty list,
    /// they cost an allocation per invocation and a free of the line's list, made on the other
    /// thread). `other` holds each fact once (it is only built by [`Facts::insert_first`]).
    pub(crate) fn merge(&mut self, other: Facts) {
        if self.0.is_empty() {
            *self = other;
            return;
        }
        for (k, v) in other.0 {
            self.insert_first(k, v);
        }
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (FactId, &str)> {
        self.0.iter().map(|(k, v)| (*k, &**v))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Reads the positional facts at `positions`, then runs the model's fact regexes whose needle
/// `hits` shows, over `text`; a line with an engine's clue names the database `engine`.
pub(crate) fn extract(rules: &RuleSet, text: &[u8], hits: &Hits, positions: &Positions) -> Facts {
    let mut facts = Facts::default();
    if let Some(engine) = rules.model.engine_of(hits) {
        facts.insert_first(rules.known.engine, engine.into());
    }
    for &(index, offset) in positions {
        let pf = &rules.model.positional[index as usize];
        if facts.contains(pf.fact) {
            continue;
        }
        let Some(rest) = text.get(offset as usize..) else {
            continue;
        };
        let input = Input::new(rest).anchored(Anchored::Yes);
        if let Ok(Some(end)) = pf.value.try_search_fwd(&input) {
            let name = &rules.fact_names[pf.fact as usize];
            insert_cleaned(&mut facts, pf.fact, name, &rest[..end.offset()]);
        }
    }
    for &pid in hits.iter() {
        if !rules.model.is_fact_regex(pid) {
            continue;
        }
        let pattern = &rules.patterns[pid as usize];
        let Some(re) = &pattern.regex else { continue };
        let Some(caps) = re.get().captures(text) else {
            continue;
        };
        for &(group, id) in &pattern.captures {
            if facts.contains(id) {
                continue;
            }
            if let Some(m) = caps.get(group) {
                let name = &rules.fact_names[id as usize];
                insert_cleaned(&mut facts, id, name, m.as_bytes());
            }
        }
    }
    facts
}

/// Records fact `id` as the cleaned text of `value` (invalid UTF-8 replaced), unless that is
/// empty. Cleaned as a slice and boxed once: the value's only allocation. Checked by
/// `simdutf8` (the same check): the standard library's took 130 instructions a value.
fn insert_cleaned(facts: &mut Facts, id: FactId, name: &str, value: &[u8]) {
    let v: Box<str> = match simdutf8::basic::from_utf8(value) {
        Ok(s) => Box::from(cleaned(name, s)),
        Err(_) => Box::from(cleaned(name, &String::from_utf8_lossy(value))),
    };
    if !v.is_empty() {
        facts.insert_first(id, v);
    }
}

/// Trims what regexes over free text drag along: the sentence's full stop after an ARN, quotes.
pub(crate) fn clean_fact(name: &str, v: &str) -> String {
    cleaned(name, v).to_string()
}

/// [`clean_fact`], as a slice of `v`.
fn cleaned<'v>(name: &str, v: &'v str) -> &'v str {
    // Most values (ARNs, tokens, names) start and end with a byte none of the trims below
    // removes: then there is nothing to trim, known from two bytes (the trims, which decode
    // characters, cost 125 instructions a value).
    let inert = |b: &u8| {
        b.is_ascii_graphic() && !matches!(b, b'\'' | b'"' | b',' | b'.' | b')' | b']' | b'}' | b';')
    };
    if v.as_bytes().first().is_some_and(inert) && v.as_bytes().last().is_some_and(inert) {
        return v;
    }
    let mut s = v.trim().trim_matches(|c| c == '\'' || c == '"' || c == ',');
    if name.ends_with("arn") || name == "secret_name" || name == "denied_resource" {
        s = s.trim_end_matches(['.', ')', ']', '}', ';']);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_value_wins() {
        let mut f = Facts::default();
        f.insert_first(3, "a".into());
        f.insert_first(3, "b".into());
        f.insert_first(1, "c".into());
        assert_eq!(f.get(3), Some("a"));
        assert_eq!(f.get(1), Some("c"));
        assert_eq!(f.get(2), None);
    }

    #[test]
    fn cleaning_drops_sentence_punctuation_from_arns_only() {
        assert_eq!(
            clean_fact(
                "secret_arn",
                "arn:aws:secretsmanager:us-east-1:1:secret:x-AbC123."
            ),
            "arn:aws:secretsmanager:us-east-1:1:secret:x-AbC123"
        );
        assert_eq!(clean_fact("missing_key", "'host'"), "host");
        assert_eq!(clean_fact("db_host", "db.example."), "db.example.");
    }
}
