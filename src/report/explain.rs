//! `rotdiag explain CAUSE`: what a cause means, how rotdiag tells it apart from its neighbours,
//! the fix, the references, and the real messages behind it.
//!
//! "Told apart" is read off the rules themselves: every symptom that names the cause as a
//! candidate, its trigger, the evidence that raises or lowers the cause (its `why` in words, the
//! weight, the condition), and for each neighbour (the symptom's other candidates) the evidence
//! that raises that one instead. The messages come from the message catalog
//! (`rules::catalog`), with the source each was read in. The text goes out through the same
//! egress as every report.

use std::fmt::Write as _;

use super::egress::{Target, safe};
use crate::engine::trace::describe;
use crate::rules::catalog::{self, Message};
use crate::rules::{Candidate, RuleSet, Symptom};

/// The explanation of cause `id`, or `None` when no cause has that id.
pub fn explain(rules: &RuleSet, id: &str) -> Option<String> {
    let ci = rules.causes.iter().position(|c| c.id == id)?;
    let cause = &rules.causes[ci];
    let mut s = String::new();
    let _ = writeln!(s, "{}: {}", cause.id, cause.plain_title());
    if let Some(e) = &cause.explanation {
        let _ = writeln!(s, "\n{e}");
    }
    let symptoms: Vec<&Symptom> = rules
        .symptoms
        .iter()
        .filter(|sym| sym.candidates.iter().any(|c| c.cause == ci))
        .collect();
    let _ = writeln!(s, "\nHow rotdiag tells it apart");
    if symptoms.is_empty() {
        let _ = writeln!(
            s,
            "  no symptom names it as a candidate: it is never diagnosed"
        );
    }
    for sym in symptoms {
        told_apart(&mut s, rules, sym, ci);
    }
    if !cause.remediation.is_empty() {
        let _ = writeln!(s, "\nFix (<name>: filled in from the logs)");
        for (i, r) in cause.remediation.iter().enumerate() {
            let shown = crate::template::render(r, &Default::default());
            let _ = writeln!(s, "  {}. {shown}", i + 1);
        }
    }
    if !cause.references.is_empty() {
        let _ = writeln!(s, "\nReferences");
        for r in &cause.references {
            let _ = writeln!(s, "  {r}");
        }
    }
    messages(&mut s, id);
    Some(
        s.lines()
            .map(|l| safe(l, Target::Terminal).into_owned() + "\n")
            .collect(),
    )
}

/// One symptom that names cause `ci`: its trigger, the cause's evidence, its neighbours'.
fn told_apart(s: &mut String, rules: &RuleSet, sym: &Symptom, ci: usize) {
    let _ = writeln!(
        s,
        "\n  symptom {} ({}, {}): {}",
        sym.id, sym.severity, sym.file, sym.title
    );
    let _ = writeln!(
        s,
        "    looked for when: {}",
        describe(&sym.trigger, rules, &sym.id)
    );
    for cand in sym.candidates.iter().filter(|c| c.cause == ci) {
        let _ = writeln!(s, "    for this cause (prior {:+}):", cand.prior);
        weights(s, rules, sym, cand, "      ");
    }
    let neighbours: Vec<&Candidate> = sym.candidates.iter().filter(|c| c.cause != ci).collect();
    if neighbours.is_empty() {
        return;
    }
    let _ = writeln!(s, "    against its neighbours:");
    for cand in neighbours {
        let _ = writeln!(
            s,
            "      {} (prior {:+}):",
            rules.causes[cand.cause].id, cand.prior
        );
        weights(s, rules, sym, cand, "        ");
    }
}

/// A candidate's `requires` and evidence: weight, `why` in words, and the condition.
fn weights(s: &mut String, rules: &RuleSet, sym: &Symptom, cand: &Candidate, indent: &str) {
    if let Some(r) = &cand.requires {
        let _ = writeln!(s, "{indent}only when {}", describe(r, rules, &sym.id));
    }
    for ev in &cand.evidence {
        let condition = describe(&ev.condition, rules, &sym.id);
        let _ = match &ev.why {
            Some(w) => {
                let w = crate::template::render(w, &Default::default());
                writeln!(s, "{indent}{:+.1}  {w}  [{condition}]", ev.weight)
            }
            None => writeln!(s, "{indent}{:+.1}  {condition}", ev.weight),
        };
    }
    if cand.evidence.is_empty() {
        let _ = writeln!(s, "{indent}(no evidence: its prior alone)");
    }
}

/// The catalogued messages that point to cause `id`, with where each is printed.
fn messages(s: &mut String, id: &str) {
    let all = catalog::messages();
    let mine: Vec<&Message> = all
        .iter()
        .filter(|m| m.cause.as_deref() == Some(id) && m.role.as_deref() != Some("context"))
        .collect();
    let _ = writeln!(
        s,
        "\nMessages that point to it ({} in the message catalog, rules/catalog/)",
        mine.len()
    );
    for m in mine {
        let what: Vec<&str> = [
            m.kind.as_deref(),
            m.exception.as_deref(),
            m.language.as_deref(),
            m.engine.as_deref(),
            m.step.as_deref(),
        ]
        .into_iter()
        .flatten()
        .filter(|w| *w != "any")
        .collect();
        let text = m.text.replace('\n', " ⏎ ");
        let _ = writeln!(s, "  {}  ({})", m.id, what.join(", "));
        let _ = writeln!(s, "    {text}");
        let sources: Vec<String> = [&m.source, &m.origin]
            .into_iter()
            .flatten()
            .map(ToString::to_string)
            .collect();
        for (i, src) in sources.iter().enumerate() {
            if !sources[..i].contains(src) {
                let _ = writeln!(s, "    {src}");
            }
        }
    }
}

/// The causes whose id is close to `id`, for "did you mean": those that contain it, else those
/// that share a word with it.
pub fn near(rules: &RuleSet, id: &str) -> Vec<String> {
    let ids = rules.causes.iter().map(|c| c.id.as_str());
    let containing: Vec<String> = ids
        .clone()
        .filter(|c| !id.is_empty() && c.contains(id))
        .map(str::to_owned)
        .collect();
    if !containing.is_empty() {
        return containing;
    }
    let words: Vec<&str> = id.split(['-', '_', ' ']).filter(|w| w.len() > 2).collect();
    ids.filter(|c| words.iter().any(|w| c.contains(w)))
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explain_tells_a_cause_apart_and_shows_its_messages() {
        let rules = crate::rules::load(None).unwrap();
        let text = explain(&rules, "database-unreachable").unwrap();
        assert!(text.starts_with("database-unreachable: "), "{text}");
        assert!(text.contains("symptom database-login-failed"), "{text}");
        assert!(text.contains("duration_ms > 5000"), "{text}");
        assert!(
            text.contains("database-credentials-invalid (prior"),
            "{text}"
        );
        assert!(text.contains("https://github.com/"), "{text}");
        assert!(text.contains("Fix"), "{text}");
        assert!(explain(&rules, "no-such-cause").is_none());
        assert_eq!(near(&rules, "database-unreach"), ["database-unreachable"]);
        assert!(near(&rules, "kms-denied").contains(&"kms-access-denied".to_string()));
    }
}
