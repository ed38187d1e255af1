//! `rotdiag merge`: partial reports merged equal the report of one run over all their inputs
//! (the whole JSON document: no field is left out of the comparison, none differs by right), and
//! reports that one run could not have made together are refused, naming the report.
//!
//! Partitions are what the merge is exact for (src/merge.rs): whole log groups, given in the
//! order one run reads them. In the corpus,
//! a case is its own estate (its own secrets, functions and versions), so cases that share none
//! are independent partitions; cases that reuse another's secret are left out of that test (a run
//! over both would join their rotations, as it must). In the generated multi-log-group archive
//! (`rotdiag-gen --files`), every export task folder is one log group, split into partitions
//! at random boundaries with a seeded generator.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use rotdiag::pipeline::Options;
use rotdiag::report::{Format, Layout};
use serde_json::Value;

use crate::util::rng::Rng;
use crate::util::run::{json, rotdiag_in, stderr};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus")
}

/// Every case of the corpus (its folder name) with its inputs.
fn cases() -> Vec<(String, Vec<String>)> {
    #[derive(serde::Deserialize)]
    struct Inputs {
        #[serde(default)]
        inputs: Vec<String>,
    }
    let mut out = Vec::new();
    for e in fs::read_dir(corpus_dir()).unwrap() {
        let p = e.unwrap().path();
        let Ok(text) = fs::read_to_string(p.join("expect.toml")) else {
            continue;
        };
        let Ok(i) = toml::from_str::<Inputs>(&text) else {
            continue;
        };
        let name = p.file_name().unwrap().to_string_lossy().into_owned();
        let inputs = i.inputs.iter().map(|f| format!("{name}/{f}")).collect();
        out.push((name, inputs));
    }
    out.sort();
    out
}

/// Runs rotdiag in `dir` with `args`; its exit status and JSON report.
fn run(dir: &Path, args: &[&str]) -> (i32, Value) {
    let out = rotdiag_in(Some(dir), args, None);
    let code = out.status.code().unwrap_or(-1);
    assert!(
        !out.stdout.is_empty(),
        "{args:?}: no report: {}",
        stderr(&out)
    );
    (code, json(&out))
}

/// Writes each partition's report (made with `--all-rotations`), merges them, and checks the
/// merged report and exit status against the direct run's over `direct` (every partition's
/// inputs when empty).
fn check_partitions(dir: &Path, partitions: &[Vec<String>], direct: &[String], label: &str) {
    let extra: &[&str] = &[];
    let tmp = tempfile::tempdir().unwrap();
    let mut reports = Vec::new();
    for (i, inputs) in partitions.iter().enumerate() {
        let mut args = vec!["--format", "json", "--all-rotations"];
        args.extend(extra);
        args.extend(inputs.iter().map(String::as_str));
        let out = rotdiag_in(Some(dir), &args, None);
        let path = tmp.path().join(format!("part-{i:04}.json"));
        fs::write(&path, &out.stdout).unwrap();
        reports.push(path.display().to_string());
    }
    let all: Vec<String> = if direct.is_empty() {
        partitions.concat()
    } else {
        direct.to_vec()
    };
    let mut args = vec!["--format", "json"];
    args.extend(extra);
    args.extend(all.iter().map(String::as_str));
    let (direct_code, direct) = run(dir, &args);
    let mut args = vec!["merge", "--format", "json"];
    args.extend(reports.iter().map(String::as_str));
    let (merged_code, merged) = run(dir, &args);
    assert_eq!(merged_code, direct_code, "{label}: exit status");
    if merged != direct {
        let d = serde_json::to_string_pretty(&direct).unwrap();
        let m = serde_json::to_string_pretty(&merged).unwrap();
        let first = d
            .lines()
            .zip(m.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        let around = |s: &str| {
            s.lines()
                .skip(first.saturating_sub(3))
                .take(8)
                .collect::<Vec<_>>()
                .join("\n")
        };
        panic!(
            "{label}: merged report differs from the direct run at line {first}:\ndirect:\n{}\nmerged:\n{}",
            around(&d),
            around(&m)
        );
    }
}

/// What a case's report names that a run over several cases would join across them (secrets,
/// functions, version tokens), or `None` when the case holds what a run places by time or log
/// stream alone (a rotation naming neither secret nor token, a diagnosis of a stream or an
/// input): a run over it and another case logged at the same minutes joins them, as it must.
fn names(report: &Value) -> Option<BTreeSet<String>> {
    let mut out = BTreeSet::new();
    for r in report["rotations"].as_array().unwrap() {
        if r["secret"].is_null() && r["token"].is_null() {
            return None;
        }
        for k in ["secret", "function", "token"] {
            if let Some(s) = r[k].as_str() {
                out.insert(format!("{k}:{s}"));
            }
        }
    }
    for d in report["diagnoses"].as_array().unwrap() {
        let subject = d["subject"].as_str().unwrap();
        if !subject.starts_with("secret:") && !subject.starts_with("function:") {
            return None;
        }
        out.insert(subject.to_string());
        if let Some(f) = d["function"].as_str() {
            out.insert(format!("function:{f}"));
        }
    }
    Some(out)
}

#[test]
fn every_corpus_case_merged_alone_is_its_own_report() {
    // The round trip, in this process (240 cases): every field a report holds is read back
    // exactly (floats, times, problems, every shape's inputs), whatever the case.
    let rules = rotdiag::rules::load(None).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = corpus_dir();
    for (name, inputs) in cases() {
        let paths: Vec<PathBuf> = inputs.iter().map(|i| dir.join(i)).collect();
        let report = |all_rotations| {
            let run = rotdiag::pipeline::run(&paths, &rules, &Options::default());
            let layout = Layout {
                all_rotations,
                ..Layout::default()
            };
            rotdiag::report::render(run, Format::Json, &layout).unwrap()
        };
        let partial = tmp.path().join("partial.json");
        fs::write(&partial, report(true)).unwrap();
        let merged = rotdiag::merge::merge(&[partial.as_path()], &rules)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let merged = rotdiag::report::render(merged, Format::Json, &Layout::default()).unwrap();
        let direct = report(false);
        assert!(
            merged == direct,
            "{name}: merged\n{}\ndirect\n{}",
            String::from_utf8_lossy(&merged),
            String::from_utf8_lossy(&direct)
        );
    }
}

#[test]
fn independent_corpus_cases_merged_equal_one_run_over_them() {
    // Cases as partitions: those with several inputs first (each one partition, whatever its
    // inputs' log groups share: a CloudTrail trail and the function's log group are read
    // together), then the others, each kept only when it shares no secret, function or version
    // with a case already kept and places nothing by time alone (`names`).
    let dir = corpus_dir();
    let mut all = cases();
    all.sort_by_key(|(_, inputs)| std::cmp::Reverse(inputs.len()));
    let mut seen = BTreeSet::new();
    let mut kept = Vec::new();
    let mut multi = 0;
    for (name, inputs) in all {
        let mut args = vec!["--format", "json", "--all-rotations"];
        args.extend(inputs.iter().map(String::as_str));
        let (_, report) = run(&dir, &args);
        let Some(n) = names(&report) else {
            continue;
        };
        if n.is_disjoint(&seen) {
            seen.extend(n);
            multi += usize::from(inputs.len() > 1);
            kept.push((name, inputs));
        }
    }
    assert!(multi >= 2, "cases with several inputs kept: {multi}");
    assert!(kept.len() >= 30, "independent cases: {}", kept.len());
    // Partitions in the order a run reads them (the cases' names), several cases each at random.
    kept.sort();
    let mut rng = Rng(0x5eed_0013);
    let mut partitions: Vec<Vec<String>> = Vec::new();
    for (i, (_, inputs)) in kept.into_iter().enumerate() {
        if i == 0 || rng.below(3) == 0 {
            partitions.push(Vec::new());
        }
        partitions.last_mut().unwrap().extend(inputs);
    }
    check_partitions(&dir, &partitions, &[], "independent corpus cases");
}

/// The folders under `root/rel` holding an `aws-logs-write-test` probe (as paths relative to
/// `root`), depth first with each folder's entries by name: the order of rotdiag's folder walk.
fn log_group_folders(root: &Path, rel: &Path, out: &mut Vec<String>) {
    let dir = root.join(rel);
    if dir.join("aws-logs-write-test").is_file() {
        out.push(rel.display().to_string());
        return;
    }
    let mut entries: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_dir())
        .map(|e| e.file_name())
        .collect();
    entries.sort();
    for name in entries {
        log_group_folders(root, &rel.join(name), out);
    }
}

/// Splits `units` (in order) into partitions at random boundaries.
fn split(units: &[String], rng: &mut Rng) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    for (i, u) in units.iter().enumerate() {
        if i == 0 || rng.below(4) == 0 {
            out.push(Vec::new());
        }
        out.last_mut().unwrap().push(u.clone());
    }
    out
}

#[test]
fn generated_log_groups_split_at_random_merge_to_the_direct_run() {
    // A multi-log-group export folder (one export task per log group, one object per stream,
    // gzipped), its log groups split into partitions at random (seeded) boundaries, each
    // partition run on its own; the merge must be the report of `rotdiag exportedlogs`.
    let tmp = tempfile::tempdir().unwrap();
    let cfg = rotdiag_gen::Config::new(rotdiag::format::Format::S3Export, 3 << 20, 21);
    let s = rotdiag_gen::generate_folder(&cfg, tmp.path(), 40, true).unwrap();
    // The log group folders (`exportedlogs/<account>/<region>/aws/lambda/<function>`: those
    // holding an export task's `aws-logs-write-test` probe), in the order rotdiag's walk reads
    // them (each folder's entries by name).
    let mut groups = Vec::new();
    log_group_folders(tmp.path(), Path::new("exportedlogs"), &mut groups);
    assert!(groups.len() >= 20, "{} log groups", groups.len());
    assert_eq!(groups.len() as u64, s.log_groups);
    assert!(s.files >= 40, "{} objects", s.files);
    let direct = vec!["exportedlogs".to_string()];
    for seed in [1, 2, 3] {
        let partitions = split(&groups, &mut Rng(seed));
        let label = format!("seed {seed}: {} partitions", partitions.len());
        check_partitions(tmp.path(), &partitions, &direct, &label);
    }
    // Every log group a partition of its own.
    let one_each: Vec<Vec<String>> = groups.iter().map(|g| vec![g.clone()]).collect();
    check_partitions(tmp.path(), &one_each, &direct, "one log group each");
}

#[test]
fn reports_one_run_could_not_have_made_together_are_refused() {
    let dir = corpus_dir();
    let case = "secrets-manager-unreachable--s3-export--cold-start-new-stream";
    let tmp = tempfile::tempdir().unwrap();
    let report = |name: &str, extra: &[&str]| {
        let mut args = vec!["--format", "json"];
        args.extend(extra);
        args.push(case);
        let out = rotdiag_in(Some(&dir), &args, None);
        let p = tmp.path().join(name);
        fs::write(&p, &out.stdout).unwrap();
        p.display().to_string()
    };
    let good = report("good.json", &["--all-rotations"]);
    let since = report("since.json", &["--all-rotations", "--since", "2020-01-01"]);
    let partial = report("partial.json", &[]);
    let refused = |reports: &[&str], says: &str, names: &str| {
        let mut args = vec!["merge", "--format", "json"];
        args.extend(reports);
        let out = rotdiag_in(Some(&dir), &args, None);
        assert_eq!(out.status.code(), Some(2), "{says}");
        assert!(out.stdout.is_empty(), "{says}");
        let err = stderr(&out);
        assert!(err.contains(says) && err.contains(names), "{says}: {err}");
    };
    refused(&[&good, &since], "--since", "since.json");
    // A report that lists only the rotations that did not succeed (when some did).
    let v: Value = serde_json::from_slice(&fs::read(&partial).unwrap()).unwrap();
    if v["summary"]["succeeded_rotations"].as_u64().unwrap() > 0 {
        refused(&[&partial], "--all-rotations", "partial.json");
    }
    // Another schema version, other rules.
    let mut doc: Value = serde_json::from_slice(&fs::read(&good).unwrap()).unwrap();
    doc["schema_version"] = 99.into();
    let other = tmp.path().join("v99.json");
    fs::write(&other, doc.to_string()).unwrap();
    refused(
        &[&good, other.to_str().unwrap()],
        "schema_version 99",
        "v99.json",
    );
    let mut doc: Value = serde_json::from_slice(&fs::read(&good).unwrap()).unwrap();
    doc["settings"]["rules"] = "fnv1a64:0000000000000000".into();
    let other = tmp.path().join("rules.json");
    fs::write(&other, doc.to_string()).unwrap();
    refused(&[other.to_str().unwrap()], "other rules", "rules.json");
    // Not JSON: the file and line.
    let bad = tmp.path().join("bad.json");
    fs::write(&bad, "{\"schema_version\": 1,\n  oops").unwrap();
    refused(&[bad.to_str().unwrap()], "not a JSON report", "bad.json:2");
    // An ndjson report on stdin merges as its JSON document does.
    let nd = rotdiag_in(
        Some(&dir),
        &["--format", "ndjson", "--all-rotations", case],
        None,
    )
    .stdout;
    let from_stdin = rotdiag_in(Some(&dir), &["merge", "--format", "json"], Some(&nd));
    let from_file = rotdiag_in(Some(&dir), &["merge", "--format", "json", &good], None);
    assert_eq!(
        json(&from_stdin),
        json(&from_file),
        "{}",
        stderr(&from_stdin)
    );
}
