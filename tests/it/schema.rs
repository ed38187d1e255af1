//! Real reports against their contract, `schema/report.schema.json`: the JSON document and every
//! ndjson record of corpus cases and generated logs, with a timeline and a rule trace, validated
//! by a JSON Schema validator; and the schema itself bites (reports with an old-style field fail).

use std::fs;
use std::path::Path;

use serde_json::{Value, json};

use crate::util::run::{json, rotdiag, stderr};

pub(crate) fn validator() -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/report.schema.json");
    let schema: Value = serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::draft202012::new(&schema).expect("the schema compiles")
}

/// Every way `v` breaks the schema, with where.
fn errors(v: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    v.iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

pub(crate) fn assert_valid(v: &jsonschema::Validator, doc: &Value, label: &str) {
    let errs = errors(v, doc);
    assert!(errs.is_empty(), "{label}: {errs:#?}");
}

/// The JSON report and every ndjson record of a run with `args`.
fn check_run(v: &jsonschema::Validator, args: &[&str], label: &str) -> Value {
    let mut with = vec!["-f", "json"];
    with.extend_from_slice(args);
    let out = rotdiag(&with, None);
    assert!(matches!(out.status.code(), Some(0..=2)), "{label}");
    let doc = json(&out);
    assert_valid(v, &doc, label);
    let mut with = vec!["-f", "ndjson"];
    with.extend_from_slice(args);
    let out = rotdiag(&with, None);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(!text.is_empty(), "{label}: {}", stderr_text(&out.stderr));
    for (i, line) in text.lines().enumerate() {
        let record: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("{label}: ndjson line {} is not JSON: {e}", i + 1));
        assert_valid(v, &record, &format!("{label}: ndjson line {}", i + 1));
    }
    doc
}

fn stderr_text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn corpus_reports_follow_the_schema() {
    let v = validator();
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let mut cases: Vec<_> = fs::read_dir(&corpus)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("expect.toml").is_file())
        .collect();
    cases.sort();
    assert!(cases.len() > 100);
    // Every eighth case in full (JSON and ndjson, --all-rotations): a spread of every shape and
    // cause without running the whole corpus twice more.
    for case in cases.iter().step_by(8) {
        let inputs: Vec<String> = fs::read_dir(case)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.file_name().unwrap() != "expect.toml")
            .map(|p| p.display().to_string())
            .collect();
        let mut args: Vec<&str> = vec!["--all-rotations"];
        args.extend(inputs.iter().map(String::as_str));
        check_run(&v, &args, &case.display().to_string());
    }
}

#[test]
fn generated_reports_timelines_and_traces_follow_the_schema() {
    let v = validator();
    let cfg = rotdiag_gen::Config::new(rotdiag::format::Format::S3Export, 1 << 20, 21);
    let (data, _) = rotdiag_gen::generate_vec(&cfg);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("export.log");
    fs::write(&file, &data).unwrap();
    let file = file.display().to_string();
    let doc = check_run(&v, &["--all-rotations", &file], "generated");
    let rotations = doc["rotations"].as_array().unwrap();
    assert_eq!(
        rotations.len() as u64,
        doc["summary"]["rotations"].as_u64().unwrap(),
        "--all-rotations lists every rotation"
    );
    let secret = rotations
        .iter()
        .find(|r| r["status"] == "failed" && r["secret"].is_string())
        .expect("a failed rotation of a named secret")["secret"]
        .as_str()
        .unwrap()
        .to_string();
    let timeline = check_run(&v, &["--timeline", &secret, &file], "timeline");
    assert!(
        !timeline["timeline"]["rotations"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let trace = check_run(&v, &["--test", &file], "trace");
    assert!(!trace["trace"]["invocations"].as_array().unwrap().is_empty());
}

/// A change to a report that the schema must reject.
type Breaks = Box<dyn Fn(&mut Value)>;

#[test]
fn the_schema_rejects_what_the_contract_rules_out() {
    let v = validator();
    let out = rotdiag(
        &["-f", "json", "-"],
        Some(crate::util::sample::failing_export().as_bytes()),
    );
    let good = json(&out);
    assert_valid(&v, &good, "as printed");
    let broken: Vec<(&str, Breaks)> = vec![
        (
            "no schema_version",
            Box::new(|d| {
                d.as_object_mut().unwrap().remove("schema_version");
            }),
        ),
        (
            "a display prefix in why",
            Box::new(|d| d["diagnoses"][0]["why"][0]["text"] = json!("+ the invocation ran")),
        ),
        (
            "transport folded into format",
            Box::new(|d| d["inputs"][0]["format"] = json!("s3-export (gzip)")),
        ),
        (
            "an unknown field",
            Box::new(|d| d["diagnoses"][0]["extra"] = json!(1)),
        ),
        (
            "a why that is a string",
            Box::new(|d| d["diagnoses"][0]["why"] = json!(["the invocation ran"])),
        ),
    ];
    for (label, f) in broken {
        let mut doc = good.clone();
        f(&mut doc);
        assert!(!errors(&v, &doc).is_empty(), "{label} passed the schema");
    }
    // An ndjson record of an unknown type, or with fields of another type, fails too.
    let record = json!({"schema_version": 1, "type": "secret", "rank": 1});
    assert!(!errors(&v, &record).is_empty());
    let _ = stderr(&out);
}
