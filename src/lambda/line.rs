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

use std::borrow::Cow;
use std::sync::LazyLock;

use memchr::memmem::Finder;
use serde::Deserialize;

use crate::aws::RequestId;
use crate::time::{self, EpochMs};

/// The Python logging level of an application line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Info,
    Warning,
    Error,
    Critical,
}

impl Level {
    fn parse(s: &[u8]) -> Option<Level> {
        Some(match s {
            b"DEBUG" | b"TRACE" => Level::Debug,
            b"INFO" => Level::Info,
            b"WARNING" | b"WARN" => Level::Warning,
            b"ERROR" => Level::Error,
            b"CRITICAL" | b"FATAL" => Level::Critical,
            _ => return None,
        })
    }
}

/// What kind of line a message is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
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

impl Kind {
    /// Platform lines delimit invocations; everything else is something the function did.
    pub fn is_platform(self) -> bool {
        matches!(
            self,
            Kind::InitStart | Kind::InitReport | Kind::Start | Kind::End | Kind::Report
        )
    }
}

/// How an invocation (or init phase) ended, from `REPORT … Status:` or `platform.report`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Success,
    Timeout,
    Error,
    Failure,
}

impl Status {
    fn parse(s: &str) -> Option<Status> {
        Some(match s.trim() {
            "success" => Status::Success,
            "timeout" => Status::Timeout,
            "error" => Status::Error,
            "failure" => Status::Failure,
            _ => return None,
        })
    }
}

/// Numbers from `REPORT`, `INIT_REPORT`, `platform.report` or the legacy timeout line.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Metrics {
    pub duration_ms: Option<f64>,
    pub billed_ms: Option<f64>,
    pub memory_mb: Option<u32>,
    pub max_memory_mb: Option<u32>,
    pub init_ms: Option<f64>,
    pub status: Option<Status>,
    pub error_type: Option<String>,
    /// `INIT_REPORT … Phase: init|invoke`.
    pub phase: Option<String>,
}

/// One classified message.
#[derive(Clone, Debug)]
pub struct Line {
    pub kind: Kind,
    pub level: Option<Level>,
    pub request_id: Option<RequestId>,
    /// A timestamp printed inside the message itself (application lines, JSON records).
    pub timestamp: Option<EpochMs>,
    /// For JSON log format records: the text-format line the record stands for, which is what
    /// rules match. `None`: rules match the message itself.
    pub text: Option<Box<[u8]>>,
    /// Where the part of the message worth matching starts: after the `[LEVEL]\t<ts>\t<rid>\t`
    /// prefix of an application line (0 for everything else).
    pub body: u32,
    pub metrics: Option<Box<Metrics>>,
    /// `platform.start` / `platform.initStart` name the function: `functionArn` or `functionName`.
    pub function: Option<Box<str>>,
}

impl Line {
    fn new(kind: Kind) -> Line {
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

    fn rendered(kind: Kind, text: String) -> Line {
        let mut l = Line::new(kind);
        l.text = Some(text.into_bytes().into_boxed_slice());
        l
    }

    /// The text rules match: the rendered text of a JSON record, or the message itself.
    pub fn text<'a>(&'a self, message: &'a [u8]) -> &'a [u8] {
        self.text.as_deref().unwrap_or(message)
    }

    /// The part rules are matched against: [`Line::text`] without an application line's prefix.
    pub fn scan_text<'a>(&'a self, message: &'a [u8]) -> &'a [u8] {
        let text = self.text(message);
        text.get(self.body as usize..).unwrap_or(text)
    }
}

/// Classifies one message. Never fails: what is not recognised is `Kind::Other`.
pub fn classify(message: &[u8]) -> Line {
    let msg = trim_end(message);
    let lead = msg.iter().take_while(|&&b| b == b' ' || b == b'\t').count();
    let m = &msg[lead..];
    if m.is_empty() {
        return Line::new(Kind::Other);
    }
    match m[0] {
        b'S' if m.starts_with(b"START RequestId:") => {
            let mut l = Line::new(Kind::Start);
            l.request_id = RequestId::parse_prefix(skip_ws(&m[16..]));
            l
        }
        b'E' if m.starts_with(b"END RequestId:") => {
            let mut l = Line::new(Kind::End);
            l.request_id = RequestId::parse_prefix(skip_ws(&m[14..]));
            l
        }
        b'R' if m.starts_with(b"REPORT RequestId:") => {
            let mut l = Line::new(Kind::Report);
            let rest = skip_ws(&m[17..]);
            l.request_id = RequestId::parse_prefix(rest);
            l.metrics = Some(Box::new(parse_report_fields(rest)));
            l
        }
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

/// Lines that start with a timestamp: the legacy timeout line and Node.js-style application lines
/// (`<ts>\t<rid>\t<LEVEL>\t<text>`).
fn classify_timestamped(m: &[u8]) -> Line {
    let Some((ts, used)) = time::parse_iso_prefix(m) else {
        return other(m);
    };
    let rest = skip_ws(&m[used..]);
    let Some(rid) = RequestId::parse_prefix(rest) else {
        return other(m);
    };
    let body = skip_ws(&rest[36..]);
    let mut l = Line::new(Kind::App);
    l.timestamp = Some(ts);
    l.request_id = Some(rid);
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
key!(EVENT_SOURCE, b"\"eventSource\"");
key!(EVENT_NAME, b"\"eventName\"");

impl Key {
    fn find(&self, hay: &[u8]) -> Option<usize> {
        self.0.find(hay)
    }
}

/// Parses the TAB (or space) separated `Key: value` fields of REPORT and INIT_REPORT lines, in
/// one pass over the colons (terminal copies turn the TABs into spaces, so fields are found by
/// their keys, not by position).
fn parse_report_fields(s: &[u8]) -> Metrics {
    #[derive(Clone, Copy)]
    enum F {
        Duration,
        Billed,
        Init,
        Memory,
        MaxMemory,
        Status,
        ErrorType,
        Phase,
        Ignored,
    }
    // Longer keys first: "Billed Duration" also ends with "Duration".
    const KEYS: [(&[u8], F); 10] = [
        (b"Billed Restore Duration", F::Ignored),
        (b"Restore Duration", F::Ignored),
        (b"Billed Duration", F::Billed),
        (b"Init Duration", F::Init),
        (b"Duration", F::Duration),
        (b"Max Memory Used", F::MaxMemory),
        (b"Memory Size", F::Memory),
        (b"Status", F::Status),
        (b"Error Type", F::ErrorType),
        (b"Phase", F::Phase),
    ];
    if let Some(m) = parse_report_in_order(s) {
        return m;
    }
    let mut m = Metrics::default();
    for c in memchr::memchr_iter(b':', s) {
        let before = &s[..c];
        let Some(&(_, field)) = KEYS.iter().find(|(k, _)| before.ends_with(k)) else {
            continue;
        };
        let v = skip_ws(&s[c + 1..]);
        match field {
            F::Duration => m.duration_ms = m.duration_ms.or(parse_number(v)),
            F::Billed => m.billed_ms = parse_number(v),
            F::Init => m.init_ms = parse_number(v),
            F::Memory => m.memory_mb = parse_number(v).map(|x| x as u32),
            F::MaxMemory => m.max_memory_mb = parse_number(v).map(|x| x as u32),
            F::Status => m.status = Status::parse(&word(v)),
            F::ErrorType => m.error_type = Some(word(v)).filter(|w| !w.is_empty()),
            F::Phase => m.phase = Some(word(v)).filter(|w| !w.is_empty()),
            F::Ignored => {}
        }
    }
    m
}

/// The fast path for a REPORT as the platform writes it: `<rid>\tDuration: N ms\tBilled Duration:
/// N ms\tMemory Size: N MB\tMax Memory Used: N MB[\tInit Duration: N ms]`, then nothing or a
/// status. Anything else (tabs turned to spaces, statuses, XRAY) takes the general path.
fn parse_report_in_order(s: &[u8]) -> Option<Metrics> {
    fn field<'a>(s: &'a [u8], key: &[u8], unit: &[u8]) -> Option<(f64, &'a [u8])> {
        let s = s.strip_prefix(b"\t")?.strip_prefix(key)?;
        let end = s.iter().position(|&b| !(b.is_ascii_digit() || b == b'.'))?;
        let v = parse_number(&s[..end])?;
        Some((v, s[end..].strip_prefix(unit)?))
    }
    let rest = s.get(36..)?;
    let (duration, rest) = field(rest, b"Duration: ", b" ms")?;
    let (billed, rest) = field(rest, b"Billed Duration: ", b" ms")?;
    let (memory, rest) = field(rest, b"Memory Size: ", b" MB")?;
    let (used, rest) = field(rest, b"Max Memory Used: ", b" MB")?;
    let (init, rest) = match field(rest, b"Init Duration: ", b" ms") {
        Some((v, r)) => (Some(v), r),
        None => (None, rest),
    };
    if !rest.iter().all(|b| b.is_ascii_whitespace()) {
        return None;
    }
    Some(Metrics {
        duration_ms: Some(duration),
        billed_ms: Some(billed),
        memory_mb: Some(memory as u32),
        max_memory_mb: Some(used as u32),
        init_ms: init,
        ..Metrics::default()
    })
}

/// The value up to the next separator.
fn word(v: &[u8]) -> String {
    let end = v
        .iter()
        .position(|&b| b == b'\t' || b == b' ' || b == b'\n' || b == b'\r')
        .unwrap_or(v.len());
    String::from_utf8_lossy(&v[..end]).into_owned()
}

/// A decimal number as Lambda prints them (`30000.00`, `128`): digits, an optional fraction.
fn parse_number(s: &[u8]) -> Option<f64> {
    let mut int: u64 = 0;
    let mut i = 0;
    while i < s.len() && s[i].is_ascii_digit() && i < 18 {
        int = int * 10 + (s[i] - b'0') as u64;
        i += 1;
    }
    if i == 0 {
        return None;
    }
    let mut value = int as f64;
    if s.get(i) == Some(&b'.') {
        let mut scale = 0.1;
        i += 1;
        while i < s.len() && s[i].is_ascii_digit() {
            value += (s[i] - b'0') as f64 * scale;
            scale /= 10.0;
            i += 1;
        }
    }
    Some(value)
}

fn skip_ws(s: &[u8]) -> &[u8] {
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

/// The fields of the Lambda JSON log format records we read (application and platform).
#[derive(Deserialize, Default)]
#[serde(default)]
struct JsonRecord<'a> {
    // platform records: {"time", "type", "record": {…}}
    #[serde(borrow)]
    time: Option<Cow<'a, str>>,
    #[serde(rename = "type")]
    #[serde(borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    record: Option<PlatformRecord<'a>>,
    // application records: {"timestamp", "level" | "log_level", "message", "requestId", …}
    #[serde(borrow)]
    timestamp: Option<Cow<'a, str>>,
    #[serde(borrow)]
    level: Option<Cow<'a, str>>,
    #[serde(borrow)]
    log_level: Option<Cow<'a, str>>,
    #[serde(borrow)]
    message: Option<&'a serde_json::value::RawValue>,
    #[serde(rename = "requestId", alias = "AWSRequestId", alias = "aws_request_id")]
    #[serde(borrow)]
    request_id: Option<Cow<'a, str>>,
    #[serde(rename = "errorType")]
    #[serde(borrow)]
    error_type: Option<Cow<'a, str>>,
    #[serde(rename = "errorMessage")]
    #[serde(borrow)]
    error_message: Option<Cow<'a, str>>,
    #[serde(rename = "stackTrace")]
    stack_trace: Option<serde_json::Value>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PlatformRecord<'a> {
    #[serde(rename = "requestId")]
    #[serde(borrow)]
    request_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    version: Option<Cow<'a, str>>,
    #[serde(borrow)]
    status: Option<Cow<'a, str>>,
    #[serde(rename = "errorType")]
    #[serde(borrow)]
    error_type: Option<Cow<'a, str>>,
    metrics: Option<PlatformMetrics>,
    #[serde(borrow)]
    phase: Option<Cow<'a, str>>,
    #[serde(rename = "functionArn")]
    #[serde(borrow)]
    function_arn: Option<Cow<'a, str>>,
    #[serde(rename = "functionName")]
    #[serde(borrow)]
    function_name: Option<Cow<'a, str>>,
    #[serde(rename = "runtimeVersion")]
    #[serde(borrow)]
    runtime_version: Option<Cow<'a, str>>,
    #[serde(rename = "runtimeVersionArn")]
    #[serde(borrow)]
    runtime_version_arn: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PlatformMetrics {
    #[serde(rename = "durationMs")]
    duration_ms: Option<f64>,
    #[serde(rename = "billedDurationMs")]
    billed_ms: Option<f64>,
    #[serde(rename = "memorySizeMB")]
    memory_mb: Option<u32>,
    #[serde(rename = "maxMemoryUsedMB")]
    max_memory_mb: Option<u32>,
    #[serde(rename = "initDurationMs")]
    init_ms: Option<f64>,
}

/// Renders a Lambda JSON log format record as the text-format line it stands for, and a CloudTrail
/// event (or an EventBridge envelope around one) as its `CloudTrail …` line.
fn classify_json(m: &[u8]) -> Option<Line> {
    if EVENT_SOURCE.find(m).is_some() && EVENT_NAME.find(m).is_some() {
        let v: serde_json::Value = serde_json::from_slice(m).ok()?;
        if let Some(r) = crate::format::cloudtrail::render(&v) {
            let mut l = Line::rendered(Kind::CloudTrail, r.text);
            l.timestamp = r.timestamp;
            l.level = r.error.then_some(Level::Error);
            return Some(l);
        }
    }
    let rec: JsonRecord = serde_json::from_slice(m).ok()?;
    if let Some(kind) = rec.kind.as_deref() {
        let r = rec.record.unwrap_or_default();
        let rid = r.request_id.as_deref().and_then(RequestId::parse);
        let ts = rec.time.as_deref().and_then(time::parse_any);
        let (k, text) = match kind {
            // START/END say nothing rules read: no rendered text, the evidence shows the record.
            "platform.start" => (Kind::Start, None),
            "platform.end" => (Kind::End, None),
            "platform.report" | "platform.runtimeDone" => {
                let mx = r.metrics.unwrap_or_default();
                let status = r.status.as_deref().and_then(Status::parse);
                let metrics = Metrics {
                    duration_ms: mx.duration_ms,
                    billed_ms: mx.billed_ms,
                    memory_mb: mx.memory_mb,
                    max_memory_mb: mx.max_memory_mb,
                    init_ms: mx.init_ms,
                    status,
                    error_type: r.error_type.as_deref().map(str::to_owned),
                    phase: None,
                };
                let text = render_report(r.request_id.as_deref().unwrap_or(""), &metrics);
                let kind = if kind == "platform.report" {
                    Kind::Report
                } else {
                    Kind::Other
                };
                let mut l = Line::rendered(kind, text);
                l.request_id = rid;
                l.timestamp = ts;
                if kind == Kind::Report {
                    l.metrics = Some(Box::new(metrics));
                }
                return Some(l);
            }
            "platform.initStart" => {
                let text = format!(
                    "INIT_START Runtime Version: {}\tRuntime Version ARN: {}",
                    r.runtime_version.as_deref().unwrap_or(""),
                    r.runtime_version_arn.as_deref().unwrap_or("")
                );
                let mut l = Line::rendered(Kind::InitStart, text);
                l.timestamp = ts;
                l.function = r.function_name.as_deref().map(Box::from);
                return Some(l);
            }
            "platform.initReport" | "platform.initRuntimeDone" => {
                let mx = r.metrics.unwrap_or_default();
                let metrics = Metrics {
                    init_ms: mx.duration_ms,
                    status: r.status.as_deref().and_then(Status::parse),
                    error_type: r.error_type.as_deref().map(str::to_owned),
                    phase: r.phase.as_deref().map(str::to_owned),
                    ..Metrics::default()
                };
                let mut text = format!(
                    "INIT_REPORT Init Duration: {:.2} ms\tPhase: {}",
                    metrics.init_ms.unwrap_or(0.0),
                    metrics.phase.as_deref().unwrap_or("init")
                );
                if let Some(s) = r.status.as_deref() {
                    text.push_str(&format!("\tStatus: {s}"));
                }
                if let Some(e) = &metrics.error_type {
                    text.push_str(&format!("\tError Type: {e}"));
                }
                let kind = if kind == "platform.initReport" {
                    Kind::InitReport
                } else {
                    Kind::Other
                };
                let mut l = Line::rendered(kind, text);
                l.timestamp = ts;
                l.metrics = Some(Box::new(metrics));
                return Some(l);
            }
            _ => (Kind::Other, None),
        };
        let mut l = Line::new(k);
        l.text = text;
        l.request_id = rid;
        l.timestamp = ts;
        l.function = r
            .function_arn
            .as_deref()
            .or(r.function_name.as_deref())
            .map(Box::from);
        return Some(l);
    }
    let level_name = rec.level.as_deref().or(rec.log_level.as_deref())?;
    let mut upper = [0u8; 8];
    let n = level_name.len().min(8);
    upper[..n].copy_from_slice(&level_name.as_bytes()[..n]);
    upper.make_ascii_uppercase();
    let level = Level::parse(&upper[..n])?;
    let level_name = std::str::from_utf8(&upper[..n]).unwrap_or("INFO");
    let message: Cow<str> = match rec.message.map(|r| r.get()) {
        Some(raw) if raw.starts_with('"') => {
            serde_json::from_str::<String>(raw).map_or(Cow::Borrowed(raw), Cow::Owned)
        }
        Some(raw) => Cow::Borrowed(raw),
        None => Cow::Borrowed(""),
    };
    let mut text = String::with_capacity(message.len() + 64);
    let mut body = 0;
    let unhandled = rec.log_level.is_some() && rec.level.is_none() && rec.error_type.is_some();
    if unhandled {
        // The runtime's own error record: render like the text-format `[ERROR] Type: message` block.
        text.push_str("[ERROR] ");
        text.push_str(rec.error_type.as_deref().unwrap_or(""));
        if let Some(em) = rec.error_message.as_deref().filter(|s| !s.is_empty()) {
            text.push_str(": ");
            text.push_str(em);
        }
    } else {
        for part in [
            "[",
            level_name,
            "]\t",
            rec.timestamp.as_deref().unwrap_or(""),
            "\t",
            rec.request_id.as_deref().unwrap_or(""),
            "\t",
        ] {
            text.push_str(part);
        }
        body = text.len();
        text.push_str(&message);
        if let Some(et) = rec.error_type.as_deref() {
            text.push_str(&format!(
                "\n{et}: {}",
                rec.error_message.as_deref().unwrap_or("")
            ));
        }
    }
    if let Some(serde_json::Value::Array(frames)) = &rec.stack_trace {
        text.push_str("\nTraceback (most recent call last):");
        for f in frames {
            match f {
                serde_json::Value::String(s) => {
                    text.push('\n');
                    text.push_str(s.trim_end_matches('\n'));
                }
                other => {
                    text.push('\n');
                    text.push_str(&other.to_string());
                }
            }
        }
    }
    let mut l = Line::rendered(
        if unhandled {
            Kind::Unhandled
        } else {
            Kind::App
        },
        text,
    );
    l.level = Some(level);
    l.body = body as u32;
    l.request_id = rec.request_id.as_deref().and_then(RequestId::parse);
    l.timestamp = rec.timestamp.as_deref().and_then(time::parse_any);
    Some(l)
}

fn render_report(rid: &str, m: &Metrics) -> String {
    let mut s = format!("REPORT RequestId: {rid}");
    if let Some(d) = m.duration_ms {
        s.push_str(&format!("\tDuration: {d:.2} ms"));
    }
    if let Some(b) = m.billed_ms {
        s.push_str(&format!("\tBilled Duration: {b:.0} ms"));
    }
    if let Some(v) = m.memory_mb {
        s.push_str(&format!("\tMemory Size: {v} MB"));
    }
    if let Some(v) = m.max_memory_mb {
        s.push_str(&format!("\tMax Memory Used: {v} MB"));
    }
    if let Some(v) = m.init_ms {
        s.push_str(&format!("\tInit Duration: {v:.2} ms"));
    }
    if let Some(st) = m.status {
        let w = match st {
            Status::Success => "success",
            Status::Timeout => "timeout",
            Status::Error => "error",
            Status::Failure => "failure",
        };
        s.push_str(&format!("\tStatus: {w}"));
    }
    if let Some(e) = &m.error_type {
        s.push_str(&format!("\tError Type: {e}"));
    }
    s
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
