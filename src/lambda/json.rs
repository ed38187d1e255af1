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
    let rest = m.strip_prefix(br#"{"time":""#)?;
    let (time, rest) = quoted(
        rest,
        br#"","type":"platform.start","record":{"requestId":""#,
    )?;
    let (raw_id, rest) = quoted(rest, br#"","functionArn":""#)?;
    let (function, rest) = quoted(rest, br#"","version":""#)?;
    let (_version, rest) = quoted(rest, br#""}}"#)?;
    if !rest.is_empty()
        || m.iter()
            .fold(false, |bad, &b| bad | (b < 0x20) | (b == b'\\'))
    {
        return None;
    }
    // Valid UTF-8 as a whole, each value is (it lies between ASCII quotes).
    std::str::from_utf8(m).ok()?;
    let text = |v| std::str::from_utf8(v).ok();
    Some(LeanRecord {
        report: None,
        request_id: RequestId::parse(text(raw_id)?)?,
        function: Some(text(function)?),
        time: Some(text(time)?),
    })
}

/// The string value `s` starts with (up to the next quote) and what follows `then` (which starts
/// with that quote) after it; `None` unless `then` follows.
fn quoted<'a>(s: &'a [u8], then: &[u8]) -> Option<(&'a [u8], &'a [u8])> {
    let end = memchr::memchr(b'"', s)?;
    let (value, rest) = s.split_at(end);
    Some((value, rest.strip_prefix(then)?))
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
    let level_name = rec.level.as_deref().or(rec.log_level.as_deref())?;
    let mut upper = [0u8; 8];
    let n = level_name.len().min(8);
    upper[..n].copy_from_slice(&level_name.as_bytes()[..n]);
    upper.make_ascii_uppercase();
    let level = Level::parse(&upper[..n])?;
    let level_name = std::str::from_utf8(&upper[..n]).unwrap_or("INFO");
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
    let prefix = [
        "[",
        level_name,
        "]\t",
        rec.timestamp.as_deref().unwrap_or(""),
        "\t",
        rec.request_id.as_deref().unwrap_or(""),
        "\t",
    ];
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
