//! The views around a diagnosis: the summary per secret and the rotations list, the timeline,
//! ndjson and markdown, `-q` and `--fail-on`, `explain` and `--test`, the man page and
//! completions, a report that fits the terminal, fixes filled from the logs, and stdin from a
//! terminal.

use std::path::Path;

use serde_json::Value;

use crate::util::render::{Event, GROUP, Shape, Tail, render_one};
use crate::util::run::{json, rotdiag, rotdiag_env, stderr, write};
use crate::util::sample::{ARN, failing_export};

fn corpus(case: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(case)
        .display()
        .to_string()
}

/// A real run of the PostgreSQL single-user template with a wrong password: createSecret,
/// setSecret refused, Secrets Manager's retry of both.
fn wrong_password() -> String {
    corpus("database-credentials-invalid--tail--real-pg-single-wrong-password/tail.txt")
}

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A generated S3 export of 1 MiB: a few hundred rotations of many secrets, every cause.
fn generated(dir: &Path) -> String {
    let cfg = rotdiag_gen::Config::new(rotdiag::format::Format::S3Export, 1 << 20, 33);
    let (data, _) = rotdiag_gen::generate_vec(&cfg);
    write(dir, "export.log", &data)
}

#[test]
fn many_diagnoses_show_one_screen_per_secret() {
    let dir = tempfile::tempdir().unwrap();
    let file = generated(dir.path());
    let summary = stdout(&rotdiag(&["--color", "never", &file], None));
    assert!(summary.contains("\ncause "), "{summary}");
    assert!(summary.contains("top cause"), "{summary}");
    assert!(summary.contains("failing now: "), "{summary}");
    assert!(!summary.contains("\n#1 "), "{summary}");
    assert!(summary.lines().count() < 70, "one screen: {summary}");
    let detail = stdout(&rotdiag(&["--detail", "--color", "never", &file], None));
    assert!(detail.contains("\n#1 ") && !detail.contains("failing now: "));
    // One diagnosis: the detail, unless the summary is asked for.
    let one = failing_export();
    let out = stdout(&rotdiag(&["--color", "never"], Some(one.as_bytes())));
    assert!(out.contains("#1 database-unreachable"), "{out}");
    let out = stdout(&rotdiag(
        &["--summary", "--color", "never"],
        Some(one.as_bytes()),
    ));
    assert!(
        out.contains("postgres-a1B2c3") && out.contains("failing"),
        "{out}"
    );
    // --summary and --detail exclude each other.
    assert_eq!(
        rotdiag(&["--summary", "--detail", &file], None)
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn the_secrets_and_rotations_lists_agree_with_the_counts() {
    let dir = tempfile::tempdir().unwrap();
    let file = generated(dir.path());
    let v = json(&rotdiag(&["-f", "json", &file], None));
    let s = &v["summary"];
    let sum = |field: &str| -> u64 {
        v["secrets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x[field].as_u64().unwrap())
            .sum()
    };
    assert_eq!(sum("rotations"), s["rotations"].as_u64().unwrap());
    assert_eq!(sum("failed"), s["failed_rotations"].as_u64().unwrap());
    assert_eq!(sum("succeeded"), s["succeeded_rotations"].as_u64().unwrap());
    let listed = v["rotations"].as_array().unwrap();
    let rotations = s["rotations"].as_u64().unwrap();
    let succeeded = s["succeeded_rotations"].as_u64().unwrap();
    assert_eq!(listed.len() as u64, rotations - succeeded);
    assert!(listed.iter().all(|r| r["status"] != "succeeded"));
    // Each failed rotation's cause is one of the diagnosed causes, and its steps are in order.
    let diagnosed: Vec<&str> = v["diagnoses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["cause"].as_str().unwrap())
        .collect();
    for r in listed.iter().filter(|r| r["status"] == "failed") {
        if let Some(c) = r["cause"].as_str() {
            assert!(diagnosed.contains(&c), "{r}");
        }
        let starts: Vec<&str> = r["steps"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s["start"].as_str())
            .collect();
        assert!(starts.windows(2).all(|w| w[0] <= w[1]), "{r}");
    }
    // Failing now: the latest rotation failed.
    for sec in v["secrets"].as_array().unwrap() {
        if sec["status"] == "failed" {
            assert_eq!(sec["status_at"], sec["last_failure"], "{sec}");
        }
    }
    // Listing every rotation changes the list only: a run that keeps the steps of rotations
    // that succeeded gives the same summary per secret, the same counts, and the same rotations
    // that did not succeed (in the same order, with the same steps).
    let all = json(&rotdiag(&["-f", "json", "--all-rotations", &file], None));
    let all_listed = all["rotations"].as_array().unwrap();
    assert_eq!(all_listed.len() as u64, rotations);
    assert!(all_listed.iter().any(|r| r["status"] == "succeeded"));
    for field in ["summary", "secrets", "diagnoses"] {
        assert_eq!(all[field], v[field], "{field}");
    }
    let unsucceeded: Vec<&Value> = all_listed
        .iter()
        .filter(|r| r["status"] != "succeeded")
        .collect();
    assert_eq!(unsucceeded, listed.iter().collect::<Vec<_>>());
}

#[test]
fn a_timeline_shows_each_step_of_a_secret_or_a_token() {
    let file = wrong_password();
    let out = rotdiag(
        &["--color", "never", "--timeline", "prod/app/postgres", &file],
        None,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("createSecret -> setSecret failed -> createSecret -> setSecret failed"),
        "{text}"
    );
    assert!(text.contains("setSecret (retry 1)"), "{text}");
    assert!(
        text.contains("tail.txt:8  [ERROR] setSecret: Unable to log into database"),
        "{text}"
    );
    let v = json(&rotdiag(
        &["-f", "json", "--timeline", "prod/app/postgres", &file],
        None,
    ));
    let rot = &v["timeline"]["rotations"][0];
    assert_eq!(rot["status"], "failed");
    assert_eq!(rot["cause"], "database-credentials-invalid");
    let steps = rot["steps"].as_array().unwrap();
    let attempts: Vec<u64> = steps
        .iter()
        .map(|s| s["attempt"].as_u64().unwrap())
        .collect();
    assert_eq!(attempts, [1, 1, 2, 2]);
    assert_eq!(steps[1]["outcome"], "failed");
    assert_eq!(steps[1]["failed_line"]["line"], 8);
    assert_eq!(steps[1]["duration_ms"], 196.48);
    // By token: the same rotation.
    let token = rot["token"].as_str().unwrap();
    let by_token = json(&rotdiag(&["-f", "json", "--timeline", token, &file], None));
    assert_eq!(
        by_token["timeline"]["rotations"],
        v["timeline"]["rotations"]
    );
    // A secret the logs do not hold: said so, with the secrets they do hold.
    let out = stdout(&rotdiag(
        &["--color", "never", "--timeline", "nope", &file],
        None,
    ));
    assert!(out.contains("no rotation of nope in these logs"), "{out}");
    assert!(
        out.contains("secrets in these logs: prod/app/postgres-KcggBt"),
        "{out}"
    );
}

#[test]
fn a_timeline_shows_timeouts() {
    let file = corpus("lambda-timeout-too-short--tail--real-pg-single-timeout-3s-slow-db/tail.txt");
    let v = json(&rotdiag(
        &["-f", "json", "--timeline", "prod/app/postgres", &file],
        None,
    ));
    let steps = v["timeline"]["rotations"][0]["steps"]
        .as_array()
        .unwrap()
        .clone();
    let timed_out: Vec<&Value> = steps
        .iter()
        .filter(|s| s["outcome"] == "timed-out")
        .collect();
    assert_eq!(timed_out.len(), 2, "{steps:?}");
    assert_eq!(timed_out[0]["timeout_ms"], 3000.0);
    assert!(
        timed_out[0]["failed_line"]["text"]
            .as_str()
            .unwrap()
            .contains("Status: timeout")
            || timed_out[0]["failed_line"]["text"]
                .as_str()
                .unwrap()
                .starts_with("REPORT")
    );
    let text = stdout(&rotdiag(
        &["--color", "never", "--timeline", "prod/app/postgres", &file],
        None,
    ));
    assert!(text.contains("(timeout 3 s)"), "{text}");
}

#[test]
fn ndjson_writes_each_diagnosis_then_secrets_rotations_and_the_summary() {
    let dir = tempfile::tempdir().unwrap();
    let file = generated(dir.path());
    let doc = json(&rotdiag(&["-f", "json", &file], None));
    let out = rotdiag(&["-f", "ndjson", &file], None);
    assert_eq!(out.status.code(), Some(1));
    let records: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: Vec<&str> = records
        .iter()
        .map(|r| r["type"].as_str().unwrap())
        .collect();
    let order = ["diagnosis", "secret", "rotation", "summary"];
    let rank = |k: &str| order.iter().position(|o| *o == k).unwrap();
    assert!(
        kinds.windows(2).all(|w| rank(w[0]) <= rank(w[1])),
        "{kinds:?}"
    );
    assert_eq!(kinds.last(), Some(&"summary"));
    let count = |k: &str| kinds.iter().filter(|x| **x == k).count();
    assert_eq!(
        count("diagnosis"),
        doc["diagnoses"].as_array().unwrap().len()
    );
    assert_eq!(count("secret"), doc["secrets"].as_array().unwrap().len());
    assert_eq!(
        count("rotation"),
        doc["rotations"].as_array().unwrap().len()
    );
    assert!(records.iter().all(|r| r["schema_version"] == 1));
    let last = records.last().unwrap();
    assert_eq!(last["summary"], doc["summary"]);
    assert_eq!(last["inputs"], doc["inputs"]);
    // A diagnosis record is the document's diagnosis with its type.
    let mut first = records[0].clone();
    first.as_object_mut().unwrap().remove("type");
    first.as_object_mut().unwrap().remove("schema_version");
    assert_eq!(first, doc["diagnoses"][0]);
}

#[test]
fn markdown_renders_for_tickets() {
    let out = rotdiag(
        &["-f", "markdown", "--color", "always"],
        Some(failing_export().as_bytes()),
    );
    assert_eq!(out.status.code(), Some(1));
    let md = stdout(&out);
    assert!(!md.contains('\x1b'), "no terminal colour in markdown");
    assert!(md.starts_with("**rotdiag: 1 diagnosis**"), "{md}");
    assert!(md.contains("### 1. `database-unreachable` (high, "), "{md}");
    assert!(md.contains(&format!("- secret: `{ARN}`")), "{md}");
    // Evidence in a code block, whole; the fix's command in a shell block.
    assert!(
        md.contains("Evidence:\n\n```text\n<stdin>:2  2025-04-10T09:31:22.851Z  [ERROR]"),
        "{md}"
    );
    assert!(
        md.contains("   ```sh\n   aws lambda update-function-configuration"),
        "{md}"
    );
    let fences = md
        .lines()
        .filter(|l| l.trim_start().starts_with("```"))
        .count();
    assert_eq!(fences % 2, 0, "{md}");
    // Prose is escaped where markdown would read markup.
    assert!(
        !md.contains("<function_name>") || md.contains("```"),
        "{md}"
    );
    // Many diagnoses: the summary, in a code block.
    let dir = tempfile::tempdir().unwrap();
    let file = generated(dir.path());
    let md = stdout(&rotdiag(&["-f", "markdown", &file], None));
    assert!(md.starts_with("**rotdiag**\n\n```text\n"), "{md}");
    assert!(md.trim_end().ends_with("```"), "{md}");
}

#[test]
fn quiet_and_fail_on_set_the_status_only() {
    let log = failing_export();
    let out = rotdiag(&["-q"], Some(log.as_bytes()));
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    // The diagnosis is high: --fail-on critical lets it pass, high and below do not.
    assert_eq!(
        rotdiag(&["-q", "--fail-on", "critical"], Some(log.as_bytes()))
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        rotdiag(&["-q", "--fail-on", "high"], Some(log.as_bytes()))
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        rotdiag(&["-q", "--fail-on", "low"], Some(log.as_bytes()))
            .status
            .code(),
        Some(1)
    );
    // An input that could not be read still makes it 2, whatever --fail-on says.
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "good.log", log.as_bytes());
    let out = rotdiag(
        &["-q", "--fail-on", "critical", &good, "/no/such/file"],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(stderr(&out).contains("/no/such/file"));
    assert_eq!(
        rotdiag(&["--fail-on", "severe", "-"], Some(b""))
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn explain_says_what_a_cause_is_and_where_its_messages_come_from() {
    let out = rotdiag(&["explain", "database-unreachable"], None);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    for want in [
        "database-unreachable: The rotation function cannot reach the database",
        "How rotdiag tells it apart",
        "symptom database-login-failed",
        "duration_ms > 5000",
        "against its neighbours:",
        "database-credentials-invalid (prior",
        "Fix",
        "References",
        "Messages that point to it (",
        "https://github.com/",
    ] {
        assert!(text.contains(want), "{want}: {text}");
    }
    let out = rotdiag(&["explain", "database-unreach"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("did you mean database-unreachable"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_rule_is_tested_on_sample_lines() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "rules/widget.toml",
        b"[symptom]\nid = \"widget-jammed\"\ntitle = \"Widget jammed\"\nseverity = \"low\"\n\n[patterns]\njam = { literal = \"widget jammed\" }\nslow = { literal = \"after 30 tries\" }\n\n[trigger]\nhas = \"jam\"\nfailed = true\n\n[[candidate]]\ncause = \"widget\"\nprior = 1.0\nevidence = [\n    { if = { has = \"slow\" }, weight = 2.0, why = \"it tried 30 times\" },\n    { if = { duration_ms = { gt = 1000 } }, weight = -1.0 },\n]\n\n[[cause]]\nid = \"widget\"\ntitle = \"The widget is jammed\"\n",
    );
    let sample = write(
        dir.path(),
        "sample.log",
        format!(
            "[ERROR] RuntimeError: widget jammed after 30 tries while rotating secret arn {ARN}\n"
        )
        .as_bytes(),
    );
    let rules = dir.path().join("rules").display().to_string();
    let out = rotdiag(
        &["--color", "never", "--rules", &rules, "--test", &sample],
        None,
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(":1  [ERROR] RuntimeError: widget jammed"),
        "{text}"
    );
    assert!(
        text.contains("widget-jammed/jam, widget-jammed/slow"),
        "{text}"
    );
    assert!(
        text.contains(
            "symptom widget-jammed (specific)\n    when (has jam and the invocation failed)"
        ),
        "{text}"
    );
    assert!(text.contains("z = +3.00"), "{text}");
    assert!(
        text.contains("held    +2.0  has slow  [it tried 30 times]"),
        "{text}"
    );
    let v = json(&rotdiag(
        &["-f", "json", "--rules", &rules, "--test", &sample],
        None,
    ));
    let cand = &v["trace"]["invocations"][0]["symptoms"][0]["candidates"][0];
    assert_eq!(cand["cause"], "widget");
    assert_eq!(cand["z"], 3.0);
    let held: Vec<bool> = cand["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["held"].as_bool().unwrap())
        .collect();
    assert_eq!(held, [true, false]);
    // --test reads its file, not paths.
    assert_eq!(
        rotdiag(&["--test", &sample, &sample], None).status.code(),
        Some(2)
    );
}

#[test]
fn man_page_and_completions_are_generated_from_the_options() {
    for kind in [
        "man",
        "complete-bash",
        "complete-zsh",
        "complete-fish",
        "complete-powershell",
        "complete-elvish",
    ] {
        let out = rotdiag(&["--generate", kind], None);
        assert_eq!(out.status.code(), Some(0), "{kind}");
        let text = stdout(&out);
        assert!(text.contains("timeline"), "{kind}");
        assert!(text.contains("explain"), "{kind}: the subcommands too");
    }
    let man = stdout(&rotdiag(&["--generate", "man"], None));
    assert!(
        man.starts_with(".ie") || man.contains(".TH rotdiag"),
        "{man}"
    );
}

#[test]
fn the_human_report_fits_the_terminal() {
    let out = rotdiag_env(
        None,
        &[("COLUMNS", "80")],
        &["--color", "never", "--detail"],
        Some(failing_export().as_bytes()),
    );
    let text = stdout(&out);
    for line in text.lines() {
        // Fix commands, links and ARNs are printed whole: they are copied.
        let command = line.starts_with("          ")
            || line.contains("docs        https://")
            || line.split(' ').any(|w| w.len() > 60);
        if !command {
            assert!(
                line.chars().count() <= 80,
                "{} columns: {line}",
                line.chars().count()
            );
        }
    }
    assert!(text.contains('…'), "the evidence was cut: {text}");
    // The JSON report keeps the line whole.
    let v = json(&rotdiag_env(
        None,
        &[("COLUMNS", "80")],
        &["-f", "json"],
        Some(failing_export().as_bytes()),
    ));
    let e = v["diagnoses"][0]["evidence"][0]["text"].as_str().unwrap();
    assert!(e.ends_with("postgres-a1B2c3"), "{e}");
    // Not a terminal and no COLUMNS: whole lines.
    let text = stdout(&rotdiag(
        &["--color", "never"],
        Some(failing_export().as_bytes()),
    ));
    assert!(
        text.contains(&format!("pending secret of secret arn {ARN}")),
        "{text}"
    );
}

#[test]
fn the_human_report_shows_each_error_once_paths_relative_and_no_gaps() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("exports");
    write(&folder, "task/stream/000000", failing_export().as_bytes());
    let folder = folder.display().to_string();
    let text = stdout(&rotdiag(&["--color", "never", &folder], None));
    // The template's [ERROR] line and the ValueError it raised: one line, naming the other.
    assert!(text.contains("(raised as ValueError, :3)"), "{text}");
    assert!(!text.contains("[ERROR] ValueError"), "{text}");
    // The folder's files by their path inside it.
    assert!(text.contains("\n     task/stream/000000\n"), "{text}");
    assert!(!text.contains(&format!("{folder}/task")), "{text}");
    // No 0% alternatives.
    let also = text
        .lines()
        .find(|l| l.contains("also possible"))
        .unwrap_or("");
    assert!(!also.contains(" 0%"), "{also}");
    // A diagnosis that names no secret says so.
    let hang = corpus("secrets-manager-unreachable--s3-export/exportedlogs");
    let text = stdout(&rotdiag(&["--color", "never", "--detail", &hang], None));
    assert!(text.contains("secret      not in these logs"), "{text}");
}

/// The events of a rotation function that hangs after botocore found its credentials: it logs no
/// secret, no endpoint; only INIT_START names the region.
fn hang(init: bool) -> Vec<Event> {
    let rid = "0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0";
    let s = "2025/05/02/[$LATEST]b0877cf52ad0b2b4bdc03edafeb3e7c0";
    let t = 1_746_155_717_000;
    let mut ev = Vec::new();
    if init {
        ev.push(Event::new(t, s, "INIT_START Runtime Version: python:3.12.v48\tRuntime Version ARN: arn:aws:lambda:eu-west-1::runtime:2b7f2d4c0e5a"));
    }
    ev.extend([
        Event::new(t + 400, s, format!("START RequestId: {rid} Version: $LATEST")),
        Event::new(t + 446, s, format!("[INFO]\t2025-05-02T03:15:17.446Z\t{rid}\tFound credentials in environment variables.")),
        Event::new(t + 30_400, s, format!("END RequestId: {rid}")),
        Event::new(t + 30_400, s, format!("REPORT RequestId: {rid}\tDuration: 30000.00 ms\tBilled Duration: 30419 ms\tMemory Size: 128 MB\tMax Memory Used: 84 MB\tStatus: timeout")),
    ]);
    ev
}

fn fixes(v: &Value) -> String {
    v["diagnoses"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|d| d["remediation"].as_array().unwrap().iter())
        .map(|r| r.as_str().unwrap().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn fixes_are_filled_from_what_the_logs_know() {
    // The region from INIT_START (no ARN, no endpoint in these logs).
    let tail = render_one(Shape::Tail(Tail::Detailed), &hang(true));
    let v = json(&rotdiag(&["-f", "json", "-"], Some(&tail)));
    let f = fixes(&v);
    assert!(f.contains("com.amazonaws.eu-west-1.secretsmanager"), "{f}");
    assert!(!f.contains("<region>"), "{f}");
    let without = render_one(Shape::Tail(Tail::Detailed), &hang(false));
    let f = fixes(&json(&rotdiag(&["-f", "json", "-"], Some(&without))));
    assert!(
        f.contains("<region>"),
        "nothing in these logs names it: {f}"
    );
    // The function from the log group of a subscription payload.
    let sub = render_one(Shape::Awslogs, &hang(true));
    let f = fixes(&json(&rotdiag(&["-f", "json", "-"], Some(&sub))));
    let name = GROUP.strip_prefix("/aws/lambda/").unwrap();
    assert!(f.contains(&format!("--function-name {name} ")), "{f}");
    // Only the secret known (an S3 export names no log group): the fix looks the function up.
    let f = fixes(&json(&rotdiag(
        &["-f", "json", "-"],
        Some(failing_export().as_bytes()),
    )));
    assert!(
        f.contains(&format!("--function-name \"$(aws secretsmanager describe-secret --secret-id {ARN} --query RotationLambdaARN --output text)\"")),
        "{f}"
    );
    assert!(!f.contains("<function_name>"), "{f}");
}

/// A login check is shown in the client of the engine the logs (or, last, the names) point to,
/// with the host and user looked up from the secret, and the password never on the command line.
#[test]
fn the_login_check_speaks_the_engine_of_the_logs() {
    let check = |case: &str| {
        let v = json(&rotdiag(
            &["-f", "json", &format!("{}/tail.txt", corpus(case))],
            None,
        ));
        fixes(&v)
    };
    let f = check("database-credentials-invalid--tail--real-mariadb-single-wrong-password");
    assert!(
        f.contains("MYSQL_PWD=\"$(aws secretsmanager get-secret-value"),
        "{f}"
    );
    assert!(f.contains("| jq -r .host)\""), "{f}");
    assert!(!f.contains("psql"), "{f}");
    let f = check("database-credentials-invalid--tail--real-pg-single-wrong-password");
    assert!(f.contains("PGPASSWORD=") && f.contains(" psql -h "), "{f}");
    assert!(!f.contains("use your database's client"), "{f}");
    assert!(
        !f.contains("<login_check>") && !f.contains("<db_host>"),
        "{f}"
    );
    // Nothing names the engine (no driver, no engine in the function's or secret's name): the
    // command is an example, and says so.
    let paste = "[ERROR] setSecret: Unable to log into database with previous, current, or pending secret of secret arn arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/app/orders-a1B2c3\n";
    let f = fixes(&json(&rotdiag(
        &["-f", "json", "-"],
        Some(paste.as_bytes()),
    )));
    assert!(
        f.contains("# PostgreSQL shown: use your database's client"),
        "{f}"
    );
}

/// stdin a terminal: rotdiag says it reads it and how to end it, and one Ctrl-D ends it.
#[cfg(target_os = "linux")]
#[test]
fn stdin_from_a_terminal_is_announced_and_one_ctrl_d_ends_it() {
    use std::io::{Read, Write};
    use std::os::fd::FromRawFd;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    let (mut master, slave) = unsafe {
        let (mut m, mut s) = (0, 0);
        let rc = libc::openpty(
            &mut m,
            &mut s,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        );
        assert_eq!(rc, 0, "openpty");
        (std::fs::File::from_raw_fd(m), std::fs::File::from_raw_fd(s))
    };
    let mut child = Command::new(env!("CARGO_BIN_EXE_rotdiag"))
        .args(["--color", "never"])
        .stdin(Stdio::from(slave))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let line = failing_export().lines().nth(2).unwrap().to_string();
    master.write_all(format!("{line}\n").as_bytes()).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    master.write_all(b"\x04").unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("one Ctrl-D did not end the input");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(1));
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(
        err.contains("reading the logs from standard input"),
        "{err}"
    );
    assert!(err.contains("Ctrl-D"), "{err}");
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(out.contains("database-"), "{out}");
    // From a pipe: no such message.
    let piped = rotdiag(&[], Some(failing_export().as_bytes()));
    assert!(
        !stderr(&piped).contains("standard input"),
        "{}",
        stderr(&piped)
    );
}
