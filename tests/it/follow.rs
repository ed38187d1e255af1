//! Follow mode: rotdiag fed through a pipe that stays open prints each rotation's diagnosis
//! while the pipe is open, and on SIGINT or SIGTERM the full report of what it read, with the
//! usual exit status. No assertion is about time: waits are only there so a broken build fails
//! instead of hanging ([`PATIENCE`]). The latency from the deciding line to the printed diagnosis
//! is measured by the ignored test [`follow_latency`] (`scripts/follow-latency.sh`).

use std::fs;
use std::time::Duration;

use serde_json::Value;

use crate::util::live::{Live, PATIENCE};

/// A real run's `aws logs tail` output: setSecret cannot reach PostgreSQL (20 s), twice.
const UNREACHABLE: &str =
    "corpus/database-unreachable--tail--real-pg-single-packets-dropped/tail.txt";
/// Two pages of `filter-log-events` (JSON documents): a rotation's role lacks permissions.
const TWO_PAGES: &str =
    "corpus/rotation-role-permissions-missing--events-json--two-pages/pages.json";
/// A real run's healthy rotation, all four steps.
const HEALTHY: &str = "corpus/healthy--tail--real-pg-single-healthy/tail.txt";

fn lines(path: &str) -> Vec<String> {
    let text = fs::read_to_string(path).unwrap();
    // Records are lines that start with a timestamp; a traceback's lines stay with theirs.
    let mut out: Vec<String> = Vec::new();
    for l in text.lines() {
        match out.last_mut() {
            Some(last) if !l.starts_with("20") => {
                last.push('\n');
                last.push_str(l);
            }
            _ => out.push(l.to_string()),
        }
    }
    out.into_iter().map(|l| l + "\n").collect()
}

/// The lines of the first failed attempt: through the REPORT of the first failed setSecret.
fn first_failure() -> String {
    let all = lines(UNREACHABLE);
    let end = all
        .iter()
        .position(|l| l.contains("REPORT") && l.contains("Duration: 20"))
        .expect("a 20 s REPORT");
    all[..=end].concat()
}

#[test]
fn a_failure_is_printed_while_the_pipe_is_open_and_sigint_prints_the_report() {
    let mut live = Live::spawn(&["--color", "never"]);
    live.write(first_failure().as_bytes());
    live.wait_for("rotation failed");
    live.wait_for("#1 database-unreachable");
    // Printed before stdin closed: nothing closed it yet.
    assert!(live.stdin_open());
    let before = live.out.clone();
    assert!(before.contains("at setSecret"), "{before}");
    assert!(
        !before.contains("1 diagnosis ("),
        "the full report came early:\n{before}"
    );
    live.signal("INT");
    let (code, out, err) = live.finish();
    assert!(
        err.contains("stopped by SIGINT"),
        "status {code:?}, stderr {err:?}, stdout:\n{out}"
    );
    let report = &out[before.len()..];
    assert!(
        report.contains("1 diagnosis (1 input") && report.contains("#1 database-unreachable"),
        "the full report after SIGINT:\n{report}"
    );
    assert_eq!(code, Some(1), "{out}\n{err}");
}

#[test]
fn sigterm_ends_the_ndjson_stream_with_the_full_report() {
    let mut live = Live::spawn(&["--format", "ndjson"]);
    live.write(first_failure().as_bytes());
    live.wait_for("\"type\":\"rotation\"");
    assert!(live.stdin_open());
    let early: Vec<Value> = live
        .out
        .lines()
        .map(|l| serde_json::from_str(l).expect("an ndjson record"))
        .collect();
    assert_eq!(early[0]["type"], "diagnosis");
    assert_eq!(early[0]["live"], true);
    assert_eq!(early[0]["cause"], "database-unreachable");
    assert_eq!(early[1]["status"], "failed");
    assert_eq!(early[1]["live"], true);
    live.signal("TERM");
    let (code, out, err) = live.finish();
    assert!(err.contains("stopped by SIGTERM"), "{err}");
    let records: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("an ndjson record"))
        .collect();
    // Live records and the full report's alike follow the schema.
    let schema = crate::schema::validator();
    for (i, r) in records.iter().enumerate() {
        crate::schema::assert_valid(&schema, r, &format!("ndjson line {}", i + 1));
    }
    let last = records.last().unwrap();
    assert_eq!(last["type"], "summary");
    assert_eq!(last["summary"]["diagnoses"], 1);
    assert_eq!(last["inputs"][0]["format"], "tail");
    let finals: Vec<&Value> = records.iter().filter(|r| r.get("live").is_none()).collect();
    assert_eq!(finals[0]["type"], "diagnosis");
    assert_eq!(finals[0]["cause"], "database-unreachable");
    assert_eq!(code, Some(1), "{out}\n{err}");
}

#[test]
fn a_step_that_timed_out_is_printed_while_the_pipe_is_open() {
    // A real run on the legacy platform log lines: setSecret hits the 3 s timeout, and the
    // runtime's "Task timed out" line comes after its REPORT.
    let path = "corpus/lambda-timeout-too-short--tail--real-pg-single-timeout-3s-slow-db-legacy-platform/tail.txt";
    let all = lines(path);
    let end = all
        .iter()
        .position(|l| l.contains("Task timed out"))
        .expect("a timeout line");
    let mut live = Live::spawn(&["--color", "never", "--live"]);
    live.write(all[..=end].concat().as_bytes());
    live.wait_for("#1 lambda-timeout-too-short");
    assert!(live.stdin_open());
    assert!(live.out.contains("rotation failed"), "{}", live.out);
    live.signal("INT");
    let (code, out, _) = live.finish();
    assert_eq!(code, Some(1), "{out}");
}

#[test]
fn a_rotation_that_succeeds_prints_a_line_and_exits_0_on_sigint() {
    let mut live = Live::spawn(&["--color", "never"]);
    live.write(lines(HEALTHY).concat().as_bytes());
    live.wait_for("rotation succeeded");
    assert!(live.stdin_open());
    live.signal("INT");
    let (code, out, err) = live.finish();
    assert!(out.contains("no failed rotation found"), "{out}\n{err}");
    assert_eq!(code, Some(0), "{out}\n{err}");
}

#[test]
fn a_retry_that_fails_for_the_same_cause_prints_nothing_more() {
    let mut live = Live::spawn(&["--color", "never", "--live"]);
    let all = lines(UNREACHABLE).concat();
    live.write(all.as_bytes());
    live.wait_for("#1 database-unreachable");
    live.signal("INT");
    let (code, out, _) = live.finish();
    assert_eq!(out.matches("rotation failed").count(), 1, "{out}");
    assert_eq!(code, Some(1));
}

#[test]
fn a_pipe_that_ends_at_once_gives_the_batch_report_alone() {
    let data = fs::read(UNREACHABLE).unwrap();
    let piped = crate::util::run::rotdiag(&["--color", "never"], Some(&data));
    let text = String::from_utf8_lossy(&piped.stdout);
    assert!(!text.contains("rotation failed"), "{text}");
    assert!(text.starts_with("1 diagnosis (1 input"), "{text}");
    assert_eq!(piped.status.code(), Some(1));
}

/// A pipe that pauses inside a record (after the first line of a traceback, for longer than
/// follow mode's quiet time but not long enough to go live) and then ends gives the report of the
/// same bytes written at once: the record is not cut where the writer paused. (A loaded machine
/// pauses `cat FILE | rotdiag` like this; the report must not depend on it.)
#[test]
fn a_pipe_that_pauses_inside_a_record_gives_the_report_of_the_same_bytes_at_once() {
    let data = fs::read(UNREACHABLE).unwrap();
    let cut = memchr_find(&data, b"Traceback (most recent call last):\n");
    let mut live = Live::spawn(&["--format", "json"]);
    live.write(&data[..cut]);
    // Longer than `pipeline::follow::QUIET` (100 ms), shorter than `GO_LIVE_AFTER` (2 s).
    std::thread::sleep(Duration::from_millis(250));
    live.write(&data[cut..]);
    live.close();
    let (code, paused, _) = live.finish();
    let at_once = crate::util::run::rotdiag(&["--format", "json"], Some(&data));
    let records = |out: &str| {
        let v: Value = serde_json::from_str(out).unwrap();
        v["inputs"][0]["records"].clone()
    };
    let at_once = String::from_utf8_lossy(&at_once.stdout).into_owned();
    assert_eq!(records(&paused), records(&at_once));
    assert_eq!(paused, at_once);
    assert_eq!(code, Some(1));
}

/// JSON documents (no live shape) are handed to the batch strategy; the reader thread hands
/// stdin back after the read it is in, and the batch reader reads on from it. Written in three
/// parts with pauses (the sample, a part the thread is waiting for at the hand-off, a part read
/// after it), the report is that of the same bytes at once: no byte lost or read twice.
#[test]
fn json_written_across_the_hand_off_gives_the_report_of_the_same_bytes_at_once() {
    let page = fs::read(TWO_PAGES).unwrap();
    // Longer than a pipe holds, so the thread and the batch reader both read some of it.
    let data = page.repeat(20);
    let mut live = Live::spawn(&["--format", "json"]);
    let (first, rest) = data.split_at(page.len() / 2);
    let (second, third) = rest.split_at(rest.len() / 3);
    live.write(first);
    // Longer than `pipeline::follow::QUIET` (100 ms): the sample is taken, the input handed off.
    std::thread::sleep(Duration::from_millis(250));
    live.write(second);
    std::thread::sleep(Duration::from_millis(250));
    live.write(third);
    live.close();
    let (code, paused, _) = live.finish();
    let at_once = crate::util::run::rotdiag(&["--format", "json"], Some(&data));
    let at_once_code = at_once.status.code();
    let at_once = String::from_utf8_lossy(&at_once.stdout).into_owned();
    let v: Value = serde_json::from_str(&paused).unwrap();
    assert_eq!(v["inputs"][0]["format"], "events-json");
    assert_eq!(paused, at_once);
    assert_eq!(code, at_once_code);
}

/// A batch read of a pipe that never closes (JSON documents) still ends on SIGTERM, with the
/// report of what was read.
#[test]
fn sigterm_ends_the_batch_read_of_a_json_pipe_left_open() {
    let data = fs::read(TWO_PAGES).unwrap();
    let mut live = Live::spawn(&["--format", "json"]);
    live.write(&data);
    // Past the sample: the batch reader is waiting for more.
    std::thread::sleep(Duration::from_millis(500));
    assert!(live.stdin_open());
    live.signal("TERM");
    let (code, out, err) = live.finish();
    let v: Value = serde_json::from_str(&out).expect("a JSON report");
    assert_eq!(v["inputs"][0]["format"], "events-json");
    assert!(err.contains("stopped by SIGTERM"), "{err}");
    assert!(code.is_some(), "ended by a signal: {err}");
}

/// Where `needle` ends in `hay`.
fn memchr_find(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len())
        .position(|w| w == needle)
        .expect("the needle")
        + needle.len()
}

#[test]
fn live_takes_no_paths() {
    let out = crate::util::run::rotdiag(&["--live", UNREACHABLE], None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--live follows standard input"));
}

/// The latency from writing the line that decides a rotation (the REPORT of its failed
/// setSecret) to reading the first line of its diagnosis, over 20 rotations: median and max.
/// Run with `scripts/follow-latency.sh` (a release build).
#[test]
#[ignore = "a measurement, not a test: scripts/follow-latency.sh"]
fn follow_latency() {
    let failure = first_failure();
    let (lead, decider) = failure.split_at(failure.rfind("20").unwrap());
    let decider = &decider[decider.find(|c: char| c.is_ascii_digit()).unwrap()..];
    let uuid =
        regex::Regex::new(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}").unwrap();
    let mut live = Live::spawn(&["--color", "never", "--live"]);
    let mut took = Vec::new();
    for i in 0..20 {
        // Each rotation its own token and request ids.
        let fresh = |s: &str| {
            uuid.replace_all(s, |c: &regex::Captures| format!("{}{i:012x}", &c[0][..24]))
                .into_owned()
        };
        live.write(fresh(lead).as_bytes());
        // Let the lines before it be read and settled, so only the deciding line is timed.
        std::thread::sleep(Duration::from_millis(600));
        let start = std::time::Instant::now();
        live.write(fresh(decider).as_bytes());
        live.wait_for("rotation failed");
        took.push(start.elapsed());
    }
    live.signal("INT");
    let (code, _, _) = live.finish();
    assert_eq!(code, Some(1));
    took.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "follow latency over {} rotations: median {:.1} ms, max {:.1} ms, min {:.1} ms (patience {:?})",
        took.len(),
        ms(took[took.len() / 2]),
        ms(*took.last().unwrap()),
        ms(took[0]),
        PATIENCE
    );
}

/// What follow mode prints while the pipe is open goes through the egress as every report does:
/// a credential on the failing line is not in the live diagnosis (human and ndjson).
#[test]
fn live_output_holds_no_credential_from_the_logs() {
    const LEAK: &str = "Hunter2Leak9";
    // On the template's [ERROR] line, which the diagnosis shows as evidence.
    let failure = first_failure().replacen(
        "setSecret: Unable to log into database",
        &format!(
            "setSecret: DB_PASSWORD={LEAK} dbPassword: \"{LEAK}\" Unable to log into database"
        ),
        1,
    );
    assert!(failure.contains(LEAK));
    for (format, decided) in [("human", "rotation failed"), ("ndjson", "\"live\":true")] {
        let mut live = Live::spawn(&["--live", "--color", "never", "-f", format]);
        live.write(failure.as_bytes());
        live.wait_for(decided);
        live.signal("TERM");
        let (_, out, err) = live.finish();
        assert!(
            !out.contains(LEAK) && !err.contains(LEAK),
            "{format}:\n{out}\n{err}"
        );
    }
}
