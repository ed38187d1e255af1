//! The same rotation, whatever shape it arrives in, diagnoses the same.
//!
//! One canonical scenario (a KMS denial in createSecret for a secret its logs never name; a healthy
//! rotation of secret A; secret B's setSecret failing to log in after 20 s) is rendered by this
//! test into every shape rotdiag reads, byte for byte as `docs/log-formats.md` describes them. The binary
//! runs on each rendering and must detect the shape and report the same ranked list of (cause,
//! secret, step). The scenario is also rendered with the Lambda JSON log format into the shapes
//! that carry it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use rotdiag::time::format_iso;

use crate::util::render::{Event, Files, Shape as S, Tail, render};
use crate::util::run::{json, rotdiag, write};
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
            Some(Event::new(ts, stream, message))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------

/// (cause, secret, step) of each diagnosis, best first.
type Ranked = Vec<(String, Option<String>, Option<String>)>;

fn run(files: &Files) -> (Ranked, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let mut args: Vec<PathBuf> = Vec::new();
    for (name, data) in files {
        write(dir.path(), name, data);
        let top = Path::new(name).components().next().unwrap();
        let arg = dir.path().join(top);
        if !args.contains(&arg) {
            args.push(arg);
        }
    }
    let mut argv = vec!["-f".to_string(), "json".to_string()];
    argv.extend(args.iter().map(|a| a.display().to_string()));
    let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
    let v = json(&rotdiag(&argv, None));
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
            crate::util::run::shown_format(i)
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
        s(
            "s3-export",
            "s3-export",
            render(S::S3Export { gz: false }, ev),
            Full,
        ),
        s(
            "s3-export .gz",
            "s3-export (gzip)",
            render(S::S3Export { gz: true }, ev),
            Full,
        ),
        s(
            "tail detailed",
            "tail",
            render(S::Tail(Tail::Detailed), ev),
            Full,
        ),
        s(
            "tail --format short",
            "tail-short",
            render(S::Tail(Tail::Short), ev),
            Full,
        ),
        s(
            "tail --format json",
            "tail",
            render(S::Tail(Tail::Json), ev),
            Full,
        ),
        s(
            "tail --color on",
            "tail (ansi)",
            render(S::Tail(Tail::Colour), ev),
            Full,
        ),
        s("console", "console", render(S::Console, ev), Full),
        s("raw (Live Tail)", "raw", render(S::Raw, ev), Lossy),
        s(
            "filter-log-events json",
            "events-json",
            render(S::FilterLogEvents, ev),
            Full,
        ),
        s(
            "filter-log-events pages",
            "events-json",
            render(S::FilterLogEventsPages, ev),
            Full,
        ),
        s(
            "get-log-events json",
            "events-json",
            render(S::GetLogEvents, ev),
            Full,
        ),
        s(
            "get-log-events pages newest first",
            "events-json",
            render(S::GetLogEventsBackward, ev),
            Full,
        ),
        s(
            "--query events[].message",
            "events-json",
            render(S::MessageArray, ev),
            Lossy,
        ),
        s(
            "--query events[].message text",
            "raw",
            render(S::MessagesText, ev),
            Lossy,
        ),
        s(
            "filter-log-events text",
            "events-text",
            render(S::FilterLogEventsText, ev),
            Full,
        ),
        s(
            "get-log-events text",
            "events-text",
            render(S::GetLogEventsText, ev),
            Full,
        ),
        s("yaml", "events-yaml", render(S::Yaml, ev), Full),
        s(
            "yaml-stream",
            "events-yaml",
            render(S::YamlStream, ev),
            Full,
        ),
        s("table", "events-table", render(S::Table, ev), Lossy),
        s(
            "subscription, Firehose object",
            "subscription",
            render(S::Firehose, ev),
            Full,
        ),
        s(
            "subscription, Firehose gzip x2",
            "subscription (gzip x2)",
            render(S::FirehoseGzip2, ev),
            Full,
        ),
        s(
            "subscription, awslogs",
            "subscription",
            render(S::Awslogs, ev),
            Full,
        ),
        s(
            "subscription, Kinesis event",
            "subscription",
            render(S::KinesisEvent, ev),
            Full,
        ),
        s(
            "subscription, kinesis get-records",
            "subscription",
            render(S::KinesisGetRecords, ev),
            Full,
        ),
        s(
            "subscription, Firehose transform",
            "subscription",
            render(S::FirehoseTransform, ev),
            Full,
        ),
        s(
            "insights json",
            "insights-json",
            render(S::InsightsJson, ev),
            Full,
        ),
        s(
            "insights text",
            "insights-text",
            render(S::InsightsText, ev),
            Full,
        ),
        s("insights csv", "csv", render(S::InsightsCsv, ev), Full),
        s("console csv", "csv", render(S::ConsoleCsv, ev), Full),
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
