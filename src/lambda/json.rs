//! Lambda JSON log format records (`LogFormat=JSON`) and CloudTrail events, as the text lines they
//! stand for: a `platform.report` record is classified and rendered as the REPORT line it replaces,
//! an application record as the `[LEVEL]` line, so rules match the same strings whichever log
//! format the function used. The record shapes are the Lambda runtime's (see
//! `docs/log-formats.md`).

use std::borrow::Cow;
use std::sync::LazyLock;

use memchr::memmem::Finder;
use serde::Deserialize;

use super::line::{Kind, Level, Line};
use super::report::{Metrics, Status, render_report};
use crate::aws::RequestId;
use crate::time::{self, EpochMs};

// Searchers built once (building one per call showed up in profiles).
static EVENT_SOURCE: LazyLock<Finder> = LazyLock::new(|| Finder::new(b"\"eventSource\""));
static EVENT_NAME: LazyLock<Finder> = LazyLock::new(|| Finder::new(b"\"eventName\""));

/// The fields of the Lambda JSON log format records we read (application and platform).
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct JsonRecord<'a> {
    // platform records: {"time", "type", "record": {…}}
    #[serde(borrow)]
    pub(super) time: Option<Cow<'a, str>>,
    #[serde(rename = "type")]
    #[serde(borrow)]
    pub(super) kind: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(super) record: Option<PlatformRecord<'a>>,
    // application records: {"timestamp", "level" | "log_level", "message", "requestId", …}
    #[serde(borrow)]
    pub(super) timestamp: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(super) level: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(super) log_level: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(super) message: Option<RawJson<'a>>,
    #[serde(rename = "requestId", alias = "AWSRequestId", alias = "aws_request_id")]
    #[serde(borrow)]
    pub(super) request_id: Option<Cow<'a, str>>,
    #[serde(rename = "errorType")]
    #[serde(borrow)]
    pub(super) error_type: Option<Cow<'a, str>>,
    #[serde(rename = "errorMessage")]
    #[serde(borrow)]
    pub(super) error_message: Option<Cow<'a, str>>,
    #[serde(rename = "stackTrace")]
    pub(super) stack_trace: Option<serde_json::Value>,
}

/// One JSON value's own text (no whitespace around it), as `serde_json` borrows a `RawValue`;
/// a plain slice, so the hand-written reader (`flat_json`) hands one over without asking
/// `serde_json` to check again a value it has just read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct RawJson<'a>(pub(super) &'a str);

impl<'de: 'a, 'a> Deserialize<'de> for RawJson<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        <&'de serde_json::value::RawValue>::deserialize(d).map(|r| RawJson(r.get()))
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct PlatformRecord<'a> {
    #[serde(rename = "requestId")]
    #[serde(borrow)]
    pub(super) request_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(super) version: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub(super) status: Option<Cow<'a, str>>,
    #[serde(rename = "errorType")]
    #[serde(borrow)]
    pub(super) error_type: Option<Cow<'a, str>>,
    pub(super) metrics: Option<PlatformMetrics>,
    #[serde(borrow)]
    pub(super) phase: Option<Cow<'a, str>>,
    #[serde(rename = "functionArn")]
    #[serde(borrow)]
    pub(super) function_arn: Option<Cow<'a, str>>,
    #[serde(rename = "functionName")]
    #[serde(borrow)]
    pub(super) function_name: Option<Cow<'a, str>>,
    #[serde(rename = "runtimeVersion")]
    #[serde(borrow)]
    pub(super) runtime_version: Option<Cow<'a, str>>,
    #[serde(rename = "runtimeVersionArn")]
    #[serde(borrow)]
    pub(super) runtime_version_arn: Option<Cow<'a, str>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct PlatformMetrics {
    #[serde(rename = "durationMs")]
    pub(super) duration_ms: Option<f64>,
    #[serde(rename = "billedDurationMs")]
    pub(super) billed_ms: Option<f64>,
    #[serde(rename = "memorySizeMB")]
    pub(super) memory_mb: Option<u32>,
    #[serde(rename = "maxMemoryUsedMB")]
    pub(super) max_memory_mb: Option<u32>,
    #[serde(rename = "initDurationMs")]
    pub(super) init_ms: Option<f64>,
}

/// Renders a Lambda JSON log format record as the text-format line it stands for, and a CloudTrail
/// event (or an EventBridge envelope around one) as its `CloudTrail …` line. A record is read by
/// hand (`flat_json`) when it is simple enough to be sure of what `serde_json` would read, else
/// by `serde_json`.
pub(super) fn classify_json(m: &[u8]) -> Option<Line> {
    // The layout names no event source: not a CloudTrail event.
    if let Some(rec) = python_application(m) {
        return python_line(&rec);
    }
    if EVENT_SOURCE.find(m).is_some() && EVENT_NAME.find(m).is_some() {
        let v: serde_json::Value = serde_json::from_slice(m).ok()?;
        if let Some(l) = cloudtrail(&v) {
            return Some(l);
        }
    }
    let mut rec = JsonRecord::default();
    if super::flat_json::read(m, &mut rec).is_none() {
        rec = serde_json::from_slice(m).ok()?;
    }
    match rec.kind.as_deref() {
        Some(kind) => Some(platform(kind, &rec)),
        None => application(&rec),
    }
}

/// A CloudTrail event, as `format::cloudtrail` renders it; an error when it records one.
fn cloudtrail(v: &serde_json::Value) -> Option<Line> {
    let r = crate::format::cloudtrail::render(v)?;
    let mut l = Line::rendered(Kind::CloudTrail, r.text);
    l.timestamp = r.timestamp;
    l.level = r.error.then_some(Level::Error);
    Some(l)
}

/// A `platform.*` record (`{"time", "type", "record": {…}}`).
fn platform(kind: &str, rec: &JsonRecord) -> Line {
    let empty = PlatformRecord::default();
    let r = rec.record.as_ref().unwrap_or(&empty);
    let rid = r.request_id.as_deref().and_then(RequestId::parse);
    let ts = rec.time.as_deref().and_then(time::parse_any);
    let k = match kind {
        "platform.report" | "platform.runtimeDone" => return report(kind, r, rid, ts),
        "platform.initStart" => return init_start(r, ts),
        "platform.initReport" | "platform.initRuntimeDone" => return init_report(kind, r, ts),
        // START/END say nothing rules read: no rendered text, the evidence shows the record.
        "platform.start" => Kind::Start,
        "platform.end" => Kind::End,
        _ => Kind::Other,
    };
    let mut l = Line::new(k);
    l.request_id = rid;
    l.timestamp = ts;
    l.function = r
        .function_arn
        .as_deref()
        .or(r.function_name.as_deref())
        .map(Box::from);
    l
}

/// What a `platform.start` record, or a `platform.report` record whose REPORT the automaton
/// does not read (no error type; no status, or success with a plain UUID request id: see
/// `lambda::scanned`), says: what the lean event path (`super::platform`) needs of it.
#[cfg_attr(test, derive(Debug))]
pub(super) struct LeanRecord<'a> {
    /// The REPORT's numbers; `None` for `platform.start`.
    pub(super) report: Option<Box<Metrics>>,
    pub(super) request_id: RequestId,
    /// `functionArn` or `functionName` of a `platform.start`.
    pub(super) function: Option<&'a str>,
    /// `time`, unparsed: read only when the record has no timestamp of its own.
    pub(super) time: Option<&'a str>,
}

impl LeanRecord<'_> {
    /// The record's `time`, as [`classify_json`] reads it.
    pub(super) fn timestamp(&self) -> Option<EpochMs> {
        self.time.and_then(time::parse_any)
    }
}

/// Reads `m` (a trimmed message starting with `{`) as [`classify_json`] would, when it is a
/// record [`LeanRecord`] describes and `flat_json` reads it (every string a slice of `m`);
/// `None` for any other message, which takes the record path.
pub(super) fn lean_record(m: &[u8]) -> Option<LeanRecord<'_>> {
    if let Some(start) = runtime_start(m) {
        return Some(start);
    }
    if let Some(report) = runtime_report(m) {
        return Some(report);
    }
    lean_general(m)
}

/// [`lean_record`] read by `flat_json`, whatever the layout.
fn lean_general(m: &[u8]) -> Option<LeanRecord<'_>> {
    // A record naming an event source and an event name may be a CloudTrail event.
    if EVENT_SOURCE.find(m).is_some() && EVENT_NAME.find(m).is_some() {
        return None;
    }
    let mut rec = JsonRecord::default();
    super::flat_json::read(m, &mut rec)?;
    let r = rec.record.as_ref()?;
    let Some(Cow::Borrowed(raw_id)) = r.request_id else {
        return None;
    };
    let request_id = RequestId::parse(raw_id)?;
    let (report, function) = match rec.kind.as_deref()? {
        "platform.start" => {
            let function = match r.function_arn.as_ref().or(r.function_name.as_ref()) {
                None => None,
                Some(Cow::Borrowed(f)) => Some(*f),
                Some(Cow::Owned(_)) => return None,
            };
            (None, function)
        }
        "platform.report" => {
            let metrics = report_metrics(r);
            // Rendered, the id is followed by a tab or nothing: what `rendered_success` asks.
            if super::report_scanned(&metrics, || raw_id.len() == 36) {
                return None;
            }
            (Some(Box::new(metrics)), None)
        }
        _ => return None,
    };
    let time = match rec.time {
        None => None,
        Some(Cow::Borrowed(t)) => Some(t),
        Some(Cow::Owned(_)) => return None,
    };
    Some(LeanRecord {
        report,
        request_id,
        function,
        time,
    })
}

/// A `platform.start` record laid out exactly as the runtime writes it
/// (`{"time":"…","type":"platform.start","record":{"requestId":"…","functionArn":"…","version":"…"}}`),
/// read by that layout: half of the platform records of a function that logs in JSON, for which
/// `flat_json::read` (2,700 instructions a record) and the CloudTrail test cost more than the
/// rest of their way. Without a backslash, a control byte or invalid UTF-8 anywhere, each value
/// ends at the next quote, so the record is those four strings and `serde_json` reads the same
/// (`None`, and the general reader decides, for any other bytes).
fn runtime_start(m: &[u8]) -> Option<LeanRecord<'_>> {
    // The layout first: most records that are not such a start part from it within 60 bytes.
    let mut l = Layout::after(m, br#"{"time":""#)?;
    let time = l.quoted(br#"","type":"platform.start","record":{"requestId":""#)?;
    let raw_id = l.quoted(br#"","functionArn":""#)?;
    let function = l.quoted(br#"","version":""#)?;
    l.quoted(br#""}}"#)?;
    let text = l.finish()?;
    Some(LeanRecord {
        report: None,
        request_id: RequestId::parse(text.value(raw_id))?,
        function: Some(text.value(function)),
        time: Some(text.value(time)),
    })
}

/// A `platform.report` record of a successful invocation laid out exactly as the runtime writes
/// it (`{"time":"…","type":"platform.report","record":{"requestId":"…","metrics":{"durationMs":…,
/// "billedDurationMs":…,"memorySizeMB":…,"maxMemoryUsedMB":…[,"initDurationMs":…]},"status":
/// "success"}}`), read by that layout: a third of the JSON records of a function that logs in
/// JSON, which `flat_json::read` took about 3,200 instructions each to read. The numbers are
/// read as `flat_json` reads them (`plain_float`, `plain_uint`), so whenever this answers,
/// [`lean_general`] answers the same (`None` leaves the record to it: another status, an error
/// type, another order, a number only `serde_json` reads).
fn runtime_report(m: &[u8]) -> Option<LeanRecord<'_>> {
    use super::flat_json::{plain_float, plain_uint};
    let mut l = Layout::after(m, br#"{"time":""#)?;
    let time = l.quoted(br#"","type":"platform.report","record":{"requestId":""#)?;
    let raw_id = l.quoted(br#"","metrics":{"durationMs":"#)?;
    let duration = l.number(br#","billedDurationMs":"#)?;
    let billed = l.number(br#","memorySizeMB":"#)?;
    let memory = l.number(br#","maxMemoryUsedMB":"#)?;
    const SUCCESS: &[u8] = br#"},"status":"success"}}"#;
    let (used, init) = match l.number(SUCCESS) {
        Some(used) => (used, None),
        None => (
            l.number(br#","initDurationMs":"#)?,
            Some(l.number(SUCCESS)?),
        ),
    };
    // Rendered, a plain id is followed by a tab: a success is then not scanned
    // (`lambda::report_scanned`), any other is.
    if raw_id.1 - raw_id.0 != 36 {
        return None;
    }
    let text = l.finish()?;
    let metrics = Metrics {
        duration_ms: Some(plain_float(text.bytes(duration))?),
        billed_ms: Some(plain_float(text.bytes(billed))?),
        memory_mb: Some(plain_uint(text.bytes(memory))?),
        max_memory_mb: Some(plain_uint(text.bytes(used))?),
        init_ms: match init {
            Some(init) => Some(plain_float(text.bytes(init))?),
            None => None,
        },
        status: Some(Status::Success),
        error_type: None,
        phase: None,
    };
    Some(LeanRecord {
        report: Some(Box::new(metrics)),
        request_id: RequestId::parse(text.value(raw_id))?,
        function: None,
        time: Some(text.value(time)),
    })
}

/// An application record laid out exactly as the Python runtime writes one for a `logging`
/// call (`{"timestamp": "…", "level": "…", "message": "…", "logger": "…", "requestId": "…"}`),
/// read by that layout: the most common JSON record of a Python function that logs in JSON,
/// which `flat_json::read` took about 1,800 instructions and the CloudTrail test (two
/// searches of the record) 135 more to read. Whenever this answers, `flat_json::read` reads the
/// same values (the logger is not kept, as it keeps none); `None` leaves the record to it. No
/// layout value holds a quote, so the record names no `"eventSource"`: it is no CloudTrail
/// event.
fn python_application(m: &[u8]) -> Option<PythonRecord<'_>> {
    let mut l = Layout::after(m, br#"{"timestamp": ""#)?;
    let timestamp = l.quoted(br#"", "level": ""#)?;
    let level = l.quoted(br#"", "message": ""#)?;
    let message = l.quoted(br#"", "logger": ""#)?;
    l.quoted(br#"", "requestId": ""#)?;
    let request_id = l.quoted(br#""}"#)?;
    let text = l.finish()?;
    Some(PythonRecord {
        timestamp: text.value(timestamp),
        level: text.value(level),
        message: text.value(message),
        request_id: text.value(request_id),
    })
}

/// The values of an application record in the Python runtime's layout
/// ([`python_application`]): plain strings (no escape, no control byte, no quote).
struct PythonRecord<'a> {
    timestamp: &'a str,
    level: &'a str,
    /// Between its quotes: the text `serde_json` decodes, as the layout holds no escape.
    message: &'a str,
    request_id: &'a str,
}

/// A record in the Python runtime's layout as the line [`application`] makes of the record
/// `flat_json` reads from it (`[LEVEL]\t<ts>\t<request id>\t<message>`), made without the
/// record: no error type, no stack trace, a message that is a plain string (application's
/// checks of it and the record's 300 bytes cost about 400 instructions a line). `None` without
/// a level.
fn python_line(r: &PythonRecord) -> Option<Line> {
    let level = LevelName::parse(r.level)?;
    let head = line_head(level.as_str(), r.timestamp, r.request_id);
    let body = head.iter().map(|p| p.len()).sum::<usize>();
    let mut text = Vec::with_capacity(body + r.message.len());
    for part in head {
        text.extend_from_slice(part.as_bytes());
    }
    text.extend_from_slice(r.message.as_bytes());
    let mut l = Line::new(Kind::App);
    l.text = Some(text.into_boxed_slice());
    l.level = Some(level.level);
    l.body = body as u32;
    l.request_id = RequestId::parse(r.request_id);
    l.timestamp = time::parse_any(r.timestamp);
    Some(l)
}

/// A record read by its layout: the literals between its values, then the record checked
/// whole as `flat_json::read` checks one (no backslash, no control byte, valid UTF-8), so
/// each string value ends at the next quote and is the text `flat_json` (and `serde_json`)
/// reads. Values are byte ranges until the check, then slices of the checked text.
struct Layout<'a> {
    m: &'a [u8],
    at: usize,
}

/// A value's place in the record: `start..end`.
type Span = (usize, usize);

impl<'a> Layout<'a> {
    /// The layout of `m`, after the literal it starts with.
    fn after(m: &'a [u8], first: &[u8]) -> Option<Layout<'a>> {
        m.starts_with(first)
            .then_some(Layout { m, at: first.len() })
    }

    /// A string value (up to the next quote), then the literal `then` (from that quote on).
    fn quoted(&mut self, then: &[u8]) -> Option<Span> {
        let start = self.at;
        let end = start + memchr::memchr(b'"', &self.m[start..])?;
        self.then(start, end, then)
    }

    /// A number token (digits and points), then the literal `then`.
    fn number(&mut self, then: &[u8]) -> Option<Span> {
        let start = self.at;
        let len = self.m[start..]
            .iter()
            .position(|&b| !(b.is_ascii_digit() || b == b'.'))?;
        self.then(start, start + len, then)
    }

    fn then(&mut self, start: usize, end: usize, then: &[u8]) -> Option<Span> {
        self.m[end..].starts_with(then).then(|| {
            self.at = end + then.len();
            (start, end)
        })
    }

    /// The record checked whole, once its layout has been read to its last byte.
    fn finish(self) -> Option<Checked<'a>> {
        let bad = (self.m.iter()).fold(false, |bad, &b| bad | (b < 0x20) | (b == b'\\'));
        if self.at != self.m.len() || bad {
            return None;
        }
        simdutf8::basic::from_utf8(self.m).ok().map(Checked)
    }
}

/// A record whose layout was read and which was checked ([`Layout::finish`]).
struct Checked<'a>(&'a str);

impl<'a> Checked<'a> {
    /// A value's text: its ends are at ASCII bytes of the layout, so on character boundaries.
    fn value(&self, (start, end): Span) -> &'a str {
        self.0.get(start..end).unwrap_or_default()
    }

    fn bytes(&self, (start, end): Span) -> &'a [u8] {
        &self.0.as_bytes()[start..end]
    }
}

/// The numbers, status and error type of a `platform.report` or `platform.runtimeDone` record.
fn report_metrics(r: &PlatformRecord) -> Metrics {
    let mx = r.metrics.as_ref();
    Metrics {
        duration_ms: mx.and_then(|m| m.duration_ms),
        billed_ms: mx.and_then(|m| m.billed_ms),
        memory_mb: mx.and_then(|m| m.memory_mb),
        max_memory_mb: mx.and_then(|m| m.max_memory_mb),
        init_ms: mx.and_then(|m| m.init_ms),
        status: r.status.as_deref().and_then(Status::parse),
        error_type: r.error_type.as_deref().map(str::to_owned),
        phase: None,
    }
}

/// `platform.report` (a REPORT line) or `platform.runtimeDone` (the same numbers, no REPORT).
fn report(kind: &str, r: &PlatformRecord, rid: Option<RequestId>, ts: Option<EpochMs>) -> Line {
    let metrics = report_metrics(r);
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
    l
}

/// `platform.initStart`: the INIT_START line, which names the runtime version and the function.
fn init_start(r: &PlatformRecord, ts: Option<EpochMs>) -> Line {
    let text = format!(
        "INIT_START Runtime Version: {}\tRuntime Version ARN: {}",
        r.runtime_version.as_deref().unwrap_or(""),
        r.runtime_version_arn.as_deref().unwrap_or("")
    );
    let mut l = Line::rendered(Kind::InitStart, text);
    l.timestamp = ts;
    l.function = r.function_name.as_deref().map(Box::from);
    l
}

/// `platform.initReport` (an INIT_REPORT line) or `platform.initRuntimeDone`.
fn init_report(kind: &str, r: &PlatformRecord, ts: Option<EpochMs>) -> Line {
    let metrics = Metrics {
        init_ms: r.metrics.as_ref().and_then(|m| m.duration_ms),
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
    l
}

/// An application record (`{"timestamp", "level" | "log_level", "message", "requestId", …}`),
/// rendered as the `[LEVEL]\t<ts>\t<request id>\t<message>` line, or the runtime's own error record
/// as the `[ERROR] Type: message` block. `None` without a level.
fn application(rec: &JsonRecord) -> Option<Line> {
    let named = LevelName::parse(rec.level.as_deref().or(rec.log_level.as_deref())?)?;
    let (level, level_name) = (named.level, named.as_str());
    // The Python runtime's own record of an unhandled error (`log_level`, `errorType`); .NET's is
    // an `Error` record with `errorType` (JsonLogMessageFormatter).
    let python = rec.log_level.is_some() && rec.level.is_none();
    let unhandled = rec.error_type.is_some() && (python || level >= Level::Error);
    let (mut text, body) = if python && unhandled {
        (unhandled_text(rec), 0)
    } else {
        application_text(rec, level_name)
    };
    if let Some(serde_json::Value::Array(frames)) = &rec.stack_trace {
        if python {
            text.push_str("\nTraceback (most recent call last):");
        }
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
    let kind = if unhandled {
        Kind::Unhandled
    } else {
        Kind::App
    };
    let mut l = Line::rendered(kind, text);
    l.level = Some(level);
    l.body = body as u32;
    l.request_id = rec.request_id.as_deref().and_then(RequestId::parse);
    l.timestamp = rec.timestamp.as_deref().and_then(time::parse_any);
    Some(l)
}

/// A record's level as its line names it: upper-cased (`"error"` -> `[ERROR]`), from the first
/// eight bytes of the record's name (no level is longer).
struct LevelName {
    upper: [u8; 8],
    len: usize,
    level: Level,
}

impl LevelName {
    /// `None` for a name that is no level.
    fn parse(name: &str) -> Option<LevelName> {
        let mut upper = [0u8; 8];
        let len = name.len().min(8);
        upper[..len].copy_from_slice(&name.as_bytes()[..len]);
        upper.make_ascii_uppercase();
        let level = Level::parse(&upper[..len])?;
        Some(LevelName { upper, len, level })
    }

    fn as_str(&self) -> &str {
        // A name `Level::parse` took is ASCII.
        std::str::from_utf8(&self.upper[..self.len]).unwrap_or("INFO")
    }
}

/// The head of the text-format line an application record becomes, before its message:
/// `[LEVEL]\t<timestamp>\t<request id>\t`, as the Python runtime writes one.
fn line_head<'a>(level: &'a str, timestamp: &'a str, request_id: &'a str) -> [&'a str; 7] {
    ["[", level, "]\t", timestamp, "\t", request_id, "\t"]
}

/// The text of the JSON string `raw` (a valid JSON value, quoted) when it holds no escape and no
/// control byte: its bytes between the quotes, what `serde_json` would decode, without decoding
/// it into a new `String` (the message of every application record).
fn plain_string(raw: &str) -> Option<&str> {
    let inner = raw.strip_prefix('"')?.strip_suffix('"')?;
    // A fold, not `any`: the compiler vectorises it (every application record's message).
    let plain = !inner.bytes().fold(false, |bad, b| {
        bad | (b == b'\\') | (b == b'"') | (b < 0x20)
    });
    plain.then_some(inner)
}

/// The runtime's own error record, as the text-format `[ERROR] Type: message` block.
fn unhandled_text(rec: &JsonRecord) -> String {
    let mut text = String::from("[ERROR] ");
    text.push_str(rec.error_type.as_deref().unwrap_or(""));
    if let Some(em) = rec.error_message.as_deref().filter(|s| !s.is_empty()) {
        text.push_str(": ");
        text.push_str(em);
    }
    text
}

/// `[LEVEL]\t<ts>\t<request id>\t<message>`, and where the message starts.
fn application_text(rec: &JsonRecord, level_name: &str) -> (String, usize) {
    let message: Cow<str> = match rec.message.map(|r| r.0) {
        Some(raw) if raw.starts_with('"') => match plain_string(raw) {
            Some(inner) => Cow::Borrowed(inner),
            None => serde_json::from_str::<String>(raw).map_or(Cow::Borrowed(raw), Cow::Owned),
        },
        Some(raw) => Cow::Borrowed(raw),
        None => Cow::Borrowed(""),
    };
    let prefix = line_head(
        level_name,
        rec.timestamp.as_deref().unwrap_or(""),
        rec.request_id.as_deref().unwrap_or(""),
    );
    // The exact length (without an error type): the line is boxed without reallocating.
    let len = prefix.iter().map(|p| p.len()).sum::<usize>() + message.len();
    let mut text = String::with_capacity(len);
    for part in prefix {
        text.push_str(part);
    }
    let body = text.len();
    text.push_str(&message);
    if let Some(et) = rec.error_type.as_deref() {
        text.push_str(&format!(
            "\n{et}: {}",
            rec.error_message.as_deref().unwrap_or("")
        ));
    }
    (text, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a reader made of a record, as comparable text.
    fn summary(r: &JsonRecord) -> String {
        format!(
            "{:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {}",
            r.time,
            r.kind,
            r.timestamp,
            r.level,
            r.log_level,
            r.message,
            r.request_id,
            r.error_type,
            r.error_message,
            r.stack_trace,
            r.record.is_some()
        )
    }

    /// An application record in the Python runtime's layout reads as `flat_json` reads it;
    /// one the layout does not fit is left to `flat_json`.
    #[test]
    fn python_application_records_read_as_flat_json_reads_them() {
        const RID: &str = "2bf79a9d-b83f-468a-9d92-c499184fbd0b";
        let record = |message: &str| {
            format!(
                r#"{{"timestamp": "2025-03-28T13:36:56Z", "level": "INFO", "message": {message}, "logger": "root", "requestId": "{RID}"}}"#
            )
        };
        for m in [
            record(r#""GET /carts/945102 from 10.0.1.89""#),
            record(r#""""#),
            record("\"caf\u{e9} \u{2713}\""),
            record(r#""createSecret: {'a': 1}""#).replace("INFO", "error"),
            record(r#""x""#).replace(RID, ""),
            record(r#""x""#).replace(RID, &format!(" {RID}")),
            record(r#""x""#).replace("2025-03-28T13:36:56Z", "1743169016"),
            record(r#""x""#).replace("2025-03-28T13:36:56Z", ""),
            record(r#""x""#).replace("INFO", "warning"),
            record(r#""x""#).replace("INFO", "CRITICALLY"),
            record(r#""x""#).replace("INFO", "NOTICE"),
            record(r#""x""#).replace("INFO", ""),
            record(r#""x""#).replace("INFO", "fail"),
        ] {
            let fast = python_application(m.as_bytes()).unwrap_or_else(|| panic!("{m}"));
            let general = super::super::flat_json::parse(m.as_bytes()).unwrap();
            let quoted = format!("\"{}\"", fast.message);
            let values = JsonRecord {
                timestamp: Some(Cow::Borrowed(fast.timestamp)),
                level: Some(Cow::Borrowed(fast.level)),
                message: Some(RawJson(&quoted)),
                request_id: Some(Cow::Borrowed(fast.request_id)),
                ..JsonRecord::default()
            };
            assert_eq!(summary(&values), summary(&general), "{m}");
            assert_eq!(
                format!("{:?}", python_line(&fast)),
                format!("{:?}", application(&general)),
                "{m}"
            );
        }
        let mut left = vec![
            record(r#""a\"b""#),
            record(r#""a\\b""#),
            record("\"a\tb\""),
            record(r#"{"a": 1}"#),
            record("null"),
            record(r#""x""#).replace(", \"logger\"", ",\"logger\""),
            record(r#""x""#).replace("root", "ro\\ot"),
            record(r#""x""#).replace("\"}", "\", \"extra\": 1}"),
            record(r#""x""#).replace("\"level\"", "\"log_level\""),
            format!("{} ", record(r#""x""#)),
        ]
        .into_iter()
        .map(String::into_bytes)
        .collect::<Vec<_>>();
        let mut bad = record(r#""x""#).into_bytes();
        bad[16] = 0xff;
        left.push(bad);
        for m in &left {
            assert!(
                python_application(m).is_none(),
                "{}",
                String::from_utf8_lossy(m)
            );
        }
    }

    /// A `platform.report` record as the runtime writes it, with `metrics` and `status` as given.
    fn report(rid: &str, metrics: &str, status: &str) -> String {
        format!(
            r#"{{"time":"2025-03-28T13:36:57.077Z","type":"platform.report","record":{{"requestId":"{rid}","metrics":{{{metrics}}},"status":"{status}"}}}}"#
        )
    }

    /// Read by its layout, a successful `platform.report` reads as the general reader reads it;
    /// any other record, or one the layout does not fit, is left to the general reader (which
    /// reads some of them: spaces, another number syntax, another member).
    #[test]
    fn reports_read_by_their_layout_read_as_the_general_reader_reads_them() {
        const RID: &str = "2bf79a9d-b83f-468a-9d92-c499184fbd0b";
        const FOUR: &str =
            r#""durationMs":87.56,"billedDurationMs":88,"memorySizeMB":128,"maxMemoryUsedMB":80"#;
        let read = [
            report(RID, FOUR, "success"),
            report(
                RID,
                &format!(r#"{FOUR},"initDurationMs":418.021"#),
                "success",
            ),
            report(RID, &FOUR.replace("87.56", "0.5"), "success"),
            report(RID, &FOUR.replace("87.56", "30000"), "success"),
            report(RID, &FOUR.replace("87.56", "0"), "success"),
            report(RID, &FOUR.replace("87.56", "123456789.123456"), "success"),
            report("2BF79A9D-B83F-468A-9D92-C499184FBD0B", FOUR, "success"),
        ];
        for m in &read {
            let fast = runtime_report(m.as_bytes());
            assert!(fast.is_some(), "{m}");
            let general = lean_general(m.as_bytes());
            assert_eq!(format!("{fast:?}"), format!("{general:?}"), "{m}");
        }
        let left = [
            report(RID, FOUR, "timeout"),
            report(RID, FOUR, "error\",\"errorType\":\"Runtime.ExitError"),
            report(&format!(" {RID}"), FOUR, "success"),
            report(&format!("{RID}x"), FOUR, "success"),
            report("2bf79a9d-b83f-468a-9d92-c499184fbd0g", FOUR, "success"),
            report(RID, &FOUR.replace("87.56", "087.56"), "success"),
            report(RID, &FOUR.replace("87.56", "87."), "success"),
            report(RID, &FOUR.replace("87.56", "8.7.5"), "success"),
            report(RID, &FOUR.replace("87.56", "-87.56"), "success"),
            report(RID, &FOUR.replace("87.56", "8.756e1"), "success"),
            report(RID, &FOUR.replace("87.56", "1234567890123456"), "success"),
            report(RID, &FOUR.replace(":128", ":128.0"), "success"),
            report(RID, &FOUR.replace(":128", ":0128"), "success"),
            report(RID, &FOUR.replace(":128", ":1234567890"), "success"),
            report(RID, &FOUR.replace(":80", ":80,\"x\":1"), "success"),
            report(RID, &FOUR.replace(",", ", "), "success"),
            report(RID, FOUR, "success").replace("13:36", "13:\t36"),
            report(RID, FOUR, "success").replace("13:36", "13:\\36"),
            format!("{} ", report(RID, FOUR, "success")),
            report(RID, FOUR, "success").replace("}}", "},\"x\":1}"),
        ];
        for m in &left {
            assert!(runtime_report(m.as_bytes()).is_none(), "{m}");
        }
        // Invalid UTF-8 in a value: left to the general reader, which leaves it too.
        let mut bytes = report(RID, FOUR, "success").into_bytes();
        bytes[12] = 0xff;
        assert!(runtime_report(&bytes).is_none());
        assert!(lean_general(&bytes).is_none());
    }

    /// Every token of digits and points up to six bytes long (and some longer ones) reads as
    /// `flat_json` reads it, to the bit.
    #[test]
    fn layout_numbers_read_as_flat_json_reads_them() {
        use super::super::flat_json::{plain_float, plain_uint, reference_float, reference_uint};
        let alphabet = [b'0', b'1', b'9', b'.'];
        let mut tokens: Vec<Vec<u8>> = vec![Vec::new()];
        let mut last = tokens.clone();
        for _ in 0..6 {
            last = (last.iter())
                .flat_map(|t| alphabet.iter().map(move |&b| [t.as_slice(), &[b]].concat()))
                .collect();
            tokens.extend(last.iter().cloned());
        }
        for long in [
            "123456789012345",
            "1234567890123456",
            "12345678901234.5",
            "0.123456789012345",
            "0.1234567890123456",
            "123456789",
            "1234567890",
            "4294967295",
            "999999999",
            "87.56",
            "435.50",
            "2.675",
        ] {
            tokens.push(long.as_bytes().to_vec());
        }
        let (mut floats, mut uints) = (0, 0);
        for t in &tokens {
            let (fast, general) = (plain_float(t), reference_float(t));
            assert_eq!(fast.map(f64::to_bits), general.map(f64::to_bits), "{t:?}");
            assert_eq!(plain_uint(t), reference_uint(t), "{t:?}");
            floats += usize::from(fast.is_some());
            uints += usize::from(plain_uint(t).is_some());
        }
        assert!(floats > 100 && uints > 100, "{floats} {uints}");
    }

    /// The text of a plain JSON string is what `serde_json` decodes; anything else is left to it.
    #[test]
    fn plain_strings_read_as_serde_reads_them() {
        for raw in [
            r#""""#,
            r#""GET /carts/1 from 10.0.1.89""#,
            "\"caf\u{e9} \u{2713}\"",
            r#""a\"b""#,
            r#""a\\b""#,
            r#""a\u0041""#,
            "\"a\tb\"",
            "\"",
        ] {
            let serde = serde_json::from_str::<String>(raw).ok();
            match plain_string(raw) {
                Some(text) => assert_eq!(Some(text.to_owned()), serde, "{raw}"),
                None => assert!(raw.contains(['\\', '\t']) || raw.len() < 2, "{raw}"),
            }
        }
    }
}
