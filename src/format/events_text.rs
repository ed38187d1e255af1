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
//! are read the same way, best effort: the stream column is taken when it looks like one.
//! A message that itself ends in `⇥<13 digits>` is ambiguous in this shape (the JSON output is not).

use std::borrow::Cow;
use std::io::Read;

use super::Record;
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
    /// `NEXTTOKEN⇥…`, `SEARCHEDLOGSTREAMS⇥…`, `b/…⇥f/…` (page tokens): ends a record, is no record.
    Other,
    /// Anything else continues the current record.
    Continuation,
}

fn kind(line: &[u8]) -> LineKind {
    if line.starts_with(b"EVENTS\t") {
        return LineKind::Events;
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
    matches!(kind(line), LineKind::Events | LineKind::QueryRow)
}

/// Decodes `--output text` rows, calling `sink` once per event.
pub(crate) fn decode(input: &mut dyn Read, sink: &mut dyn FnMut(Record<'static>)) -> Vec<Problem> {
    let mut lines = LineReader::new(input);
    let mut buf = Vec::new();
    // The record being read: (kind, line, offset, text).
    let mut cur: Option<(LineKind, u64, u64, Vec<u8>)> = None;
    let mut flush = |cur: &mut Option<(LineKind, u64, u64, Vec<u8>)>| {
        if let Some((k, line, offset, text)) = cur.take()
            && let Some(r) = parse_row(k, line, offset, &text)
        {
            sink(r);
        }
    };
    while lines.next_line(&mut buf) {
        match kind(&buf) {
            k @ (LineKind::Events | LineKind::QueryRow) => {
                flush(&mut cur);
                cur = Some((k, lines.line, lines.offset, buf.clone()));
            }
            LineKind::Other => flush(&mut cur),
            LineKind::Continuation => {
                if let Some((_, _, _, text)) = cur.as_mut()
                    && text.len() < super::text::MAX_LINE
                {
                    text.push(b'\n');
                    text.extend_from_slice(&buf);
                }
            }
        }
    }
    flush(&mut cur);
    lines.errors
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
                _ => rec(ts, None, rest),
            }
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
    use crate::testing::{decode_all, msg};

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
