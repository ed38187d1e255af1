//! `aws logs filter-log-events` / `get-log-events` JSON, decoded event by event.
//!
//! The CLI merges every page of `filter-log-events` into one document (which can be gigabytes for a
//! busy log group), and users concatenate documents with `>>` or paging loops. So the decoder never
//! materialises a document: a serde visitor walks the top-level object and hands each element of
//! `"events"` to the caller as soon as it is parsed. A JSON array of strings (`--query
//! 'events[].message'`) or of event objects is read the same way.
//!
//! Positions: a counting reader tracks newlines consumed, so every record knows the line its
//! `"message"` sits on and a syntax error names its line. Everything parsed before an error has
//! already been delivered; the error says what was skipped.

use std::borrow::Cow;
use std::cell::Cell;
use std::fmt;
use std::io::{self, Read};
use std::rc::Rc;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::{DecodeError, Record};
use crate::time;

/// Counts bytes and newlines read through it, and whether anything but whitespace was read since
/// the last [`Position::mark_document`].
struct Counting<R> {
    inner: R,
    pos: Rc<Position>,
}

#[derive(Default)]
struct Position {
    newlines: Cell<u64>,
    bytes: Cell<u64>,
    content_since_mark: Cell<bool>,
}

impl Position {
    fn line(&self) -> u64 {
        self.newlines.get() + 1
    }
    fn mark_document(&self) {
        self.content_since_mark.set(false);
    }
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 1 {
            // serde_json reads one byte at a time: the common case, kept cheap.
            let b = buf[0];
            if b == b'\n' {
                self.pos.newlines.set(self.pos.newlines.get() + 1);
            }
            self.pos.bytes.set(self.pos.bytes.get() + 1);
            if !b.is_ascii_whitespace() {
                self.pos.content_since_mark.set(true);
            }
            return Ok(1);
        }
        let chunk = &buf[..n];
        self.pos
            .newlines
            .set(self.pos.newlines.get() + memchr::memchr_iter(b'\n', chunk).count() as u64);
        self.pos.bytes.set(self.pos.bytes.get() + n as u64);
        if !self.pos.content_since_mark.get() && chunk.iter().any(|b| !b.is_ascii_whitespace()) {
            self.pos.content_since_mark.set(true);
        }
        Ok(n)
    }
}

/// Decodes every document in `input`, calling `sink` once per event. Returns the problems found;
/// decoding stops at the first syntax error (what came before it has been delivered).
pub fn decode(input: &mut dyn Read, sink: &mut dyn FnMut(Record<'static>)) -> Vec<DecodeError> {
    let pos = Rc::new(Position::default());
    // serde_json reads byte by byte from an `io::Read`: buffer underneath, and count what it
    // consumes on top, so positions are where the parser is, not where the buffer is.
    let reader = Counting {
        inner: io::BufReader::with_capacity(256 * 1024, input),
        pos: pos.clone(),
    };
    let mut de = serde_json::Deserializer::from_reader(reader);
    let mut errors = Vec::new();
    let mut documents = 0u64;
    loop {
        pos.mark_document();
        let seed = Document {
            sink: &mut *sink,
            pos: &pos,
        };
        match seed.deserialize(&mut de) {
            Ok(()) => documents += 1,
            Err(e) if e.is_eof() && !pos.content_since_mark.get() => break,
            Err(e) => {
                let what = if e.is_eof() {
                    "input ends inside a JSON document (truncated?); the rest of that document is missing"
                        .to_string()
                } else {
                    format!("invalid JSON ({e}); the rest of the input was skipped")
                };
                errors.push(DecodeError {
                    line: Some(pos.line()),
                    offset: None,
                    message: what,
                });
                break;
            }
        }
    }
    let _ = documents;
    errors
}

struct Document<'s> {
    sink: &'s mut dyn FnMut(Record<'static>),
    pos: &'s Rc<Position>,
}

impl<'de> DeserializeSeed<'de> for Document<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Document<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a filter-log-events / get-log-events document or an array of events")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            if key == "events" {
                map.next_value_seed(Events {
                    sink: &mut *self.sink,
                    pos: self.pos,
                })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        Events {
            sink: self.sink,
            pos: self.pos,
        }
        .visit_seq(seq)
    }
}

struct Events<'s> {
    sink: &'s mut dyn FnMut(Record<'static>),
    pos: &'s Rc<Position>,
}

impl<'de> DeserializeSeed<'de> for Events<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Events<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of log events")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(ev) = seq.next_element_seed(EventSeed { pos: self.pos })? {
            if let Some(r) = ev {
                (self.sink)(r);
            }
        }
        Ok(())
    }
}

struct EventSeed<'s> {
    pos: &'s Rc<Position>,
}

impl<'de> DeserializeSeed<'de> for EventSeed<'_> {
    type Value = Option<Record<'static>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for EventSeed<'_> {
    type Value = Option<Record<'static>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a log event object or a message string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Some(record(self.pos.line(), None, None, v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Some(record(self.pos.line(), None, None, v)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut message = None;
        let mut timestamp = None;
        let mut stream = None;
        let mut line = self.pos.line();
        while let Some(key) = map.next_key::<Cow<'de, str>>()? {
            match key.as_ref() {
                "message" => {
                    line = self.pos.line();
                    message = Some(map.next_value::<String>()?);
                }
                "timestamp" => {
                    timestamp = match map.next_value::<serde_json::Value>()? {
                        serde_json::Value::Number(n) => n.as_i64(),
                        serde_json::Value::String(s) => time::parse_any(&s),
                        _ => None,
                    }
                }
                "logStreamName" => stream = Some(map.next_value::<String>()?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(message.map(|m| record(line, timestamp, stream, m)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn run(input: &str) -> (Vec<Record<'static>>, Vec<DecodeError>) {
        let mut out = Vec::new();
        let errors = decode(&mut input.as_bytes(), &mut |r| out.push(r));
        (out, errors)
    }

    const DOC: &str = r#"{
    "events": [
        {
            "logStreamName": "2024/05/01/[$LATEST]0123",
            "timestamp": 1714564800123,
            "message": "START RequestId: 1f4c2b7e-8d7a-4f6e-9c1a-2b3c4d5e6f70 Version: $LATEST\n",
            "ingestionTime": 1714564800173,
            "eventId": "377625493902"
        },
        {
            "logStreamName": "2024/05/01/[$LATEST]0123",
            "timestamp": 1714564801000,
            "message": "[ERROR] OperationalError: failed\nTraceback (most recent call last):\n  File \"/var/task/lambda_function.py\", line 76, in lambda_handler",
            "ingestionTime": 1714564801050,
            "eventId": "377625493904"
        }
    ],
    "searchedLogStreams": []
}
"#;

    #[test]
    fn events_with_stream_timestamp_and_line() {
        let (r, e) = run(DOC);
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].line, 6);
        assert_eq!(r[0].timestamp, Some(1_714_564_800_123));
        assert_eq!(r[0].stream.as_deref(), Some("2024/05/01/[$LATEST]0123"));
        assert!(r[1].message.starts_with(b"[ERROR] OperationalError"));
        assert_eq!(r[1].line, 13);
    }

    #[test]
    fn concatenated_pages_and_empty_pages() {
        let two = format!("{DOC}{DOC}{{\"events\": [], \"nextForwardToken\": \"f/1\"}}\n");
        let (r, e) = run(&two);
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(r.len(), 4);
    }

    #[test]
    fn query_messages_array() {
        let (r, e) = run("[\n    \"START RequestId: x\\n\",\n    \"END RequestId: x\\n\"\n]\n");
        assert!(e.is_empty());
        assert_eq!(r.len(), 2);
        assert_eq!(&r[1].message[..], b"END RequestId: x\n");
    }

    #[test]
    fn truncated_document_keeps_what_parsed_and_names_the_line() {
        let cut = &DOC[..DOC.find("\"ingestionTime\": 1714564801050").unwrap()];
        let (r, e) = run(cut);
        assert_eq!(r.len(), 1);
        assert_eq!(e.len(), 1);
        assert!(e[0].message.contains("truncated"), "{}", e[0].message);
        assert!(e[0].line.unwrap() >= 13);
    }

    #[test]
    fn garbage_after_a_document_is_reported() {
        let (r, e) = run(&format!("{DOC}\n$ aws logs ...\n"));
        assert_eq!(r.len(), 2);
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].line, Some(21));
    }
}
