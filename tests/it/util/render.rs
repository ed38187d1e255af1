//! One renderer from CloudWatch events to every export shape rotdiag reads, byte for byte as
//! `docs/log-formats.md` describes them (and as the producers write them: the CLI's formatters,
//! S3 export tasks, subscription filters, Logs Insights, the console).

use std::fmt::Write as _;

use serde_json::{Value, json};

use rotdiag::time::format_iso;

use super::gz::{b64, gzip};

/// The account and log group the renderings claim (subscription envelopes, Insights `@log`).
pub const ACCOUNT: &str = "123456789012";
pub const GROUP: &str = "/aws/lambda/SecretsManagerRotation";

/// One CloudWatch event: what any export shape is made of.
#[derive(Clone, Debug)]
pub struct Event {
    pub ts: i64,
    pub stream: String,
    pub message: String,
}

impl Event {
    pub fn new(ts: i64, stream: &str, message: impl Into<String>) -> Event {
        Event {
            ts,
            stream: stream.to_owned(),
            message: message.into(),
        }
    }
}

/// Every shape the renderer writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// S3 export task files, one per stream: `exportedlogs/<task>/<stream>/000000` (`.gz`).
    S3Export { gz: bool },
    /// `aws logs tail`.
    Tail(Tail),
    /// A CloudWatch console copy (`  | <ts> | <message>`).
    Console,
    /// Live Tail, print-only: the messages alone.
    Raw,
    /// `filter-log-events`, one merged document.
    FilterLogEvents,
    /// `filter-log-events --no-paginate` pages, the last one empty.
    FilterLogEventsPages,
    /// `get-log-events` of each stream, one document each.
    GetLogEvents,
    /// A `get-log-events` loop following `nextBackwardToken` (newest page first).
    GetLogEventsBackward,
    /// `--query 'events[].message'` (JSON).
    MessageArray,
    /// `--query 'events[].message' --output text`.
    MessagesText,
    /// `filter-log-events --output text`.
    FilterLogEventsText,
    /// `get-log-events --output text`.
    GetLogEventsText,
    /// `--output yaml`.
    Yaml,
    /// `--output yaml-stream`.
    YamlStream,
    /// `--output table`.
    Table,
    /// Subscription payloads as Firehose writes them to S3 undecompressed (`}{`).
    Firehose,
    /// The same, each record gzipped and the object gzipped again.
    FirehoseGzip2,
    /// Lambda subscription events (`{"awslogs":{"data":…}}`), one per line.
    Awslogs,
    /// A Kinesis event to Lambda.
    KinesisEvent,
    /// `aws kinesis get-records`.
    KinesisGetRecords,
    /// A Firehose transformation event.
    FirehoseTransform,
    /// Logs Insights `get-query-results` JSON.
    InsightsJson,
    /// Logs Insights `get-query-results --output text`.
    InsightsText,
    /// Logs Insights CSV export.
    InsightsCsv,
    /// The console's log events CSV download.
    ConsoleCsv,
}

/// The files of `ev` rendered as `shape`.
pub fn render(shape: Shape, ev: &[Event]) -> Files {
    match shape {
        Shape::S3Export { gz } => s3_export(ev, gz),
        Shape::Tail(style) => tail(ev, style),
        Shape::Console => console(ev),
        Shape::Raw => raw(ev),
        Shape::FilterLogEvents => filter_json(ev),
        Shape::FilterLogEventsPages => filter_pages(ev),
        Shape::GetLogEvents => get_log_events_json(ev),
        Shape::GetLogEventsBackward => get_log_events_backward_pages(ev),
        Shape::MessageArray => message_array(ev),
        Shape::MessagesText => query_messages_text(ev),
        Shape::FilterLogEventsText => events_text_filter(ev),
        Shape::GetLogEventsText => events_text_get(ev),
        Shape::Yaml => yaml(ev),
        Shape::YamlStream => yaml_stream(ev),
        Shape::Table => table(ev),
        Shape::Firehose => subscription_decoded(ev),
        Shape::FirehoseGzip2 => firehose_double_gzip(ev),
        Shape::Awslogs => awslogs(ev),
        Shape::KinesisEvent => kinesis_lambda_event(ev),
        Shape::KinesisGetRecords => kinesis_get_records(ev),
        Shape::FirehoseTransform => firehose_transform_event(ev),
        Shape::InsightsJson => insights_json(ev),
        Shape::InsightsText => insights_text(ev),
        Shape::InsightsCsv => insights_csv(ev),
        Shape::ConsoleCsv => cloudwatch_csv(ev),
    }
}

/// `ev` rendered as `shape`, in one file (the events of one stream, for an S3 export).
pub fn render_one(shape: Shape, ev: &[Event]) -> Vec<u8> {
    let files = render(shape, ev);
    assert_eq!(files.len(), 1, "{shape:?} wrote {} files", files.len());
    files.into_iter().next().unwrap().1
}

/// The files of one input: (relative path, bytes).
pub type Files = Vec<(String, Vec<u8>)>;

fn first_ts(ev: &[Event]) -> i64 {
    ev.first().map_or(0, |e| e.ts)
}

fn streams(ev: &[Event]) -> Vec<&str> {
    let mut s: Vec<&str> = ev.iter().map(|e| e.stream.as_str()).collect();
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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tail {
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

/// A Firehose health check, sent at the time of the first event.
fn control(ev: &[Event]) -> Value {
    let t0 = first_ts(ev);
    json!({"messageType": "CONTROL_MESSAGE", "owner": "CloudwatchLogs", "logGroup": "", "logStream": "",
        "subscriptionFilters": [], "logEvents": [{"id": "", "timestamp": t0,
        "message": "CWL CONTROL MESSAGE: Checking health of destination Firehose."}]})
}

fn b64gz(v: &Value) -> String {
    b64(&gzip(v.to_string().as_bytes()))
}

fn payloads(ev: &[Event]) -> Vec<Value> {
    let mut v = vec![control(ev)];
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
                "approximateArrivalTimestamp": first_ts(ev) + 100_000, "data": b64gz(p)})
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
