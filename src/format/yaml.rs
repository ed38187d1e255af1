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
//! `logStreamName`; a top-level sequence of strings (`--query 'events[].message' --output yaml`)
//! gives one record per string.

use std::borrow::Cow;
use std::cell::Cell;
use std::io::{BufRead, BufReader, Read};
use std::rc::Rc;

use saphyr_parser::{Event, Parser};

use super::Record;
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

enum Frame {
    Map { key: Option<String>, want_key: bool },
    Seq { events: bool },
}

#[derive(Default)]
struct Item {
    depth: usize,
    line: u64,
    message: Option<String>,
    timestamp: Option<String>,
    stream: Option<String>,
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
    let mut walk = Walk {
        stack: Vec::new(),
        item: None,
        last_line: 1,
    };
    let mut errors = Vec::new();
    // Records are told apart by their line: flow-style items on one line are numbered on.
    let mut numbered = 0u64;
    let mut sink = |mut r: Record<'static>| {
        if r.line <= numbered {
            r.line = numbered + 1;
        }
        numbered = r.line;
        sink(r);
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
                errors.push(Problem::at(Some(line.max(walk.last_line)), None, kind));
                break;
            }
        };
        walk.last_line = span.start.line() as u64;
        walk.event(event, &mut sink);
    }
    errors
}

/// Where the walk over the parser's events is: the open mappings and sequences, and the event
/// item being read (an element of an `events` list).
struct Walk {
    stack: Vec<Frame>,
    item: Option<Item>,
    /// The line of the last event.
    last_line: u64,
}

impl Walk {
    fn event(&mut self, event: Event, sink: &mut dyn FnMut(Record<'static>)) {
        match event {
            Event::Scalar(value, ..) => self.scalar(value, sink),
            Event::Alias(_) => value_done(&mut self.stack),
            Event::SequenceStart(..) => {
                let events = matches!(
                    self.stack.last(),
                    Some(Frame::Map { key: Some(k), want_key: false }) if k == "events"
                );
                self.stack.push(Frame::Seq { events });
            }
            Event::MappingStart(..) => {
                if matches!(self.stack.last(), Some(Frame::Seq { events: true })) {
                    self.item = Some(Item {
                        depth: self.stack.len() + 1,
                        line: self.last_line,
                        ..Item::default()
                    });
                }
                self.stack.push(Frame::Map {
                    key: None,
                    want_key: true,
                });
            }
            Event::MappingEnd => {
                let depth = self.stack.len();
                self.stack.pop();
                if self.item.as_ref().is_some_and(|it| it.depth == depth)
                    && let Some(it) = self.item.take()
                    && let Some(m) = it.message
                {
                    let ts = it.timestamp.as_deref().and_then(time::parse_any);
                    sink(record(it.line, ts, it.stream, m));
                }
                value_done(&mut self.stack);
            }
            Event::SequenceEnd => {
                self.stack.pop();
                value_done(&mut self.stack);
            }
            _ => {}
        }
    }

    /// A scalar: a key, a field of the event item, or a message of a bare list of messages.
    fn scalar(&mut self, value: Cow<str>, sink: &mut dyn FnMut(Record<'static>)) {
        let top = self.stack.len();
        match self.stack.last_mut() {
            Some(Frame::Map { key, want_key }) if *want_key => {
                *key = Some(value.into_owned());
                *want_key = false;
            }
            Some(Frame::Map { key, want_key }) => {
                if let Some(it) = self.item.as_mut().filter(|it| it.depth == top) {
                    match key.as_deref() {
                        Some("message") => it.message = Some(value.into_owned()),
                        Some("timestamp") => it.timestamp = Some(value.into_owned()),
                        Some("logStreamName") => it.stream = Some(value.into_owned()),
                        _ => {}
                    }
                }
                *key = None;
                *want_key = true;
            }
            Some(Frame::Seq { .. }) if top == 1 => {
                // `--query 'events[].message' --output yaml`: a list of messages.
                sink(record(self.last_line, None, None, value.into_owned()));
            }
            _ => {}
        }
    }
}

/// A value in a mapping is complete: the next scalar is a key.
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
    }
}

/// Does the sample look like CLI YAML output (an `events:` key at the top, or `- events:`)?
pub(crate) fn looks_like_yaml(sample: &[u8]) -> bool {
    for line in sample.split(|&b| b == b'\n').take(40) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let l = line.strip_prefix(b"- ").unwrap_or(line);
        if l == b"events:" || l == b"events: []" {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{decode_all, msg};

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
