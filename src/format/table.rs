//! `--output table` of `filter-log-events` / `get-log-events` (`docs/log-formats.md`, "Table"), of
//! Logs Insights `get-query-results` and of `aws kinesis get-records`, best effort.
//!
//! The table is drawn for people: cells are padded, and messages are inserted raw, so a message
//! with newlines or TABs breaks the grid. What is recovered: the column names from the header row
//! (`eventId | ingestionTime | logStreamName | message | timestamp`, sorted), then each row from the
//! line that starts it (`||`) to the line that ends it (`||` at the end). The cells before the
//! message column are split off from the left and the cells after it from the right, so the message
//! keeps its own `|` characters and its line breaks; its padding and its leading and trailing
//! whitespace are lost. A message that itself ends a line with `||` ends its row early (the rest of
//! it is lost), and a table drawn with `--color on` relies on the transport layer stripping the codes.
//!
//! The other tables the CLI draws around log events:
//! * a `--query` result is drawn at the top level, rows `|…|` right under the title: one cell per
//!   row for `events[].message`, the values of a list (`events[].[timestamp,logStreamName,message]`)
//!   without a header, or an object's values under a header of its keys (`m | t`). Cells that are an
//!   epoch-millisecond number, a stream name or `None` are split off both ends; what remains is the
//!   message ([`super::row`]). The response's own keys (`NextToken`, `nextForwardToken`…) drawn
//!   at the top level are not rows;
//! * Logs Insights: the `results` section lists `field | value` rows, every field of every result
//!   one after another; a result ends where a field it already has comes again. Results are put in
//!   time order (newest first by default);
//! * Kinesis: the `Records` section's `Data` column is a base64 gzip subscription payload, decoded as
//!   the JSON one is ([`super::events_json::decode_payload`]).

use std::borrow::Cow;
use std::io::Read;

use super::events_json::decode_payload;
use super::insights::log_group;
use super::lines::split_lines;
use super::row::{self, Cell};
use super::text::{LineReader, MAX_LINE, lossy};
use super::{REORDER_WINDOW, Record, reorder};
use crate::problem::Problem;
use crate::time;

#[derive(Clone, Debug, PartialEq, Eq)]
struct Columns {
    names: Vec<String>,
    /// The `message` / `@message` column, if the rows have one.
    message: Option<usize>,
}

/// The cells of a row (`||…||` in a section, `|…|` at the top level).
fn cells(row: &[u8]) -> Vec<&[u8]> {
    let pipes: &[u8] = if row.starts_with(b"||") { b"||" } else { b"|" };
    let inner = row.strip_prefix(pipes).unwrap_or(row);
    let inner = trim_end(inner);
    let inner = inner.strip_suffix(pipes).unwrap_or(inner);
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

/// A header row: every cell a field name (not a response's own key).
fn header(line: &[u8]) -> Option<Columns> {
    let c = cells(line);
    let names: Vec<String> = c.iter().map(|n| lossy(n)).collect();
    let ident = |n: &String| {
        !n.is_empty()
            && n.chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '@' || ch == '_')
            && !n.chars().all(|ch| ch.is_ascii_digit())
    };
    if names.len() < 2 || !names.iter().all(ident) || is_response_key(names[0].as_bytes()) {
        return None;
    }
    let message = names.iter().position(|n| n == "message" || n == "@message");
    Some(Columns { names, message })
}

fn is_rule(line: &[u8]) -> bool {
    let l = trim(line);
    !l.is_empty() && l.iter().all(|&b| matches!(b, b'-' | b'+' | b'|'))
}

/// Which part of a table rows belong to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Section {
    /// The top level of a `filter-log-events` / `get-log-events` table: a `--query` result.
    Query,
    /// The top level of another table (a response's own fields), or a section read for nothing
    /// (`searchedLogStreams`, `statistics`).
    Ignored,
    /// `events`: CloudWatch events.
    Events,
    /// `results`: Logs Insights `field | value` rows.
    Results,
    /// `Records`: Kinesis records.
    Records,
}

/// The Logs Insights result being read (its fields, to see where the next one starts).
#[derive(Default)]
struct InsightsResult {
    line: u64,
    offset: u64,
    fields: Vec<String>,
    timestamp: Option<i64>,
    message: Option<Vec<u8>>,
    stream: Option<String>,
    group: Option<String>,
}

/// The state of a table being read.
struct Table<'s> {
    title: Option<String>,
    section: Section,
    columns: Option<Columns>,
    result: InsightsResult,
    /// Insights results, put in time order before they are handed on.
    results: Vec<Record<'static>>,
    errors: Vec<Problem>,
    /// Records are told apart by their line: the events of one Kinesis record share its line.
    numbered: u64,
    sink: &'s mut dyn FnMut(Record<'static>),
}

/// Decodes `--output table`, calling `sink` once per row.
pub(crate) fn decode(input: &mut dyn Read, sink: &mut dyn FnMut(Record<'static>)) -> Vec<Problem> {
    let mut lines = LineReader::new(input);
    let mut buf = Vec::new();
    let mut t = Table {
        title: None,
        section: Section::Ignored,
        columns: None,
        result: InsightsResult::default(),
        results: Vec::new(),
        errors: Vec::new(),
        numbered: 0,
        sink,
    };
    // The row being read: (line, offset, text, closing pipes).
    let mut row: Option<(u64, u64, Vec<u8>, &[u8])> = None;
    while lines.next_line(&mut buf) {
        if let Some((_, _, text, close)) = row.as_mut() {
            if text.len() < MAX_LINE {
                text.push(b'\n');
                text.extend_from_slice(&buf);
            }
            if trim_end(&buf).ends_with(close)
                && let Some((line, offset, text, _)) = row.take()
            {
                t.row(line, offset, &text);
            }
            continue;
        }
        if t.structure(&buf) {
            continue;
        }
        let nested = buf.starts_with(b"||");
        let close: &[u8] = if nested { b"||" } else { b"|" };
        if trim_end(&buf).len() > 1 && trim_end(&buf).ends_with(close) {
            t.row(lines.line, lines.offset, &buf);
        } else {
            row = Some((lines.line, lines.offset, buf.clone(), close));
        }
    }
    if let Some((line, offset, text, _)) = row.take() {
        t.row(line, offset, &text);
    }
    t.end_results();
    t.errors.extend(lines.errors);
    t.errors
}

impl Table<'_> {
    /// Reads a line that draws the table rather than a row: a border, a rule, the title, a section
    /// title, a header. Returns false for the first line of a row.
    fn structure(&mut self, buf: &[u8]) -> bool {
        let t = trim(buf);
        if !t.is_empty() && t.iter().all(|&b| b == b'-') {
            // The top border of a table (several are concatenated when a loop printed them).
            self.end_results();
            self.title = None;
            self.columns = None;
            return true;
        }
        if is_rule(buf) || !buf.starts_with(b"|") {
            return true;
        }
        let nested = buf.starts_with(b"||");
        if self.title.is_none() && !nested {
            // The first row names the operation (`FilterLogEvents`, `GetQueryResults`…).
            let title = lossy(t).trim_matches('|').trim().to_owned();
            self.section = match title.as_str() {
                "FilterLogEvents" | "GetLogEvents" => Section::Query,
                _ => Section::Ignored,
            };
            self.title = Some(title);
            return true;
        }
        // A section has one header, right under its title (a later row of names is data); at the
        // top level, the keys of the objects a `--query` made (`m | t`).
        if (nested || self.section == Section::Query)
            && self.columns.is_none()
            && let Some(c) = header(buf)
        {
            self.columns = Some(c);
            return true;
        }
        if nested && let [name] = cells(buf)[..] {
            // A section title (`||  events  ||`, `||  results  ||`, `||  Records  ||`).
            self.section_starts(&lossy(name));
            return true;
        }
        false
    }

    fn put(&mut self, mut r: Record<'static>) {
        if r.line <= self.numbered {
            r.line = self.numbered + 1;
        }
        self.numbered = r.line;
        (self.sink)(r);
    }

    fn section_starts(&mut self, name: &str) {
        self.end_results();
        self.columns = None;
        self.section = match name {
            "events" => Section::Events,
            "results" => Section::Results,
            "Records" => Section::Records,
            _ => Section::Ignored,
        };
    }

    /// One complete row (its text from the line that starts it to the one that ends it).
    fn row(&mut self, line: u64, offset: u64, text: &[u8]) {
        let nested = text.starts_with(b"||");
        match (self.section, nested) {
            (Section::Query, false) => {
                if let Some(r) = self.query_row(line, offset, text) {
                    self.put(r);
                }
            }
            // (A table cut out without its `events` title has its header right under the title.)
            (Section::Events | Section::Query, true) => {
                if let Some(c) = self.columns.as_ref().filter(|c| c.message.is_some())
                    && let Some(r) = parse_row(c, line, offset, text)
                {
                    self.put(r);
                }
            }
            (Section::Results, true) => self.insights_row(line, offset, text),
            (Section::Records, true) => self.kinesis_row(line, text),
            _ => {}
        }
    }

    /// A row of a `--query` result at the top level of the table.
    fn query_row(&self, line: u64, offset: u64, text: &[u8]) -> Option<Record<'static>> {
        if let Some(c) = self.columns.as_ref().filter(|c| c.message.is_some()) {
            return parse_row(c, line, offset, &[b"|", trim_end(text), b"|"].concat());
        }
        let inner = text.strip_prefix(b"|")?;
        let inner = trim_end(inner);
        let inner = inner.strip_suffix(b"|").unwrap_or(inner);
        let first = trim(inner.split(|&b| b == b'|').next().unwrap_or_default());
        if is_response_key(first) {
            return None;
        }
        let (left, message, right) = peel(inner);
        let texts: Vec<String> = left.iter().chain(right.iter()).map(|c| lossy(c)).collect();
        let message = lossy(message);
        let cells = texts
            .iter()
            .map(|t| Cell::Text(t))
            .chain(std::iter::once(Cell::Text(&message)));
        let r = row::read(cells)?;
        Some(Record {
            line,
            offset,
            timestamp: r.timestamp,
            stream: r.stream.map(Cow::Owned),
            group: None,
            message: Cow::Owned(r.message.into_bytes()),
            stream_key: None,
        })
    }

    /// A `field | value` row of a Logs Insights result.
    fn insights_row(&mut self, line: u64, offset: u64, text: &[u8]) {
        let Some(inner) = text.strip_prefix(b"||") else {
            return;
        };
        let inner = trim_end(inner);
        let inner = inner.strip_suffix(b"||").unwrap_or(inner);
        let Some(bar) = memchr::memchr(b'|', inner) else {
            return;
        };
        let field = lossy(trim(&inner[..bar]));
        let value = trim(&inner[bar + 1..]);
        if self.result.fields.contains(&field) {
            self.end_result();
        }
        if self.result.fields.is_empty() {
            self.result.line = line;
            self.result.offset = offset;
        }
        match field.as_str() {
            "@timestamp" => {
                self.result.timestamp = std::str::from_utf8(value).ok().and_then(time::parse_any)
            }
            "@message" => self.result.message = Some(value.to_vec()),
            "@logStream" => self.result.stream = Some(lossy(value)),
            "@log" => self.result.group = Some(log_group(&lossy(value)).to_owned()),
            _ => {}
        }
        self.result.fields.push(field);
    }

    fn end_result(&mut self) {
        let r = std::mem::take(&mut self.result);
        if let Some(message) = r.message {
            self.results.push(Record {
                line: r.line,
                offset: r.offset,
                timestamp: r.timestamp,
                stream: r.stream.map(Cow::Owned),
                group: r.group.map(Cow::Owned),
                message: Cow::Owned(message),
                stream_key: None,
            });
            if self.results.len() >= REORDER_WINDOW {
                self.flush_results();
            }
        }
    }

    fn end_results(&mut self) {
        self.end_result();
        self.flush_results();
    }

    fn flush_results(&mut self) {
        let mut v = std::mem::take(&mut self.results);
        reorder(&mut v);
        v.into_iter().for_each(|r| self.put(r));
    }

    /// A Kinesis record: its `Data` cell is a subscription payload.
    fn kinesis_row(&mut self, line: u64, text: &[u8]) {
        let Some(at) = self
            .columns
            .as_ref()
            .and_then(|c| c.names.iter().position(|n| n == "Data"))
        else {
            return;
        };
        let c = cells(text);
        let Some(data) = c.get(at).filter(|d| !d.is_empty()) else {
            return;
        };
        let mut got = Vec::new();
        let errors = decode_payload(&lossy(data), line, 0, &mut |r| got.push(r));
        self.errors.extend(errors);
        got.into_iter().for_each(|r| self.put(r));
    }
}

/// Splits a `--query` row into the cells at its ends that are no message (an epoch-millisecond
/// number, a stream name, `None`, nothing) and the message between them, which keeps its own `|`.
fn peel(inner: &[u8]) -> (Vec<&[u8]>, &[u8], Vec<&[u8]>) {
    let not_message = |c: &[u8]| {
        let t = String::from_utf8_lossy(c);
        t.is_empty()
            || row::epoch_ms_text(&t).is_some()
            || row::is_null_text(&t)
            || row::is_lambda_stream(&t)
    };
    let mut rest = inner;
    let mut left = Vec::new();
    while let Some(p) = memchr::memchr(b'|', rest) {
        let c = trim(&rest[..p]);
        if !not_message(c) {
            break;
        }
        left.push(c);
        rest = &rest[p + 1..];
    }
    let mut right = Vec::new();
    while let Some(p) = memchr::memrchr(b'|', rest) {
        let c = trim(&rest[p + 1..]);
        if !not_message(c) {
            break;
        }
        right.push(c);
        rest = &rest[..p];
    }
    right.reverse();
    (left, trim(rest), right)
}

/// Keys of the responses themselves, drawn as `key | value` rows at the top level of a table.
fn is_response_key(cell: &[u8]) -> bool {
    matches!(
        cell,
        b"NextToken"
            | b"nextToken"
            | b"nextForwardToken"
            | b"nextBackwardToken"
            | b"searchedLogStreams"
    )
}

fn parse_row(c: &Columns, line: u64, offset: u64, text: &[u8]) -> Option<Record<'static>> {
    let inner = text.strip_prefix(b"||")?;
    let inner = trim_end(inner);
    let inner = inner.strip_suffix(b"||").unwrap_or(inner);
    let before = c.message?;
    let after = c.names.len() - before - 1;
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
    let names = c
        .names
        .iter()
        .enumerate()
        .filter(|(i, _)| Some(*i) != c.message);
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
        stream_key: None,
    })
}

/// Does the sample look like `--output table` of a log-events call?
pub(crate) fn looks_like_table(sample: &[u8]) -> bool {
    let mut lines = split_lines(sample)
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
            && [
                &b"FilterLogEvents"[..],
                b"GetLogEvents",
                b"GetQueryResults",
                b"GetRecords",
            ]
            .iter()
            .any(|name| memchr::memmem::find(t, name).is_some())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{decode_all, subscription_data};

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

    const STREAM: &str = "2025/04/10/[$LATEST]3db9c7b88382e6481e072f78fa8c352e";

    #[test]
    fn query_results_at_the_top_level() {
        // `--query 'events[].message'`: one cell per row, a message ending in a newline closes
        // its row on the next line.
        let messages = "-------------------\n|  FilterLogEvents |\n+------------------+\n|  START RequestId: x Version: $LATEST\n                |\n|  [ERROR] a | b   |\n+------------------+\n";
        assert!(looks_like_table(messages.as_bytes()));
        let r = run(messages);
        assert_eq!(r.len(), 2);
        assert_eq!(&r[0].message[..], b"START RequestId: x Version: $LATEST");
        assert_eq!(&r[1].message[..], b"[ERROR] a | b");
        // `[timestamp,logStreamName,message]`: no header; get-log-events prints None.
        let tuple = format!(
            "----\n| GetLogEvents |\n+----+\n|  1744277457694|  {STREAM} |  START RequestId: x |\n|  1744277458748|  None |  END | RequestId: x\n  |\n"
        );
        let r = run(&tuple);
        assert_eq!(r.len(), 2);
        assert_eq!(
            (r[0].timestamp, r[0].stream.as_deref()),
            (Some(1_744_277_457_694), Some(STREAM))
        );
        assert_eq!(
            (r[1].stream.as_deref(), &r[1].message[..]),
            (None, &b"END | RequestId: x"[..])
        );
        // `{t:timestamp,m:message}`: a header of the user's keys (sorted), then the values.
        let object = "----\n| FilterLogEvents |\n+----+\n|  m  |  t  |\n+----+\n|  START RequestId: x\n  |  1744277457694 |\n";
        let r = run(object);
        assert_eq!(r.len(), 1);
        assert_eq!(
            (r[0].timestamp, &r[0].message[..]),
            (Some(1_744_277_457_694), &b"START RequestId: x"[..])
        );
        // The response's own fields are no rows; two tables one after the other (a loop over
        // streams) both count, their titles not.
        let paged = format!(
            "----\n| FilterLogEvents |\n+----+\n|  NextToken |  eyJuZXh0VG9rZW4iOiBudWxsfQ== |\n+----+\n|  a |\n{messages}"
        );
        assert_eq!(run(&paged).len(), 3);
    }

    #[test]
    fn insights_results_and_kinesis_records() {
        let results = format!(
            "-----\n| GetQueryResults |\n+------+------+\n|  status |  Complete |\n+------+------+\n||  results  ||\n|+------+------+|\n||  field  |  value  ||\n|+------+------+|\n||  @ptr  |  1 ||\n||  @timestamp |  2025-04-10 09:34:58.305 ||\n||  @message |  second\n   ||\n||  @logStream |  {STREAM} ||\n||  @log |  123456789012:/aws/lambda/Rot ||\n||  @ptr  |  0 ||\n||  @timestamp |  1744277457694 ||\n||  @message |  first ||\n"
        );
        assert!(looks_like_table(results.as_bytes()));
        let r = run(&results);
        assert_eq!(r.len(), 2);
        assert_eq!(
            (&r[0].message[..], &r[1].message[..]),
            (&b"first"[..], &b"second"[..])
        );
        assert_eq!(r[1].group.as_deref(), Some("/aws/lambda/Rot"));
        assert_eq!(r[1].stream.as_deref(), Some(STREAM));

        let data = subscription_data(STREAM, &[(1_744_277_457_694, "START RequestId: x")]);
        let kinesis = format!(
            "----\n| GetRecords |\n+----+\n|  MillisBehindLatest |  0 |\n|  NextShardIterator |  abc\nMDA=\n  |\n+----+\n||  Records  ||\n|+----+|\n|| ApproximateArrivalTimestamp | Data | PartitionKey | SequenceNumber ||\n|+----+|\n||  2025-04-10T12:00:00+00:00 |  {data} |  pk |  1 ||\n||  2025-04-10T12:00:00+00:00 |  {data} |  pk |  2 ||\n"
        );
        assert!(looks_like_table(kinesis.as_bytes()));
        let r = run(&kinesis);
        assert_eq!(r.len(), 2);
        assert_eq!(
            (r[0].stream.as_deref(), r[0].timestamp),
            (Some(STREAM), Some(1_744_277_457_694))
        );
        assert_eq!((r[0].line, r[1].line), (13, 14));
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
