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
    // Every object, and the permission probe each export task writes, `aws-logs-write-test`.
    assert!(s.log_groups >= 20, "{} log groups", s.log_groups);
    assert_eq!(v["summary"]["inputs"], s.files + s.log_groups);
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
    // A probe holds one line (`Permission Check Successful`), read as one raw record.
    check("folder", &v, &s, s.events + s.log_groups);
}

/// The run folds its inputs' outcomes in input order whatever the thread count (every rotation
/// of a generated export spans several objects, so each is carried across inputs): a folder of
/// gzipped exports with a corrupt object among them (an unread input between read ones), a tar
/// of two exports (an archive of several members) and a plain file of `aws logs tail` text
/// (inputs of no log group) give the same bytes on 1, 2 and 4 threads, with and without
/// `--all-rotations`.
#[test]
fn a_folder_reports_the_same_bytes_on_any_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let exports = dir.path().join("exports");
    let cfg = Config::new(rotdiag::format::Format::S3Export, 2 * SIZE, 21);
    let s = rotdiag_gen::generate_folder(&cfg, &exports, 12, true).unwrap();
    assert!(s.files >= 12, "{} files", s.files);
    let mut objects: Vec<_> = walk(&exports);
    objects.sort();
    let task = objects[objects.len() / 2]
        .parent()
        .unwrap()
        .parent()
        .unwrap();
    let corrupt = task.join("2025-03-31-[$LATEST]00000000000000000000000000000000");
    std::fs::create_dir(&corrupt).unwrap();
    let gz = crate::util::gz::gzip(b"2025-03-31T00:00:00.000Z START RequestId: x\n");
    std::fs::write(corrupt.join("000000.gz"), &gz[..12]).unwrap();
    let member = |shape, seed| {
        let mut out = Vec::new();
        rotdiag_gen::generate(&Config::new(shape, SIZE / 4, seed), &mut out).unwrap();
        out
    };
    let mut tar = tar::Builder::new(Vec::new());
    for (name, data) in [
        ("a.log", member(rotdiag::format::Format::S3Export, 22)),
        ("b.log", member(rotdiag::format::Format::S3Export, 23)),
    ] {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tar.append_data(&mut h, name, &data[..]).unwrap();
    }
    write(&exports, "bundle.tar", &tar.into_inner().unwrap());
    let plain = write(
        dir.path(),
        "tail.log",
        &member(rotdiag::format::Format::Tail, 24),
    );
    let folder = exports.to_str().unwrap();
    for extra in [&[][..], &["--all-rotations"][..]] {
        let run = |threads: &str| {
            let args = [&["-j", threads, "-f", "json", folder, &plain][..], extra].concat();
            rotdiag(&args, None)
        };
        let one = run("1");
        assert_eq!(one.status.code(), Some(2), "{}", stderr(&one));
        let v = json(&one);
        assert!(
            v["summary"]["failed_rotations"].as_u64().unwrap() > 10,
            "{}",
            v["summary"]
        );
        let unread = v["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["state"] != "read");
        assert_eq!(unread.count(), 1, "the corrupt object");
        for threads in ["2", "4"] {
            let other = run(threads);
            assert!(
                one.stdout == other.stdout,
                "-j 1 and -j {threads} differ ({extra:?})"
            );
            assert_eq!(one.stderr, other.stderr);
        }
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.extension().is_some_and(|x| x == "gz") {
            out.push(p);
        }
    }
    out
}
