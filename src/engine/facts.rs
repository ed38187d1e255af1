//! Facts: what a diagnosis knows about its invocation, to fill its templates with.
//!
//! Remediation and titles are templates (`aws lambda add-permission --function-name
//! {function_name}`, rendered by [`crate::template`]); the facts come from the invocation, then its
//! rotation, then the named captures of the regexes its lines matched, then values derived from
//! those (region, account, names from ARNs).

use std::collections::BTreeMap;

use crate::aws::{Arn, Principal, same_resource, secret_name};
use crate::lambda::facts::clean_fact;
use crate::lambda::rotation::Rotation;
use crate::rules::{ENGINE_FACT, Inference, Model, RuleSet};

/// Facts known when diagnosing invocation `index`: its own first, then its rotation's, then
/// named captures of the pattern regexes its lines matched, then values derived from those.
pub(crate) fn facts_for(rot: &Rotation, index: usize, rules: &RuleSet) -> BTreeMap<String, String> {
    let inv = &rot.invocations[index];
    let mut facts = BTreeMap::new();
    let order = std::iter::once(index).chain((0..rot.invocations.len()).filter(|&i| i != index));
    for i in order.clone() {
        let other = &rot.invocations[i];
        for (k, v) in other.facts.iter() {
            facts
                .entry(rules.fact_names[k as usize].clone())
                .or_insert_with(|| v.to_string());
        }
        // After the invocation's own facts, as if it were the last of them (a value its lines
        // state wins): shared with its stream, not copied into every invocation's facts.
        if let Some(rv) = &other.runtime_version {
            facts
                .entry(rules.fact_names[rules.known.runtime_version as usize].clone())
                .or_insert_with(|| rv.to_string());
        }
    }
    if let Some(s) = &rot.secret {
        facts
            .entry("secret_arn".into())
            .or_insert_with(|| s.clone());
    }
    if let Some(t) = &rot.token {
        facts.entry("token".into()).or_insert_with(|| t.clone());
    }
    // Captures of symptom patterns, from this invocation's lines first.
    for i in order {
        let other = &rot.invocations[i];
        for l in other.lines.iter().chain(other.last_activity()) {
            for &pid in &l.hits {
                let Some(re) = &rules.patterns[pid as usize].regex else {
                    continue;
                };
                if rules.model.facts.contains(&pid) {
                    continue;
                }
                let re = re.get();
                if let Some(caps) = re.captures(l.text.as_bytes()) {
                    for name in re.capture_names().flatten() {
                        if let Some(m) = caps.name(name) {
                            let v = clean_fact(name, &String::from_utf8_lossy(m.as_bytes()));
                            if !v.is_empty() {
                                facts.entry(name.to_string()).or_insert(v);
                            }
                        }
                    }
                }
            }
        }
    }
    derive_facts(&mut facts, &rules.model);
    if let Some(d) = inv.duration_ms() {
        facts.insert("duration_ms".into(), format!("{d:.0}"));
    }
    if let Some(t) = inv.configured_timeout_ms() {
        facts.insert("timeout_ms".into(), format!("{t:.0}"));
        facts.insert("timeout_s".into(), format!("{:.0}", t / 1000.0));
    }
    if let Some(s) = inv.step {
        facts.insert("step".into(), s.name().into());
    }
    if let Some(r) = inv.request_id {
        facts.insert("request_id".into(), r.to_string());
    }
    if let Some(s) = &inv.stream {
        facts.insert("stream".into(), s.to_string());
    }
    facts
}

/// The model's inferred facts, then region, account, names: read off the ARNs already known; the
/// database engine from the function's name when no line named it.
pub(crate) fn derive_facts(facts: &mut BTreeMap<String, String>, model: &Model) {
    for inference in &model.inferences {
        infer(facts, inference);
    }
    let arns: Vec<String> = [
        "secret_arn",
        "function_arn",
        "master_secret_arn",
        "role_arn",
        "kms_key_arn",
    ]
    .iter()
    .filter_map(|k| facts.get(*k).cloned())
    .collect();
    for arn in arns.iter().filter_map(|a| Arn::parse(a)) {
        if !arn.region.is_empty() {
            facts
                .entry("region".into())
                .or_insert_with(|| arn.region.to_string());
        }
        if !arn.account.is_empty() {
            facts
                .entry("account".into())
                .or_insert_with(|| arn.account.to_string());
        }
    }
    if let Some(arn) = facts.get("secret_arn").cloned()
        && Arn::parse(&arn).is_some_and(|a| a.service == "secretsmanager")
    {
        facts
            .entry("secret_name".into())
            .or_insert_with(|| secret_name(&arn).to_string());
    }
    if let Some(arn) = facts.get("function_arn").cloned()
        && let Some(name) = Arn::parse(&arn).and_then(|a| a.function_name())
    {
        facts
            .entry("function_name".into())
            .or_insert_with(|| name.to_string());
    }
    if let Some(role) = facts.get("role_arn").cloned() {
        let principal = Principal::parse(&role);
        if let Some(r) = principal.role() {
            facts
                .entry("role_name".into())
                .or_insert_with(|| r.to_string());
        }
        if let Some(session) = principal.session() {
            facts
                .entry("function_name".into())
                .or_insert_with(|| session.to_string());
        }
    }
    // No line named the engine: the function's name may (…PostgreSQLRotation…), or, last, the
    // secret's (prod/app/mariadb-…); both are names people choose, so only when nothing else spoke.
    if !facts.contains_key(ENGINE_FACT)
        && let Some(engine) = ["function_name", "secret_arn"]
            .iter()
            .filter_map(|k| facts.get(*k))
            .find_map(|f| model.engine_by_name(f))
    {
        facts.insert(ENGINE_FACT.into(), engine.to_string());
    }
    if let (Some(acct), Some(region), Some(name)) = (
        facts.get("account").cloned(),
        facts.get("region").cloned(),
        facts.get("function_name").cloned(),
    ) {
        facts
            .entry("function_arn".into())
            .or_insert_with(|| Arn::lambda_function(&region, &acct, &name));
    }
}

/// Applies one `[[model.infer]]` rule (see `rules/model.toml`).
fn infer(facts: &mut BTreeMap<String, String>, rule: &Inference) {
    if facts.contains_key(&rule.fact) {
        return;
    }
    let Some(value) = facts.get(&rule.from) else {
        return;
    };
    if !rule
        .when
        .iter()
        .all(|(k, want)| facts.get(k).is_some_and(|v| v == want))
    {
        return;
    }
    if let Some(other) = &rule.unless_same {
        match facts.get(other) {
            Some(o) if !same_resource(value, o) => {}
            _ => return,
        }
    }
    let value = value.clone();
    facts.insert(rule.fact.clone(), value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_facts_from_arns() {
        let mut f = BTreeMap::new();
        f.insert(
            "secret_arn".to_string(),
            "arn:aws:secretsmanager:eu-west-1:111122223333:secret:prod/db-AbC123".to_string(),
        );
        f.insert(
            "role_arn".to_string(),
            "arn:aws:sts::111122223333:assumed-role/RotRole/RotFn".to_string(),
        );
        derive_facts(&mut f, &crate::rules::load(None).unwrap().model);
        assert_eq!(f["region"], "eu-west-1");
        assert_eq!(f["account"], "111122223333");
        assert_eq!(f["secret_name"], "prod/db");
        assert_eq!(f["role_name"], "RotRole");
        assert_eq!(f["function_name"], "RotFn");
        assert_eq!(
            f["function_arn"],
            "arn:aws:lambda:eu-west-1:111122223333:function:RotFn"
        );
        // No line named the database engine: the function's name does.
        assert!(!f.contains_key("engine"));
        let mut g = BTreeMap::new();
        g.insert(
            "function_name".to_string(),
            "SecretsManagerRDSPostgreSQLRotationSingleUser".to_string(),
        );
        derive_facts(&mut g, &crate::rules::load(None).unwrap().model);
        assert_eq!(g["engine"], "postgresql");
    }
}
