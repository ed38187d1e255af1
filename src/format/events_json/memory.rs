//! Decoding a JSON input that is in memory (a mapped file): serde_json parses a slice many times
//! faster than a reader it must pull one byte at a time from, and strings and keys come out
//! borrowed instead of copied.
//!
//! A slice parser does not say where it is, so positions come from where the parsed text sits in
//! the input: keys are borrowed slices of it, and every element of a container array (and every
//! top-level document) is first taken as a raw slice, then parsed from that slice. The rules
//! reproduce what counting the bytes a stream parser has consumed gives (every unit test of this
//! module, `memory_and_stream_agree_on_the_corpus` and the property test in `tests/it/robustness.rs`
//! check that both paths give the same records): a map or array is "at" the byte after its opening
//! bracket, a string just past its closing quote, a key at its own line, an element of `Records`
//! just past the element before it.

use std::cell::Cell;

use serde::de::DeserializeSeed;
use serde_json::value::RawValue;

use super::{Locate, Node, Skip, Target, Walker, with_skip};

/// Where the parser is in an input held in memory.
pub(super) struct Position<'d> {
    data: &'d [u8],
    cursor: Cell<usize>,
    /// Newlines in `data[..counted]`.
    newlines: Cell<u64>,
    counted: Cell<usize>,
    /// Where the innermost value that failed to parse failed (offset, line).
    failed_at: Cell<Option<(usize, u64)>>,
}

impl<'d> Position<'d> {
    pub(super) fn new(data: &'d [u8]) -> Self {
        Position {
            data,
            cursor: Cell::new(0),
            newlines: Cell::new(0),
            counted: Cell::new(0),
            failed_at: Cell::new(None),
        }
    }

    /// Offset of `text` in the input, if it is a slice of it.
    fn offset_of(&self, text: &[u8]) -> Option<usize> {
        let base = self.data.as_ptr() as usize;
        let at = text.as_ptr() as usize;
        (at >= base && at + text.len() <= base + self.data.len()).then(|| at - base)
    }

    /// The line `offset` is on.
    pub(super) fn line_at(&self, offset: usize) -> u64 {
        let offset = offset.min(self.data.len());
        let counted = self.counted.get();
        let n = if offset >= counted {
            self.newlines.get()
                + memchr::memchr_iter(b'\n', &self.data[counted..offset]).count() as u64
        } else {
            self.newlines.get()
                - memchr::memchr_iter(b'\n', &self.data[offset..counted]).count() as u64
        };
        self.newlines.set(n);
        self.counted.set(offset);
        n + 1
    }

    /// The reader knows `offset` is on `line`: lines are counted on from there.
    pub(super) fn note_line(&self, offset: usize, line: u64) {
        self.counted.set(offset.min(self.data.len()));
        self.newlines.set(line - 1);
    }

    /// The parser is about to read the value `raw`: a map or an array is "at" the byte after its
    /// bracket, anything else just past its end.
    pub(super) fn enter(&self, raw: &str) {
        let Some(at) = self.offset_of(raw.as_bytes()) else {
            return;
        };
        match raw.as_bytes().first() {
            Some(b'{' | b'[') => self.cursor.set(at + 1),
            _ => self.cursor.set(at + raw.len()),
        }
    }

    /// The parser is about to read the value that starts at `offset`.
    fn enter_at(&self, offset: usize) {
        match self.data.get(offset) {
            Some(b'{' | b'[') => self.cursor.set(offset + 1),
            _ => self.cursor.set(offset),
        }
    }

    /// The parser has read past `raw`.
    pub(super) fn leave(&self, raw: &str) {
        if let Some(at) = self.offset_of(raw.as_bytes()) {
            self.cursor.set(at + raw.len());
        }
    }

    /// The parser is past the next `[` (a container array after its key).
    pub(super) fn past_bracket(&self) {
        let from = self.cursor.get().min(self.data.len());
        if let Some(i) = memchr::memchr(b'[', &self.data[from..]) {
            self.cursor.set(from + i + 1);
        }
    }

    /// Parses `raw`, a value borrowed from the input, with `seed`. On failure, remembers where
    /// (the innermost failure wins: errors travel outwards).
    pub(super) fn parse<'x, S>(&self, raw: &'x str, seed: S) -> Result<(), serde_json::Error>
    where
        S: DeserializeSeed<'x, Value = ()>,
    {
        let mut de = serde_json::Deserializer::from_str(raw);
        seed.deserialize(&mut de).inspect_err(|e| {
            if self.failed_at.get().is_none()
                && let Some(start) = self.offset_of(raw.as_bytes())
            {
                let at = start + offset_in(raw.as_bytes(), e.line(), e.column());
                let line = self.line_at(start) + e.line().saturating_sub(1) as u64;
                self.failed_at.set(Some((at, line)));
            }
        })
    }
}

impl Locate for Position<'_> {
    fn line(&self) -> u64 {
        self.line_at(self.cursor.get())
    }

    fn offset(&self) -> u64 {
        self.cursor.get() as u64
    }

    fn passed(&self, text: &str) {
        if let Some(at) = self.offset_of(text.as_bytes()) {
            self.cursor.set(at + text.len());
        }
    }

    fn memory(&self) -> Option<&Position<'_>> {
        Some(self)
    }
}

/// The byte offset in `text` of serde_json's 1-based `line` and `column` (bytes consumed on
/// that line).
fn offset_in(text: &[u8], line: usize, column: usize) -> usize {
    let mut start = 0;
    for _ in 1..line {
        match memchr::memchr(b'\n', &text[start..]) {
            Some(i) => start += i + 1,
            None => return text.len(),
        }
    }
    (start + column).min(text.len())
}

/// Decodes every JSON document in `data` (valid UTF-8), like [`super::walk`] does a stream: the
/// same records, positions and errors. (For the tests: see `super::decode_slice`.)
#[cfg(test)]
pub(super) fn walk(data: &[u8], w: &mut Walker) {
    walk_with(data, w, documents);
}

/// Walks `data`, reading runs of documents with `documents` (from an offset up to the end or the
/// first fault: the hand reader first, `scan::documents_ahead`, or in the tests serde_json's
/// `documents` alone): what to do after a fault (report it, resume at the next document) is the
/// same whoever read them.
pub(super) fn walk_with<'r>(
    data: &[u8],
    w: &mut Walker<'_, 'r>,
    mut documents: impl FnMut(&[u8], usize, &Position, &mut Walker<'_, 'r>) -> Option<Fault>,
) {
    let pos = Position::new(data);
    // A stream parser is made at the start and again after each syntax error; its errors count
    // lines from there.
    let mut from = 0;
    while from < data.len() {
        let Some(fault) = documents(data, from, &pos, w) else {
            return;
        };
        if fault.eof {
            w.error(
                Some(pos.line_at(data.len())),
                None,
                "input ends inside a JSON document (truncated?); the rest of that document is missing".into(),
            );
            return;
        }
        // Where a stream parser resumes: a document starting a line that the fault's position
        // already includes (the byte serde_json peeked at), or the next one.
        let resume = if fault.at >= 2
            && matches!(data[fault.at - 1], b'{' | b'[')
            && data[fault.at - 2] == b'\n'
        {
            Some(fault.at - 1)
        } else {
            first_document_line(&data[fault.at..]).map(|next| fault.at + next)
        };
        match resume {
            Some(next) => {
                w.error(
                    Some(fault.line),
                    None,
                    format!(
                        "invalid JSON ({}); skipped to the next document, at line {}",
                        fault.message,
                        pos.line_at(next + 1)
                    ),
                );
                from = next;
            }
            None => {
                w.error(
                    Some(fault.line),
                    None,
                    format!(
                        "invalid JSON ({}); the rest of the input was skipped",
                        fault.message
                    ),
                );
                return;
            }
        }
    }
}

/// Where and why a document could not be read.
pub(super) struct Fault {
    message: String,
    eof: bool,
    /// Offset and line the stream parser would have stopped at.
    at: usize,
    line: u64,
}

/// Decodes the documents from `from` on, as one stream parser would: up to the end (`None`) or
/// the first fault. The records of a faulty document before its fault are delivered.
#[cfg(test)]
fn documents(data: &[u8], from: usize, pos: &Position, w: &mut Walker) -> Option<Fault> {
    let base = pos.line_at(from);
    let mut docs = serde_json::Deserializer::from_slice(&data[from..]).into_iter::<&RawValue>();
    loop {
        let done = from + docs.byte_offset();
        let raw = match docs.next()? {
            Ok(raw) => raw,
            Err(e) => return Some(fault_at(data, done, from, base, &e, pos, w)),
        };
        pos.enter(raw.get());
        if let Err(e) = pos.parse(raw.get(), node(pos, w, &mut Target::direct())) {
            // A value of the wrong type (`"events": 5`): reported where it is, counted from
            // where this stream parser started.
            let (at, line) = pos.failed_at.take().unwrap_or((done, pos.line_at(done)));
            return Some(Fault {
                message: super::bare(&e),
                eof: false,
                at,
                line,
            });
        }
    }
}

/// The fault of the document at or after `done` that serde_json's stream of documents from
/// `from` (on line `base`) met (`e`): the document is parsed again directly, as a stream parser
/// would have read it, so the records before the fault are delivered and the error says what a
/// stream parser's says. It starts after JSON's whitespace, which a form feed is not.
fn fault_at(
    data: &[u8],
    done: usize,
    from: usize,
    base: u64,
    e: &serde_json::Error,
    pos: &Position,
    w: &mut Walker,
) -> Fault {
    let start = done
        + data[done..]
            .iter()
            .take_while(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
            .count();
    pos.enter_at(start);
    let text = std::str::from_utf8(&data[start..]).unwrap_or_default();
    let direct = pos.parse(text, node(pos, w, &mut Target::direct())).err();
    let failed = pos.failed_at.take();
    match (direct, failed) {
        (Some(d), Some((at, line))) if d.is_eof() == e.is_eof() => Fault {
            message: super::bare(&d),
            eof: d.is_eof(),
            at,
            line,
        },
        _ => Fault {
            message: super::bare(e),
            eof: e.is_eof(),
            at: from + offset_in(&data[from..], e.line(), e.column()),
            line: base + e.line().saturating_sub(1) as u64,
        },
    }
}

/// Decodes the one document after `done` (the end of the document before it, or where a run of
/// them starts; whitespace may follow) as a stream parser would, its records from the `skip`-th on
/// (the ones before were delivered by a reader that gave up on it). Returns the offset after the
/// document, or its fault.
pub(super) fn document(
    data: &[u8],
    done: usize,
    pos: &Position,
    w: &mut Walker,
    skip: Skip,
) -> Result<usize, Fault> {
    with_skip(w, skip, |w| one_document(data, done, pos, w))
}

fn one_document(data: &[u8], done: usize, pos: &Position, w: &mut Walker) -> Result<usize, Fault> {
    let base = pos.line_at(done);
    let mut docs = serde_json::Deserializer::from_slice(&data[done..]).into_iter::<&RawValue>();
    let raw = match docs.next() {
        None => return Ok(data.len()),
        Some(Ok(raw)) => raw,
        Some(Err(e)) => return Err(fault_at(data, done, done, base, &e, pos, w)),
    };
    pos.enter(raw.get());
    if let Err(e) = pos.parse(raw.get(), node(pos, w, &mut Target::direct())) {
        let (at, line) = pos.failed_at.take().unwrap_or((done, pos.line_at(done)));
        return Err(Fault {
            message: super::bare(&e),
            eof: false,
            at,
            line,
        });
    }
    Ok(done + docs.byte_offset())
}

/// A top-level node.
fn node<'a, 's, 'r>(
    pos: &'a Position,
    w: &'a mut Walker<'s, 'r>,
    target: &'a mut Target,
) -> Node<'a, 's, 'r> {
    Node {
        w,
        pos,
        origin: None,
        depth: 0,
        target,
    }
}

/// Where a stream parser resumes after a syntax error: the next `{` or `[` that starts a line
/// (offset in `rest`).
fn first_document_line(rest: &[u8]) -> Option<usize> {
    memchr::memchr_iter(b'\n', rest)
        .map(|i| i + 1)
        .find(|&i| matches!(rest.get(i), Some(b'{' | b'[')))
}
