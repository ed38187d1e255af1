//! The same rotation, whatever shape it arrives in, diagnoses the same.
//!
//! One canonical scenario (a KMS denial in createSecret for a secret its logs never name; a healthy
//! rotation of secret A; secret B's setSecret failing to log in after 20 s) is rendered by this
//! test into every shape rotdiag reads, byte for byte as `docs/log-formats.md` describes them. The binary
//! runs on each rendering and must detect the shape and report the same ranked list of (cause,
//! secret, step). The scenario is also rendered with the Lambda JSON log format into the shapes
//! that carry it.

use std::fmt::Write as _;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;
use serde_json::{Value, json};

use rotdiag::time::format_iso;

const ACCOUNT: &str = "123456789012";
const GROUP: &str = "/aws/lambda/SecretsManagerRotation";
const SECRET_A: &str =
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/app/postgres-a1B2c3";
const SECRET_B: &str =
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/billing/postgres-Xy9Zq1";
const STREAM_A: &str = "2025/04/10/[$LATEST]3db9c7b88382e6481e072f78fa8c352e";
const STREAM_B: &str = "2025/04/10/[$LATEST]8f1e2d3c4b5a69788796a5b4c3d2e1f0";
const STREAM_C: &str = "2025/04/10/[$LATEST]a1b2c3d4e5f60718293a4b5c6d7e8f90";
const RUNTIME_ARN: &str = "arn:aws:lambda:us-east-1::runtime:51292edc9238a7b660abaa5d29ab97e471ddf90d1089d37270933c75dda37806";
const WARNING: &str = "LAMBDA_WARNING: Unhandled exception. The most likely cause is an issue in the function code. However, in rare cases, a Lambda runtime update can cause unexpected function behavior. For functions using managed runtimes, runtime updates can be triggered by a function change, or can be applied automatically. To determine if the runtime has been updated, check the runtime version in the INIT_START log entry. If this error correlates with a change in the runtime version, you may be able to mitigate this error by temporarily rolling back to the previous runtime version. For more information, see https://docs.aws.amazon.com/lambda/latest/dg/runtimes-update.html";

/// 2025-04-10T09:00:00.000Z
const T0: i64 = 1_744_275_600_000;

/// What the function or the platform logged, independent of the log format.
#[derive(Clone, Debug)]
enum Ev {
    InitStart,
    Start(&'static str),
    App(&'static str, &'static str, String),
    Unhandled {
        rid: &'static str,
        error_type: &'static str,
        message: String,
        frames: Vec<String>,
    },
    End(&'static str),
    Report {
        rid: &'static str,
        duration: f64,
        init: Option<f64>,
        error: bool,
    },
}

/// One CloudWatch event of the scenario.
#[derive(Clone, Debug)]
struct Event {
    ts: i64,
    stream: &'static str,
    message: String,
}

fn whole_seconds(ts: i64) -> String {
    let iso = format_iso(ts);
    format!("{}Z", &iso[..19])
}

impl Ev {
    /// The Lambda text log format (every line ends with `\n` but the runtime's error block).
    fn text(&self, ts: i64) -> String {
        match self {
            Ev::InitStart => format!(
                "INIT_START Runtime Version: python:3.12.v48\tRuntime Version ARN: {RUNTIME_ARN}\n"
            ),
            Ev::Start(rid) => format!("START RequestId: {rid} Version: $LATEST\n"),
            Ev::App(level, rid, msg) => format!("[{level}]\t{}\t{rid}\t{msg}\n", format_iso(ts)),
            Ev::Unhandled {
                error_type,
                message,
                frames,
                ..
            } => {
                let mut s =
                    format!("[ERROR] {error_type}: {message}\nTraceback (most recent call last):");
                for f in frames {
                    // The runtime indents traceback lines with NO-BREAK SPACEs.
                    s.push('\n');
                    s.push_str(&f.replace("  ", "\u{a0}\u{a0}"));
                }
                s
            }
            Ev::End(rid) => format!("END RequestId: {rid}\n"),
            Ev::Report {
                rid,
                duration,
                init,
                ..
            } => {
                let mut s = format!(
                    "REPORT RequestId: {rid}\tDuration: {duration:.2} ms\tBilled Duration: {} ms\tMemory Size: 128 MB\tMax Memory Used: 86 MB\t",
                    duration.ceil() as i64
                );
                if let Some(i) = init {
                    let _ = write!(s, "Init Duration: {i:.2} ms\t");
                }
                s.push('\n');
                s
            }
        }
    }

    /// The Lambda JSON log format (`LogFormat=JSON`); `None` for lines it does not have (END).
    fn json(&self, ts: i64) -> Option<String> {
        let time = format_iso(ts);
        Some(match self {
            Ev::InitStart => json!({"time": time, "type": "platform.initStart", "record": {
                "initializationType": "on-demand", "phase": "init", "runtimeVersion": "python:3.12.v48",
                "runtimeVersionArn": RUNTIME_ARN, "functionName": "SecretsManagerRotation", "functionVersion": "$LATEST"}})
            .to_string(),
            Ev::Start(rid) => json!({"time": time, "type": "platform.start",
                "record": {"requestId": rid, "version": "$LATEST"}})
            .to_string(),
            Ev::App(level, rid, msg) => {
                // Python's encoder: ", " and ": " separators, whole seconds.
                let m = serde_json::to_string(msg).unwrap();
                format!(
                    "{{\"timestamp\": \"{}\", \"level\": \"{level}\", \"message\": {m}, \"logger\": \"root\", \"requestId\": \"{rid}\"}}\n",
                    whole_seconds(ts)
                )
            }
            Ev::Unhandled {
                rid,
                error_type,
                message,
                frames,
            } => json!({"timestamp": whole_seconds(ts), "log_level": "ERROR", "errorMessage": message,
                "errorType": error_type, "requestId": rid, "stackTrace": frames})
            .to_string(),
            Ev::End(_) => return None,
            Ev::Report {
                rid,
                duration,
                init,
                error,
            } => {
                let mut metrics = json!({"durationMs": duration, "billedDurationMs": duration.ceil() as i64,
                    "memorySizeMB": 128, "maxMemoryUsedMB": 86});
                if let Some(i) = init {
                    metrics["initDurationMs"] = json!(i);
                }
                let mut rec = json!({"requestId": rid, "metrics": metrics,
                    "status": if *error { "error" } else { "success" }});
                if *error {
                    rec["errorType"] = json!("Runtime.Unknown");
                }
                json!({"time": time, "type": "platform.report", "record": rec}).to_string()
            }
        })
    }
}

fn frames(step: &str, call: &str, line: u32) -> Vec<String> {
    vec![
        format!(
            "  File \"/var/task/lambda_function.py\", line {}, in lambda_handler\n    {step}(service_client, arn, token)",
            70 + line % 9
        ),
        format!("  File \"/var/task/lambda_function.py\", line {line}, in {step}\n    {call}"),
    ]
}

/// The scenario: (milliseconds after T0, stream, what was logged). The secret-less failure comes
/// first: in the shapes that lose the log stream (Live Tail, `--query`, console copies, one
/// `get-log-events` stream after another), an invocation that names no secret is joined to the
/// rotation open before it, whichever secret that is.
fn scenario() -> Vec<(i64, &'static str, Ev)> {
    use Ev::*;
    let r = [
        "b2f4685b-daa2-4835-bd58-bf5c727e5a37",
        "c8c29336-e6e3-46bf-883e-f6c5f2a65f87",
        "887f2124-56fa-4f30-8a20-130b81fba1e9",
        "0a993a77-e35f-4b7a-ad09-311a513812c5",
        "75d16149-85a1-4681-9001-5d10c58d4143",
        "625c87ff-9cd5-45d6-b2ac-2eaa3da78186",
        "4ce52fbb-25ed-459c-acd5-43eaf55375a1",
    ];
    let host = "'prod-app-db.c1a2b3c4d5e6.us-east-1.rds.amazonaws.com'";
    let mut v = vec![
        // A secret whose logs never name it: createSecret cannot decrypt it.
        (0, STREAM_C, InitStart),
        (401, STREAM_C, Start(r[6])),
        (433, STREAM_C, App("INFO", r[6], "Found credentials in environment variables.".into())),
        (951, STREAM_C, App("WARNING", r[6], WARNING.into())),
        (951, STREAM_C, Unhandled {
            rid: r[6],
            error_type: "ClientError",
            message: "An error occurred (AccessDeniedException) when calling the GetSecretValue operation: Access to KMS is not allowed".into(),
            frames: frames("create_secret", "current_dict = get_secret_dict(service_client, arn, \"AWSCURRENT\")", 104),
        }),
        (959, STREAM_C, End(r[6])),
        (959, STREAM_C, Report { rid: r[6], duration: 557.9, init: Some(409.3), error: true }),
        // Secret A: a healthy rotation, one step per invocation.
        (600_100, STREAM_A, InitStart),
        (600_512, STREAM_A, Start(r[0])),
        (600_541, STREAM_A, App("INFO", r[0], "Found credentials in environment variables.".into())),
        (601_112, STREAM_A, App("INFO", r[0], format!("createSecret: Successfully put secret for ARN {SECRET_A} and version a6952795-8d77-4c20-b42e-731080ae0ed3."))),
        (601_118, STREAM_A, End(r[0])),
        (601_118, STREAM_A, Report { rid: r[0], duration: 605.31, init: Some(411.2), error: false }),
        (602_000, STREAM_A, Start(r[1])),
        (602_930, STREAM_A, App("INFO", r[1], format!("Successfully established SSL/TLS connection as user 'appuser' with host: {host}"))),
        (602_990, STREAM_A, App("INFO", r[1], format!("setSecret: Successfully set password for user appuser in PostgreSQL DB for secret arn {SECRET_A}."))),
        (602_996, STREAM_A, End(r[1])),
        (602_996, STREAM_A, Report { rid: r[1], duration: 995.12, init: None, error: false }),
        (603_400, STREAM_A, Start(r[2])),
        (603_701, STREAM_A, App("INFO", r[2], format!("Successfully established SSL/TLS connection as user 'appuser' with host: {host}"))),
        (603_712, STREAM_A, App("INFO", r[2], format!("testSecret: Successfully signed into PostgreSQL DB with AWSPENDING secret in {SECRET_A}."))),
        (603_718, STREAM_A, End(r[2])),
        (603_718, STREAM_A, Report { rid: r[2], duration: 317.4, init: None, error: false }),
        (604_300, STREAM_A, Start(r[3])),
        (604_533, STREAM_A, App("INFO", r[3], format!("finishSecret: Successfully set AWSCURRENT stage to version a6952795-8d77-4c20-b42e-731080ae0ed3 for secret {SECRET_A}."))),
        (604_540, STREAM_A, End(r[3])),
        (604_540, STREAM_A, Report { rid: r[3], duration: 239.82, init: None, error: false }),
        // Secret B: createSecret succeeds, setSecret cannot log in after 20 s.
        (1_200_000, STREAM_B, InitStart),
        (1_200_417, STREAM_B, Start(r[4])),
        (1_200_447, STREAM_B, App("INFO", r[4], "Found credentials in environment variables.".into())),
        (1_201_023, STREAM_B, App("INFO", r[4], format!("createSecret: Successfully put secret for ARN {SECRET_B} and version 0f3e1c2d-9a8b-4c7d-8e6f-5a4b3c2d1e0f."))),
        (1_201_030, STREAM_B, End(r[4])),
        (1_201_030, STREAM_B, Report { rid: r[4], duration: 612.88, init: Some(416.5), error: false }),
        (1_202_000, STREAM_B, Start(r[5])),
        (1_222_005, STREAM_B, App("ERROR", r[5], format!("setSecret: Unable to log into database with previous, current, or pending secret of secret arn {SECRET_B}"))),
        (1_222_006, STREAM_B, App("WARNING", r[5], WARNING.into())),
        (1_222_006, STREAM_B, Unhandled {
            rid: r[5],
            error_type: "ValueError",
            message: format!("Unable to log into database with previous, current, or pending secret of secret arn {SECRET_B}"),
            frames: frames("set_secret", "raise ValueError(\"Unable to log into database with previous, current, or pending secret of secret arn %s\" % arn)", 193),
        }),
        (1_222_024, STREAM_B, End(r[5])),
        (1_222_024, STREAM_B, Report { rid: r[5], duration: 20011.36, init: None, error: true }),
    ];
    v.sort_by_key(|e| e.0);
    v
}

fn events(json_format: bool) -> Vec<Event> {
    scenario()
        .into_iter()
        .filter_map(|(dt, stream, ev)| {
            let ts = T0 + dt;
            let message = if json_format {
                ev.json(ts)?
            } else {
                ev.text(ts)
            };
            Some(Event {
                ts,
                stream,
                message,
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Renderers: one per shape, each returning the files of one input (relative path, bytes).

type Files = Vec<(String, Vec<u8>)>;

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn streams(ev: &[Event]) -> Vec<&'static str> {
    let mut s: Vec<&'static str> = ev.iter().map(|e| e.stream).collect();
    s.dedup();
    s.sort();
    s.dedup();
    s
}

/// `…T…\.ffffff+00:00` (Python `isoformat(timespec='microseconds')`).
fn iso_micro(ts: i64) -> String {
    let iso = format_iso(ts);
    format!("{}000+00:00", &iso[..23])
}

/// Python `isoformat()`: no fraction when the microseconds are 0.
fn iso_python(ts: i64) -> String {
    if ts % 1000 == 0 {
        format!("{}+00:00", &format_iso(ts)[..19])
    } else {
        iso_micro(ts)
    }
}

/// Insights `@timestamp`: `YYYY-MM-DD HH:MM:SS.mmm`.
fn insights_ts(ts: i64) -> String {
    format_iso(ts)[..23].replacen('T', " ", 1)
}

/// `<prefix>/<taskId>/<stream, flattened>/000000[.gz]`, one file per stream.
fn s3_export(ev: &[Event], gz: bool) -> Files {
    streams(ev)
        .into_iter()
        .map(|s| {
            let mut text = String::new();
            for e in ev.iter().filter(|e| e.stream == s) {
                let _ = writeln!(text, "{} {}", format_iso(e.ts), e.message);
            }
            let folder = s.replacen('/', "-", 2).replacen('/', "-", 1);
            let name = if gz { "000000.gz" } else { "000000" };
            let data = if gz {
                gzip(text.as_bytes())
            } else {
                text.into_bytes()
            };
            (
                format!("exportedlogs/a87f0398-af3c-4484-a377-7e63823a3ebf/{folder}/{name}"),
                data,
            )
        })
        .collect()
}

fn one(name: &str, data: impl Into<Vec<u8>>) -> Files {
    vec![(name.to_string(), data.into())]
}

/// The three `aws logs tail --format`s, and the detailed one with `--color on`.
#[derive(Clone, Copy, PartialEq)]
enum Tail {
    Detailed,
    Short,
    Json,
    Colour,
}

fn tail(ev: &[Event], style: Tail) -> Files {
    let mut out = String::new();
    for e in ev {
        // `log.rstrip() + '\n'`
        let mut msg = e.message.trim_end().to_string();
        if style == Tail::Json
            && let Ok(v) = serde_json::from_str::<Value>(&msg)
        {
            // A JSON message is printed pretty (indent 4) from the next line on.
            msg = format!("\n{}", pretty(&v).trim_end());
        }
        let _ = match style {
            Tail::Detailed => writeln!(out, "{} {} {msg}", iso_micro(e.ts), e.stream),
            Tail::Json => writeln!(out, "{} {} {msg}", iso_python(e.ts), e.stream),
            Tail::Colour => writeln!(
                out,
                "\x1b[32m{}\x1b[0m \x1b[36m{}\x1b[0m {msg}",
                iso_micro(e.ts),
                e.stream
            ),
            Tail::Short => writeln!(out, "{} {msg}", &format_iso(e.ts)[..19]),
        };
    }
    one("tail.txt", out)
}

fn console(ev: &[Event]) -> Files {
    let mut out = String::new();
    for e in ev {
        let _ = writeln!(
            out,
            "  | {} | {}",
            format_iso(e.ts),
            e.message.trim_end_matches('\n')
        );
    }
    one("console.txt", out)
}

fn raw(ev: &[Event]) -> Files {
    let mut out = String::new();
    for e in ev {
        let _ = writeln!(out, "{}", e.message);
    }
    one("live-tail.txt", out)
}

fn pretty(v: &Value) -> String {
    let mut buf = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut buf, fmt);
    serde::Serialize::serialize(v, &mut ser).unwrap();
    buf.push(b'\n');
    String::from_utf8(buf).unwrap()
}

fn event_id(i: usize) -> String {
    format!(
        "3776254939{:02}0000000000000000000000000000000000000000000",
        i % 100
    )
}

fn filter_doc(ev: &[Event], from: usize, extra: &[(&str, Value)]) -> Value {
    let events: Vec<Value> = ev
        .iter()
        .enumerate()
        .map(|(i, e)| {
            json!({"logStreamName": e.stream, "timestamp": e.ts, "message": e.message,
                "ingestionTime": e.ts + 47, "eventId": event_id(from + i)})
        })
        .collect();
    let mut doc = json!({"events": events, "searchedLogStreams": []});
    for (k, v) in extra {
        doc[*k] = v.clone();
    }
    doc
}

fn filter_json(ev: &[Event]) -> Files {
    one("filter-log-events.json", pretty(&filter_doc(ev, 0, &[])))
}

fn filter_pages(ev: &[Event]) -> Files {
    let mut out = String::new();
    let third = ev.len() / 3;
    for (i, chunk) in [&ev[..third], &ev[third..2 * third], &ev[2 * third..]]
        .into_iter()
        .enumerate()
    {
        let token = json!(format!("tok-page-{}", i + 2));
        out.push_str(&pretty(&filter_doc(
            chunk,
            i * third,
            &[("nextToken", token)],
        )));
    }
    // The empty last page of a `--no-paginate` loop.
    out.push_str("{\n    \"events\": [],\n    \"searchedLogStreams\": []\n}\n");
    one("pages.json", out)
}

fn get_log_events_json(ev: &[Event]) -> Files {
    let mut out = String::new();
    for s in streams(ev) {
        let events: Vec<Value> = ev
            .iter()
            .filter(|e| e.stream == s)
            .map(|e| json!({"timestamp": e.ts, "message": e.message, "ingestionTime": e.ts + 47}))
            .collect();
        out.push_str(&pretty(&json!({"events": events,
            "nextForwardToken": "f/37762549390000000000000000000000000000000000000004",
            "nextBackwardToken": "b/37762549390000000000000000000000000000000000000001"})));
    }
    one("get-log-events.json", out)
}

/// A `get-log-events` loop following `nextBackwardToken`: the newest page first, each page's
/// events oldest first (one stream).
fn get_log_events_backward_pages(ev: &[Event]) -> Files {
    let mut out = String::new();
    for s in streams(ev) {
        let mine: Vec<&Event> = ev.iter().filter(|e| e.stream == s).collect();
        for page in mine.chunks(4).rev() {
            let events: Vec<Value> = page
                .iter()
                .map(|e| json!({"timestamp": e.ts, "message": e.message, "ingestionTime": e.ts + 47}))
                .collect();
            out.push_str(&pretty(&json!({"events": events,
                "nextForwardToken": "f/37762549390000000000000000000000000000000000000004",
                "nextBackwardToken": "b/37762549390000000000000000000000000000000000000001"})));
        }
    }
    one("get-log-events-backward.json", out)
}

fn message_array(ev: &[Event]) -> Files {
    let msgs: Vec<&str> = ev.iter().map(|e| e.message.as_str()).collect();
    one("messages.json", pretty(&json!(msgs)))
}

fn events_text_filter(ev: &[Event]) -> Files {
    let mut out = String::new();
    for (i, e) in ev.iter().enumerate() {
        let _ = writeln!(
            out,
            "EVENTS\t{}\t{}\t{}\t{}\t{}",
            event_id(i),
            e.ts + 47,
            e.stream,
            e.message,
            e.ts
        );
    }
    one("filter.txt", out)
}

fn events_text_get(ev: &[Event]) -> Files {
    let mut out = String::new();
    for s in streams(ev) {
        out.push_str("b/37762549390000000000000000000000000000000000000001\tf/37762549390000000000000000000000000000000000000004\n");
        for e in ev.iter().filter(|e| e.stream == s) {
            let _ = writeln!(out, "EVENTS\t{}\t{}\t{}", e.ts + 47, e.message, e.ts);
        }
    }
    one("get.txt", out)
}

/// `--query 'events[].message' --output text`: each page's messages TAB-joined on one "line".
fn query_messages_text(ev: &[Event]) -> Files {
    let msgs: Vec<&str> = ev.iter().map(|e| e.message.as_str()).collect();
    one("messages.txt", format!("{}\n", msgs.join("\t")))
}

/// A double-quoted YAML scalar as PyYAML / ruamel write it: escapes, folded at ~80 columns with `\`
/// continuations (a leading space of a continuation escaped as `\ `).
fn yaml_quoted(s: &str, indent: usize) -> String {
    let mut esc = String::new();
    let mut tokens: Vec<String> = Vec::new();
    for c in s.chars() {
        let t = match c {
            '\t' => "\\t".to_string(),
            '\n' => "\\n".to_string(),
            '"' => "\\\"".to_string(),
            '\\' => "\\\\".to_string(),
            '\u{a0}' => "\\_".to_string(),
            c if (c as u32) < 0x20 => format!("\\x{:02X}", c as u32),
            c => c.to_string(),
        };
        tokens.push(t);
    }
    let pad = " ".repeat(indent);
    let mut col = indent + 10;
    esc.push('"');
    for t in tokens {
        if col > 78 {
            esc.push_str("\\\n");
            esc.push_str(&pad);
            col = indent;
            if t == " " {
                esc.push_str("\\ ");
                col += 2;
                continue;
            }
        }
        col += t.chars().count();
        esc.push_str(&t);
    }
    esc.push('"');
    esc
}

fn yaml_events(ev: &[Event], indent: usize) -> String {
    let pad = " ".repeat(indent);
    let mut out = String::new();
    for (i, e) in ev.iter().enumerate() {
        let _ = writeln!(out, "{pad}- eventId: '{}'", event_id(i));
        let _ = writeln!(out, "{pad}  ingestionTime: {}", e.ts + 47);
        let _ = writeln!(out, "{pad}  logStreamName: {}", e.stream);
        let _ = writeln!(
            out,
            "{pad}  message: {}",
            yaml_quoted(&e.message, indent + 4)
        );
        let _ = writeln!(out, "{pad}  timestamp: {}", e.ts);
    }
    out
}

fn yaml(ev: &[Event]) -> Files {
    one(
        "events.yaml",
        format!("events:\n{}searchedLogStreams: []\n", yaml_events(ev, 0)),
    )
}

fn yaml_stream(ev: &[Event]) -> Files {
    let half = ev.len() / 2;
    let mut out = String::new();
    for (page, chunk) in [&ev[..half], &ev[half..]].into_iter().enumerate() {
        let _ = write!(
            out,
            "- events:\n{}  nextToken: tok-page-{}\n  searchedLogStreams: []\n",
            yaml_events(chunk, 2),
            page + 2
        );
    }
    one("events-stream.yaml", out)
}

fn table(ev: &[Event]) -> Files {
    let width = 120;
    let mut out = String::new();
    let _ = writeln!(out, "{}", "-".repeat(width));
    let _ = writeln!(out, "|{:^w$}|", "FilterLogEvents", w = width - 2);
    let _ = writeln!(out, "+{}+", "-".repeat(width - 2));
    let _ = writeln!(out, "||{:^w$}||", "events", w = width - 4);
    let _ = writeln!(out, "|+{}+|", "-".repeat(width - 4));
    let _ = writeln!(
        out,
        "||  eventId  | ingestionTime  |  logStreamName  |  message  |  timestamp  ||"
    );
    let _ = writeln!(out, "|+{}+|", "-".repeat(width - 4));
    for (i, e) in ev.iter().enumerate() {
        let _ = writeln!(
            out,
            "||  {}|  {} |  {} |  {}   |  {}  ||",
            event_id(i),
            e.ts + 47,
            e.stream,
            e.message,
            e.ts
        );
    }
    let _ = writeln!(out, "|+{}+|", "-".repeat(width - 4));
    one("table.txt", out)
}

fn payload(ev: &[Event], stream: &str) -> Value {
    let log_events: Vec<Value> = ev
        .iter()
        .filter(|e| e.stream == stream)
        .enumerate()
        .map(|(i, e)| json!({"id": event_id(i), "timestamp": e.ts, "message": e.message}))
        .collect();
    json!({"messageType": "DATA_MESSAGE", "owner": ACCOUNT, "logGroup": GROUP, "logStream": stream,
        "subscriptionFilters": ["rotdiag"], "logEvents": log_events})
}

fn control() -> Value {
    json!({"messageType": "CONTROL_MESSAGE", "owner": "CloudwatchLogs", "logGroup": "", "logStream": "",
        "subscriptionFilters": [], "logEvents": [{"id": "", "timestamp": T0,
        "message": "CWL CONTROL MESSAGE: Checking health of destination Firehose."}]})
}

fn b64gz(v: &Value) -> String {
    base64::engine::general_purpose::STANDARD.encode(gzip(v.to_string().as_bytes()))
}

fn payloads(ev: &[Event]) -> Vec<Value> {
    let mut v = vec![control()];
    v.extend(streams(ev).into_iter().map(|s| payload(ev, s)));
    v
}

/// Firehose → S3 without decompression: compact payloads back to back (`}{`).
fn subscription_decoded(ev: &[Event]) -> Files {
    let joined: String = payloads(ev).iter().map(Value::to_string).collect();
    one("firehose-object", joined)
}

/// Firehose → S3 with each record gzipped and the object compressed again.
fn firehose_double_gzip(ev: &[Event]) -> Files {
    let mut members = Vec::new();
    for p in payloads(ev) {
        members.extend(gzip(p.to_string().as_bytes()));
    }
    one("firehose-object.gz", gzip(&members))
}

/// Lambda subscription events (`{"awslogs":{"data":…}}`), one per payload, one per line.
fn awslogs(ev: &[Event]) -> Files {
    let out: String = payloads(ev)
        .iter()
        .map(|p| format!("{}\n", json!({"awslogs": {"data": b64gz(p)}})))
        .collect();
    one("awslogs-events.json", out)
}

fn kinesis_lambda_event(ev: &[Event]) -> Files {
    let records: Vec<Value> = payloads(ev)
        .iter()
        .enumerate()
        .map(|(i, p)| {
            json!({"kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": "a1b2c3",
                "sequenceNumber": format!("4959033498209357880587591785711010796331637893807944{i:04}"),
                "data": b64gz(p), "approximateArrivalTimestamp": 1_744_275_700.987},
                "eventSource": "aws:kinesis", "eventVersion": "1.0",
                "eventID": format!("shardId-000000000000:{i}"), "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/lambda-kinesis-role",
                "awsRegion": "us-east-1",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/rotation-logs"})
        })
        .collect();
    one("kinesis-event.json", pretty(&json!({"Records": records})))
}

fn kinesis_get_records(ev: &[Event]) -> Files {
    let records: Vec<Value> = payloads(ev)
        .iter()
        .enumerate()
        .map(|(i, p)| {
            json!({"SequenceNumber": format!("4959033498209357880587591785711010796331637893807944{i:04}"),
                "ApproximateArrivalTimestamp": "2025-04-10T09:21:40.987000+00:00",
                "Data": b64gz(p), "PartitionKey": "a1b2c3"})
        })
        .collect();
    one(
        "get-records.json",
        pretty(
            &json!({"Records": records, "NextShardIterator": "AAAAAAAAAAE=", "MillisBehindLatest": 0}),
        ),
    )
}

fn firehose_transform_event(ev: &[Event]) -> Files {
    let records: Vec<Value> = payloads(ev)
        .iter()
        .enumerate()
        .map(|(i, p)| {
            json!({"recordId": format!("4959033498209357880587591785711010796331637893807944{i:04}0000"),
                "approximateArrivalTimestamp": T0 + 100_000, "data": b64gz(p)})
        })
        .collect();
    one(
        "firehose-transform-event.json",
        pretty(
            &json!({"invocationId": "6a7b8c9d-0e1f-4a2b-9c3d-4e5f6a7b8c9d",
            "deliveryStreamArn": "arn:aws:firehose:us-east-1:123456789012:deliverystream/rotation-logs",
            "region": "us-east-1", "records": records}),
        ),
    )
}

/// Logs Insights rows, newest first (the default sort).
fn insights_rows(ev: &[Event]) -> Vec<&Event> {
    let mut rows: Vec<&Event> = ev.iter().collect();
    rows.reverse();
    rows
}

fn insights_json(ev: &[Event]) -> Files {
    let results: Vec<Value> = insights_rows(ev)
        .into_iter()
        .enumerate()
        .map(|(i, e)| {
            json!([
                {"field": "@timestamp", "value": insights_ts(e.ts)},
                {"field": "@message", "value": e.message},
                {"field": "@logStream", "value": e.stream},
                {"field": "@log", "value": format!("{ACCOUNT}:{GROUP}")},
                {"field": "@ptr", "value": format!("CmAKJwojMTExMTIyMjIzMzMzOi9hd3MvbGFtYmRh{i}")}
            ])
        })
        .collect();
    one(
        "query-results.json",
        pretty(
            &json!({"results": results, "statistics": {"recordsMatched": 40.0,
            "recordsScanned": 40.0, "bytesScanned": 6420.0}, "status": "Complete"}),
        ),
    )
}

fn insights_text(ev: &[Event]) -> Files {
    let mut out = String::from("Complete\n");
    for e in insights_rows(ev) {
        let _ = writeln!(out, "RESULTS\t@timestamp\t{}", insights_ts(e.ts));
        let _ = writeln!(out, "RESULTS\t@message\t{}", e.message);
        let _ = writeln!(out, "RESULTS\t@logStream\t{}", e.stream);
        let _ = writeln!(out, "RESULTS\t@log\t{ACCOUNT}:{GROUP}");
    }
    out.push_str("STATISTICS\t6420.0\t40.0\t40.0\n");
    one("query-results.txt", out)
}

fn csv_field(s: &str) -> String {
    format!("\"{}\"", s.replace('"', "\"\""))
}

fn insights_csv(ev: &[Event]) -> Files {
    let mut out = String::from("@timestamp,@message,@logStream,@log\n");
    for e in insights_rows(ev) {
        let _ = writeln!(
            out,
            "{},{},{},{ACCOUNT}:{GROUP}",
            insights_ts(e.ts),
            csv_field(&e.message),
            e.stream
        );
    }
    one("logs-insights-results.csv", out)
}

fn cloudwatch_csv(ev: &[Event]) -> Files {
    let mut out = String::from("timestamp,message\n");
    for e in ev {
        let _ = writeln!(out, "{},{}", e.ts, csv_field(&e.message));
    }
    one("log-events.csv", out)
}

// ---------------------------------------------------------------------------------------------

/// (cause, secret, step) of each diagnosis, best first.
type Ranked = Vec<(String, Option<String>, Option<String>)>;

fn run(files: &Files) -> (Ranked, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let mut args: Vec<PathBuf> = Vec::new();
    for (name, data) in files {
        let p = dir.path().join(name);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, data).unwrap();
        let top = Path::new(name).components().next().unwrap();
        let arg = dir.path().join(top);
        if !args.contains(&arg) {
            args.push(arg);
        }
    }
    let out = Command::new(env!("CARGO_BIN_EXE_rotdiag"))
        .arg("-f")
        .arg("json")
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let s = |x: &Value| x.as_str().map(str::to_owned);
    let ranked = v["diagnoses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (s(&d["cause"]).unwrap(), s(&d["secret"]), s(&d["step"])))
        .collect();
    let mut formats: Vec<String> = v["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            let errors = i["errors"].as_array().unwrap();
            assert!(
                errors.is_empty(),
                "{}: {errors:?}",
                i["source"].as_str().unwrap()
            );
            i["format"].as_str().unwrap().to_owned()
        })
        .collect();
    formats.dedup();
    (ranked, formats)
}

fn expected() -> Ranked {
    vec![
        (
            "kms-access-denied".into(),
            None,
            Some("createSecret".into()),
        ),
        (
            "database-unreachable".into(),
            Some(SECRET_B.into()),
            Some("setSecret".into()),
        ),
    ]
}

/// How much of a diagnosis a shape can carry.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Fidelity {
    /// Cause, secret and step.
    Full,
    /// Cause and secret: the shape loses the log streams and the timestamps (`--query
    /// 'events[].message'`, Live Tail print-only), or mangles messages (the table), so the step
    /// of an invocation that logged nothing may not be inferred the same way.
    Lossy,
}

struct Shape {
    name: &'static str,
    format: &'static str,
    files: Files,
    fidelity: Fidelity,
}

fn shapes(ev: &[Event]) -> Vec<Shape> {
    use Fidelity::*;
    let s = |name, format, files, fidelity| Shape {
        name,
        format,
        files,
        fidelity,
    };
    vec![
        s("s3-export", "s3-export", s3_export(ev, false), Full),
        s(
            "s3-export .gz",
            "s3-export (gzip)",
            s3_export(ev, true),
            Full,
        ),
        s("tail detailed", "tail", tail(ev, Tail::Detailed), Full),
        s(
            "tail --format short",
            "tail-short",
            tail(ev, Tail::Short),
            Full,
        ),
        s("tail --format json", "tail", tail(ev, Tail::Json), Full),
        s(
            "tail --color on",
            "tail (ansi)",
            tail(ev, Tail::Colour),
            Full,
        ),
        s("console", "console", console(ev), Full),
        s("raw (Live Tail)", "raw", raw(ev), Lossy),
        s(
            "filter-log-events json",
            "events-json",
            filter_json(ev),
            Full,
        ),
        s(
            "filter-log-events pages",
            "events-json",
            filter_pages(ev),
            Full,
        ),
        s(
            "get-log-events json",
            "events-json",
            get_log_events_json(ev),
            Full,
        ),
        s(
            "get-log-events pages newest first",
            "events-json",
            get_log_events_backward_pages(ev),
            Full,
        ),
        s(
            "--query events[].message",
            "events-json",
            message_array(ev),
            Lossy,
        ),
        s(
            "--query events[].message text",
            "raw",
            query_messages_text(ev),
            Lossy,
        ),
        s(
            "filter-log-events text",
            "events-text",
            events_text_filter(ev),
            Full,
        ),
        s(
            "get-log-events text",
            "events-text",
            events_text_get(ev),
            Full,
        ),
        s("yaml", "events-yaml", yaml(ev), Full),
        s("yaml-stream", "events-yaml", yaml_stream(ev), Full),
        s("table", "events-table", table(ev), Lossy),
        s(
            "subscription, Firehose object",
            "subscription",
            subscription_decoded(ev),
            Full,
        ),
        s(
            "subscription, Firehose gzip x2",
            "subscription (gzip x2)",
            firehose_double_gzip(ev),
            Full,
        ),
        s("subscription, awslogs", "subscription", awslogs(ev), Full),
        s(
            "subscription, Kinesis event",
            "subscription",
            kinesis_lambda_event(ev),
            Full,
        ),
        s(
            "subscription, kinesis get-records",
            "subscription",
            kinesis_get_records(ev),
            Full,
        ),
        s(
            "subscription, Firehose transform",
            "subscription",
            firehose_transform_event(ev),
            Full,
        ),
        s("insights json", "insights-json", insights_json(ev), Full),
        s("insights text", "insights-text", insights_text(ev), Full),
        s("insights csv", "csv", insights_csv(ev), Full),
        s("console csv", "csv", cloudwatch_csv(ev), Full),
    ]
}

fn check(label: &str, shapes: Vec<Shape>) {
    let want = expected();
    let mut failures = Vec::new();
    for shape in shapes {
        let (got, formats) = run(&shape.files);
        if !formats.iter().all(|f| f == shape.format) {
            failures.push(format!(
                "{label} {}: detected {formats:?}, want {}",
                shape.name, shape.format
            ));
        }
        let (g, w): (Vec<_>, Vec<_>) = match shape.fidelity {
            Fidelity::Full => (got.clone(), want.clone()),
            Fidelity::Lossy => (
                got.iter()
                    .map(|d| (d.0.clone(), d.1.clone(), None))
                    .collect(),
                want.iter()
                    .map(|d| (d.0.clone(), d.1.clone(), None))
                    .collect(),
            ),
        };
        if g != w {
            failures.push(format!("{label} {}: got {got:?}", shape.name));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn the_same_scenario_diagnoses_identically_in_every_shape() {
    check("text format:", shapes(&events(false)));
}

#[test]
fn the_json_log_format_diagnoses_identically_in_the_shapes_that_carry_it() {
    let ev = events(true);
    let keep = [
        "s3-export .gz",
        "tail --format json",
        "filter-log-events json",
        "subscription, awslogs",
        "insights json",
        "console csv",
        "yaml",
        "filter-log-events text",
    ];
    let shapes = shapes(&ev)
        .into_iter()
        .filter(|s| keep.contains(&s.name))
        .collect();
    check("JSON log format:", shapes);
}
