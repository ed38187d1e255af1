//! `filter-log-events` / `get-log-events --output table` (`docs/log-formats.md`, "Table"), best
//! effort.
//!
//! The table is drawn for people: cells are padded, and messages are inserted raw, so a message
//! with newlines or TABs breaks the grid. What is recovered: the column names from the header row
//! (`eventId | ingestionTime | logStreamName | message | timestamp`, sorted), then each row from the
//! line that starts it (`||`) to the line that ends it (`||` at the end). The cells before the
//! message column are split off from the left and the cells after it from the right, so the message
//! keeps its own `|` characters and its line breaks; its padding and its leading and trailing
//! whitespace are lost. A message that itself ends a line with `||` ends its row early (the rest of
//! it is lost), and a table drawn with `--color on` relies on the transport layer stripping the codes.

use std::borrow::Cow;
use std::io::Read;

use super::Record;
use super::text::{LineReader, MAX_LINE, lossy};
use crate::problem::Problem;
use crate::time;

#[derive(Clone, Debug, PartialEq, Eq)]
struct Columns {
    names: Vec<String>,
    message: usize,
}

fn cells(row: &[u8]) -> Vec<&[u8]> {
    let inner = row.strip_prefix(b"||").unwrap_or(row);
    let inner = trim_end(inner);
    let inner = inner.strip_suffix(b"||").unwrap_or(inner);
    inner.split(|&b| b == b'|').map(trim).collect()
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s.iter().take_while(|b| b.is_ascii_whitespace()).count();
    trim_end(&s[start..])
}

fn trim_end(s: &[u8]) -> &[u8] {
    let n = s
        .iter()
        .rev()
        .take_while(|b| b.is_ascii_whitespace())
        .count();
    &s[..s.len() - n]
}

/// A header row: every cell a field name, one of them `message`.
fn header(line: &[u8]) -> Option<Columns> {
    let c = cells(line);
    let names: Vec<String> = c.iter().map(|n| lossy(n)).collect();
    let ident = |n: &String| {
        !n.is_empty()
            && n.chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '@' || ch == '_')
            && !n.chars().all(|ch| ch.is_ascii_digit())
    };
    if names.len() < 2 || !names.iter().all(ident) {
        return None;
    }
    let message = names
        .iter()
        .position(|n| n == "message" || n == "@message")?;
    Some(Columns { names, message })
}

fn is_rule(line: &[u8]) -> bool {
    let l = trim(line);
    !l.is_empty() && l.iter().all(|&b| matches!(b, b'-' | b'+' | b'|'))
}

/// Decodes `--output table`, calling `sink` once per row.
pub(crate) fn decode(input: &mut dyn Read, sink: &mut dyn FnMut(Record<'static>)) -> Vec<Problem> {
    let mut lines = LineReader::new(input);
    let mut buf = Vec::new();
    let mut columns: Option<Columns> = None;
    // The row being read: (line, offset, text).
    let mut row: Option<(u64, u64, Vec<u8>)> = None;
    while lines.next_line(&mut buf) {
        if let Some((_, _, text)) = row.as_mut() {
            if text.len() < MAX_LINE {
                text.push(b'\n');
                text.extend_from_slice(&buf);
            }
            if trim_end(&buf).ends_with(b"||")
                && let Some((line, offset, text)) = row.take()
                && let Some(c) = &columns
                && let Some(r) = parse_row(c, line, offset, &text)
            {
                sink(r);
            }
            continue;
        }
        if is_rule(&buf) || !buf.starts_with(b"||") {
            continue;
        }
        if let Some(c) = header(&buf) {
            columns = Some(c);
            continue;
        }
        let c = cells(&buf);
        if c.len() == 1 {
            // A section title (`||  events  ||`, `||  searchedLogStreams  ||`).
            columns = None;
            continue;
        }
        if columns.is_none() {
            continue;
        }
        if trim_end(&buf).ends_with(b"||") {
            if let Some(c) = &columns
                && let Some(r) = parse_row(c, lines.line, lines.offset, &buf)
            {
                sink(r);
            }
        } else {
            row = Some((lines.line, lines.offset, buf.clone()));
        }
    }
    if let Some((line, offset, text)) = row.take()
        && let Some(c) = &columns
        && let Some(r) = parse_row(c, line, offset, &text)
    {
        sink(r);
    }
    lines.errors
}

fn parse_row(c: &Columns, line: u64, offset: u64, text: &[u8]) -> Option<Record<'static>> {
    let inner = text.strip_prefix(b"||")?;
    let inner = trim_end(inner);
    let inner = inner.strip_suffix(b"||").unwrap_or(inner);
    let before = c.message;
    let after = c.names.len() - c.message - 1;
    let mut rest = inner;
    let mut left = Vec::with_capacity(before);
    for _ in 0..before {
        let p = memchr::memchr(b'|', rest)?;
        left.push(trim(&rest[..p]));
        rest = &rest[p + 1..];
    }
    let mut right = Vec::with_capacity(after);
    for _ in 0..after {
        let p = memchr::memrchr(b'|', rest)?;
        right.push(trim(&rest[p + 1..]));
        rest = &rest[..p];
    }
    right.reverse();
    let message = trim(rest);
    let mut timestamp = None;
    let mut stream = None;
    let names = c.names.iter().enumerate().filter(|(i, _)| *i != c.message);
    for ((_, name), value) in names.zip(left.iter().chain(right.iter())) {
        match name.as_str() {
            "timestamp" | "@timestamp" => {
                timestamp = std::str::from_utf8(value).ok().and_then(time::parse_any)
            }
            "logStreamName" | "@logStream" => stream = Some(lossy(value)),
            _ => {}
        }
    }
    Some(Record {
        line,
        offset,
        timestamp,
        stream: stream.filter(|s| !s.is_empty()).map(Cow::Owned),
        group: None,
        message: Cow::Owned(message.to_vec()),
    })
}

/// Does the sample look like `--output table` of a log-events call?
pub(crate) fn looks_like_table(sample: &[u8]) -> bool {
    let mut lines = sample
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !trim(l).is_empty());
    let Some(first) = lines.next() else {
        return false;
    };
    if !trim(first).iter().all(|&b| b == b'-') {
        return false;
    }
    lines.next().is_some_and(|title| {
        let t = trim(title);
        t.starts_with(b"|")
            && (memchr::memmem::find(t, b"FilterLogEvents").is_some()
                || memchr::memmem::find(t, b"GetLogEvents").is_some())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::decode_all;

    fn run(input: &str) -> Vec<Record<'static>> {
        let (out, errors) = decode_all(decode, input.as_bytes());
        assert!(errors.is_empty(), "{errors:?}");
        out
    }

    const TABLE: &str = "\
-------------------------------------------------------------------
|                         FilterLogEvents                         |
+-----------------------------------------------------------------+
||                             events                            ||
|+-----------+---------------+--------+----------------+---------+|
||  eventId  | ingestionTime | logStreamName | message | timestamp ||
|+-----------+---------------+--------+----------------+---------+|
||  377625493901|  1714564800050 |  2024/05/01/[$LATEST]0123 |  INIT_START Runtime Version: python:3.12.v38\tRuntime Version ARN: x
                                                                  |  1714564800000  ||
||  377625493904|  1714564801050 |  2024/05/01/[$LATEST]0123 |  [ERROR] OperationalError: a | b
Traceback (most recent call last):
  File \"/var/task/lambda_function.py\", line 76, in lambda_handler  |  1714564801000  ||
||  377625493908|  1714564801650 |  2024/05/01/[$LATEST]0123 |  café ✓ unicode   |  1714564801600  ||
|+-----------+---------------+--------+----------------+---------+|
||                       searchedLogStreams                      ||
";

    #[test]
    fn rows_spanning_lines_and_pipes_in_messages() {
        assert!(looks_like_table(TABLE.as_bytes()));
        let r = run(TABLE);
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].timestamp, Some(1_714_564_800_000));
        assert_eq!(r[0].stream.as_deref(), Some("2024/05/01/[$LATEST]0123"));
        assert_eq!(
            &r[0].message[..],
            b"INIT_START Runtime Version: python:3.12.v38\tRuntime Version ARN: x"
        );
        assert_eq!(
            String::from_utf8_lossy(&r[1].message),
            "[ERROR] OperationalError: a | b\nTraceback (most recent call last):\n  File \"/var/task/lambda_function.py\", line 76, in lambda_handler"
        );
        assert_eq!(r[1].line, 10);
        assert_eq!(&r[2].message[..], "café ✓ unicode".as_bytes());
    }

    #[test]
    fn get_log_events_table_and_odd_rows() {
        let t = "----\n| GetLogEvents |\n||  ingestionTime | message | timestamp ||\n||  1 |  START RequestId: x |  1714564800000  ||\n||  x ||\n||  1 | 2 ||\n";
        let r = run(t);
        assert_eq!(r.len(), 1);
        assert_eq!(&r[0].message[..], b"START RequestId: x");
        assert!(!looks_like_table(b"-- \nnot a table"));
        run("||  a | message ||\n||  only one pipe\n");
    }
}
