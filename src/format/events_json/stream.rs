//! Reading a JSON input as a stream (stdin, gzip, pipes): the bytes serde_json pulls one at a
//! time, with invalid UTF-8 replaced on the way in, and where the parser is in the input.

use std::cell::{Cell, RefCell};
use std::io::{self, Read};
use std::rc::Rc;

use super::Locate;

/// Where the parser is in the input, worked out when asked (for a record's line, an error's line
/// or offset) rather than per byte: serde_json pulls its input one byte at a time, so the byte
/// path must do nothing but hand the next byte over.
#[derive(Default)]
pub(super) struct Position {
    /// The chunk being read (a copy of [`Source`]'s, swapped only when a chunk is refilled).
    chunk: RefCell<Rc<[u8]>>,
    /// Offset in the input of the chunk's first byte.
    base: Cell<u64>,
    /// Bytes of the chunk the parser has consumed.
    at: Cell<usize>,
    /// Newlines in the input before `base + counted`.
    newlines: Cell<u64>,
    counted: Cell<usize>,
    /// Offset of the last [`Position::mark_document`], and whether anything but whitespace was
    /// consumed between it and the start of the current chunk.
    mark: Cell<u64>,
    content_before_chunk: Cell<bool>,
    /// Offset at which the last record was made (or the last document began).
    record_mark: Cell<u64>,
    /// Bytes of the input left out of what the parser reads (at, length): the events of a page
    /// delivered already ([`super::scan::Rest`]). Offsets from `at` on are `length` further on in
    /// the input; everything else here counts what the parser read.
    gap: Cell<(u64, u64)>,
}

impl Locate for Position {
    /// The offset in the input of the next byte.
    fn offset(&self) -> u64 {
        let consumed = self.consumed();
        match self.gap.get() {
            (at, len) if consumed >= at => consumed + len,
            _ => consumed,
        }
    }

    /// The line the parser is on.
    fn line(&self) -> u64 {
        let (from, to) = (self.counted.get(), self.at.get());
        if from < to {
            let chunk = self.chunk.borrow();
            let n = memchr::memchr_iter(b'\n', &chunk[from..to]).count() as u64;
            self.newlines.set(self.newlines.get() + n);
        }
        self.counted.set(to);
        self.newlines.get() + 1
    }

    fn record_made(&self) {
        self.record_mark.set(self.consumed());
    }
}

impl Position {
    /// A position for a reader whose first byte is at `offset` on `line` of the input.
    pub(super) fn starting_at(offset: u64, line: u64) -> Position {
        let pos = Position::default();
        pos.base.set(offset);
        pos.newlines.set(line - 1);
        pos.mark.set(offset);
        pos.record_mark.set(offset);
        pos
    }

    /// This position, for a reader that leaves out `len` bytes of the input after reading up to
    /// offset `at`.
    pub(super) fn with_gap(self, at: u64, len: u64) -> Position {
        self.gap.set((at, len));
        self
    }

    /// Bytes the parser has read (offsets before any gap).
    fn consumed(&self) -> u64 {
        self.base.get() + self.at.get() as u64
    }

    pub(super) fn mark_document(&self) {
        self.mark.set(self.consumed());
        self.content_before_chunk.set(false);
        self.record_mark.set(self.consumed());
    }

    /// Was anything but whitespace consumed since the last [`Position::mark_document`]?
    pub(super) fn content_since_mark(&self) -> bool {
        self.content_before_chunk.get() || {
            let chunk = self.chunk.borrow();
            let from = self.mark.get().saturating_sub(self.base.get()) as usize;
            let to = self.at.get();
            from < to && chunk[from..to].iter().any(|b| !b.is_ascii_whitespace())
        }
    }

    /// The parser consumed the whole chunk; `next` follows it.
    fn advance(&self, next: Rc<[u8]>) {
        self.at.set(self.chunk.borrow().len());
        self.line();
        if !self.content_before_chunk.get() {
            let c = self.content_since_mark();
            self.content_before_chunk.set(c);
        }
        self.base.set(self.consumed());
        self.at.set(0);
        self.counted.set(0);
        *self.chunk.borrow_mut() = next;
    }
}

/// A single JSON value (one event, one CloudTrail record, one payload) is far below this; a string
/// that never ends is not read into memory past it.
const MAX_VALUE_BYTES: u64 = 256 << 20;

/// What serde_json reads from: the (lossy UTF-8) input in chunks, handed over a byte at a time.
pub(super) struct Source<R> {
    inner: LossyUtf8<R>,
    chunk: Rc<[u8]>,
    at: usize,
    pos: Rc<Position>,
}

impl<R: Read> Source<R> {
    pub(super) fn new(inner: R, pos: Rc<Position>) -> Self {
        Source {
            inner: LossyUtf8::new(inner),
            chunk: Rc::from(Vec::new()),
            at: 0,
            pos,
        }
    }

    /// Moves to the next chunk; false at the end of the input.
    fn refill(&mut self) -> io::Result<bool> {
        let p = &self.pos;
        if p.consumed() - p.record_mark.get() > MAX_VALUE_BYTES {
            return Err(io::Error::other(format!(
                "no event in {} MiB (a string that never ends?)",
                MAX_VALUE_BYTES >> 20
            )));
        }
        let next = self.inner.next_chunk()?;
        if next.is_empty() {
            return Ok(false);
        }
        self.chunk = Rc::from(next);
        self.at = 0;
        p.advance(self.chunk.clone());
        Ok(true)
    }

    /// Is the byte just read a `{` or `[` that starts a line?
    pub(super) fn at_document_start(&self) -> bool {
        self.at >= 2
            && matches!(self.chunk[self.at - 1], b'{' | b'[')
            && self.chunk[self.at - 2] == b'\n'
    }

    /// Gives back the byte just read (the `{` or `[` a resync stopped at).
    pub(super) fn unread(&mut self) {
        self.at -= 1;
        self.pos.at.set(self.at);
        self.pos.counted.set(self.pos.counted.get().min(self.at));
    }
}

impl<R: Read> Read for Source<R> {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // serde_json asks for one byte at a time: the common case, kept to a load and a store.
        if let ([out], Some(&b)) = (&mut *buf, self.chunk.get(self.at)) {
            *out = b;
            self.at += 1;
            self.pos.at.set(self.at);
            return Ok(1);
        }
        self.read_chunked(buf)
    }
}

impl<R: Read> Source<R> {
    #[inline(never)]
    fn read_chunked(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.at >= self.chunk.len() && !self.refill()? {
            return Ok(0);
        }
        let n = buf.len().min(self.chunk.len() - self.at);
        buf[..n].copy_from_slice(&self.chunk[self.at..self.at + n]);
        self.at += n;
        self.pos.at.set(self.at);
        Ok(n)
    }
}

/// Replaces invalid UTF-8 with U+FFFD on the way to the JSON parser, which would otherwise reject
/// the whole document for one stray byte (cp1252 output of a Windows console, a cut multi-byte
/// character). Valid input passes through unchanged.
struct LossyUtf8<R> {
    inner: R,
    buf: Vec<u8>,
    pos: usize,
    /// An incomplete sequence at the end of the last chunk.
    carry: Vec<u8>,
    eof: bool,
}

impl<R: Read> LossyUtf8<R> {
    fn new(inner: R) -> Self {
        LossyUtf8 {
            inner,
            buf: Vec::new(),
            pos: 0,
            carry: Vec::new(),
            eof: false,
        }
    }

    fn refill(&mut self) -> io::Result<()> {
        self.buf.clear();
        self.pos = 0;
        while self.buf.is_empty() && !self.eof {
            let mut chunk = std::mem::take(&mut self.carry);
            let start = chunk.len();
            chunk.resize(start + 64 * 1024, 0);
            let n = loop {
                match self.inner.read(&mut chunk[start..]) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        chunk.truncate(start);
                        self.carry = chunk;
                        return Err(e);
                    }
                }
            };
            chunk.truncate(start + n);
            if n == 0 {
                self.eof = true;
            }
            if super::text_of(&chunk).is_some() {
                // Valid (nearly always): hand the chunk on as it is.
                self.buf = chunk;
                continue;
            }
            let mut rest = &chunk[..];
            loop {
                match std::str::from_utf8(rest) {
                    Ok(_) => {
                        self.buf.extend_from_slice(rest);
                        break;
                    }
                    Err(e) => {
                        let valid = e.valid_up_to();
                        self.buf.extend_from_slice(&rest[..valid]);
                        match e.error_len() {
                            Some(bad) => {
                                self.buf.extend_from_slice("\u{FFFD}".as_bytes());
                                rest = &rest[valid + bad..];
                            }
                            None if self.eof => {
                                self.buf.extend_from_slice("\u{FFFD}".as_bytes());
                                break;
                            }
                            None => {
                                self.carry = rest[valid..].to_vec();
                                break;
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

impl<R: Read> LossyUtf8<R> {
    /// The next chunk of valid UTF-8; empty at the end of the input.
    fn next_chunk(&mut self) -> io::Result<Vec<u8>> {
        if self.pos >= self.buf.len() {
            self.refill()?;
        }
        let mut chunk = std::mem::take(&mut self.buf);
        if self.pos > 0 {
            chunk.drain(..self.pos.min(chunk.len()));
        }
        self.pos = 0;
        Ok(chunk)
    }
}
