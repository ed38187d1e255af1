//! Logs Insights `get-query-results --output text` (`docs/log-formats.md`, "Logs Insights and
//! console CSV").
//!
//! The JSON output is read by [`super::events_json`]; the console CSV export by [`super::csv`].
//! In text the status comes first, then every field of every row as its own `RESULTS⇥<field>⇥<value>`
//! line (a value with newlines continues on the following lines), then `STATISTICS⇥…`. Row
//! boundaries are lost: a row ends where a field it already has comes again (normally the next
//! `@timestamp`). `@timestamp` is `YYYY-MM-DD HH:MM:SS.mmm` UTC, `@log` is `<account>:<log group>`.
//! Insights lists newest first unless the query sorts otherwise, so rows are put in time order.

use std::borrow::Cow;
use std::io::Read;

use super::lines::split_lines;
use super::text::{LineReader, lossy};
use super::{REORDER_WINDOW, Record, reorder};
use crate::problem::Problem;
use crate::time;

#[derive(Default)]
struct Row {
    line: u64,
    offset: u64,
    timestamp: Option<String>,
    message: Option<Vec<u8>>,
    stream: Option<String>,
    group: Option<String>,
    /// Fields this row has, to see where the next row starts.
    seen: Vec<String>,
}

impl Row {
    fn into_record(self) -> Option<Record<'static>> {
        let message = self.message?;
        Some(Record {
            line: self.line,
            offset: self.offset,
            timestamp: self.timestamp.as_deref().and_then(time::parse_any),
            stream: self.stream.map(Cow::Owned),
            group: self.group.map(|g| Cow::Owned(log_group(&g).to_owned())),
            message: Cow::Owned(message),
            stream_key: None,
        })
    }
}

/// `<account>:<log group>` → the log group.
pub(crate) fn log_group(g: &str) -> &str {
    match g.split_once(':') {
        Some((acct, rest)) if !acct.is_empty() && acct.bytes().all(|b| b.is_ascii_digit()) => rest,
        _ => g,
    }
}

/// Decodes `get-query-results --output text`, calling `sink` once per result row (in time order).
pub(crate) fn decode_text(
    input: &mut dyn Read,
    sink: &mut dyn FnMut(Record<'static>),
) -> Vec<Problem> {
    let mut lines = LineReader::new(input);
    let mut buf = Vec::new();
    let mut rows: Vec<Record<'static>> = Vec::new();
    let mut row = Row::default();
    // The field whose value the current line continues.
    let mut open_field: Option<String> = None;
    let mut emit = |row: Row, rows: &mut Vec<Record<'static>>| {
        if let Some(r) = row.into_record() {
            rows.push(r);
            if rows.len() >= REORDER_WINDOW {
                reorder(rows);
                rows.drain(..).for_each(&mut *sink);
            }
        }
    };
    while lines.next_line(&mut buf) {
        let fields = match buf.strip_prefix(b"RESULTS\t") {
            Some(rest) => Some(rest),
            None if buf == b"RESULTS" => Some(&b""[..]),
            None => None,
        };
        if let Some(rest) = fields {
            let (field, value) = match memchr::memchr(b'\t', rest) {
                Some(t) => (lossy(&rest[..t]), &rest[t + 1..]),
                None => (lossy(rest), &b""[..]),
            };
            if row.seen.contains(&field) {
                emit(std::mem::take(&mut row), &mut rows);
            }
            if row.seen.is_empty() {
                row.line = lines.line;
                row.offset = lines.offset;
            }
            row.seen.push(field.clone());
            match field.as_str() {
                "@timestamp" => row.timestamp = Some(lossy(value)),
                "@message" => row.message = Some(value.to_vec()),
                "@logStream" => row.stream = Some(lossy(value)),
                "@log" => row.group = Some(lossy(value)),
                _ => {}
            }
            open_field = Some(field);
            continue;
        }
        if buf.starts_with(b"STATISTICS\t") || is_status(&buf) {
            open_field = None;
            continue;
        }
        // A continuation line of the open field's value.
        if open_field.as_deref() == Some("@message")
            && let Some(m) = row.message.as_mut()
            && m.len() < super::text::MAX_LINE
        {
            m.push(b'\n');
            m.extend_from_slice(&buf);
        }
    }
    emit(row, &mut rows);
    reorder(&mut rows);
    rows.drain(..).for_each(sink);
    lines.errors
}

fn is_status(line: &[u8]) -> bool {
    matches!(
        line,
        b"Complete"
            | b"Running"
            | b"Scheduled"
            | b"Failed"
            | b"Cancelled"
            | b"Timeout"
            | b"Unknown"
    )
}

/// Does this look like `get-query-results --output text`?
pub(crate) fn looks_like_text(sample: &[u8]) -> bool {
    split_lines(sample)
        .take(50)
        .any(|l| l.starts_with(b"RESULTS\t@"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::decode_all;

    fn run(input: &str) -> Vec<Record<'static>> {
        let (out, errors) = decode_all(decode_text, input.as_bytes());
        assert!(errors.is_empty(), "{errors:?}");
        out
    }

    #[test]
    fn rows_are_split_at_repeated_fields_and_put_in_time_order() {
        let text = "Complete\n\
            RESULTS\t@timestamp\t2024-05-01 12:00:01.000\n\
            RESULTS\t@message\t[ERROR] OperationalError: connection to server failed\n\
            Traceback (most recent call last):\n\
            \u{a0}\u{a0}File \"/var/task/lambda_function.py\", line 76, in lambda_handler\n\
            RESULTS\t@logStream\t2024/05/01/[$LATEST]0123\n\
            RESULTS\t@log\t111122223333:/aws/lambda/SecretsManagerRotation\n\
            RESULTS\t@ptr\tCmAKJwojMTExMTIyMjIzMzMzOi9hd3MvbGFtYmRh\n\
            RESULTS\t@timestamp\t2024-05-01 12:00:00.456\n\
            RESULTS\t@message\t[INFO]\t2024-05-01T12:00:00.456Z\t1f4c2b7e-8d7a-4f6e-9c1a-2b3c4d5e6f70\tcreateSecret: ok\n\
            \n\
            RESULTS\t@logStream\t2024/05/01/[$LATEST]0123\n\
            RESULTS\t@log\t111122223333:/aws/lambda/SecretsManagerRotation\n\
            STATISTICS\t6420.0\t2.0\t18.0\n";
        let r = run(text);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].timestamp, time::parse_any("2024-05-01T12:00:00.456Z"));
        assert!(
            r[0].message
                .starts_with(b"[INFO]\t2024-05-01T12:00:00.456Z")
        );
        assert!(r[0].message.ends_with(b"createSecret: ok\n"));
        assert_eq!(r[0].line, 9);
        assert_eq!(
            r[1].group.as_deref(),
            Some("/aws/lambda/SecretsManagerRotation")
        );
        assert_eq!(r[1].stream.as_deref(), Some("2024/05/01/[$LATEST]0123"));
        assert!(r[1].message.ends_with(b"in lambda_handler"));
    }

    #[test]
    fn rows_without_timestamp_and_odd_lines() {
        let r = run("RESULTS\t@message\tone\nRESULTS\t@message\ttwo\nRESULTS\nRESULTS\t@x\n");
        assert_eq!(r.len(), 2);
        assert_eq!(&r[1].message[..], b"two");
        assert!(run("Running\n").is_empty());
        assert_eq!(log_group("acct:/x"), "acct:/x");
        assert_eq!(log_group("123:/x"), "/x");
    }
}
