//! What the real AWS CLIs print, diagnosed: `corpus/shapes-real-cli/`.
//!
//! `scripts/cli-shapes/run.sh` seeds moto's server with the rotation logs of a few scenarios and
//! keeps what AWS CLI v1 and v2 print for every output form people use (`filter-log-events` and
//! `get-log-events` in every `--output`, paged and not, with `--query`; `aws logs tail`; Logs
//! Insights; an export to S3 synced whole; a subscription to Kinesis read back with `get-records`).
//! Each scenario folder holds those outputs, the `manifest.tsv` of the commands that wrote them,
//! and the hand-written `expected.toml`: the ranked causes, the number of events and rotations.
//!
//! Every file or folder in a scenario folder (but the three above and `not-produced.tsv`) is an
//! output: the folder is listed, so an output added there is checked with no change here. Each
//! output is diagnosed on its own and must give the scenario's expectation, or the one of a
//! `[[weaker]]` entry whose name patterns match it (for shapes that cannot carry everything; each
//! says why). And an unrelated file beside an output (the `aws-logs-write-test` object an export
//! writes) must not change what the output diagnoses.

use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::util::run;

/// What a scenario's outputs must diagnose (`expected.toml`).
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
struct Expected {
    description: String,
    exit: i32,
    /// Events read back (`summary.records`).
    records: u64,
    /// `summary.rotations`, `failed_rotations`, `succeeded_rotations`.
    rotations: [u64; 3],
    /// The ranked diagnoses, all of them.
    diagnosis: Vec<Diagnosis>,
    #[serde(default)]
    weaker: Vec<Weaker>,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
struct Diagnosis {
    cause: String,
    secret: Option<String>,
    step: Option<String>,
    #[serde(default)]
    evidence: Vec<String>,
}

/// A different expectation for the outputs whose names match `outputs` (`*` is a wildcard).
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
struct Weaker {
    outputs: Vec<String>,
    why: String,
    records: Option<u64>,
    rotations: Option<[u64; 3]>,
    diagnosis: Option<Vec<Diagnosis>>,
}

/// Files of a scenario folder that are not outputs.
const NOT_OUTPUTS: [&str; 4] = [
    "expected.toml",
    "manifest.tsv",
    "not-produced.tsv",
    "README.md",
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/shapes-real-cli")
}

fn scenarios() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(root())
        .expect("corpus/shapes-real-cli/")
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("expected.toml").is_file())
        .collect();
    v.sort();
    assert!(v.len() >= 2, "no scenarios in {}", root().display());
    v
}

fn outputs(scenario: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(scenario)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| !NOT_OUTPUTS.contains(&name(p)))
        .collect();
    v.sort();
    v
}

fn name(p: &Path) -> &str {
    p.file_name().unwrap().to_str().unwrap()
}

fn load(scenario: &Path) -> Expected {
    let text = fs::read_to_string(scenario.join("expected.toml")).unwrap();
    let e: Expected = toml::from_str(&text)
        .unwrap_or_else(|err| panic!("{}: bad expected.toml: {err}", scenario.display()));
    assert!(!e.description.trim().is_empty() && !e.diagnosis.is_empty());
    for w in &e.weaker {
        assert!(
            !w.why.trim().is_empty(),
            "{}: a [[weaker]] without why",
            scenario.display()
        );
    }
    e
}

/// `*` matches any run of characters.
fn matches(pattern: &str, name: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if parts.len() == 1 {
        return pattern == name;
    }
    if !name.starts_with(first) || !name[first.len()..].ends_with(last) {
        return false;
    }
    let mut rest = &name[first.len()..name.len() - last.len()];
    for p in &parts[1..parts.len() - 1] {
        match rest.find(p) {
            Some(i) => rest = &rest[i + p.len()..],
            None => return false,
        }
    }
    true
}

/// The expectation for one output: the scenario's, with the matching `[[weaker]]` applied.
fn expectation(e: &Expected, output: &str) -> (u64, [u64; 3], Vec<Diagnosis>) {
    let mut want = (e.records, e.rotations, e.diagnosis.clone());
    for w in e
        .weaker
        .iter()
        .filter(|w| w.outputs.iter().any(|p| matches(p, output)))
    {
        want.0 = w.records.unwrap_or(want.0);
        want.1 = w.rotations.unwrap_or(want.1);
        if let Some(d) = &w.diagnosis {
            want.2 = d.clone();
        }
    }
    want
}

/// Diagnoses `inputs` in process (some 1200 runs).
fn rotdiag(inputs: &[&Path]) -> (i32, Value) {
    run::in_process(inputs)
}

fn summary(doc: &Value) -> String {
    let list: Vec<String> = doc["diagnoses"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| format!("{} {} {}", d["cause"], d["secret"], d["step"]))
        .collect();
    format!(
        "records {}, rotations {}/{}/{}, [{}]",
        doc["summary"]["records"],
        doc["summary"]["rotations"],
        doc["summary"]["failed_rotations"],
        doc["summary"]["succeeded_rotations"],
        list.join("; ")
    )
}

fn check(e: &Expected, output: &Path) -> Result<(), String> {
    let (records, rotations, diagnoses) = expectation(e, name(output));
    let (code, doc) = rotdiag(&[output]);
    let s = &doc["summary"];
    let got_rotations = [
        s["rotations"].as_u64().unwrap_or(0),
        s["failed_rotations"].as_u64().unwrap_or(0),
        s["succeeded_rotations"].as_u64().unwrap_or(0),
    ];
    if code != e.exit || s["records"].as_u64() != Some(records) || got_rotations != rotations {
        return Err(format!(
            "exit {code} (want {}), want records {records}, rotations {rotations:?}; got {}",
            e.exit,
            summary(&doc)
        ));
    }
    let got = doc["diagnoses"].as_array().cloned().unwrap_or_default();
    if got.len() != diagnoses.len() {
        return Err(format!(
            "want {} diagnoses; got {}",
            diagnoses.len(),
            summary(&doc)
        ));
    }
    for (i, (g, w)) in got.iter().zip(&diagnoses).enumerate() {
        let same = g["cause"] == w.cause.as_str()
            && w.secret.as_deref().is_none_or(|s| g["secret"] == s)
            && w.step.as_deref().is_none_or(|s| g["step"] == s);
        if !same {
            return Err(format!(
                "diagnosis #{} is not {w:?}; got {}",
                i + 1,
                summary(&doc)
            ));
        }
        let texts: Vec<&str> = g["evidence"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["text"].as_str())
            .collect();
        if let Some(missing) = w
            .evidence
            .iter()
            .find(|want| !texts.iter().any(|t| t.contains(want.as_str())))
        {
            return Err(format!(
                "diagnosis #{} has no evidence with {missing:?}: {texts:#?}",
                i + 1
            ));
        }
    }
    Ok(())
}

/// Every output gives its scenario's ranked causes (or its documented weaker expectation).
#[test]
fn every_real_cli_output_is_diagnosed_as_its_scenario_expects() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for scenario in scenarios() {
        let e = load(&scenario);
        let outs = outputs(&scenario);
        assert!(
            outs.len() >= 50,
            "{}: only {} outputs",
            scenario.display(),
            outs.len()
        );
        for out in outs {
            checked += 1;
            if let Err(msg) = check(&e, &out) {
                failures.push(format!("{}/{}: {msg}", name(&scenario), name(&out)));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} real CLI outputs diagnosed wrong:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// Every output names the command that wrote it, and every `[[weaker]]` pattern matches one.
#[test]
fn every_real_cli_output_has_its_command_in_the_manifest() {
    for scenario in scenarios() {
        let manifest = fs::read_to_string(scenario.join("manifest.tsv")).unwrap();
        let listed: Vec<&str> = manifest
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split('\t').next())
            .map(|f| f.trim_end_matches('/'))
            .collect();
        let names: Vec<PathBuf> = outputs(&scenario);
        for out in &names {
            assert!(
                listed.contains(&name(out)),
                "{}/{}: not in manifest.tsv (which command wrote it?)",
                name(&scenario),
                name(out)
            );
        }
        for w in load(&scenario).weaker {
            for p in &w.outputs {
                assert!(
                    names.iter().any(|o| matches(p, name(o))),
                    "{}: [[weaker]] pattern {p:?} matches no output",
                    name(&scenario)
                );
            }
        }
    }
}

/// What a report says, leaving out what an extra input changes by itself (the inputs and their
/// record counts, where the evidence was read).
fn diagnosed(doc: &Value) -> (Vec<Value>, [Value; 3]) {
    let diagnoses = doc["diagnoses"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            serde_json::json!([
                d["cause"],
                d["secret"],
                d["step"],
                d["confidence"],
                d["occurrences"],
                d["first_seen"],
                d["last_seen"]
            ])
        })
        .collect();
    let s = &doc["summary"];
    (
        diagnoses,
        [
            s["rotations"].clone(),
            s["failed_rotations"].clone(),
            s["succeeded_rotations"].clone(),
        ],
    )
}

/// An unrelated file in a folder never changes what the others diagnose: the export synced whole
/// (with CloudWatch's `aws-logs-write-test` object) diagnoses as its log files alone, and so does
/// every other output with that object beside it.
#[test]
fn an_unrelated_file_beside_an_output_changes_nothing() {
    let probe_dir = tempfile::tempdir().unwrap();
    let probe = probe_dir.path().join("aws-logs-write-test");
    // What moto writes (and user scripts that skip this key expect): 27 bytes, no newline.
    fs::write(&probe, "Permission Check Successful").unwrap();
    let mut failures = Vec::new();
    for scenario in scenarios() {
        for out in outputs(&scenario) {
            let (alone, with) = if out.is_dir() {
                let logs = out.join("exportedlogs");
                assert!(
                    out.join("aws-logs-write-test").is_file() && logs.is_dir(),
                    "{}: not an export synced whole",
                    out.display()
                );
                (rotdiag(&[&logs]).1, rotdiag(&[&out]).1)
            } else {
                (rotdiag(&[&out]).1, rotdiag(&[&probe, &out]).1)
            };
            if diagnosed(&alone) != diagnosed(&with) {
                failures.push(format!(
                    "{}/{}: alone {}; with the probe {}",
                    name(&scenario),
                    name(&out),
                    summary(&alone),
                    summary(&with)
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The binary gives what the in-process runs above give (one output per scenario).
#[test]
fn the_binary_agrees() {
    for scenario in scenarios() {
        let out = scenario.join("v2-filter-log-events-json.txt");
        let p = run::rotdiag(&["--format", "json", out.to_str().unwrap()], None);
        let doc = run::json(&p);
        let (code, inproc) = rotdiag(&[&out]);
        assert_eq!(p.status.code(), Some(code), "{}", out.display());
        assert_eq!(diagnosed(&doc), diagnosed(&inproc), "{}", out.display());
    }
}

#[test]
fn name_patterns() {
    assert!(matches(
        "*-text-query-message.txt",
        "v1-get-log-events-text-query-message.txt"
    ));
    assert!(matches("v2-*-yaml*", "v2-get-log-events-yaml-stream.txt"));
    assert!(matches("v2-s3-sync", "v2-s3-sync"));
    assert!(!matches(
        "*-text-query-message.txt",
        "v1-get-log-events-json-query-message.txt"
    ));
    assert!(!matches("v2-*", "v1-tail"));
}
