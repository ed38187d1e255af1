//! rotdiag against the ground truth of the corpus generator (`rotdiag-gen`): every shape it writes,
//! a single file and a folder of gzipped exports, read as files and from stdin.

use std::collections::BTreeSet;

use rotdiag_gen::{Config, SHAPES, Summary};
use serde_json::Value;

use crate::util::run::{json, rotdiag, stderr, write};

/// 1 MiB: a few hundred rotations, every failure cause, noise from other functions.
const SIZE: u64 = 1 << 20;

/// The counts rotdiag must reproduce from what the generator wrote.
fn check(label: &str, v: &Value, s: &Summary, records: u64) {
    let summary = &v["summary"];
    assert_eq!(summary["records"], records, "{label}: records");
    assert_eq!(
        summary["invocations"], s.stats.invocations,
        "{label}: invocations"
    );
    assert_eq!(
        summary["succeeded_rotations"],
        s.stats.healthy + s.stats.recovered,
        "{label}: succeeded rotations"
    );
    assert!(summary["failed_rotations"].as_u64().unwrap() > 0, "{label}");
    // Most generated causes are diagnosed (a failure that names neither its secret nor its
    // version is placed by time among concurrent rotations, and may land in one that succeeds).
    let found: BTreeSet<&str> = v["diagnoses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["cause"].as_str().unwrap())
        .collect();
    let generated: Vec<&str> = s
        .failed_by_cause()
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(c, _)| c)
        .collect();
    let missing: Vec<&&str> = generated.iter().filter(|c| !found.contains(**c)).collect();
    assert!(
        missing.len() * 4 <= generated.len(),
        "{label}: {missing:?} of {generated:?} not diagnosed"
    );
}

#[test]
fn every_generated_shape_diagnoses_to_its_ground_truth() {
    for shape in SHAPES {
        let (data, s) = rotdiag_gen::generate_vec(&Config::new(shape, SIZE, 11));
        // Raw text has no prefix: `print()` lines continue the record before them.
        let records = match shape {
            rotdiag::format::Format::Raw => s.events - s.stats.print_lines,
            _ => s.events,
        };
        let dir = tempfile::tempdir().unwrap();
        let file = write(dir.path(), "input", &data);
        let out = rotdiag(&["-f", "json", &file], None);
        assert_eq!(out.status.code(), Some(1), "{shape}: {}", stderr(&out));
        let v = json(&out);
        assert!(
            v["inputs"][0]["format"]
                .as_str()
                .unwrap()
                .starts_with(shape.name()),
            "{shape}: {}",
            v["inputs"][0]
        );
        check(&format!("{shape} file"), &v, &s, records);
        let piped = json(&rotdiag(&["-f", "json"], Some(&data)));
        check(&format!("{shape} stdin"), &piped, &s, records);
        assert_eq!(
            piped["diagnoses"].as_array().unwrap().len(),
            v["diagnoses"].as_array().unwrap().len()
        );
    }
}

#[test]
fn a_generated_folder_of_gzipped_exports() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = Config::new(rotdiag::format::Format::S3Export, 2 * SIZE, 12);
    let s = rotdiag_gen::generate_folder(&cfg, dir.path(), 12, true).unwrap();
    assert!(s.files >= 12, "{} files", s.files);
    let out = rotdiag(&["-f", "json", dir.path().to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v = json(&out);
    // An export task also writes its permission probe, `aws-logs-write-test`.
    assert_eq!(v["summary"]["inputs"], s.files + 1);
    for input in v["inputs"].as_array().unwrap() {
        assert!(input["errors"].as_array().unwrap().is_empty(), "{input}");
        if !input["source"]
            .as_str()
            .unwrap()
            .ends_with("aws-logs-write-test")
        {
            assert_eq!(input["format"], "s3-export", "{input}");
            assert_eq!(input["transport"], serde_json::json!(["gzip"]), "{input}");
        }
    }
    // The probe holds one line (`Permission Check Successful`), read as one raw record.
    check("folder", &v, &s, s.events + 1);
}
