//! What one CloudWatch message says about the Lambda invocation it belongs to.
//!
//! A message is the text a format decoder recovered for one CloudWatch event: a platform line
//! (`START`, `END`, `REPORT`, `INIT_START`, `INIT_REPORT`, the legacy `Task timed out` line), a Python
//! runtime application line (`[LEVEL]\t<ts>\t<request id>\t<text>`), the runtime's unhandled-error
//! block (`[ERROR] Type: message` + traceback, no request id), or one of the JSON log format records
//! (`platform.*` and application records). JSON records are rendered into the text-format line they
//! stand for, so rules match the same strings whichever log format the function used.
//!
//! Real logs are messy, so every separator that is a TAB in the runtime's output is also accepted as a
//! run of spaces (terminal copies expand tabs), request ids are recognised by their UUID shape, and
//! anything unrecognised is kept as `Kind::Other`: still activity of the invocation it falls in.

use std::sync::LazyLock;

use memchr::memmem::Finder;

use super::json::{LeanRecord, classify_json, lean_record};
use super::report::{Metrics, Status, parse_number, parse_report_fields};
use crate::aws::RequestId;
use crate::time::{self, EpochMs};

/// The Python logging level of an application line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Level {
    Debug,
    Info,
    Warning,
    Error,
    Critical,
}

impl Level {
    /// A level as the runtimes print it: Python's and Node's names, and the labels of .NET's
    /// console logger (`fail`, `crit`, `warn`, `info`, `dbug`, `trce`; Microsoft.Extensions.Logging,
    /// which Amazon.Lambda.RuntimeSupport's text log format uses).
    pub(super) fn parse(s: &[u8]) -> Option<Level> {
        Some(match s {
            b"DEBUG" | b"TRACE" | b"dbug" | b"trce" => Level::Debug,
            b"INFO" | b"info" => Level::Info,
            b"WARNING" | b"WARN" | b"warn" => Level::Warning,
            b"ERROR" | b"fail" => Level::Error,
            b"CRITICAL" | b"FATAL" | b"crit" => Level::Critical,
            _ => return None,
        })
    }
}

/// What kind of line a message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    InitStart,
    InitReport,
    Start,
    End,
    Report,
    /// The legacy `<ts> <request id> Task timed out after N.NN seconds` line.
    Timeout,
    /// `RequestId: <id> Error: Runtime exited …` / `Process exited before completing request`.
    RuntimeExit,
    /// A `[LEVEL]\t<ts>\t<request id>\t…` line, or a JSON-format application record.
    App,
    /// The runtime's `[ERROR] Type: message` block for an exception the handler did not catch.
    Unhandled,
    /// `LAMBDA_WARNING: Unhandled exception…` (printed by the runtime right before `Unhandled`).
    RuntimeWarning,
    /// A CloudTrail event (Secrets Manager rotation events, access denials), rendered as one line
    /// by `format::cloudtrail`. It belongs to no Lambda invocation.
    CloudTrail,
    /// Anything else: `print()` output, continuation text, other runtimes.
    Other,
}

/// One classified message.
#[derive(Clone, Debug)]
pub struct Line {
    pub(crate) kind: Kind,
    pub(crate) level: Option<Level>,
    pub(crate) request_id: Option<RequestId>,
    /// A timestamp printed inside the message itself (application lines, JSON records).
    pub(crate) timestamp: Option<EpochMs>,
    /// For JSON log format records: the text-format line the record stands for, which is what
    /// rules match. `None`: rules match the message itself.
    pub(crate) text: Option<Box<[u8]>>,
    /// Where the part of the message worth matching starts: after the `[LEVEL]\t<ts>\t<rid>\t`
    /// prefix of an application line (0 for everything else).
    pub(crate) body: u32,
    pub(crate) metrics: Option<Box<Metrics>>,
    /// `platform.start` / `platform.initStart` name the function: `functionArn` or `functionName`.
    pub(crate) function: Option<Box<str>>,
}

impl Line {
    pub(super) fn new(kind: Kind) -> Line {
        Line {
            kind,
            level: None,
            request_id: None,
            timestamp: None,
            text: None,
            body: 0,
            metrics: None,
            function: None,
        }
    }

    /// The line is a runtime's report of the error that ended its invocation (an application or
    /// unprefixed line a model `unhandled` literal marks).
    pub(super) fn unhandled(&mut self) {
        if matches!(self.kind, Kind::App | Kind::Other) {
            self.kind = Kind::Unhandled;
            self.level = Some(Level::Error);
        }
    }

    pub(super) fn rendered(kind: Kind, text: String) -> Line {
        let mut l = Line::new(kind);
        l.text = Some(text.into_bytes().into_boxed_slice());
        l
    }

    /// The text rules match: the rendered text of a JSON record, or the message itself.
    pub fn text<'a>(&'a self, message: &'a [u8]) -> &'a [u8] {
        self.text.as_deref().unwrap_or(message)
    }

    /// The part rules are matched against: [`Line::text`] without an application line's prefix.
    pub(crate) fn scan_text<'a>(&'a self, message: &'a [u8]) -> &'a [u8] {
        let text = self.text(message);
        text.get(self.body as usize..).unwrap_or(text)
    }
}

/// Classifies one message. Never fails: what is not recognised is `Kind::Other`.
pub fn classify(message: &[u8]) -> Line {
    let (lead, m) = trimmed(message);
    if m.is_empty() {
        return Line::new(Kind::Other);
    }
    if let Some(p) = platform(m) {
        return p.into_line();
    }
    match m[0] {
        b'R' if m.starts_with(b"RequestId:") => {
            let rest = skip_ws(&m[10..]);
            let mut l = Line::new(Kind::Other);
            if let Some(rid) = RequestId::parse_prefix(rest) {
                l.request_id = Some(rid);
                let after = &rest[36..];
                if EXITED.find(after).is_some() {
                    l.kind = Kind::RuntimeExit;
                    l.level = Some(Level::Error);
                }
            }
            l
        }
        b'I' if m.starts_with(b"INIT_START") => Line::new(Kind::InitStart),
        b'I' if m.starts_with(b"INIT_REPORT") => {
            let mut l = Line::new(Kind::InitReport);
            l.metrics = Some(Box::new(parse_report_fields(&m[11..])));
            l
        }
        b'L' if m.starts_with(b"LAMBDA_WARNING:") => {
            let mut l = Line::new(Kind::RuntimeWarning);
            l.level = Some(Level::Warning);
            l
        }
        b'[' => {
            let mut l = classify_bracketed(m);
            if l.body > 0 {
                l.body += lead as u32;
            }
            l
        }
        b'{' => classify_json(m).unwrap_or_else(|| Line::new(Kind::Other)),
        b'0'..=b'9' => classify_timestamped(m),
        _ => other(m),
    }
}

/// The message without its trailing whitespace and its leading blanks, and how many blanks
/// that was.
fn trimmed(message: &[u8]) -> (usize, &[u8]) {
    let msg = trim_end(message);
    let lead = msg.iter().take_while(|&&b| b == b' ' || b == b'\t').count();
    (lead, &msg[lead..])
}

/// What a START, END or REPORT line says. [`classify`] and the platform events of the
/// line-oriented strategies ([`super::platform`]) both read these lines here, so a line reads
/// the same whichever path it takes.
pub(crate) struct Platform {
    pub(crate) kind: Kind,
    pub(crate) request_id: Option<RequestId>,
    /// REPORT's numbers and status (`None` for START and END).
    pub(crate) metrics: Option<Box<Metrics>>,
}

impl Platform {
    fn into_line(self) -> Line {
        let mut l = Line::new(self.kind);
        l.request_id = self.request_id;
        l.metrics = self.metrics;
        l
    }
}

/// Reads `message` as a START, END or REPORT line, as [`classify`] does; `None` for any other
/// line.
pub(crate) fn platform_line(message: &[u8]) -> Option<Platform> {
    platform(trimmed(message).1)
}

/// Reads `message` as a JSON `platform.start` or unscanned `platform.report` record, as
/// [`classify`] does (trimmed the same); `None` for any other message.
pub(super) fn json_platform_line(message: &[u8]) -> Option<LeanRecord<'_>> {
    let m = trimmed(message).1;
    if m.first() != Some(&b'{') {
        return None;
    }
    lean_record(m)
}

/// [`platform_line`] on a message already trimmed.
fn platform(m: &[u8]) -> Option<Platform> {
    let (kind, rest) = match m.first()? {
        b'S' => (Kind::Start, m.strip_prefix(b"START RequestId:")?),
        b'E' => (Kind::End, m.strip_prefix(b"END RequestId:")?),
        b'R' => (Kind::Report, m.strip_prefix(b"REPORT RequestId:")?),
        _ => return None,
    };
    let rest = skip_ws(rest);
    Some(Platform {
        kind,
        request_id: RequestId::parse_prefix(rest),
        metrics: (kind == Kind::Report).then(|| Box::new(parse_report_fields(rest))),
    })
}

/// Unprefixed text. Error text pasted on its own (a botocore `An error occurred (…)` message, a
/// flattened traceback) still reads as an error.
fn other(m: &[u8]) -> Line {
    let mut l = Line::new(Kind::Other);
    if m.starts_with(b"An error occurred (") || TRACEBACK.find(m).is_some() {
        l.level = Some(Level::Error);
    }
    l
}

/// `[LEVEL]\t<ts>\t<rid>\t<text>` or the unhandled `[ERROR] Type: message` block.
fn classify_bracketed(m: &[u8]) -> Line {
    let Some(close) = m.iter().take(12).position(|&b| b == b']') else {
        return other(m);
    };
    let Some(level) = Level::parse(&m[1..close]) else {
        return other(m);
    };
    let rest = &m[close + 1..];
    let after_ws = skip_ws(rest);
    if let Some((ts, used)) = time::parse_iso_prefix(after_ws) {
        // `[INFO]\t2024-…Z\t<rid>\t<text>`; the request id is empty during init.
        let mut l = Line::new(Kind::App);
        l.level = Some(level);
        l.timestamp = Some(ts);
        let after_ts = &after_ws[used..];
        let field = skip_one_sep(after_ts);
        l.request_id = RequestId::parse_prefix(field);
        let body = if l.request_id.is_some() {
            skip_one_sep(&field[36..])
        } else {
            // Init phase: `[INFO]\t<ts>\t\t<text>`.
            skip_ws(field)
        };
        if body.starts_with(b"LAMBDA_WARNING:") {
            l.kind = Kind::RuntimeWarning;
        }
        l.body = (m.len() - body.len()) as u32;
        return l;
    }
    if level == Level::Error && !after_ws.is_empty() {
        let mut l = Line::new(Kind::Unhandled);
        l.level = Some(Level::Error);
        return l;
    }
    let mut l = Line::new(Kind::App);
    l.level = Some(level);
    l
}

/// Lines that start with a timestamp: the legacy timeout line and Node.js- and .NET-style
/// application lines (`<ts>\t<rid>\t<LEVEL>\t<text>`; Node's init errors carry the request id
/// `undefined`).
fn classify_timestamped(m: &[u8]) -> Line {
    let Some((ts, used)) = time::parse_iso_prefix(m) else {
        return other(m);
    };
    let rest = skip_ws(&m[used..]);
    let (rid, body) = match RequestId::parse_prefix(rest) {
        Some(rid) => (Some(rid), skip_ws(&rest[36..])),
        None => match rest.strip_prefix(b"undefined") {
            Some(after) if after.first().is_some_and(|&b| b == b'\t' || b == b' ') => {
                (None, skip_ws(after))
            }
            _ => return other(m),
        },
    };
    let mut l = Line::new(Kind::App);
    l.timestamp = Some(ts);
    l.request_id = rid;
    if let Some(after) = body.strip_prefix(b"Task timed out after") {
        l.kind = Kind::Timeout;
        l.level = Some(Level::Error);
        let secs = parse_number(skip_ws(after));
        l.metrics = Some(Box::new(Metrics {
            duration_ms: secs.map(|s| s * 1000.0),
            status: Some(Status::Timeout),
            ..Metrics::default()
        }));
        return l;
    }
    let word_end = body
        .iter()
        .position(|&b| b == b'\t' || b == b' ')
        .unwrap_or(body.len());
    l.level = Level::parse(&body[..word_end]);
    l
}

/// A substring searcher built once (building one per call showed up in profiles).
struct Key(LazyLock<Finder<'static>>);

macro_rules! key {
    ($name:ident, $text:literal) => {
        static $name: Key = Key(LazyLock::new(|| Finder::new($text)));
    };
}

key!(EXITED, b"exited");
key!(TRACEBACK, b"Traceback (most recent call last)");

impl Key {
    fn find(&self, hay: &[u8]) -> Option<usize> {
        self.0.find(hay)
    }
}

pub(super) fn skip_ws(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|&&b| b == b' ' || b == b'\t').count();
    &s[n..]
}

/// Skips exactly one field separator: a TAB, or the run of spaces a terminal made of it.
fn skip_one_sep(s: &[u8]) -> &[u8] {
    match s.first() {
        Some(b'\t') => &s[1..],
        Some(b' ') => skip_ws(s),
        _ => s,
    }
}

fn trim_end(s: &[u8]) -> &[u8] {
    let n = s
        .iter()
        .rev()
        .take_while(|&&b| matches!(b, b'\n' | b'\r' | b'\t' | b' '))
        .count();
    &s[..s.len() - n]
}

#[cfg(test)]
mod tests {
    use super::*;

    const RID: &str = "1f4c2b7e-8d7a-4f6e-9c1a-2b3c4d5e6f70";

    fn rid() -> Option<RequestId> {
        RequestId::parse(RID)
    }

    #[test]
    fn platform_lines() {
        let l = classify(format!("START RequestId: {RID} Version: $LATEST\n").as_bytes());
        assert_eq!((l.kind, l.request_id), (Kind::Start, rid()));
        let l = classify(format!("END RequestId: {RID}").as_bytes());
        assert_eq!((l.kind, l.request_id), (Kind::End, rid()));
        let l = classify(format!("REPORT RequestId: {RID}\tDuration: 30000.00 ms\tBilled Duration: 30419 ms\tMemory Size: 128 MB\tMax Memory Used: 84 MB\tInit Duration: 418.02 ms\tStatus: timeout\n").as_bytes());
        assert_eq!((l.kind, l.request_id), (Kind::Report, rid()));
        let m = l.metrics.unwrap();
        assert_eq!(m.duration_ms, Some(30000.0));
        assert_eq!(m.billed_ms, Some(30419.0));
        assert_eq!(m.init_ms, Some(418.02));
        assert_eq!(m.memory_mb, Some(128));
        assert_eq!(m.max_memory_mb, Some(84));
        assert_eq!(m.status, Some(Status::Timeout));
    }

    #[test]
    fn report_with_tabs_expanded_to_spaces_and_xray_continuation() {
        let l = classify(format!("REPORT RequestId: {RID}  Duration: 58.70 ms       Billed Duration: 927 ms Memory Size: 1024 MB    Max Memory Used: 91 MB  Init Duration: 868.19 ms\nXRAY TraceId: 1-6a9746e0-1f36\tSegmentId: 2e91\tSampled: true").as_bytes());
        let m = l.metrics.unwrap();
        assert_eq!(m.duration_ms, Some(58.70));
        assert_eq!(m.init_ms, Some(868.19));
        assert_eq!(m.status, None);
    }

    #[test]
    fn init_report_error() {
        let l = classify(b"INIT_REPORT Init Duration: 998.15 ms\tPhase: invoke\tStatus: error\tError Type: Runtime.Unknown\n");
        assert_eq!(l.kind, Kind::InitReport);
        let m = l.metrics.unwrap();
        assert_eq!(m.init_ms, Some(998.15));
        assert_eq!(m.duration_ms, None);
        assert_eq!(m.status, Some(Status::Error));
        assert_eq!(m.error_type.as_deref(), Some("Runtime.Unknown"));
        assert_eq!(m.phase.as_deref(), Some("invoke"));
    }

    #[test]
    fn legacy_timeout_line() {
        let l = classify(
            format!("2024-05-02T03:15:47.439Z {RID} Task timed out after 30.03 seconds").as_bytes(),
        );
        assert_eq!((l.kind, l.request_id), (Kind::Timeout, rid()));
        assert_eq!(l.metrics.unwrap().duration_ms, Some(30030.0));
    }

    #[test]
    fn application_lines_with_tabs_spaces_and_empty_request_id() {
        let l = classify(
            format!("[INFO]\t2024-05-01T12:00:00.456Z\t{RID}\tcreateSecret: ok\n").as_bytes(),
        );
        assert_eq!(
            (l.kind, l.level, l.request_id),
            (Kind::App, Some(Level::Info), rid())
        );
        assert_eq!(l.timestamp, Some(1_714_564_800_456));
        let l = classify(
            format!("[ERROR] 2024-05-01T12:00:00.456Z {RID} setSecret: Unable").as_bytes(),
        );
        assert_eq!(
            (l.kind, l.level, l.request_id),
            (Kind::App, Some(Level::Error), rid())
        );
        let l = classify(
            b"[INFO]\t2025-10-21T18:58:10.422Z\t\tFound credentials in environment variables.\n",
        );
        assert_eq!((l.kind, l.request_id), (Kind::App, None));
        let l = classify(
            format!(
                "[WARNING]\t2025-01-01T00:00:00.000Z\t{RID}\tLAMBDA_WARNING: Unhandled exception."
            )
            .as_bytes(),
        );
        assert_eq!(l.kind, Kind::RuntimeWarning);
    }

    #[test]
    fn unhandled_error_block() {
        let l = classify("[ERROR] KeyError: 'password key is missing from secret JSON'\nTraceback (most recent call last):\n\u{a0}\u{a0}File \"/var/task/lambda_function.py\", line 61, in lambda_handler".as_bytes());
        assert_eq!(
            (l.kind, l.level, l.request_id),
            (Kind::Unhandled, Some(Level::Error), None)
        );
    }

    #[test]
    fn runtime_exit_and_node_style_lines() {
        let l = classify(
            format!("RequestId: {RID} Error: Runtime exited with error: signal: killed").as_bytes(),
        );
        assert_eq!((l.kind, l.request_id), (Kind::RuntimeExit, rid()));
        let l =
            classify(format!("2024-05-01T12:00:00.456Z\t{RID}\tERROR\tInvoke Error").as_bytes());
        assert_eq!(
            (l.kind, l.level, l.request_id),
            (Kind::App, Some(Level::Error), rid())
        );
    }

    #[test]
    fn dotnet_labels_and_node_init_lines() {
        let l = classify(
            format!("2024-05-01T12:00:01.234Z\t{RID}\tfail\tSystem.Exception: boom").as_bytes(),
        );
        assert_eq!(
            (l.kind, l.level, l.request_id),
            (Kind::App, Some(Level::Error), rid())
        );
        let l = classify(
            format!("2024-05-01T12:00:01.234Z\t{RID}\tinfo\t{{\"Step\":\"setSecret\"}}").as_bytes(),
        );
        assert_eq!(l.level, Some(Level::Info));
        // Node.js logs an error thrown while loading the handler with the request id `undefined`.
        let l = classify(b"2024-05-01T12:00:01.234Z\tundefined\tERROR\tUncaught Exception \t{\"errorType\":\"Runtime.ImportModuleError\"}");
        assert_eq!(
            (l.kind, l.level, l.request_id),
            (Kind::App, Some(Level::Error), None)
        );
        assert_eq!(
            classify(b"2024-05-01T12:00:01.234Z\tundefinedx\tERROR\tx").kind,
            Kind::Other
        );
    }

    #[test]
    fn json_platform_records_render_as_text_lines() {
        let l = classify(format!(r#"{{"time":"2025-05-02T03:15:47.409Z","type":"platform.report","record":{{"requestId":"{RID}","metrics":{{"durationMs":30000.0,"billedDurationMs":30419,"memorySizeMB":128,"maxMemoryUsedMB":84,"initDurationMs":418.021}},"status":"timeout"}}}}"#).as_bytes());
        assert_eq!((l.kind, l.request_id), (Kind::Report, rid()));
        assert_eq!(l.metrics.as_ref().unwrap().status, Some(Status::Timeout));
        assert!(
            String::from_utf8_lossy(l.text.as_deref().unwrap()).contains("Duration: 30000.00 ms")
        );
        let l = classify(format!(r#"{{"time":"2025-05-02T03:15:17.409Z","type":"platform.start","record":{{"requestId":"{RID}","functionArn":"arn:aws:lambda:us-east-1:123456789012:function:Rot","version":"$LATEST"}}}}"#).as_bytes());
        assert_eq!((l.kind, l.request_id), (Kind::Start, rid()));
        assert_eq!(
            l.function.as_deref(),
            Some("arn:aws:lambda:us-east-1:123456789012:function:Rot")
        );
    }

    #[test]
    fn json_application_and_unhandled_records() {
        let l = classify(format!(r#"{{"timestamp": "2025-03-11T14:02:07Z", "level": "INFO", "message": "createSecret: Successfully put secret", "logger": "root", "requestId": "{RID}"}}"#).as_bytes());
        assert_eq!(
            (l.kind, l.level, l.request_id),
            (Kind::App, Some(Level::Info), rid())
        );
        assert!(
            String::from_utf8_lossy(l.text.as_deref().unwrap())
                .contains("createSecret: Successfully put secret")
        );
        let l = classify(format!(r#"{{"timestamp": "2025-04-10T09:31:22Z", "log_level": "ERROR", "errorMessage": "Unable to log into database", "errorType": "ValueError", "requestId": "{RID}", "stackTrace": ["  File \"/var/task/lambda_function.py\", line 77, in lambda_handler\n    set_secret(service_client, arn, token)\n"]}}"#).as_bytes());
        assert_eq!((l.kind, l.request_id), (Kind::Unhandled, rid()));
        let t = String::from_utf8_lossy(l.text.as_deref().unwrap()).into_owned();
        assert!(
            t.starts_with("[ERROR] ValueError: Unable to log into database"),
            "{t}"
        );
        assert!(t.contains("in lambda_handler"));
        // .NET's JSON log format: the runtime's record of an uncaught exception.
        let l = classify(format!(r#"{{"timestamp":"2024-05-01T12:00:01.234Z","level":"Error","requestId":"{RID}","message":"","errorType":"System.Collections.Generic.KeyNotFoundException","errorMessage":"The given key 'password' was not present in the dictionary.","stackTrace":["at Rotation.Function.FunctionHandler()"]}}"#).as_bytes());
        assert_eq!((l.kind, l.request_id), (Kind::Unhandled, rid()));
        let t = String::from_utf8_lossy(l.text.as_deref().unwrap()).into_owned();
        assert!(
            t.contains("KeyNotFoundException: The given key 'password'"),
            "{t}"
        );
        assert!(!t.contains("Traceback"), "{t}");
    }

    #[test]
    fn anything_else_is_other() {
        for m in [
            "",
            "café ✓ unicode",
            "{not json",
            "[notalevel] x",
            "XRAY TraceId: 1-2",
        ] {
            assert_eq!(classify(m.as_bytes()).kind, Kind::Other, "{m}");
        }
    }
}
