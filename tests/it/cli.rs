//! The command line: exit codes, bad input, colour, the JSON contract, determinism, --rules.

use serde_json::Value;

use rotdiag::time::format_iso;

use crate::util::gz::gzip;
use crate::util::render::{Event, Shape, Tail, render};
use crate::util::run::{causes, json, rotdiag, stderr, write};

const RID: &str = "4d5e6f7a-8b9c-4d0e-9f1a-2b3c4d5e6f7a";
const ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/app/postgres-a1B2c3";

/// An S3-export rendering of a setSecret login failure after 15 s (database unreachable).
fn failing_export() -> String {
    format!(
        "2025-04-10T09:31:22.507Z START RequestId: {RID} Version: $LATEST\n\n\
         2025-04-10T09:31:22.851Z [ERROR]\t2025-04-10T09:31:22.851Z\t{RID}\tsetSecret: Unable to log into database with previous, current, or pending secret of secret arn {ARN}\n\n\
         2025-04-10T09:31:37.852Z [ERROR] ValueError: Unable to log into database with previous, current, or pending secret of secret arn {ARN}\n\
         Traceback (most recent call last):\n\
         \u{a0}\u{a0}File \"/var/task/lambda_function.py\", line 77, in lambda_handler\n\
         \u{a0}\u{a0}\u{a0}\u{a0}set_secret(service_client, arn, token)\n\
         2025-04-10T09:31:37.870Z END RequestId: {RID}\n\n\
         2025-04-10T09:31:37.870Z REPORT RequestId: {RID}\tDuration: 15362.41 ms\tBilled Duration: 15363 ms\tMemory Size: 128 MB\tMax Memory Used: 86 MB\t\n\n"
    )
}

#[test]
fn stdin_is_read_when_no_path_is_given() {
    let out = rotdiag(&["--format", "json"], Some(failing_export().as_bytes()));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(causes(&v), ["database-unreachable"]);
    assert_eq!(v["inputs"][0]["source"], "<stdin>");
    assert_eq!(v["inputs"][0]["format"], "s3-export");
}

#[test]
fn json_report_follows_the_contract() {
    let out = rotdiag(&["-f", "json", "-"], Some(failing_export().as_bytes()));
    let v = json(&out);
    assert!(v["version"].is_string());
    for k in ["source", "format", "records", "skipped", "errors"] {
        assert!(!v["inputs"][0][k].is_null(), "inputs[].{k}");
    }
    for k in [
        "invocations",
        "rotations",
        "failed_rotations",
        "succeeded_rotations",
    ] {
        assert!(v["summary"][k].is_u64(), "summary.{k}");
    }
    let d = &v["diagnoses"][0];
    for k in [
        "rank",
        "cause",
        "symptom",
        "title",
        "severity",
        "confidence",
        "secret",
        "function",
        "step",
        "occurrences",
        "first_seen",
        "last_seen",
        "evidence",
        "remediation",
        "references",
        "alternatives",
    ] {
        assert!(d.get(k).is_some(), "diagnoses[].{k}");
    }
    assert_eq!(d["rank"], 1);
    assert_eq!(d["secret"], ARN);
    assert_eq!(d["step"], "setSecret");
    let conf = d["confidence"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&conf));
    for e in d["evidence"].as_array().unwrap() {
        for k in ["source", "line", "timestamp", "request_id", "text"] {
            assert!(e.get(k).is_some(), "evidence[].{k}");
        }
    }
    for a in d["alternatives"].as_array().unwrap() {
        assert!(a["cause"].is_string() && a["confidence"].is_f64());
    }
    assert_eq!(v["summary"]["failed_rotations"], 1);
}

#[test]
fn usage_errors_exit_2() {
    let out = rotdiag(&["--no-such-flag"], None);
    assert_eq!(out.status.code(), Some(2));
    let out = rotdiag(&["--input-format", "xml", "-"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("unknown input format 'xml'"));
}

#[test]
fn help_and_version_exit_0() {
    assert_eq!(rotdiag(&["--help"], None).status.code(), Some(0));
    assert_eq!(rotdiag(&["--version"], None).status.code(), Some(0));
}

#[test]
fn a_missing_file_exits_2_and_names_it() {
    let out = rotdiag(&["/no/such/file.log"], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("/no/such/file.log"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn one_unreadable_input_does_not_stop_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(dir.path(), "good.log", failing_export().as_bytes());
    let out = rotdiag(&["-f", "json", "/no/such/file.log", &good], None);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(causes(&json(&out)), ["database-unreachable"]);
    assert!(stderr(&out).contains("rotdiag: /no/such/file.log: no such file or directory"));
    assert!(
        stderr(&out).contains("although failures were diagnosed"),
        "{}",
        stderr(&out)
    );
    let out = rotdiag(
        &[
            "-f",
            "json",
            "--skip-unreadable",
            "/no/such/file.log",
            &good,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn empty_input_is_not_an_error() {
    let out = rotdiag(&["-f", "json"], Some(b""));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(causes(&json(&out)).is_empty());
    let dir = tempfile::tempdir().unwrap();
    let empty = write(dir.path(), "empty.log", b"");
    assert_eq!(rotdiag(&[&empty], None).status.code(), Some(0));
}

#[test]
fn binary_bytes_are_reported_and_skipped_without_panic() {
    let mut data: Vec<u8> = (0..=255u8).cycle().take(200_000).collect();
    data.extend_from_slice(b"\n");
    data.extend_from_slice(failing_export().as_bytes());
    let out = rotdiag(&["-f", "json", "-"], Some(&data));
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    let v = json(&out);
    assert!(v["inputs"][0]["skipped"].as_u64().unwrap() > 0);
    assert!(stderr(&out).contains("binary data"), "{}", stderr(&out));
}

#[test]
fn invalid_utf8_inside_lines_is_tolerated() {
    let mut data = failing_export().into_bytes();
    let at = data.windows(5).position(|w| w == b"Unabl").unwrap();
    data.splice(at..at, [0xff, 0xfe, 0xc3].iter().copied());
    let out = rotdiag(&["-f", "json"], Some(&data));
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(causes(&json(&out)), ["database-unreachable"]);
}

#[test]
fn a_ten_megabyte_line_is_read() {
    let mut data = format!(
        "2025-04-10T09:31:20.000Z [INFO]\t2025-04-10T09:31:20.000Z\t{RID}\tpayload {}\n",
        "x".repeat(10 << 20)
    );
    data.push_str(&failing_export());
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "big.log", data.as_bytes());
    for args in [vec!["-f", "json", file.as_str()], vec!["-f", "json", "-"]] {
        let out = rotdiag(&args, Some(data.as_bytes()));
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        assert_eq!(causes(&json(&out)), ["database-unreachable"], "{args:?}");
    }
}

#[test]
fn truncated_gzip_keeps_what_was_read() {
    let mut text = failing_export();
    for i in 0..3000 {
        text.push_str(&format!(
            "2025-04-10T10:{:02}:{:02}.000Z noise line {i} of an unrelated print\n",
            (i / 60) % 60,
            i % 60
        ));
    }
    let gz = gzip(text.as_bytes());
    let dir = tempfile::tempdir().unwrap();
    let cut = write(dir.path(), "000000.gz", &gz[..gz.len() * 2 / 3]);
    let out = rotdiag(&["-f", "json", &cut], None);
    // What was read is diagnosed; the input was read only in part: 2.
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(causes(&v), ["database-unreachable"]);
    assert_eq!(v["inputs"][0]["state"], "incomplete");
    let errs = v["inputs"][0]["errors"].as_array().unwrap();
    assert!(
        errs.iter()
            .any(|e| e["message"].as_str().unwrap().contains("truncated")),
        "{errs:?}"
    );
    assert_eq!(v["inputs"][0]["format"], "s3-export");
    assert_eq!(v["inputs"][0]["transport"][0], "gzip");
}

#[test]
fn truncated_json_keeps_what_was_read_and_names_the_line() {
    let mut events = Vec::new();
    for (i, line) in failing_export().split("\n\n").enumerate() {
        let line = line.trim_end();
        if line.len() < 25 {
            continue;
        }
        let (ts, msg) = line.split_at(24);
        let ms = rotdiag::time::parse_any(ts).unwrap();
        events.push(serde_json::json!({
            "logStreamName": "2025/04/10/[$LATEST]5f0d2c9a8b7e4c3fa1d2e3f4a5b6c7d8",
            "timestamp": ms,
            "message": format!("{}\n", &msg[1..]),
            "ingestionTime": ms + 50,
            "eventId": format!("3776254939{i:02}"),
        }));
    }
    // A trailing event of another stream, cut in the middle (an interrupted download).
    events.push(serde_json::json!({
        "logStreamName": "2025/04/10/[$LATEST]00000000000000000000000000000000",
        "timestamp": 1744277600000u64,
        "message": "START RequestId: 11111111-2222-4333-8444-555555555555 Version: $LATEST\n",
        "ingestionTime": 1744277600050u64,
        "eventId": "377625493999",
    }));
    let doc = serde_json::to_string_pretty(&serde_json::json!({ "events": events })).unwrap();
    let cut = &doc[..doc.rfind("\"eventId\"").unwrap()];
    let out = rotdiag(&["-f", "json"], Some(cut.as_bytes()));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["inputs"][0]["format"], "events-json");
    assert_eq!(causes(&v), ["database-unreachable"]);
    let err = &v["inputs"][0]["errors"][0];
    assert!(err["line"].as_u64().unwrap() > 20, "{err}");
    assert!(stderr(&out).contains("<stdin>:"), "{}", stderr(&out));
}

#[test]
fn colour_only_when_asked_or_on_a_terminal() {
    let data = failing_export();
    let plain = rotdiag(&[], Some(data.as_bytes()));
    assert!(
        !plain.stdout.contains(&0x1b),
        "piped output must not be coloured"
    );
    let forced = rotdiag(&["--color", "always"], Some(data.as_bytes()));
    assert!(forced.stdout.contains(&0x1b));
    let never = rotdiag(&["--color", "never"], Some(data.as_bytes()));
    assert!(!never.stdout.contains(&0x1b));
}

#[test]
fn output_is_identical_across_thread_counts_and_runs() {
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for i in 0..6 {
        let text = failing_export()
            .replace(RID, &format!("4d5e6f7a-8b9c-4d0e-9f1a-2b3c4d5e6f{i:02}"))
            .replace("postgres-a1B2c3", &format!("postgres-a1B2c{i}"));
        paths.push(write(dir.path(), &format!("f{i}.log"), text.as_bytes()));
    }
    let mut args = vec!["-f", "json"];
    args.extend(paths.iter().map(String::as_str));
    let one = rotdiag(&[&["-j", "1"], &args[..]].concat(), None);
    let two = rotdiag(&[&["-j", "2"], &args[..]].concat(), None);
    let again = rotdiag(&[&["-j", "2"], &args[..]].concat(), None);
    assert_eq!(one.stdout, two.stdout);
    assert_eq!(two.stdout, again.stdout);
    assert_eq!(causes(&json(&one)).len(), 6);
}

/// Several megabytes of `aws logs tail` text: healthy rotations of 40 secrets running
/// concurrently in a dozen execution environments (streams), failures of several kinds, steps
/// that hang before logging anything (placed by time), and gaps of hours (idle rotations swept),
/// so the input spans many parallel blocks and windows.
fn big_export() -> String {
    let ts = format_iso;
    let mut lines: Vec<(i64, usize, u64, String)> = Vec::new();
    let mut push = |t: i64, lane: u64, msg: String| {
        let n = lines.len();
        lines.push((t, n, lane, msg));
    };
    let mut start: i64 = 1_744_275_600_000; // 2025-04-10T09:00:00Z
    let mut rid_n = 0u64;
    for rot in 0..2_400u64 {
        let secret = format!(
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/app{}/db-a1B2c{}",
            rot % 40,
            rot % 7
        );
        let token = format!("{:08x}-1111-4222-8333-{:012x}", rot, rot * 7919);
        let fails = rot % 9 == 4;
        let hangs = rot % 13 == 6;
        let mut t = start;
        let lane = rot % 12;
        for i in 0..4 {
            rid_n += 1;
            let rid = format!("{:08x}-aaaa-4bbb-8ccc-{:012x}", rid_n, rid_n);
            push(t, lane, format!("START RequestId: {rid} Version: $LATEST"));
            t += 40;
            push(
                t,
                lane,
                format!(
                    "[INFO]\t{}\t{rid}\tFound credentials in environment variables.",
                    ts(t)
                ),
            );
            if hangs && i == 2 {
                t += 30_000;
                push(
                    t,
                    lane,
                    format!("{} {rid} Task timed out after 30.03 seconds", ts(t)),
                );
                push(t, lane, format!("END RequestId: {rid}"));
                push(
                    t,
                    lane,
                    format!(
                        "REPORT RequestId: {rid}\tDuration: 30033.71 ms\tBilled Duration: 30000 ms\tMemory Size: 128 MB\tMax Memory Used: 80 MB\tStatus: timeout"
                    ),
                );
                break;
            }
            if fails && i == 1 {
                t += 15_000;
                push(
                    t,
                    lane,
                    format!(
                        "[ERROR]\t{}\t{rid}\tsetSecret: Unable to log into database with previous, current, or pending secret of secret arn {secret}",
                        ts(t)
                    ),
                );
                push(
                    t,
                    lane,
                    format!(
                        "[ERROR] ValueError: Unable to log into database with previous, current, or pending secret of secret arn {secret}\nTraceback (most recent call last):\n\u{a0}\u{a0}File \"/var/task/lambda_function.py\", line 77, in lambda_handler\n\u{a0}\u{a0}\u{a0}\u{a0}set_secret(service_client, arn, token)"
                    ),
                );
                push(t, lane, format!("END RequestId: {rid}"));
                push(
                    t,
                    lane,
                    format!(
                        "REPORT RequestId: {rid}\tDuration: 15010.00 ms\tBilled Duration: 15010 ms\tMemory Size: 128 MB\tMax Memory Used: 80 MB"
                    ),
                );
                break;
            }
            t += 200;
            push(
                t,
                lane,
                match i {
                    0 => format!(
                        "[INFO]\t{}\t{rid}\tcreateSecret: Successfully put secret for ARN {secret} and version {token}.",
                        ts(t)
                    ),
                    1 => format!(
                        "[INFO]\t{}\t{rid}\tsetSecret: Successfully set password for user app in PostgreSQL DB for secret arn {secret}.",
                        ts(t)
                    ),
                    2 => format!(
                        "[INFO]\t{}\t{rid}\ttestSecret: Successfully signed into PostgreSQL DB with AWSPENDING secret in {secret}.",
                        ts(t)
                    ),
                    _ => format!(
                        "[INFO]\t{}\t{rid}\tfinishSecret: Successfully set AWSCURRENT stage to version {token} for secret {secret}.",
                        ts(t)
                    ),
                },
            );
            // Application noise that rules never read.
            for k in 0..6 {
                push(
                    t,
                    lane,
                    format!(
                        "[DEBUG]\t{}\t{rid}\tStarting new HTTPS connection ({k}): secretsmanager.us-east-1.amazonaws.com:443",
                        ts(t)
                    ),
                );
            }
            push(t, lane, format!("END RequestId: {rid}"));
            push(
                t,
                lane,
                format!(
                    "REPORT RequestId: {rid}\tDuration: 240.00 ms\tBilled Duration: 240 ms\tMemory Size: 128 MB\tMax Memory Used: 80 MB"
                ),
            );
            t += 1_000 + (rot as i64 % 5) * 700;
        }
        // Rotations overlap (a new one every 5 s, each lasting seconds to a minute); now and
        // then the logs pause for hours.
        start += if rot % 97 == 0 { 3 * 3_600_000 } else { 5_000 };
    }
    lines.sort();
    let events: Vec<Event> = lines
        .into_iter()
        .map(|(t, _, lane, msg)| Event::new(t, &format!("2025/04/10/[$LATEST]{lane:032x}"), msg))
        .collect();
    String::from_utf8(render(Shape::Tail(Tail::Detailed), &events).remove(0).1).unwrap()
}

/// The report without what names the input (a path or `<stdin>`).
fn diagnoses_without_sources(v: &Value) -> Value {
    let mut d = v["diagnoses"].clone();
    for diag in d.as_array_mut().unwrap() {
        for e in diag["evidence"].as_array_mut().unwrap() {
            e.as_object_mut().unwrap().remove("source");
        }
    }
    serde_json::json!({ "summary": v["summary"], "diagnoses": d })
}

#[test]
fn a_big_input_diagnoses_the_same_from_a_file_from_stdin_and_on_any_thread_count() {
    let text = big_export();
    assert!(text.len() > 4 << 20, "{} bytes", text.len());
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "big.log", text.as_bytes());
    let file1 = json(&rotdiag(&["-j", "1", "-f", "json", &path], None));
    let reference = diagnoses_without_sources(&file1);
    // Ground truth: 2400 rotations; every 9th fails in setSecret, every 13th hangs in
    // testSecret (21 do both, failing first).
    let summary = &reference["summary"];
    assert_eq!(summary["rotations"], 2400, "{summary}");
    assert_eq!(summary["failed_rotations"], 267 + 185 - 21, "{summary}");
    assert_eq!(summary["succeeded_rotations"], 2400 - 431, "{summary}");
    for threads in ["2", "3", "8"] {
        let file = json(&rotdiag(&["-j", threads, "-f", "json", &path], None));
        assert_eq!(
            diagnoses_without_sources(&file),
            reference,
            "file, -j {threads}"
        );
    }
    for threads in ["1", "2", "8"] {
        let stdin = json(&rotdiag(
            &["-j", threads, "-f", "json"],
            Some(text.as_bytes()),
        ));
        assert_eq!(
            diagnoses_without_sources(&stdin),
            reference,
            "stdin, -j {threads}"
        );
    }
}

#[test]
fn since_and_until_leave_out_what_is_outside_the_window() {
    let data = failing_export(); // 2025-04-10T09:31:22Z .. 09:31:37Z
    let run = |args: &[&str]| {
        let out = rotdiag(&[&["-f", "json"], args].concat(), Some(data.as_bytes()));
        (out.status.code(), json(&out), stderr(&out))
    };
    // Inside the window: diagnosed as without it.
    for args in [
        &["--since", "2025-04-10"][..],
        &[
            "--since",
            "2025-04-10T09:31:00Z",
            "--until",
            "2025-04-10T09:32:00Z",
        ],
        &["--until", "1744329600"], // 2025-04-11T00:00:00Z in epoch seconds
    ] {
        let (code, v, err) = run(args);
        assert_eq!(code, Some(1), "{args:?}: {err}");
        assert_eq!(causes(&v), ["database-unreachable"], "{args:?}");
        assert_eq!(v["summary"]["filtered"], 0, "{args:?}");
    }
    // Outside it: nothing read, nothing to diagnose, and the report says what was left out.
    for args in [
        &["--since", "2025-04-10T10:00:00Z"][..],
        &["--until", "2025-04-10 09:00"],
        &["--since", "1h"], // an hour before now, long after these logs
    ] {
        let (code, v, err) = run(args);
        assert_eq!(code, Some(0), "{args:?}: {err}");
        assert!(causes(&v).is_empty(), "{args:?}");
        assert_eq!(v["summary"]["filtered"], v["inputs"][0]["filtered"]);
        assert!(v["summary"]["filtered"].as_u64().unwrap() >= 5, "{v}");
        assert_eq!(v["summary"]["records"], 0, "{args:?}");
    }
    // Cutting through the invocation keeps its failure: the error lines are inside.
    let (code, v, _) = run(&["--since", "2025-04-10T09:31:30Z"]);
    assert_eq!(code, Some(1));
    assert_eq!(causes(&v), ["database-unreachable"]);
    let human = rotdiag(&["--since", "2025-04-10T10:00:00Z"], Some(data.as_bytes()));
    assert!(
        String::from_utf8_lossy(&human.stdout).contains("outside --since/--until"),
        "{}",
        String::from_utf8_lossy(&human.stdout)
    );
}

#[test]
fn since_and_until_keep_records_that_carry_no_time_and_say_so() {
    let raw = "2025-04-10 this line has no prefix\n[ERROR] ValueError: Unable to log into database with previous, current, or pending secret of secret arn arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/app/postgres-a1B2c3\n";
    let out = rotdiag(
        &["-f", "json", "--input-format", "raw", "--since", "1d"],
        Some(raw.as_bytes()),
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("carry no timestamp"),
        "{}",
        stderr(&out)
    );
    assert_eq!(json(&out)["inputs"][0]["untimed"], 2);
}

#[test]
fn bad_time_windows_are_usage_errors() {
    for args in [
        &["--since", "yesterday"][..],
        &["--until", "2025-13-01"],
        &["--since", "2025-04-11", "--until", "2025-04-10"],
    ] {
        let out = rotdiag(args, Some(b""));
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr(&out);
        assert!(err.contains("--since") || err.contains("--until"), "{err}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn no_progress_bar_when_stderr_is_not_a_terminal() {
    let text = big_export();
    let out = rotdiag(&["-f", "json"], Some(text.as_bytes()));
    assert_eq!(out.status.code(), Some(1));
    // Warnings may appear on stderr, never the bar's control sequences or its units.
    let err = stderr(&out);
    assert!(
        !err.contains('\r') && !err.contains("\x1b[") && !err.contains("MiB/s"),
        "{err}"
    );
}

/// One invocation's records as (epoch ms, message): a setSecret login failure after 15 s when
/// `fails`, else an unrelated function's healthy call.
fn invocation_records(i: u64, fails: bool) -> Vec<(i64, String)> {
    let t = 1_744_277_400_000 + i as i64 * 60_000; // from 2025-04-10T09:30:00Z, a minute apart
    let rid = format!("{i:08x}-8b9c-4d0e-9f1a-2b3c4d5e6f7a");
    let arn =
        format!("arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/app{i}/postgres-a1B2c3");
    let mut r = vec![(t, format!("START RequestId: {rid} Version: $LATEST"))];
    if fails {
        r.push((t + 300, format!("[ERROR]\t2025-04-10T00:00:00.300Z\t{rid}\tsetSecret: Unable to log into database with previous, current, or pending secret of secret arn {arn}")));
        r.push((t + 15_300, format!("[ERROR] ValueError: Unable to log into database with previous, current, or pending secret of secret arn {arn}\nTraceback (most recent call last):\n\u{a0}\u{a0}File \"/var/task/lambda_function.py\", line 77, in lambda_handler\n\u{a0}\u{a0}\u{a0}\u{a0}set_secret(service_client, arn, token)")));
    } else {
        r.push((
            t + 20,
            format!("[INFO]\t2025-04-10T00:00:00.020Z\t{rid}\tprocessed order {i}"),
        ));
    }
    let d = if fails { 15_362 } else { 21 };
    r.push((t + d, format!("END RequestId: {rid}")));
    r.push((t + d, format!("REPORT RequestId: {rid}\tDuration: {d}.41 ms\tBilled Duration: {} ms\tMemory Size: 128 MB\tMax Memory Used: 86 MB", d + 1)));
    r
}

/// The export shapes of the folder test, one per file in turn.
const FOLDER_SHAPES: [Shape; 5] = [
    Shape::S3Export { gz: false },
    Shape::S3Export { gz: true },
    Shape::Tail(Tail::Detailed),
    Shape::FilterLogEvents,
    Shape::Raw,
];

#[test]
fn a_folder_of_a_thousand_mixed_files_with_one_corrupt_is_diagnosed_in_parallel() {
    let dir = tempfile::tempdir().unwrap();
    let mut failing = 0;
    for i in 0..999u64 {
        let fails = i % 4 == 0;
        failing += fails as usize;
        let events: Vec<Event> = invocation_records(i, fails)
            .into_iter()
            .map(|(t, m)| Event::new(t, "2025/04/10/[$LATEST]0123456789abcdef0123456789abcdef", m))
            .collect();
        for (name, data) in render(FOLDER_SHAPES[i as usize % 5], &events) {
            let file = name.rsplit('/').next().unwrap();
            write(
                dir.path(),
                &format!("task-{}/stream-{i}/{file}", i % 7),
                &data,
            );
        }
    }
    // A compressed export cut short before its first complete block: nothing can be read.
    let gz = gzip(failing_export().as_bytes());
    let corrupt = write(dir.path(), "corrupt.gz", &gz[..12]);
    let folder = dir.path().display().to_string();

    let out = rotdiag(&["-f", "json", "-j", "2", &folder], None);
    // One input could not be read: 2, although failures were diagnosed in the others.
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["summary"]["inputs"], 999);
    assert_eq!(v["summary"]["unread"], 1);
    assert_eq!(
        causes(&v).len(),
        failing,
        "one diagnosis per failing secret"
    );
    assert!(
        causes(&v).iter().all(|c| c == "database-unreachable"),
        "{:?}",
        causes(&v)
    );
    let err = stderr(&out);
    assert!(err.contains(&corrupt), "the corrupt file is named: {err}");
    let bad: Vec<&Value> = v["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| !i["errors"].as_array().unwrap().is_empty())
        .collect();
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert_eq!(bad[0]["source"], corrupt.as_str());
    // Every shape was detected by content.
    let formats: std::collections::BTreeSet<&str> = v["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["format"].as_str().unwrap().split(' ').next().unwrap())
        .collect();
    for f in ["s3-export", "tail", "events-json", "raw"] {
        assert!(formats.contains(f), "{formats:?}");
    }

    // The same report with one thread; with --skip-unreadable the status follows the diagnoses.
    let one = rotdiag(
        &["-f", "json", "-j", "1", "--skip-unreadable", &folder],
        None,
    );
    assert_eq!(one.stdout, out.stdout);
    assert_eq!(one.status.code(), Some(1), "{}", stderr(&one));
}

#[test]
fn bad_rule_files_name_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "custom.toml",
        b"[symptom]\nid = \"custom\"\ntitle = \"x\"\nseverity = \"high\"\n\n[patterns]\np = { literal = \"x\" }\n\n[trigger]\nhas = \"q\"\n\n[[candidate]]\ncause = \"database-unreachable\"\n",
    );
    let out = rotdiag(&["--rules", dir.path().to_str().unwrap(), "-"], Some(b""));
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("custom.toml:10: unknown pattern 'q'"), "{err}");
}

#[test]
fn rules_dir_adds_a_symptom() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "widget.toml",
        b"[symptom]\nid = \"widget-jammed\"\ntitle = \"Widget jammed\"\nseverity = \"low\"\n\n[patterns]\njam = { literal = \"widget jammed\" }\n\n[trigger]\nhas = \"jam\"\nfailed = true\n\n[[candidate]]\ncause = \"widget\"\nprior = 3.0\n\n[[cause]]\nid = \"widget\"\ntitle = \"The widget is jammed\"\nremediation = [\"unjam the widget of {secret_arn}\"]\n",
    );
    let input = format!(
        "[ERROR] RuntimeError: widget jammed while rotating secret arn {ARN}\nTraceback (most recent call last):\n"
    );
    let out = rotdiag(
        &["-f", "json", "--rules", dir.path().to_str().unwrap()],
        Some(input.as_bytes()),
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(causes(&v), ["widget"]);
    assert_eq!(
        v["diagnoses"][0]["remediation"][0],
        format!("unjam the widget of {ARN}")
    );
}

#[test]
fn list_literals_feeds_ripgrep() {
    let out = rotdiag(&["--list-literals"], None);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.lines()
            .any(|l| l == "Found credentials in environment variables")
    );
    assert!(text.lines().all(|l| !l.is_empty()));
}
