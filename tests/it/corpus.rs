//! Runs the `rotdiag` binary over every case in `corpus/` and checks its report against the case's
//! `expect.toml` (format described in `corpus/README.md`).

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::util::run::rotdiag_in;

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub(crate) struct Expect {
    description: String,
    #[serde(default)]
    pub(crate) inputs: Vec<String>,
    pub(crate) stdin: Option<String>,
    #[serde(default)]
    pub(crate) args: Vec<String>,
    exit: i32,
    format: Option<String>,
    #[serde(default)]
    exhaustive: bool,
    #[serde(default)]
    diagnosis: Vec<ExpectedDiagnosis>,
    #[serde(default)]
    absent: Vec<String>,
    /// Known not to be diagnosed right yet (the reason): the case must NOT meet its expectations.
    xfail: Option<String>,
    /// Why the logs cannot name the case's true cause (the first part of its name) first: the
    /// first diagnosis is the cause they do show, and the true one must be among its alternatives.
    indistinct: Option<String>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct ExpectedDiagnosis {
    cause: String,
    secret: Option<String>,
    step: Option<String>,
    #[serde(default)]
    evidence: Vec<String>,
    #[serde(default)]
    remediation: Vec<String>,
    min_confidence: Option<f64>,
    /// Causes that must be among the diagnosis' alternatives.
    #[serde(default)]
    alternatives: Vec<String>,
}

pub(crate) fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus")
}

pub(crate) fn cases() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(corpus_dir())
        .expect("corpus/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("expect.toml").is_file())
        .collect();
    v.sort();
    v
}

pub(crate) fn load(case: &Path) -> Expect {
    let text = fs::read_to_string(case.join("expect.toml")).unwrap();
    toml::from_str(&text).unwrap_or_else(|e| panic!("{}: bad expect.toml: {e}", case.display()))
}

/// Runs rotdiag on a case; returns (exit code, stdout).
fn run(case: &Path, exp: &Expect, format: &str) -> (i32, String) {
    let mut args = vec!["--format", format, "--color", "never"];
    args.extend(exp.args.iter().map(String::as_str));
    args.extend(exp.inputs.iter().map(String::as_str));
    let data = exp
        .stdin
        .as_ref()
        .map(|f| fs::read(case.join(f)).expect("stdin file"))
        .unwrap_or_default();
    let out = rotdiag_in(Some(case), &args, Some(&data));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn check(case: &Path) -> Result<Option<String>, String> {
    let exp = load(case);
    let (code, stdout) = run(case, &exp, "json");
    let doc: Value =
        serde_json::from_str(&stdout).map_err(|e| format!("output is not JSON ({e}): {stdout}"))?;
    let diags = doc["diagnoses"].as_array().cloned().unwrap_or_default();
    let summary = || {
        diags
            .iter()
            .map(|d| {
                format!(
                    "{} ({}, {})",
                    d["cause"].as_str().unwrap_or("?"),
                    d["confidence"],
                    d["secret"].as_str().unwrap_or("-")
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    if code != exp.exit {
        return Err(format!(
            "exit {code}, expected {}; diagnoses: [{}]",
            exp.exit,
            summary()
        ));
    }
    if let Some(f) = &exp.format {
        for input in doc["inputs"].as_array().unwrap() {
            let got = crate::util::run::shown_format(input);
            if !got.starts_with(f.as_str()) {
                return Err(format!(
                    "input {} detected as '{got}', expected '{f}'",
                    input["source"]
                ));
            }
        }
    }
    if exp.diagnosis.is_empty() && !diags.is_empty() && exp.exit == 0 {
        return Err(format!("expected no diagnosis, got [{}]", summary()));
    }
    if exp.exhaustive && diags.len() != exp.diagnosis.len() {
        return Err(format!(
            "expected exactly {} diagnoses, got [{}]",
            exp.diagnosis.len(),
            summary()
        ));
    }
    for (i, want) in exp.diagnosis.iter().enumerate() {
        let Some(got) = diags.get(i) else {
            return Err(format!(
                "expected diagnosis #{} {}, got only [{}]",
                i + 1,
                want.cause,
                summary()
            ));
        };
        if got["cause"] != want.cause.as_str() {
            return Err(format!(
                "diagnosis #{} is {}, expected {}; all: [{}]",
                i + 1,
                got["cause"],
                want.cause,
                summary()
            ));
        }
        if let Some(s) = &want.secret
            && got["secret"] != s.as_str()
        {
            return Err(format!(
                "diagnosis #{} secret {}, expected {s}",
                i + 1,
                got["secret"]
            ));
        }
        if let Some(s) = &want.step
            && got["step"] != s.as_str()
        {
            return Err(format!(
                "diagnosis #{} step {}, expected {s}",
                i + 1,
                got["step"]
            ));
        }
        if let Some(m) = want.min_confidence
            && got["confidence"].as_f64().unwrap_or(0.0) < m
        {
            return Err(format!(
                "diagnosis #{} confidence {}, expected >= {m}",
                i + 1,
                got["confidence"]
            ));
        }
        let offered: Vec<&str> = got["alternatives"]
            .as_array()
            .map(|a| a.iter().filter_map(|x| x["cause"].as_str()).collect())
            .unwrap_or_default();
        if let Some(missing) = want
            .alternatives
            .iter()
            .find(|a| !offered.contains(&a.as_str()))
        {
            return Err(format!(
                "diagnosis #{} ({}) does not offer {missing} among its alternatives {offered:?}",
                i + 1,
                want.cause
            ));
        }
        let texts: Vec<&str> = got["evidence"]
            .as_array()
            .map(|a| a.iter().filter_map(|e| e["text"].as_str()).collect())
            .unwrap_or_default();
        for e in &want.evidence {
            if !texts.iter().any(|t| t.contains(e.as_str())) {
                return Err(format!(
                    "diagnosis #{} ({}) has no evidence containing {e:?}; evidence: {texts:#?}",
                    i + 1,
                    want.cause
                ));
            }
        }
        let fixes: Vec<&str> = got["remediation"]
            .as_array()
            .map(|a| a.iter().filter_map(|e| e.as_str()).collect())
            .unwrap_or_default();
        for r in &want.remediation {
            if !fixes.iter().any(|t| t.contains(r.as_str())) {
                return Err(format!(
                    "diagnosis #{} ({}) has no remediation containing {r:?}; remediation: {fixes:#?}",
                    i + 1,
                    want.cause
                ));
            }
        }
    }
    if !exp.absent.is_empty() {
        let (_, human) = run(case, &exp, "human");
        for a in &exp.absent {
            if stdout.contains(a.as_str()) || human.contains(a.as_str()) {
                return Err(format!("output contains {a:?}, which must not be printed"));
            }
        }
    }
    Ok(diags
        .first()
        .and_then(|d| d["cause"].as_str())
        .map(str::to_owned))
}

#[test]
fn every_corpus_case_is_diagnosed_as_expected() {
    let cases = cases();
    assert!(!cases.is_empty(), "no corpus cases found");
    let mut failures = Vec::new();
    let mut xfails = Vec::new();
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy();
        match (check(case), load(case).xfail) {
            (Err(e), None) => failures.push(format!("{name}: {e}")),
            (Ok(_), Some(_)) => failures.push(format!(
                "{name}: marked xfail but now meets its expectations: remove the `xfail` line"
            )),
            (Err(e), Some(reason)) => xfails.push(format!("  {name}: {reason}\n    now: {e}")),
            (Ok(_), None) => {}
        }
    }
    if !xfails.is_empty() {
        println!(
            "{} of {} corpus cases are xfail (expected to fail until the rules are fixed):\n{}",
            xfails.len(),
            cases.len(),
            xfails.join("\n")
        );
    }
    assert!(
        failures.is_empty(),
        "{} of {} corpus cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

/// Every cause the rules define is the top diagnosis of at least one case, so no rule ships
/// without a case proving it fires.
#[test]
fn every_cause_tops_at_least_one_case() {
    let causes: BTreeSet<String> =
        fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/causes"))
            .unwrap()
            .map(|e| {
                let text = fs::read_to_string(e.unwrap().path()).unwrap();
                let v: toml::Value = toml::from_str(&text).unwrap();
                v["cause"][0]["id"].as_str().unwrap().to_string()
            })
            .collect();
    assert!(!causes.is_empty());
    let mut topped = BTreeSet::new();
    for case in cases() {
        let exp = load(&case);
        if let Some(first) = exp.diagnosis.first() {
            topped.insert(first.cause.clone());
        }
    }
    let missing: Vec<_> = causes.difference(&topped).collect();
    assert!(
        missing.is_empty(),
        "causes with no corpus case expecting them first: {missing:?}"
    );
}

/// Negative cases exist: healthy and unrelated logs must yield nothing.
#[test]
fn the_corpus_has_negative_cases() {
    let negatives = cases()
        .iter()
        .filter(|c| {
            let e = load(c);
            e.exit == 0 && e.diagnosis.is_empty()
        })
        .count();
    assert!(negatives >= 3, "only {negatives} negative cases");
}

#[test]
fn expect_files_describe_their_case() {
    for case in cases() {
        let e = load(&case);
        assert!(
            !e.description.trim().is_empty(),
            "{}: empty description",
            case.display()
        );
        assert!(
            !e.inputs.is_empty() || e.stdin.is_some(),
            "{}: no inputs",
            case.display()
        );
        assert!(
            e.xfail.as_deref().is_none_or(|r| !r.trim().is_empty()),
            "{}: an xfail mark needs its reason",
            case.display()
        );
    }
}

/// A real-run case is named after its true cause. When its expectation names another cause first
/// (the logs cannot tell the true one apart), it says why, and asks for the true cause among the
/// first diagnosis' alternatives.
#[test]
fn real_run_cases_expect_their_true_cause_or_say_why_not() {
    for case in cases() {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        if !name.contains("--real-") {
            continue;
        }
        let e = load(&case);
        let truth = name.split("--").next().unwrap();
        let Some(first) = e.diagnosis.first() else {
            assert_eq!(truth, "healthy", "{name}: no diagnosis expected");
            continue;
        };
        if first.cause == truth {
            assert!(
                e.indistinct.is_none(),
                "{name}: `indistinct` but expects its true cause"
            );
            continue;
        }
        assert!(
            e.indistinct
                .as_deref()
                .is_some_and(|w| !w.trim().is_empty()),
            "{name}: expects {} first, not its true cause {truth}, without saying why (`indistinct`)",
            first.cause
        );
        assert!(
            first.alternatives.iter().any(|a| a == truth),
            "{name}: the true cause {truth} must be among the first diagnosis' alternatives"
        );
    }
}
