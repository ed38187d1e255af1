//! `filter-log-events` / `get-log-events --output yaml` and `--output yaml-stream` (AWS CLI v2,
//! `docs/log-formats.md`, "YAML").
//!
//! The CLI's YAML dumper folds long messages over several lines (double-quoted scalars with `\`
//! continuations and `\t` / `\n` escapes), quotes numeric-looking strings and sorts keys, so only a
//! real YAML parser gets the message back. `saphyr-parser` is used: a maintained, pure-Rust YAML 1.2
//! parser (it passes the YAML test suite) with an event API, so the document is walked event by event
//! from a character stream and never loaded whole (serde_yaml is deprecated; the serde-based forks
//! build a full document tree). Aliases are not expanded, so a hostile document cannot blow up.
//!
//! Records are the mappings in any sequence under an `events` key (`events:` at the top for
//! `yaml`, `- events:` for each page of `yaml-stream`), with `message`, `timestamp` and
//! `logStreamName`. The other YAML the CLI prints around log events is read too:
//! * a `--query` result (a top-level sequence, or one per page of `yaml-stream`): strings
//!   (`events[].message`) are messages; short lists (`events[].[timestamp,logStreamName,message]`)
//!   and flat mappings (`events[*].{t:timestamp,m:message}`) are one event's values, told apart by
//!   what they hold ([`super::row`]). A list of scalars is a row when one of them is a plain
//!   epoch-millisecond number, `null` or a stream name, and it is short; otherwise it is a page of
//!   messages;
//! * `results:` (Logs Insights `get-query-results`): rows of `{field, value}` mappings, put in time
//!   order (newest first by default);
//! * `Records:` (`aws kinesis get-records`): each `Data` is a base64 gzip subscription payload,
//!   decoded as the JSON one is ([`super::events_json::decode_payload`]).

use std::borrow::Cow;
use std::cell::Cell;
use std::io::{BufRead, BufReader, Read};
use std::rc::Rc;

use saphyr_parser::{Event, Parser, ScalarStyle};

use super::events_json::decode_payload;
use super::insights::log_group;
use super::lines::split_lines;
use super::row::{self, Cell as RowCell};
use super::{REORDER_WINDOW, Record, reorder};
use crate::problem::{Kind, Problem};
use crate::time;

/// Characters a single YAML token may span before the input is judged not to be a CLI listing.
const MAX_TOKEN_CHARS: u64 = 16 << 20;

/// Decodes UTF-8 (lossily) from a reader into characters, with a budget of characters per parser
/// event so an unterminated scalar cannot pull the whole input into memory.
struct Chars<'r> {
    inner: BufReader<&'r mut dyn Read>,
    decoded: String,
    at: usize,
    pending: Vec<u8>,
    eof: bool,
    budget: Rc<Cell<u64>>,
    overflow: Rc<Cell<bool>>,
    read_error: Rc<Cell<Option<std::io::ErrorKind>>>,
}

impl Chars<'_> {
    fn refill(&mut self) {
        self.decoded.clear();
        self.at = 0;
        while self.decoded.is_empty() && !self.eof {
            let chunk = match self.inner.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.read_error.set(Some(e.kind()));
                    self.eof = true;
                    &[][..]
                }
            };
            if chunk.is_empty() {
                self.eof = true;
            }
            let n = chunk.len();
            self.pending.extend_from_slice(chunk);
            self.inner.consume(n);
            let mut i = 0;
            loop {
                match std::str::from_utf8(&self.pending[i..]) {
                    Ok(s) => {
                        self.decoded.push_str(s);
                        i = self.pending.len();
                        break;
                    }
                    Err(e) => {
                        let valid = e.valid_up_to();
                        // SAFETY-free: `valid` bytes are valid UTF-8 per `from_utf8`.
                        self.decoded.push_str(
                            std::str::from_utf8(&self.pending[i..i + valid]).unwrap_or(""),
                        );
                        i += valid;
                        match e.error_len() {
                            Some(bad) => {
                                self.decoded.push('\u{FFFD}');
                                i += bad;
                            }
                            None if self.eof => {
                                self.decoded.push('\u{FFFD}');
                                i = self.pending.len();
                                break;
                            }
                            None => break,
                        }
                    }
                }
            }
            self.pending.drain(..i);
        }
    }
}

impl Iterator for Chars<'_> {
    type Item = char;

    fn next(&mut self) -> Option<char> {
        if self.budget.get() > MAX_TOKEN_CHARS {
            self.overflow.set(true);
            return None;
        }
        if self.at >= self.decoded.len() {
            self.refill();
        }
        let c = self.decoded[self.at..].chars().next()?;
        self.at += c.len_utf8();
        self.budget.set(self.budget.get() + 1);
        Some(c)
    }
}

/// What the items of a sequence are, from the key it is the value of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    /// `events`: CloudWatch events.
    Events,
    /// `results`: Logs Insights rows, each a sequence of `{field, value}` mappings.
    Results,
    /// One Logs Insights row.
    InsightsRow,
    /// `Records`: the records of `aws kinesis get-records`, whose `Data` is a base64 payload.
    Kinesis,
    /// A sequence with only sequences above it: what a `--query` returned (messages, rows of
    /// values, objects), or the list of pages of `yaml-stream`.
    Query,
    /// Anything else (`searchedLogStreams`, `statistics`…).
    Other,
}

enum Frame {
    Map {
        key: Option<String>,
        want_key: bool,
    },
    Seq {
        role: Role,
        /// A `Query` sequence inside another one: a row of values, or a page of messages. Its
        /// scalars are held until it is known which (at most [`MAX_ROW_CELLS`]).
        held: Option<Vec<Scalar>>,
    },
}

/// Values a row of a `--query` has at most; a longer list of scalars is a page of messages.
const MAX_ROW_CELLS: usize = 16;

/// A scalar and whether it was plain (unquoted: numbers and `null` are).
#[derive(Clone, Debug)]
struct Scalar {
    text: String,
    plain: bool,
}

impl Scalar {
    fn cell(&self) -> RowCell<'_> {
        if self.plain {
            if matches!(self.text.as_str(), "null" | "~" | "") {
                return RowCell::Null;
            }
            if let Ok(n) = self.text.parse::<f64>() {
                return RowCell::Number(n);
            }
        }
        RowCell::Text(&self.text)
    }
}

/// A mapping being read: its scalar values by key, and the role of the sequence it is in.
struct Item {
    depth: usize,
    line: u64,
    role: Role,
    pairs: Vec<(String, Scalar)>,
    /// No value was itself a mapping or a sequence.
    flat: bool,
}

impl Item {
    fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.text.as_str())
    }
}

/// The fields of the Logs Insights row being read.
#[derive(Default)]
struct InsightsAcc {
    line: u64,
    timestamp: Option<String>,
    message: Option<String>,
    stream: Option<String>,
    group: Option<String>,
}

/// Walks the parser's events, keeping what records are made of.
struct Walk<'s> {
    stack: Vec<Frame>,
    item: Option<Item>,
    insights: Option<InsightsAcc>,
    /// Insights rows, put in time order before they are handed on (newest first by default).
    rows: Vec<Record<'static>>,
    errors: Vec<Problem>,
    line: u64,
    /// Records are told apart by their line: flow-style items on one line are numbered on.
    numbered: u64,
    sink: &'s mut dyn FnMut(Record<'static>),
}

impl Walk<'_> {
    fn put(&mut self, mut r: Record<'static>) {
        if r.line <= self.numbered {
            r.line = self.numbered + 1;
        }
        self.numbered = r.line;
        (self.sink)(r);
    }

    fn scalar(&mut self, value: String, style: ScalarStyle) {
        let top = self.stack.len();
        let line = self.line;
        let scalar = Scalar {
            text: value,
            plain: style == ScalarStyle::Plain,
        };
        match self.stack.last_mut() {
            Some(Frame::Map { key, want_key }) if *want_key => {
                *key = Some(scalar.text);
                *want_key = false;
            }
            Some(Frame::Map { key, want_key }) => {
                if let Some(it) = self.item.as_mut().filter(|it| it.depth == top)
                    && let Some(k) = key.take()
                {
                    it.pairs.push((k, scalar));
                }
                *key = None;
                *want_key = true;
            }
            Some(Frame::Seq {
                role: Role::Query,
                held: Some(held),
            }) => {
                held.push(scalar);
                if held.len() > MAX_ROW_CELLS {
                    // Too long for a row: a page of messages, handed on as they come from now on.
                    let page = std::mem::take(held);
                    for s in page {
                        self.put(record(line, None, None, s.text));
                    }
                }
            }
            Some(Frame::Seq {
                role: Role::Query, ..
            }) => {
                // `--query 'events[].message' --output yaml`: a list of messages.
                self.put(record(line, None, None, scalar.text));
            }
            _ => {}
        }
    }

    fn sequence_start(&mut self) {
        let role = match self.stack.last() {
            None => Role::Query,
            Some(Frame::Seq {
                role: Role::Query, ..
            }) => Role::Query,
            Some(Frame::Seq {
                role: Role::Results,
                ..
            }) => Role::InsightsRow,
            Some(Frame::Map {
                key: Some(k),
                want_key: false,
            }) => match k.as_str() {
                "events" => Role::Events,
                "results" => Role::Results,
                "Records" => Role::Kinesis,
                _ => Role::Other,
            },
            _ => Role::Other,
        };
        if self
            .item
            .as_ref()
            .is_some_and(|it| it.depth == self.stack.len())
        {
            self.item.as_mut().unwrap().flat = false;
        }
        let nested = role == Role::Query && !self.stack.is_empty();
        if role == Role::InsightsRow {
            self.insights = Some(InsightsAcc {
                line: self.line,
                ..InsightsAcc::default()
            });
        }
        self.stack.push(Frame::Seq {
            role,
            held: nested.then(Vec::new),
        });
    }

    fn sequence_end(&mut self) {
        if let Some(Frame::Seq { role, held }) = self.stack.pop() {
            if let Some(cells) = held {
                self.held_scalars(cells);
            }
            if role == Role::InsightsRow
                && let Some(r) = self.insights.take().and_then(insights_record)
            {
                self.rows.push(r);
                if self.rows.len() >= REORDER_WINDOW {
                    self.flush_rows();
                }
            }
        }
        value_done(&mut self.stack);
    }

    /// The scalars of a short list inside a `--query` result: a row of one event's values when
    /// one of them is an epoch-millisecond number, a `null` or a stream name; else messages.
    fn held_scalars(&mut self, cells: Vec<Scalar>) {
        let line = self.line;
        let is_row = cells.iter().any(|c| match c.cell() {
            RowCell::Null => true,
            RowCell::Number(n) => n >= 1e11,
            RowCell::Text(t) => row::is_lambda_stream(t),
        });
        if is_row {
            if let Some(r) = row::read(cells.iter().map(Scalar::cell)) {
                self.put(record(line, r.timestamp, r.stream, r.message));
            }
        } else {
            for c in cells {
                self.put(record(line, None, None, c.text));
            }
        }
    }

    fn mapping_start(&mut self) {
        let role = match self.stack.last() {
            Some(Frame::Seq { role, .. }) => Some(*role),
            _ => None,
        };
        if self
            .item
            .as_ref()
            .is_some_and(|it| it.depth == self.stack.len())
        {
            self.item.as_mut().unwrap().flat = false;
        }
        if let Some(role) = role.filter(|r| *r != Role::Other) {
            self.item = Some(Item {
                depth: self.stack.len() + 1,
                line: self.line,
                role,
                pairs: Vec::new(),
                flat: true,
            });
        }
        self.stack.push(Frame::Map {
            key: None,
            want_key: true,
        });
    }

    fn mapping_end(&mut self) {
        let depth = self.stack.len();
        self.stack.pop();
        if self.item.as_ref().is_some_and(|it| it.depth == depth)
            && let Some(it) = self.item.take()
        {
            self.item_done(it);
        }
        value_done(&mut self.stack);
    }

    fn item_done(&mut self, it: Item) {
        match it.role {
            Role::Events | Role::Query if it.get("message").is_some() => {
                let ts = it.get("timestamp").and_then(time::parse_any);
                let stream = it.get("logStreamName").map(str::to_owned);
                let m = it.get("message").unwrap_or_default().to_owned();
                self.put(record(it.line, ts, stream, m));
            }
            // `--query 'events[*].{t:timestamp,m:message}'`: values under keys of the user's choice.
            Role::Query
                if it.flat
                    && !it.pairs.is_empty()
                    && !it.pairs.iter().any(|(k, _)| is_response_key(k)) =>
            {
                if let Some(r) = row::read(it.pairs.iter().map(|(_, v)| v.cell())) {
                    self.put(record(it.line, r.timestamp, r.stream, r.message));
                }
            }
            Role::InsightsRow => {
                if let (Some(acc), Some(field)) = (self.insights.as_mut(), it.get("field")) {
                    let value = it.get("value").map(str::to_owned);
                    match field {
                        "@timestamp" => acc.timestamp = value,
                        "@message" => acc.message = value,
                        "@logStream" => acc.stream = value,
                        "@log" => acc.group = value.map(|g| log_group(&g).to_owned()),
                        _ => {}
                    }
                }
            }
            Role::Kinesis => {
                if let Some(data) = it.get("Data") {
                    let line = it.line;
                    let mut got = Vec::new();
                    let errors = decode_payload(data, line, 0, &mut |r| got.push(r));
                    self.errors.extend(errors);
                    got.into_iter().for_each(|r| self.put(r));
                }
            }
            _ => {}
        }
    }

    fn flush_rows(&mut self) {
        let mut rows = std::mem::take(&mut self.rows);
        reorder(&mut rows);
        rows.into_iter().for_each(|r| self.put(r));
    }
}

/// Keys of the CLI responses themselves (a `yaml-stream` page), which no `--query` row has.
fn is_response_key(k: &str) -> bool {
    matches!(
        k,
        "status"
            | "nextToken"
            | "NextToken"
            | "nextForwardToken"
            | "nextBackwardToken"
            | "MillisBehindLatest"
            | "NextShardIterator"
            | "searchedLogStreams"
            | "statistics"
    )
}

fn insights_record(acc: InsightsAcc) -> Option<Record<'static>> {
    let ts = acc.timestamp.as_deref().and_then(time::parse_any);
    Some(record(acc.line, ts, acc.stream, acc.message?)).map(|mut r| {
        r.group = acc.group.map(Cow::Owned);
        r
    })
}

/// Decodes `--output yaml` / `yaml-stream`, calling `sink` once per event.
pub(crate) fn decode(input: &mut dyn Read, sink: &mut dyn FnMut(Record<'static>)) -> Vec<Problem> {
    let budget = Rc::new(Cell::new(0));
    let overflow = Rc::new(Cell::new(false));
    let read_error = Rc::new(Cell::new(None));
    let chars = Chars {
        inner: BufReader::with_capacity(256 * 1024, input),
        decoded: String::new(),
        at: 0,
        pending: Vec::new(),
        eof: false,
        budget: budget.clone(),
        overflow: overflow.clone(),
        read_error: read_error.clone(),
    };
    let mut parser = Parser::new_from_iter(chars);
    let mut w = Walk {
        stack: Vec::new(),
        item: None,
        insights: None,
        rows: Vec::new(),
        errors: Vec::new(),
        line: 1,
        numbered: 0,
        sink,
    };
    while let Some(ev) = parser.next_event() {
        budget.set(0);
        let (event, span) = match ev {
            Ok(x) => x,
            Err(e) => {
                let line = e.marker().line() as u64;
                let kind = if overflow.get() {
                    Kind::Decode(format!(
                        "a YAML value runs on for more than {} Mi characters; the rest of the input was skipped",
                        MAX_TOKEN_CHARS >> 20
                    ))
                } else if let Some(kind) = read_error.get() {
                    Problem::read(None, &std::io::Error::from(kind)).kind
                } else {
                    Kind::Decode(format!(
                        "invalid YAML ({}); the rest of the input was skipped",
                        e.info()
                    ))
                };
                w.errors
                    .push(Problem::at(Some(line.max(w.line)), None, kind));
                break;
            }
        };
        w.line = span.start.line() as u64;
        match event {
            Event::Scalar(value, style, ..) => w.scalar(value.into_owned(), style),
            Event::Alias(_) => value_done(&mut w.stack),
            Event::SequenceStart(..) => w.sequence_start(),
            Event::SequenceEnd => w.sequence_end(),
            Event::MappingStart(..) => w.mapping_start(),
            Event::MappingEnd => w.mapping_end(),
            _ => {}
        }
    }
    // A document cut short: what the open frames hold is kept.
    while let Some(Frame::Seq {
        held: Some(cells), ..
    }) = w.stack.pop()
    {
        w.held_scalars(cells);
    }
    w.flush_rows();
    w.errors
}

/// A mapping's value is complete: the next scalar is a key.
fn value_done(stack: &mut [Frame]) {
    if let Some(Frame::Map { key, want_key }) = stack.last_mut()
        && !*want_key
    {
        *key = None;
        *want_key = true;
    }
}

fn record(
    line: u64,
    timestamp: Option<i64>,
    stream: Option<String>,
    message: String,
) -> Record<'static> {
    Record {
        line,
        offset: 0,
        timestamp,
        stream: stream.map(Cow::Owned),
        group: None,
        message: Cow::Owned(message.into_bytes()),
        stream_key: None,
    }
}

/// Does the sample look like CLI YAML output? An `events:`, `results:` (Logs Insights) or
/// `Records:` (Kinesis) key at the top or in a `yaml-stream` page (`- events:`), or a first line
/// that starts a list the way the CLI prints a `--query` result: `- - ` (rows, pages), a quoted
/// message, a bare number, `null`, or `<key>: ` (objects).
pub(crate) fn looks_like_yaml(sample: &[u8]) -> bool {
    let lines = split_lines(sample)
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .take(40);
    for line in lines {
        let l = line.strip_prefix(b"- ").unwrap_or(line);
        if matches!(
            l,
            b"events:"
                | b"events: []"
                | b"results:"
                | b"results: []"
                | b"Records:"
                | b"Records: []"
        ) {
            return true;
        }
    }
    let Some(first) = split_lines(sample).find(|l| !l.iter().all(u8::is_ascii_whitespace)) else {
        return false;
    };
    let Some(item) = first.strip_prefix(b"- ") else {
        return false;
    };
    let key = item.iter().position(|&b| b == b':').is_some_and(|c| {
        c > 0
            && item[..c]
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'_')
            && matches!(item.get(c + 1), None | Some(b' ') | Some(b'\r'))
    });
    let item = item.strip_suffix(b"\r").unwrap_or(item);
    key || item.starts_with(b"- ")
        || matches!(item.first(), Some(b'"' | b'\''))
        || (!item.is_empty() && item.iter().all(u8::is_ascii_digit))
        || item == b"null"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{decode_all, msg, subscription_data};

    fn run(input: &str) -> (Vec<Record<'static>>, Vec<Problem>) {
        decode_all(decode, input.as_bytes())
    }

    const YAML: &str = r#"events:
- eventId: '377625493903'
  ingestionTime: 1714564800506
  logStreamName: 2024/05/01/[$LATEST]0123456789abcdef0123456789abcdef
  message: "[INFO]\t2024-05-01T12:00:00.456Z\t1f4c2b7e-8d7a-4f6e-9c1a-2b3c4d5e6f70\t\
    createSecret: Successfully put secret for ARN arn:aws:secretsmanager:us-east-1:111122223333:secret:MyDbSecret-a1b2c3\
    \ and version 6f0e7c1d-aaaa-bbbb-cccc-1234567890ab.\n"
  timestamp: 1714564800456
- eventId: '377625493904'
  ingestionTime: 1714564801050
  logStreamName: 2024/05/01/[$LATEST]0123456789abcdef0123456789abcdef
  message: "[ERROR] OperationalError: connection to server failed\nTraceback (most\
    \ recent call last):\n  File \"/var/task/lambda_function.py\", line 76, in lambda_handler\n\
    \    set_secret(service_client, arn, token)"
  timestamp: 1714564801000
- eventId: '377625493907'
  ingestionTime: 1714564801550
  logStreamName: 2024/05/01/[$LATEST]0123456789abcdef0123456789abcdef
  message: '{"time":"2024-05-01T12:00:01.500Z","type":"platform.report"}'
  timestamp: 1714564801500
- eventId: '377625493908'
  ingestionTime: 1714564801650
  logStreamName: 2024/05/01/[$LATEST]0123456789abcdef0123456789abcdef
  message: café ✓ unicode
  timestamp: 1714564801600
searchedLogStreams: []
"#;

    #[test]
    fn folded_messages_are_recovered() {
        let (r, e) = run(YAML);
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(r.len(), 4);
        assert_eq!(
            msg(&r[0]),
            "[INFO]\t2024-05-01T12:00:00.456Z\t1f4c2b7e-8d7a-4f6e-9c1a-2b3c4d5e6f70\tcreateSecret: Successfully put secret for ARN arn:aws:secretsmanager:us-east-1:111122223333:secret:MyDbSecret-a1b2c3 and version 6f0e7c1d-aaaa-bbbb-cccc-1234567890ab.\n"
        );
        assert_eq!(
            msg(&r[1]),
            "[ERROR] OperationalError: connection to server failed\nTraceback (most recent call last):\n  File \"/var/task/lambda_function.py\", line 76, in lambda_handler\n    set_secret(service_client, arn, token)"
        );
        assert_eq!(r[1].timestamp, Some(1_714_564_801_000));
        assert_eq!(
            r[1].stream.as_deref(),
            Some("2024/05/01/[$LATEST]0123456789abcdef0123456789abcdef")
        );
        assert_eq!(r[1].line, 9);
        assert!(msg(&r[2]).starts_with("{\"time\""));
        assert_eq!(msg(&r[3]), "café ✓ unicode");
        assert!(looks_like_yaml(YAML.as_bytes()));
    }

    #[test]
    fn a_fold_after_an_escape_reads_as_a_space() {
        // A fold without the `\` the CLI's emitter writes (a hand-edited file): by YAML 1.2 such a
        // fold is a space.
        let (r, e) = run("events:\n- message: \"a\\t\n    b\"\n");
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(msg(&r[0]), "a\t b");
    }

    #[test]
    fn yaml_stream_pages() {
        let page = YAML.lines().map(|l| format!("  {l}\n")).collect::<String>();
        let stream = format!(
            "- {}  nextToken: tok-page-2\n- events: []\n  nextToken: x\n",
            page.trim_start()
        );
        let (r, e) = run(&stream);
        assert!(e.is_empty(), "{e:?}\n{stream}");
        assert_eq!(r.len(), 4);
        assert!(looks_like_yaml(stream.as_bytes()));
    }

    #[test]
    fn message_list_and_errors() {
        let (r, e) = run("- \"START RequestId: x\\n\"\n- 'END RequestId: x'\n");
        assert!(e.is_empty());
        assert_eq!(r.len(), 2);
        let cut = &YAML[..YAML.find("recent call").unwrap()];
        let (r, e) = run(cut);
        assert_eq!(r.len(), 1);
        assert_eq!(e.len(), 1);
        let (_, e) = run("events:\n- message: [unclosed\n");
        assert_eq!(e.len(), 1);
        let (r, _) = run("a: &x [1]\nb: *x\nevents:\n- message: m\n  timestamp: x\n");
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].timestamp, None);
    }

    const STREAM: &str = "2025/04/10/[$LATEST]3db9c7b88382e6481e072f78fa8c352e";

    #[test]
    fn query_rows_objects_and_pages() {
        // `--query 'events[].[timestamp,logStreamName,message]' --output yaml`, as the CLI
        // prints it (get-log-events: null stream).
        let rows = format!(
            "- - 1744277457694\n  - {STREAM}\n  - \"INIT_START Runtime Version: python:3.12.v48\\tRuntime\n    Version ARN: x\\n\"\n- - 1744277458114\n  - null\n  - 'START RequestId: x Version: $LATEST\n\n    '\n"
        );
        assert!(looks_like_yaml(rows.as_bytes()));
        let (r, e) = run(&rows);
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(r.len(), 2);
        assert_eq!(
            (r[0].timestamp, r[0].stream.as_deref()),
            (Some(1_744_277_457_694), Some(STREAM))
        );
        assert_eq!(
            msg(&r[0]),
            "INIT_START Runtime Version: python:3.12.v48\tRuntime Version ARN: x\n"
        );
        assert_eq!(
            (r[1].stream.as_deref(), msg(&r[1]).as_str()),
            (None, "START RequestId: x Version: $LATEST\n")
        );
        // yaml-stream: the same rows, one list per page.
        let paged: String = rows.lines().map(|l| format!("  {l}\n")).collect();
        let (r2, e) = run(&format!("- {}", paged.trim_start()));
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(
            r2.iter().map(|r| msg(r)).collect::<Vec<_>>(),
            r.iter().map(|r| msg(r)).collect::<Vec<_>>()
        );
        // `{t:timestamp,m:message}` objects (keys sorted), and pages of messages.
        let (r, e) = run("- m: 'END RequestId: x'\n  t: 1744277458748\n");
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(
            (r[0].timestamp, msg(&r[0]).as_str()),
            (Some(1_744_277_458_748), "END RequestId: x")
        );
        let (r, _) =
            run("- - 'START RequestId: x'\n  - 'END RequestId: x'\n- - 'REPORT RequestId: x'\n");
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].timestamp, None);
        // A page with more messages than a row has values.
        let long: String = (0..40).map(|i| format!("  - 'line {i}'\n")).collect();
        let (r, _) = run(&format!("- {}", long.trim_start()));
        assert_eq!(r.len(), 40);
        // A yaml-stream page's own fields are no row.
        assert!(run("- status: Running\n").0.is_empty());
    }

    #[test]
    fn insights_results_and_kinesis_records() {
        let results = format!(
            "results:\n- - field: '@ptr'\n    value: '41'\n  - field: '@timestamp'\n    value: '2025-04-10 09:34:58.305'\n  - field: '@message'\n    value: 'second'\n  - field: '@logStream'\n    value: {STREAM}\n  - field: '@log'\n    value: 123456789012:/aws/lambda/Rot\n- - field: '@timestamp'\n    value: '1744277457694'\n  - field: '@message'\n    value: first\nstatus: Complete\n"
        );
        assert!(looks_like_yaml(results.as_bytes()));
        let (r, e) = run(&results);
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(
            r.iter().map(|r| msg(r)).collect::<Vec<_>>(),
            ["first", "second"]
        );
        assert_eq!(r[1].group.as_deref(), Some("/aws/lambda/Rot"));
        assert_eq!(r[1].stream.as_deref(), Some(STREAM));

        let data = subscription_data(
            STREAM,
            &[
                (1_744_277_457_694, "START RequestId: x"),
                (1_744_277_458_748, "END RequestId: x"),
            ],
        );
        let kinesis = format!(
            "MillisBehindLatest: 0\nNextShardIterator: 'abc\n\n  '\nRecords:\n- ApproximateArrivalTimestamp: '2025-04-10T12:00:00+00:00'\n  Data: {data}\n  PartitionKey: pk\n  SequenceNumber: '1'\n"
        );
        assert!(looks_like_yaml(kinesis.as_bytes()));
        let (r, e) = run(&kinesis);
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(r.len(), 2);
        assert_eq!(
            (r[0].stream.as_deref(), r[1].timestamp),
            (Some(STREAM), Some(1_744_277_458_748))
        );
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        let mut data = b"events:\n- message: caf".to_vec();
        data.extend_from_slice(&[0xff, 0xc3]);
        data.extend_from_slice(b" x\n  timestamp: 1714564801600\n");
        let mut out = Vec::new();
        let e = decode(&mut &data[..], &mut |r| out.push(r));
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(msg(&out[0]), "caf\u{FFFD}\u{FFFD} x");
    }
}
