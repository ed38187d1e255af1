//! Turning the fields of a parsed JSON object into a record: a CloudWatch event, a Lambda JSON
//! log record, a CloudTrail event, or nothing.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::super::row::{self, Cell};
use super::super::{Record, cloudtrail};
use crate::time;

/// The fields of one object that may make it a record.
#[derive(Default)]
pub(super) struct Acc {
    pub(super) line: u64,
    pub(super) offset: u64,
    pub(super) message: Option<Value>,
    pub(super) timestamp: Option<Value>,
    pub(super) stream: Option<String>,
    pub(super) group: Option<String>,
    /// Saw a key only CloudWatch events have (`ingestionTime`, `eventId`, `logStreamName`…).
    pub(super) cloudwatch: bool,
    pub(super) extra: Map<String, Value>,
}

/// `<account>:<log group>` (Insights `@log`) → the log group.
pub(super) fn insights_group(g: &str) -> &str {
    match g.split_once(':') {
        Some((acct, rest)) if !acct.is_empty() && acct.bytes().all(|b| b.is_ascii_digit()) => rest,
        _ => g,
    }
}

/// Turns the fields of an object into a record, if it is one.
pub(super) fn finish(acc: Acc) -> Option<Record<'static>> {
    let lambda_record = acc.extra.contains_key("level")
        || acc.extra.contains_key("log_level")
        || acc
            .extra
            .get("type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.starts_with("platform."));
    if let Some(message) = &acc.message
        && (acc.cloudwatch || !lambda_record)
    {
        let text = match message {
            Value::String(s) => s.clone(),
            Value::Null => return None,
            other => other.to_string(),
        };
        let timestamp = acc.timestamp.as_ref().and_then(timestamp_of);
        return Some(record(
            acc.line, acc.offset, timestamp, acc.stream, acc.group, text,
        ));
    }
    let mut obj = acc.extra;
    if lambda_record {
        // A Lambda JSON log format record (JSON lines): the whole object is the message.
        if let Some(m) = acc.message {
            obj.insert("message".into(), m);
        }
        if let Some(t) = acc.timestamp {
            obj.insert("timestamp".into(), t);
        }
        let v = Value::Object(obj);
        return Some(record(
            acc.line,
            acc.offset,
            None,
            acc.stream,
            acc.group,
            v.to_string(),
        ));
    }
    let v = Value::Object(obj);
    if cloudtrail::is_event(&v) || cloudtrail::is_envelope(&v) {
        return Some(cloudtrail_record(acc.line, acc.offset, &v));
    }
    None
}

/// The values a `--query` kept of an event, without their names ([`row`]): a list
/// (`events[].[timestamp,logStreamName,message]`) or the values of a flat object.
pub(super) fn query_row<'v>(
    line: u64,
    offset: u64,
    values: impl Iterator<Item = &'v Value>,
) -> Option<Record<'static>> {
    let cells = values.map(|v| match v {
        Value::Number(n) => n.as_f64().map_or(Cell::Null, Cell::Number),
        Value::String(s) => Cell::Text(s),
        _ => Cell::Null,
    });
    let r = row::read(cells)?;
    Some(record(line, offset, r.timestamp, r.stream, None, r.message))
}

/// A flat object whose keys say nothing (`{"t": …, "m": …}`), read as a [`query_row`]. Objects
/// with nested values, and the `{field, value}` objects of Insights rows, are not rows.
pub(super) fn flat_object_row(acc: &Acc) -> Option<Record<'static>> {
    let flat = acc.extra.values().all(|v| !v.is_object() && !v.is_array());
    let named = acc.cloudwatch || acc.stream.is_some() || acc.group.is_some();
    if !flat || named || acc.extra.is_empty() || acc.extra.contains_key("field") {
        return None;
    }
    query_row(acc.line, acc.offset, acc.extra.values())
}

pub(super) fn cloudtrail_record(line: u64, offset: u64, v: &Value) -> Record<'static> {
    let mut r = record(
        line,
        offset,
        cloudtrail::event_time(v),
        Some("cloudtrail".into()),
        None,
        v.to_string(),
    );
    r.group = None;
    r
}

pub(super) fn timestamp_of(v: &Value) -> Option<i64> {
    match v {
        // Epoch milliseconds (the API); 9 to 11 digits are epoch seconds (Kinesis arrival times).
        Value::Number(n) => match n.as_i64() {
            Some(i) if (100_000_000..100_000_000_000).contains(&i) => Some(i * 1000),
            Some(i) => Some(i),
            None => n
                .as_f64()
                .filter(|f| f.is_finite() && f.abs() < 1e16)
                .map(|f| {
                    if (1e8..1e11).contains(&f) {
                        (f * 1000.0).round() as i64
                    } else {
                        f as i64
                    }
                }),
        },
        Value::String(s) => time::parse_any(s),
        _ => None,
    }
}

pub(super) fn record(
    line: u64,
    offset: u64,
    timestamp: Option<i64>,
    stream: Option<String>,
    group: Option<String>,
    message: String,
) -> Record<'static> {
    Record {
        line,
        offset,
        timestamp,
        stream: stream.map(Cow::Owned),
        group: group.map(Cow::Owned),
        message: Cow::Owned(message.into_bytes()),
        stream_key: None,
    }
}

pub(super) fn string_of(v: Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s),
        _ => None,
    }
}
