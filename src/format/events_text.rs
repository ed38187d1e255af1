//! `filter-log-events` / `get-log-events --output text` (`docs/log-formats.md`, "Text").
//!
//! The CLI prints one row per event: `EVENTS`, then the event's scalar fields sorted by name, joined
//! by TABs, with nothing escaped:
//!
//! ```text
//! filter-log-events: EVENTS⇥<eventId>⇥<ingestionTime>⇥<logStreamName>⇥<message>⇥<timestamp>
//! get-log-events:    EVENTS⇥<ingestionTime>⇥<message>⇥<timestamp>
//! ```
//!
//! A message with TABs adds columns, one with newlines spans lines, and one that ends in `\n`
//! (every platform line) pushes `⇥<timestamp>` onto a line of its own. So a record runs from an
//! `EVENTS⇥` line to the next one (or a `NEXTTOKEN⇥` / page-token line); its last field is the
//! timestamp and the leading columns are the numbers and the stream, whatever the message holds.
//!
//! Rows of `--query 'events[].[timestamp,logStreamName,message]' --output text` (`<epoch ms>⇥…`)
//! are read the same way, best effort: the stream column is taken when it looks like one, and
//! `None` (what the CLI prints for the `logStreamName` `get-log-events` events do not have) is
//! dropped. A message that itself ends in `⇥<13 digits>` is ambiguous in this shape (the JSON output
//! is not).
//!
//! Two more listings in the same notation:
//! * rows that END with the timestamp: `--query 'events[*].{t:timestamp,m:message}' --output text`
//!   prints an object's values sorted by key, so `<message>⇥<timestamp>` (and a message that ends
//!   in `\n` leaves `⇥<timestamp>` on a line of its own). Such a record runs up to the line that
//!   ends in `⇥<12 or 13 digits>`; a stream column just before the timestamp is taken too.
//! * `aws kinesis get-records --output text`: `RECORDS⇥<arrival>⇥<Data>⇥…` rows of a Kinesis
//!   stream a subscription filter writes to; the `Data` column (the longest) is the base64 gzip
//!   payload, decoded as the JSON one is ([`super::events_json::decode_payload`]).

use std::borrow::Cow;
use std::io::Read;

use super::Record;
use super::lines::split_lines;
use super::text::{LineReader, lossy};
use crate::problem::Problem;
use crate::time;

/// How a line of `--output text` starts.
#[derive(Debug, PartialEq, Eq)]
enum LineKind {
    /// `EVENTS⇥…`
    Events,
    /// `<epoch ms>⇥…` (a `--query` of scalar lists)
    QueryRow,
    /// `RECORDS⇥…` (`aws kinesis get-records`)
    Records,
    /// Lines of a row that ends with its timestamp (`<message>⇥<epoch ms>`), up to that line.
    Trailing,
    /// `NEXTTOKEN⇥…`, `SEARCHEDLOGSTREAMS⇥…`, `b/…⇥f/…` (page tokens): ends a record, is no record.
    Other,
    /// Anything else continues the current record.
    Continuation,
}

fn kind(line: &[u8]) -> LineKind {
    if line.starts_with(b"EVENTS\t") {
        return LineKind::Events;
    }
    if line.starts_with(b"RECORDS\t") {
        return LineKind::Records;
    }
    if line.starts_with(b"NEXTTOKEN\t") || line.starts_with(b"SEARCHEDLOGSTREAMS\t") {
        return LineKind::Other;
    }
    if is_token_line(line) {
        return LineKind::Other;
    }
    let digits = line.iter().take_while(|b| b.is_ascii_digit()).count();
    if (12..=13).contains(&digits) && line.get(digits) == Some(&b'\t') {
        return LineKind::QueryRow;
    }
    LineKind::Continuation
}

/// `get-log-events --output text` starts each page with its tokens: `b/<digits>⇥f/<digits>`.
fn is_token_line(line: &[u8]) -> bool {
    // Every line of every input is asked while detecting: most are turned away by their first
    // two bytes, before the search for a TAB through the whole line.
    if !line.starts_with(b"b/") {
        return false;
    }
    let Some(tab) = memchr::memchr(b'\t', line) else {
        return false;
    };
    let (a, b) = (&line[..tab], &line[tab + 1..]);
    let token = |t: &[u8], p: u8| {
        t.len() > 2 && t[0] == p && t[1] == b'/' && t[2..].iter().all(u8::is_ascii_digit)
    };
    token(a, b'b') && token(b, b'f')
}

/// Is this a line a `--output text` events listing starts a row with?
pub(crate) fn is_row_start(line: &[u8]) -> bool {
    matches!(
        kind(line),
        LineKind::Events | LineKind::QueryRow | LineKind::Records
    )
}

/// The timestamp a line ends with (`…⇥<12 or 13 digits>`), if it does.
fn trailing_timestamp(line: &[u8]) -> Option<i64> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let digits = line.iter().rev().take_while(|b| b.is_ascii_digit()).count();
    if !(12..=13).contains(&digits) || line.len() == digits {
        return None;
    }
    if line[line.len() - digits - 1] != b'\t' {
        return None;
    }
    std::str::from_utf8(&line[line.len() - digits..])
        .ok()?
        .parse()
        .ok()
}

/// Does the sample look like rows that end with their timestamp (`<message>⇥<epoch ms>`), and
/// like no other `--output text` listing? At least two lines end that way, at least one line in
/// four, and no line starts an `EVENTS` / `<epoch ms>⇥` / `RECORDS` / Insights `RESULTS` row.
pub(crate) fn looks_like_trailing_rows(sample: &[u8]) -> bool {
    let (mut ending, mut lines) = (0usize, 0usize);
    for line in split_lines(sample).take(400) {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if is_row_start(line) || line.starts_with(b"RESULTS\t") {
            return false;
        }
        lines += 1;
        ending += usize::from(trailing_timestamp(line).is_some());
    }
    ending >= 2 && ending * 4 >= lines
}

/// The row being read: its kind, where it starts, its text so far.
struct Row {
    kind: LineKind,
    line: u64,
    offset: u64,
    text: Vec<u8>,
}

/// Decodes `--output text` rows, calling `sink` once per event.
pub(crate) fn decode(input: &mut dyn Read, sink: &mut dyn FnMut(Record<'static>)) -> Vec<Problem> {
    let mut lines = LineReader::new(input);
    let mut buf = Vec::new();
    let mut errors = Vec::new();
    let mut cur: Option<Row> = None;
    // Records are told apart by their line: the events of one Kinesis record share its line and
    // are numbered on from it.
    let mut numbered = 0u64;
    let mut put = |mut r: Record<'static>| {
        if r.line <= numbered {
            r.line = numbered + 1;
        }
        numbered = r.line;
        sink(r);
    };
    let mut flush = |cur: &mut Option<Row>, errors: &mut Vec<Problem>| {
        let Some(row) = cur.take() else { return };
        if row.kind == LineKind::Records {
            errors.extend(kinesis_row(&row, &mut put));
        } else if let Some(r) = parse_row(row.kind, row.line, row.offset, &row.text) {
            put(r);
        }
    };
    while lines.next_line(&mut buf) {
        match kind(&buf) {
            k @ (LineKind::Events | LineKind::QueryRow | LineKind::Records) => {
                flush(&mut cur, &mut errors);
                cur = Some(Row {
                    kind: k,
                    line: lines.line,
                    offset: lines.offset,
                    text: buf.clone(),
                });
            }
            LineKind::Other => flush(&mut cur, &mut errors),
            LineKind::Continuation | LineKind::Trailing => {
                let row = cur.get_or_insert_with(|| Row {
                    kind: LineKind::Trailing,
                    line: lines.line,
                    offset: lines.offset,
                    text: Vec::new(),
                });
                if row.text.len() < super::text::MAX_LINE {
                    if !row.text.is_empty() {
                        row.text.push(b'\n');
                    }
                    row.text.extend_from_slice(&buf);
                }
                if row.kind == LineKind::Trailing && trailing_timestamp(&buf).is_some() {
                    flush(&mut cur, &mut errors);
                }
            }
        }
    }
    flush(&mut cur, &mut errors);
    errors.extend(lines.errors);
    errors
}

/// A `RECORDS⇥…` row of `aws kinesis get-records --output text`: the longest column is the
/// base64 payload (the others are the arrival time, partition key and sequence number).
fn kinesis_row(row: &Row, sink: &mut dyn FnMut(Record<'static>)) -> Vec<Problem> {
    let body = &row.text[b"RECORDS\t".len()..];
    let Some(data) = body
        .split(|&b| b == b'\t' || b == b'\n')
        .max_by_key(|c| c.len())
        .filter(|c| !c.is_empty())
    else {
        return Vec::new();
    };
    super::events_json::decode_payload(&lossy(data), row.line, row.offset, sink)
}

fn parse_row(kind: LineKind, line: u64, offset: u64, text: &[u8]) -> Option<Record<'static>> {
    let rec = |timestamp, stream: Option<&[u8]>, message: &[u8]| {
        Some(Record {
            line,
            offset,
            timestamp,
            stream: stream.map(|s| Cow::Owned(lossy(s))),
            group: None,
            message: Cow::Owned(message.to_vec()),
            stream_key: None,
        })
    };
    match kind {
        LineKind::Events => {
            let body = &text[b"EVENTS\t".len()..];
            // The timestamp is the last field.
            let (body, ts) = split_last_number(body);
            let mut cols = body.splitn(4, |&b| b == b'\t');
            let c1 = cols.next().unwrap_or_default();
            let c2 = cols.next();
            let c3 = cols.next();
            let c4 = cols.next();
            let numeric = |c: &[u8]| !c.is_empty() && c.iter().all(u8::is_ascii_digit);
            match (c2, c3) {
                // filter-log-events: eventId, ingestionTime, logStreamName, message
                (Some(c2), Some(c3)) if numeric(c1) && numeric(c2) && c2.len() >= 12 => {
                    rec(ts, Some(c3), c4.unwrap_or_default())
                }
                // get-log-events: ingestionTime, message (which may hold TABs)
                _ if numeric(c1) => {
                    let msg = &body[(c1.len() + 1).min(body.len())..];
                    rec(ts, None, msg)
                }
                _ => rec(ts, None, body),
            }
        }
        LineKind::QueryRow => {
            let tab = memchr::memchr(b'\t', text)?;
            let ts = time::parse_epoch(std::str::from_utf8(&text[..tab]).ok()?);
            let rest = &text[tab + 1..];
            match memchr::memchr(b'\t', rest) {
                Some(t) if looks_like_stream(&rest[..t]) => {
                    rec(ts, Some(&rest[..t]), &rest[t + 1..])
                }
                // `None`: the JSON null of an event without `logStreamName` (get-log-events).
                Some(t) if &rest[..t] == b"None" => rec(ts, None, &rest[t + 1..]),
                _ => rec(ts, None, rest),
            }
        }
        LineKind::Trailing => {
            let (body, ts) = split_last_number(text);
            ts?;
            // `<message>⇥<stream>⇥<timestamp>` (keys sorted: m, s, t); `None` is no stream.
            let (body, stream) = match memchr::memrchr(b'\t', body) {
                Some(t) if looks_like_stream(&body[t + 1..]) && !body[t + 1..].contains(&b'\n') => {
                    (&body[..t], Some(&body[t + 1..]))
                }
                Some(t) if &body[t + 1..] == b"None" => (&body[..t], None),
                _ => (body, None),
            };
            rec(ts, stream, body)
        }
        _ => None,
    }
}

/// Splits `…⇥<digits>` (optionally followed by line breaks) off the end of a row.
fn split_last_number(body: &[u8]) -> (&[u8], Option<i64>) {
    let trimmed = {
        let n = body
            .iter()
            .rev()
            .take_while(|&&b| b == b'\n' || b == b'\r')
            .count();
        &body[..body.len() - n]
    };
    let digits = trimmed
        .iter()
        .rev()
        .take_while(|b| b.is_ascii_digit())
        .count();
    if digits == 0 || digits > 16 || digits == trimmed.len() {
        return (body, None);
    }
    let sep = trimmed.len() - digits - 1;
    if trimmed[sep] != b'\t' {
        return (body, None);
    }
    let ts = std::str::from_utf8(&trimmed[sep + 1..])
        .ok()
        .and_then(time::parse_epoch);
    (&trimmed[..sep], ts)
}

/// A Lambda stream name (`2024/05/01/[$LATEST]0123…`), or any single token with `/` or `[`.
fn looks_like_stream(s: &[u8]) -> bool {
    !s.is_empty()
        && !s.contains(&b' ')
        && (s.contains(&b'/') || s.contains(&b'['))
        && !s.starts_with(b"[")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{decode_all, msg, subscription_data};

    const STREAM: &str = "2024/05/01/[$LATEST]0123456789abcdef0123456789abcdef";

    fn run(input: &str) -> (Vec<Record<'static>>, Vec<Problem>) {
        decode_all(decode, input.as_bytes())
    }

    #[test]
    fn filter_log_events_rows_with_tabs_newlines_and_trailing_newlines() {
        let text = format!(
            "EVENTS\t377625493901\t1714564800050\t{STREAM}\tINIT_START Runtime Version: python:3.12.v38\tRuntime Version ARN: arn:aws:lambda:us-east-1::runtime:0123abcd\n\t1714564800000\n\
             EVENTS\t377625493904\t1714564801050\t{STREAM}\t[ERROR] OperationalError: connection to server failed\nTraceback (most recent call last):\n\u{a0}\u{a0}File \"/var/task/lambda_function.py\", line 76, in lambda_handler\n\u{a0}\u{a0}\u{a0}\u{a0}set_secret(service_client, arn, token)\t1714564801000\n\
             EVENTS\t377625493906\t1714564801061\t{STREAM}\tREPORT RequestId: 1f4c2b7e-8d7a-4f6e-9c1a-2b3c4d5e6f70\tDuration: 1010.42 ms\tBilled Duration: 1011 ms\t\n\t1714564801011\n\
             EVENTS\t377625493908\t1714564801650\t{STREAM}\tcafé ✓ unicode\t1714564801600\n\
             NEXTTOKEN\teyJuZXh0VG9rZW4iOiBudWxsfQ==\n"
        );
        let (r, e) = run(&text);
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(r.len(), 4);
        assert_eq!(r[0].timestamp, Some(1_714_564_800_000));
        assert_eq!(r[0].stream.as_deref(), Some(STREAM));
        // A message keeps its own trailing newline, as in the JSON output.
        assert_eq!(
            msg(&r[0]),
            "INIT_START Runtime Version: python:3.12.v38\tRuntime Version ARN: arn:aws:lambda:us-east-1::runtime:0123abcd\n"
        );
        assert!(msg(&r[1]).ends_with("set_secret(service_client, arn, token)"));
        assert_eq!(r[1].line, 3);
        assert!(
            msg(&r[2]).ends_with("Billed Duration: 1011 ms\t\n"),
            "{:?}",
            msg(&r[2])
        );
        assert_eq!(msg(&r[3]), "café ✓ unicode");
        assert_eq!(r[3].timestamp, Some(1_714_564_801_600));
    }

    #[test]
    fn get_log_events_rows_and_page_tokens() {
        let text = "b/37762549390000000000000000000000000000000000000001\tf/37762549390000000000000000000000000000000000000004\n\
            EVENTS\t1714564800050\tINIT_START Runtime Version: python:3.12.v38\tRuntime Version ARN: x\n\t1714564800000\n\
            EVENTS\t1714564801050\t[ERROR] OperationalError: failed\nTraceback (most recent call last):\t1714564801000\n\
            b/37762549390000000000000000000000000000000000000009\tf/37762549390000000000000000000000000000000000000010\n\
            EVENTS\t1714564802050\tEND RequestId: x\n\t1714564802000\n";
        let (r, e) = run(text);
        assert!(e.is_empty());
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].stream, None);
        assert_eq!(
            msg(&r[0]),
            "INIT_START Runtime Version: python:3.12.v38\tRuntime Version ARN: x\n"
        );
        assert_eq!(
            msg(&r[1]),
            "[ERROR] OperationalError: failed\nTraceback (most recent call last):"
        );
        assert_eq!(msg(&r[2]), "END RequestId: x\n");
        assert_eq!(r[2].timestamp, Some(1_714_564_802_000));
    }

    #[test]
    fn query_rows_with_and_without_stream() {
        let text = format!(
            "1714564800123\t{STREAM}\tSTART RequestId: x Version: $LATEST\n\n1714564801000\t[ERROR] x\tmore\n"
        );
        let (r, _) = run(&text);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].stream.as_deref(), Some(STREAM));
        assert_eq!(msg(&r[0]), "START RequestId: x Version: $LATEST\n");
        assert_eq!(r[1].stream, None);
        assert_eq!(msg(&r[1]), "[ERROR] x\tmore");
    }

    #[test]
    fn query_rows_of_get_log_events_print_none_for_the_stream() {
        let (r, e) = run(
            "1744277457694\tNone\tSTART RequestId: x Version: $LATEST\n\n1744277458748\tNone\tEND RequestId: x\n\n",
        );
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].stream, None);
        assert_eq!(msg(&r[0]), "START RequestId: x Version: $LATEST\n");
    }

    #[test]
    fn rows_that_end_with_their_timestamp() {
        // `--query 'events[*].{t:timestamp,m:message}' --output text`: values sorted by key
        // (m, t); a message ending in a newline leaves the timestamp on a line of its own.
        let text = "INIT_START Runtime Version: python:3.12.v48\tRuntime Version ARN: x\n\t1744277457694\n\
            [ERROR] ValueError: failed\nTraceback (most recent call last):\n\u{a0}\u{a0}File \"/var/task/lambda_function.py\", line 77\t1744277479456\n\
            {\"time\":\"2025-04-10T10:20:12.488Z\",\"type\":\"platform.start\"}\t1744280412488\n";
        assert!(looks_like_trailing_rows(text.as_bytes()));
        let (r, e) = run(text);
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].timestamp, Some(1_744_277_457_694));
        assert_eq!(
            msg(&r[0]),
            "INIT_START Runtime Version: python:3.12.v48\tRuntime Version ARN: x\n"
        );
        assert_eq!(r[1].line, 3);
        assert!(msg(&r[1]).ends_with("line 77"), "{:?}", msg(&r[1]));
        assert_eq!(r[2].timestamp, Some(1_744_280_412_488));
        // `{t:timestamp,s:logStreamName,m:message}`: the stream comes before the timestamp.
        let (r, _) = run(&format!(
            "START RequestId: x\n\t{STREAM}\t1744277457694\nEND RequestId: x\tNone\t1744277458748\n"
        ));
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].stream.as_deref(), Some(STREAM));
        assert_eq!(msg(&r[0]), "START RequestId: x\n");
        assert_eq!(
            (r[1].stream.as_deref(), msg(&r[1]).as_str()),
            (None, "END RequestId: x")
        );
        // Other listings are not taken for it.
        assert!(!looks_like_trailing_rows(format!("EVENTS\t1\t1714564800050\t{STREAM}\tm\n\t1714564800000\nEVENTS\t2\t1714564800051\t{STREAM}\tm\n\t1714564800001\n").as_bytes()));
        assert!(!looks_like_trailing_rows(
            b"RESULTS\t@timestamp\t1744280835003\nRESULTS\t@ptr\t1744280835003\n"
        ));
        assert!(!looks_like_trailing_rows(
            b"START RequestId: x\nEND RequestId: x\n"
        ));
    }

    #[test]
    fn kinesis_records_rows_carry_subscription_payloads() {
        let data = subscription_data(
            STREAM,
            &[
                (1_744_277_457_694, "START RequestId: x\n"),
                (1_744_277_458_748, "END RequestId: x\n"),
            ],
        );
        // v1 prints MillisBehindLatest and NextShardIterator first (the iterator may hold a
        // newline), then one RECORDS row per record.
        let text = format!(
            "0\tcm90YXRpb24\nMDA6OA==\n\nRECORDS\t1744286400\t{data}\tpartitionkey0123456789abcdef012345\t49000000000000000000000000000000000000000000000000000001\nRECORDS\t1744286400\t{data}\tpk\t2\n"
        );
        assert_eq!(
            crate::format::detect::detect(text.as_bytes()),
            crate::format::Format::EventsText
        );
        let (r, e) = run(&text);
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(r.len(), 4);
        assert_eq!(r[0].stream.as_deref(), Some(STREAM));
        assert_eq!(r[1].timestamp, Some(1_744_277_458_748));
        // The events of one record share its line and are numbered on from it.
        assert_eq!(r.iter().map(|r| r.line).collect::<Vec<_>>(), [4, 5, 6, 7]);
        let (r, e) = run("RECORDS\t1744286400\tnot base64 at all!\tpk\t1\n");
        assert!(r.is_empty());
        assert_eq!(e.len(), 1, "{e:?}");
    }

    #[test]
    fn truncated_and_odd_rows_do_not_panic() {
        for t in [
            "EVENTS\t",
            "EVENTS\t1\t",
            "EVENTS\t\t\t\t\t",
            "EVENTS\t12\t34",
            "EVENTS\t1714564800050\tSTART",
            "1714564800123\t",
            "b/\tf/\n",
        ] {
            let _ = run(t);
        }
        let (r, _) = run("EVENTS\t1714564800050\tSTART RequestId: x");
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].timestamp, None);
    }
}
