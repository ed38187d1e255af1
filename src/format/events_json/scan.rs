//! A hand reader of `filter-log-events` / `get-log-events` pages held in memory: the hot path of
//! every JSON input, with serde_json behind it for everything else.
//!
//! Why by hand: parsing the container with serde_json was 63 % of the instructions of a run on a
//! 16 MiB `filter-log-events` file (719 M of 1,138 M, callgrind, `-j 1`; benches/HISTORY.md,
//! "JSON vs ripgrep"), all of it on one thread: every page is first skipped as a `RawValue` (to know
//! where it is), every event skipped again, then parsed from its own slice into `Value`s, each
//! message a `String` of its own. A page is a flat, known shape: an object whose `events` array
//! holds objects of string and integer members. This reader walks the bytes once, reads the five
//! members an event has (`logStreamName`, `timestamp`, `message`, `ingestionTime`, `eventId`),
//! copies a message without a backslash as it is and unescapes one with escapes (every JSON escape,
//! `\uXXXX` and surrogate pairs, as serde_json does), and counts lines in the whitespace between
//! tokens (a JSON string holds no raw newline).
//!
//! Whenever it answers, the answer is serde_json's; wherever it is not certain, it gives up on the
//! page and serde_json decodes it ([`super::memory`]): same records, same errors, same positions.
//! It gives up on any document that is not an object, any key it does not know (at the top:
//! `events`, `searchedLogStreams`, `nextToken`, `nextForwardToken`, `nextBackwardToken`), a key
//! with an escape or given twice, a member of another type (a `null` message, a string
//! timestamp), nesting deeper than a `searchedLogStreams` needs, a number that is not a plain
//! integer of up to 18 digits, a `\u` escape of a lone surrogate, a control byte in a string,
//! anything after a value but `,` and the closing bracket, and the end of the input inside a page.
//! Syntax errors are found the same way: the reader gives up, and serde_json reports them.
//!
//! Records of a page are delivered as they are read (a page can be the whole multi-gigabyte
//! input: the CLI merges every page of `filter-log-events` into one document). When the reader
//! gives up after some were delivered, serde_json decodes the page again from its start and the
//! records it makes that were already delivered are dropped ([`Stopped::delivered`]). On a
//! stream, a page is read a window at a time: a window cut inside its events ends at the start
//! of its last event read whole ([`Mark`]), where the next window takes the page up again
//! ([`Scan::resume`]). Should serde_json have to take over such a page, it is given the page's
//! head (up to the `[` of its events), as many newlines as the events left out held, and the
//! rest from the last event read whole ([`Open`]): the same page to serde_json, from the same
//! lines, less events it would only have made to drop; offsets past the gap are corrected
//! (`stream::Position::with_gap`).
//!
//! The input must be valid UTF-8 (the caller checks it once, as `super::decode_slice`, the
//! tests' reader, does): a string is then valid UTF-8 wherever it ends at a quote.

use std::borrow::Cow;
use std::io::Read;
use std::num::NonZeroU64;

use rustc_hash::FxHashMap;

use super::memory::{self, Fault, Position};
use super::{MAX_DOCUMENT, Skip, Walker};
use crate::format::Record;

/// Reads the documents of `data` from `from` on (for [`memory::walk_with`]): each with this
/// reader, or with serde_json where it gives up. Stops at the end (`None`) or at the first fault.
/// With `ahead`, the events of a page read ahead are taken wherever the reader reaches the start
/// of a run of them (see [`Ahead`]).
pub(super) fn documents_ahead<'d>(
    text: &'d str,
    from: usize,
    pos: &Position,
    w: &mut Walker<'_, 'd>,
    ahead: Option<&mut dyn Ahead<'d>>,
) -> Option<Fault> {
    let data = text.as_bytes();
    let mut scan = Scan::borrowing(text);
    scan.ahead = ahead;
    let mut done = from;
    loop {
        scan.seek(done, pos.line_at(done));
        scan.ws()?;
        let last_line = w.last_line;
        match scan.document(Skip::default(), w) {
            Ok(()) => {
                done = scan.at;
                pos.note_line(done, scan.line());
            }
            Err(stopped) => {
                let skip = Skip {
                    records: stopped.delivered,
                    last_line,
                };
                match memory::document(data, done, pos, w, skip) {
                    Ok(end) => done = end,
                    Err(fault) => return Some(fault),
                }
            }
        }
    }
}

/// Bytes asked of a stream at a time.
const READ_BYTES: usize = 1 << 20;

/// A stream read in windows that end where a document ends ([`super::scan_stream`]), or, in a
/// page of events, where an event ends: the CLI merges every page of `filter-log-events` into one
/// document, so a piped page is often the whole input. Such a page is read a window at a time and
/// taken up again, in the next window, at the start of its last event read whole ([`Open`]).
pub(super) struct Windows {
    /// Bytes asked of the stream at a time ([`READ_BYTES`]; small in tests).
    read_bytes: usize,
    /// The longest document (or event, in a page taken up again) read by hand
    /// ([`MAX_DOCUMENT`]).
    max_document: usize,
    /// The window: input from `offset` on.
    pub(super) buf: Window,
    offset: u64,
    /// The line of `buf[0]`.
    line: u64,
    eof: bool,
    /// Records of the document at `buf[0]` delivered already (it did not end in the window).
    skip: Skip,
    /// The page `buf[0]` is inside of, when a window ended in its events.
    open: Option<Open>,
}

/// A page of events cut by the end of a window: what is needed to read on at the start of its
/// last event read whole, by hand or, if the reader gives up on the rest, by serde_json.
pub(super) struct Open {
    /// Its bytes from its first one to the `[` of its `events`: serde_json is given them again,
    /// then as many newlines as the events read before held, then the rest, so that it reads the
    /// same page from the same lines, less the events delivered already (a few bytes, whatever
    /// the page's length).
    head: Vec<u8>,
    /// The offset and line of its first byte.
    offset: u64,
    line: u64,
    /// The line of its `events` array's `[`.
    events_line: u64,
    /// Its keys before `events` (and `events`).
    seen: u8,
}

/// Where serde_json takes over: the rest of the input from `buf[at]`, at `offset` and on `line`
/// of the input; the first records it makes were delivered already. Inside a page taken up again,
/// `head` comes first (see [`Open::head`]), the offset and line are those of its first byte, and
/// the `gap` bytes of the input after it are left out.
pub(super) struct Rest {
    pub(super) head: Vec<u8>,
    pub(super) gap: u64,
    pub(super) at: usize,
    pub(super) offset: u64,
    pub(super) line: u64,
    pub(super) skip: Skip,
}

impl Default for Windows {
    fn default() -> Self {
        Windows::new(READ_BYTES, MAX_DOCUMENT)
    }
}

impl Windows {
    pub(super) fn new(read_bytes: usize, max_document: usize) -> Self {
        Windows {
            read_bytes,
            max_document,
            buf: Window::default(),
            offset: 0,
            line: 1,
            eof: false,
            skip: Skip::default(),
            open: None,
        }
    }

    /// Reads documents by hand, a window at a time, until the end of the input (`None`) or the
    /// first document that serde_json must read.
    pub(super) fn read(
        &mut self,
        input: &mut dyn Read,
        w: &mut Walker<'_, 'static>,
    ) -> Option<Rest> {
        loop {
            self.fill(input);
            // Out of `self` while it is read, so that its text can be borrowed beside `self`.
            let buf = std::mem::take(&mut self.buf);
            // A multi-byte character cut by the read completes in the next window.
            let (text, invalid) = match super::text_of(buf.bytes()) {
                Some(text) => (text, false),
                None => valid_part(buf.bytes(), self.eof),
            };
            let valid = text.len();
            let more = !self.eof && !invalid;
            // Up to where the last document probably starts: it is read once whole, unless the
            // window is as long as a document may be. With no such start (one page, or compact
            // documents on one line) and inside a page taken up again, as far as the window goes:
            // a page cut in its events is taken up again where it was cut, not read twice.
            // (A document starts at a bracket: a character boundary.)
            let end = match more && buf.len() < self.max_document && self.open.is_none() {
                true => likely_last_start(text.as_bytes()).unwrap_or(valid),
                false => valid,
            };
            let (done, line, stopped) = self.documents(&text[..end], w);
            self.buf = buf;
            match stopped {
                None if valid == self.buf.len() && self.eof => return None,
                Some(s) if s.why == Stop::GiveUp => return Some(self.rest(done, line, s.skip)),
                Some(s) if !more || self.buf.len() - done >= self.max_document => {
                    return Some(self.rest(done, line, s.skip));
                }
                None if !more => return Some(self.rest(done, line, Skip::default())),
                Some(s) => self.skip = s.skip,
                // Only whitespace before the guessed start: the document there is still to read.
                None => {}
            }
            self.buf.consume(done);
            self.offset += done as u64;
            self.line = line;
        }
    }

    /// Where serde_json takes over: at `buf[done]`, on `line`, after the head of the page it is
    /// inside of, if any.
    fn rest(&mut self, done: usize, line: u64, skip: Skip) -> Rest {
        let at_offset = self.offset + done as u64;
        match self.open.take() {
            None => Rest {
                head: Vec::new(),
                gap: 0,
                at: done,
                offset: at_offset,
                line,
                skip,
            },
            Some(open) => {
                let mut head = open.head;
                let newlines = line - open.events_line;
                head.resize(head.len() + newlines as usize, b'\n');
                Rest {
                    gap: at_offset - open.offset - head.len() as u64,
                    offset: open.offset,
                    head,
                    at: done,
                    line: open.line,
                    skip,
                }
            }
        }
    }

    /// Reads the whole documents in `text` (the window, up to where it is read). Returns where the first one that is not
    /// whole (or that the reader gave up on) starts (or, in a page cut in its events, where its
    /// last event read whole starts), its line, and why it stopped there (`None`: nothing but
    /// whitespace is left).
    fn documents(&mut self, text: &str, w: &mut Walker<'_, 'static>) -> (usize, u64, Option<Halt>) {
        let mut scan = Scan::owning(text, self.offset);
        let (mut done, mut line) = (0, self.line);
        loop {
            scan.seek(done, line);
            let skip = std::mem::take(&mut self.skip);
            let last_line = if skip.records > 0 {
                skip.last_line
            } else {
                w.last_line
            };
            let read = match &self.open {
                Some(open) => scan.resume(open.seen, skip, w),
                None if scan.ws().is_none() => return (done, line, None),
                None => scan.document(skip, w),
            };
            match read {
                Ok(()) => {
                    done = scan.at;
                    line = scan.line();
                    self.open = None;
                }
                // Cut by the end of the window after an event of a page: read on from there.
                Err(stopped) if stopped.why == Stop::End && scan.mark.is_some() => {
                    let mark = scan.mark.unwrap_or_else(|| unreachable!());
                    if self.open.is_none() {
                        self.open = scan.events_at.map(|e| Open {
                            head: text.as_bytes()[done..e.after_bracket].to_vec(),
                            offset: self.offset + done as u64,
                            line,
                            events_line: e.line,
                            seen: e.seen,
                        });
                    }
                    let skip = Skip {
                        records: 1,
                        last_line: mark.last_line,
                    };
                    return (
                        mark.at,
                        mark.line,
                        Some(Halt {
                            why: Stop::End,
                            skip,
                        }),
                    );
                }
                Err(stopped) => {
                    let halt = Halt {
                        why: stopped.why,
                        // A window cut short by a guessed document start may stop before
                        // the records delivered from a longer one.
                        skip: Skip {
                            records: stopped.delivered.max(skip.records),
                            last_line,
                        },
                    };
                    return (done, line, Some(halt));
                }
            }
        }
    }

    /// Reads [`READ_BYTES`] more, unless the input ends first. A read error ends the input (the
    /// reader below reports it).
    fn fill(&mut self, input: &mut dyn Read) {
        let want = self.buf.len() + self.read_bytes;
        while !self.eof && self.buf.len() < want {
            match input.read(self.buf.room(want)) {
                Ok(0) => self.eof = true,
                Ok(n) => self.buf.filled(n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(_) => self.eof = true,
            }
        }
    }
}

/// The bytes of a window, in a buffer kept at its longest: a read needs initialised room, and
/// zeroing a fresh 1 MiB before every read was a tenth of what stdin JSON cost beyond a mapped
/// file (17.8 M instructions of `memset` on 16 MiB).
#[derive(Default)]
pub(super) struct Window {
    buf: Vec<u8>,
    len: usize,
}

impl Window {
    /// The bytes read and not consumed.
    pub(super) fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Room after the bytes, up to `want` in all (grown with zeros only past the longest the
    /// window has been).
    fn room(&mut self, want: usize) -> &mut [u8] {
        if self.buf.len() < want {
            self.buf.resize(want, 0);
        }
        &mut self.buf[self.len..want]
    }

    /// `n` bytes of the room were read into.
    fn filled(&mut self, n: usize) {
        self.len += n;
    }

    /// Drops the first `n` bytes.
    fn consume(&mut self, n: usize) {
        self.buf.copy_within(n..self.len, 0);
        self.len -= n;
    }
}

/// Where the last document of `window` probably starts: at the last line that starts with `{`
/// or `[` (pretty-printed pages and JSON lines start every document so, and nothing inside them
/// starts a line with a bracket but nested arrays of compact JSON). Reading only up to there
/// spares reading a page cut by the window twice; a wrong guess costs only that.
fn likely_last_start(window: &[u8]) -> Option<usize> {
    memchr::memrchr2_iter(b'{', b'[', window).find(|&i| i > 0 && window[i - 1] == b'\n')
}

/// Why a window's documents stopped.
#[derive(Clone, Copy)]
struct Halt {
    why: Stop,
    skip: Skip,
}

/// The UTF-8 text a window that is not all UTF-8 starts with, and whether the rest is invalid
/// (not a character cut by the end of the window, which completes in the next one, unless the
/// input ends there: `eof`).
fn valid_part(bytes: &[u8], eof: bool) -> (&str, bool) {
    match std::str::from_utf8(bytes) {
        Ok(text) => (text, false),
        Err(e) => (
            // Checked once more up to there only: rare, a window is checked once.
            std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or_else(|_| unreachable!()),
            e.error_len().is_some() || eof,
        ),
    }
}

/// Why the reader stopped inside a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stop {
    /// Something only serde_json can tell (or a syntax error, which it reports).
    GiveUp,
    /// The input ends inside the document.
    End,
}

/// Where the reader stopped: why, and how many records of the document it delivered before.
#[derive(Debug, Clone, Copy)]
pub(super) struct Stopped {
    pub(super) why: Stop,
    pub(super) delivered: u64,
}

type Step<T> = Result<T, Stop>;

/// The records of the document being read: how many it has made so far, and which of them are
/// not to be made again (`skip`, delivered already).
struct Tally {
    skip: Skip,
    delivered: u64,
    /// The line the walker gave the last record skipped (the records after are numbered on from
    /// it, as they were the first time).
    last_line: u64,
}

impl Tally {
    fn new(skip: Skip) -> Tally {
        Tally {
            skip,
            delivered: 0,
            last_line: skip.last_line,
        }
    }

    fn stopped(&self, why: Stop) -> Stopped {
        Stopped {
            why,
            delivered: self.delivered,
        }
    }
}

/// How deep a value the reader skips may nest (`searchedLogStreams`: an array of flat objects).
const MAX_SKIP_DEPTH: u32 = 4;

/// The reader over one input held in memory.
pub(super) struct Scan<'a, 'd, 'r> {
    /// The input (valid UTF-8), and its bytes.
    text: &'d str,
    data: &'d [u8],
    /// The next byte to read.
    pub(super) at: usize,
    /// Newlines before `at` since [`Scan::line_base`] was set.
    newlines: u64,
    /// The line of the byte where counting started (1-based).
    line_base: u64,
    /// Offset of `data[0]` in the input.
    offset_base: u64,
    /// The `events` array of the page being read, once its `[` is read.
    events_at: Option<EventsAt>,
    /// The last event of that page read whole: where a page cut by the end of a window is taken
    /// up again ([`Windows`]).
    pub(super) mark: Option<Mark>,
    /// Runs of events read ahead on other threads (a mapped file read in parallel).
    ahead: Option<&'a mut dyn Ahead<'d>>,
    /// How a record read here, which borrows its message and stream name from the input where
    /// they have no escape, reaches the walker: as it is (a mapped file, which outlives the
    /// records) or copied (a stream's window, which the next read overwrites).
    lift: fn(Record<'d>) -> Record<'r>,
    /// Where strings with escapes are decoded ([`Scan::escaped`]).
    scratch: String,
    /// The stream names read, each with its key ([`Record::stream_key`]).
    names: Names<'d>,
}

/// Stream names a reader has met, at most this many at once (then it starts over: a key only
/// has to be the same for the same name often, not always).
const MAX_NAMES: usize = 4096;

/// The stream names a reader has met, each with the key of the first record that carried it:
/// the offset of its first occurrence in the input ([`Record::stream_key`]).
///
/// Why: the serial fold looks each record's stream up by name, and the name is a slice of the
/// input, read here megabytes earlier (often on another thread) and out of the fold's caches
/// by the time it is compared. Here the name is in this core's cache: a compare with the last
/// name (events of one stream come in runs) or a hash of it costs little, and the fold then
/// compares integers.
#[derive(Default)]
struct Names<'d> {
    last: Option<(&'d str, NonZeroU64)>,
    seen: FxHashMap<&'d str, NonZeroU64>,
}

impl<'d> Names<'d> {
    /// The key of `name`, which is at `offset` in the input (past a quote: never 0).
    fn key(&mut self, name: &'d str, offset: u64) -> Option<NonZeroU64> {
        if let Some((last, key)) = self.last
            && last == name
        {
            return Some(key);
        }
        let key = match self.seen.get(name) {
            Some(&key) => key,
            None => {
                if self.seen.len() >= MAX_NAMES {
                    self.seen.clear();
                }
                let key = NonZeroU64::new(offset)?;
                self.seen.insert(name, key);
                key
            }
        };
        self.last = Some((name, key));
        Some(key)
    }
}

/// Where the `events` array of a page opens: just after its `[`, on `line`, after the page's
/// other keys `seen` (bits, as [`Scan::members`] counts them).
#[derive(Clone, Copy, Debug)]
pub(super) struct EventsAt {
    pub(super) after_bracket: usize,
    pub(super) line: u64,
    pub(super) seen: u8,
}

/// The start of an event read whole (its `{`, on `line`), and the walker's last line from before
/// its record was made (see [`Skip`]).
#[derive(Clone, Copy, Debug)]
pub(super) struct Mark {
    pub(super) at: usize,
    pub(super) line: u64,
    pub(super) last_line: u64,
}

/// The members of one event read so far.
#[derive(Default)]
struct Event<'d> {
    line: u64,
    message: Option<Cow<'d, [u8]>>,
    timestamp: Option<i64>,
    stream: Option<Cow<'d, str>>,
    stream_key: Option<NonZeroU64>,
    seen: u8,
}

impl<'a, 'd> Scan<'a, 'd, 'd> {
    /// A reader of `text`, the whole input (a mapped file: its first byte at offset 0), whose
    /// records borrow from it.
    pub(super) fn borrowing(text: &'d str) -> Self {
        Scan::new(text, 0, |r| r)
    }
}

impl<'a, 'd> Scan<'a, 'd, 'static> {
    /// A reader of `text`, whose first byte is at `offset_base` in the input, whose records own
    /// their bytes.
    pub(super) fn owning(text: &'d str, offset_base: u64) -> Self {
        Scan::new(text, offset_base, Record::into_owned)
    }
}

impl<'a, 'd, 'r> Scan<'a, 'd, 'r> {
    fn new(text: &'d str, offset_base: u64, lift: fn(Record<'d>) -> Record<'r>) -> Self {
        Scan {
            text,
            data: text.as_bytes(),
            at: 0,
            newlines: 0,
            line_base: 1,
            offset_base,
            events_at: None,
            mark: None,
            ahead: None,
            lift,
            scratch: String::new(),
            names: Names::default(),
        }
    }

    /// Moves to `at`, which is on line `line`.
    pub(super) fn seek(&mut self, at: usize, line: u64) {
        self.at = at;
        self.newlines = 0;
        self.line_base = line;
    }

    /// The line the reader is on.
    pub(super) fn line(&self) -> u64 {
        self.line_base + self.newlines
    }

    /// Skips JSON's whitespace (space, tab, CR, LF), counting newlines. Returns the byte after it.
    #[inline]
    pub(super) fn ws(&mut self) -> Option<u8> {
        const SPACES: u64 = 0x2020_2020_2020_2020;
        loop {
            // Runs of spaces (pretty-printed indentation) eight bytes at a time.
            if let Some(chunk) = self.data.get(self.at..self.at + 8) {
                let x = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8])) ^ SPACES;
                self.at += (x.trailing_zeros() / 8) as usize;
            }
            match *self.data.get(self.at)? {
                b' ' | b'\t' | b'\r' => self.at += 1,
                b'\n' => {
                    self.at += 1;
                    self.newlines += 1;
                }
                b => return Some(b),
            }
        }
    }

    /// The next byte after whitespace, which must be `want`; consumed.
    #[inline]
    fn expect(&mut self, want: u8) -> Step<()> {
        match self.ws() {
            Some(b) if b == want => {
                self.at += 1;
                Ok(())
            }
            Some(_) => Err(Stop::GiveUp),
            None => Err(Stop::End),
        }
    }

    /// After a member or element: `,` (true, consumed) or `close` (false, consumed).
    #[inline]
    fn next_or_close(&mut self, close: u8) -> Step<bool> {
        match self.ws() {
            Some(b',') => {
                self.at += 1;
                Ok(true)
            }
            Some(b) if b == close => {
                self.at += 1;
                Ok(false)
            }
            Some(_) => Err(Stop::GiveUp),
            None => Err(Stop::End),
        }
    }

    /// Reads the document at the reader (after whitespace, a byte that is not whitespace) if it
    /// is a page of events, handing each event to `w` but the first `skip.records`. On success the
    /// reader is just past the document.
    pub(super) fn document(&mut self, skip: Skip, w: &mut Walker<'_, 'r>) -> Result<(), Stopped> {
        self.events_at = None;
        self.mark = None;
        let mut read = Tally::new(skip);
        self.page(&mut read, w).map_err(|why| read.stopped(why))
    }

    /// Takes up again a page whose events the reader left at the reader (at the start of an
    /// event it read whole, which `skip` counts), `seen` its keys before `events`: the rest of
    /// its events, then the rest of the page, as [`Scan::document`] would have read them.
    pub(super) fn resume(
        &mut self,
        seen: u8,
        skip: Skip,
        w: &mut Walker<'_, 'r>,
    ) -> Result<(), Stopped> {
        self.events_at = None;
        self.mark = None;
        let mut read = Tally::new(skip);
        self.items(&mut read, w)
            .and_then(|()| self.members(seen, &mut read, w))
            .map_err(|why| read.stopped(why))
    }

    fn page(&mut self, read: &mut Tally, w: &mut Walker<'_, 'r>) -> Step<()> {
        self.expect(b'{')?;
        if self.ws() == Some(b'}') {
            // `{}`: no records.
            self.at += 1;
            return Ok(());
        }
        self.member(0, read, w)
    }

    /// After a member: the others, up to the page's closing `}`.
    fn members(&mut self, seen: u8, read: &mut Tally, w: &mut Walker<'_, 'r>) -> Step<()> {
        match self.next_or_close(b'}')? {
            true => self.member(seen, read, w),
            false => Ok(()),
        }
    }

    /// The members of a page from the next key on (`seen`: the keys before).
    fn member(&mut self, mut seen: u8, read: &mut Tally, w: &mut Walker<'_, 'r>) -> Step<()> {
        loop {
            let key = self.key()?;
            self.expect(b':')?;
            let bit = match key {
                b"events" => 0,
                b"searchedLogStreams" => 1,
                b"nextToken" => 2,
                b"nextForwardToken" => 3,
                b"nextBackwardToken" => 4,
                _ => return Err(Stop::GiveUp),
            };
            if seen & (1 << bit) != 0 {
                return Err(Stop::GiveUp);
            }
            seen |= 1 << bit;
            if bit == 0 {
                self.events(seen, read, w)?;
            } else {
                self.skip_value(0)?;
            }
            if !self.next_or_close(b'}')? {
                return Ok(());
            }
        }
    }

    /// The `events` array.
    fn events(&mut self, seen: u8, read: &mut Tally, w: &mut Walker<'_, 'r>) -> Step<()> {
        self.expect(b'[')?;
        self.events_at = Some(EventsAt {
            after_bracket: self.at,
            line: self.line(),
            seen,
        });
        if self.ws() == Some(b']') {
            self.at += 1;
            return Ok(());
        }
        self.items(read, w)
    }

    /// The events of an array from the next one on, up to its closing `]`. Each event read whole
    /// becomes the [`Mark`].
    fn items(&mut self, read: &mut Tally, w: &mut Walker<'_, 'r>) -> Step<()> {
        loop {
            self.ws().ok_or(Stop::End)?;
            let (at, line) = (self.at, self.line());
            let keep = read.delivered >= read.skip.records;
            if let Some(run) = self
                .ahead
                .as_mut()
                .filter(|_| keep)
                .and_then(|a| a.take(at))
            {
                self.take_run(run, line, read, w);
                if !self.next_or_close(b']')? {
                    return Ok(());
                }
                continue;
            }
            let before = if keep { w.last_line } else { read.last_line };
            let event = self.event(keep)?;
            match event {
                Ok(r) => {
                    let r = w.stamp((self.lift)(r));
                    w.deliver(r);
                }
                // Not made again: numbered as the walker numbered it the first time.
                Err(line) => read.last_line = line.max(read.last_line + 1),
            }
            self.mark = Some(Mark {
                at,
                line,
                last_line: before,
            });
            read.delivered += 1;
            if !self.next_or_close(b']')? {
                return Ok(());
            }
        }
    }

    /// Delivers a run of events read ahead from the reader's position (on `line`), as
    /// [`Scan::items`] would have read them one by one, and moves past its last one.
    fn take_run(&mut self, run: Run<'d>, line: u64, read: &mut Tally, w: &mut Walker<'_, 'r>) {
        let base = line - 1;
        let mut before = w.last_line;
        read.delivered += run.records.len() as u64;
        for mut r in run.records {
            before = w.last_line;
            r.line += base;
            let r = w.stamp((self.lift)(r));
            w.deliver(r);
        }
        self.mark = Some(Mark {
            at: run.last.0,
            line: run.last.1 + base,
            last_line: before,
        });
        self.at = run.end;
        self.newlines += run.newlines;
    }

    /// One event object, as a record (when `keep` is false: read, checked, not made; the line
    /// of its message instead).
    fn event(&mut self, keep: bool) -> Step<Result<Record<'d>, u64>> {
        self.expect(b'{')?;
        prefetch(self.data, self.at + PREFETCH_AHEAD);
        // serde_json's walker places an element just after its opening bracket.
        let offset = self.offset_base + self.at as u64;
        let mut ev = Event::default();
        loop {
            let key = self.event_key()?;
            let line = self.line();
            self.expect(b':')?;
            let bit = match key {
                b"message" => {
                    ev.line = line;
                    ev.message = Some(match self.string_value(keep)? {
                        Cow::Borrowed(s) => Cow::Borrowed(s.as_bytes()),
                        Cow::Owned(s) => Cow::Owned(s.into_bytes()),
                    });
                    0
                }
                b"timestamp" => {
                    ev.timestamp = Some(self.integer()?);
                    1
                }
                b"logStreamName" => {
                    let name = self.string_value(keep)?;
                    if let (true, Cow::Borrowed(name)) = (keep, &name) {
                        // Just past its closing quote.
                        let at = (self.at - 1 - name.len()) as u64;
                        ev.stream_key = self.names.key(name, self.offset_base + at);
                    }
                    ev.stream = Some(name);
                    2
                }
                b"ingestionTime" => {
                    self.integer()?;
                    3
                }
                b"eventId" => {
                    self.string_value(false)?;
                    4
                }
                _ => return Err(Stop::GiveUp),
            };
            if ev.seen & (1 << bit) != 0 {
                return Err(Stop::GiveUp);
            }
            ev.seen |= 1 << bit;
            if !self.next_or_close(b'}')? {
                break;
            }
        }
        // An event without a message is no record to serde_json's walker either, but the rules
        // for what else it may be are its own.
        let Some(message) = ev.message else {
            return Err(Stop::GiveUp);
        };
        if !keep {
            return Ok(Err(ev.line));
        }
        Ok(Ok(Record {
            line: ev.line,
            offset,
            timestamp: ev.timestamp.map(epoch_ms),
            stream: ev.stream,
            group: None,
            message,
            stream_key: ev.stream_key,
        }))
    }

    /// The key of an event's member, as [`Scan::key`] reads it. Hot path (five keys an event,
    /// 31 M of 600 M instructions on 16 MiB when read byte by byte): the keys of an event are
    /// told by their first letter and compared whole, with their closing quote (as arrays of a
    /// known length: a comparison of a length known only at run time called `memcmp`, 8 M);
    /// any other key is read as any key is.
    #[inline]
    fn event_key(&mut self) -> Step<&'d [u8]> {
        if self.ws() == Some(b'"') {
            let from = self.at + 1;
            let len = match self.data.get(from) {
                Some(b'm') => self.length_at(from, b"message\""),
                Some(b't') => self.length_at(from, b"timestamp\""),
                Some(b'l') => self.length_at(from, b"logStreamName\""),
                Some(b'i') => self.length_at(from, b"ingestionTime\""),
                Some(b'e') => self.length_at(from, b"eventId\""),
                _ => None,
            };
            if let Some(len) = len {
                self.at = from + len;
                return Ok(&self.data[from..from + len - 1]);
            }
        }
        self.key()
    }

    /// The length of `text` if it is at `at`.
    #[inline]
    fn length_at<const N: usize>(&self, at: usize, text: &[u8; N]) -> Option<usize> {
        self.data
            .get(at..at + N)
            .is_some_and(|b| b == text)
            .then_some(N)
    }

    /// A key without escapes (its bytes), up to its closing quote.
    fn key(&mut self) -> Step<&'d [u8]> {
        self.expect(b'"')?;
        let start = self.at;
        let end = self.plain_run(start);
        match self.data.get(end) {
            Some(b'"') => {
                self.at = end + 1;
                Ok(&self.data[start..end])
            }
            Some(_) => Err(Stop::GiveUp),
            None => Err(Stop::End),
        }
    }

    /// The first byte from `from` on that is a quote, a backslash or a control byte (or the end).
    #[inline]
    fn plain_run(&self, from: usize) -> usize {
        plain_run(self.data, from)
    }

    /// A string value (after whitespace), unescaped; empty when `keep` is false (checked only).
    /// Without an escape (nearly always) it is borrowed from the input: no copy, and no UTF-8
    /// check, as the input was checked as a whole and a string ends at a quote (a character
    /// boundary).
    fn string_value(&mut self, keep: bool) -> Step<Cow<'d, str>> {
        self.expect(b'"')?;
        let start = self.at;
        let end = self.plain_run(start);
        match self.data.get(end) {
            Some(b'"') => {
                self.at = end + 1;
                Ok(Cow::Borrowed(match keep {
                    true => self.slice(start, end)?,
                    false => "",
                }))
            }
            Some(b'\\') => self.escaped(start, end, keep).map(Cow::Owned),
            Some(_) => Err(Stop::GiveUp),
            None => Err(Stop::End),
        }
    }

    /// The text from `start` to `end`, both just past or at an ASCII byte (a quote, a
    /// backslash, the end of an escape), so character boundaries: a slice that is not (never)
    /// is left to serde_json rather than a panic.
    #[inline]
    fn slice(&self, start: usize, end: usize) -> Step<&'d str> {
        self.text.get(start..end).ok_or(Stop::GiveUp)
    }

    /// The rest of a string from `start` whose first backslash is at `end`.
    fn escaped(&mut self, start: usize, end: usize, keep: bool) -> Step<String> {
        // Decoded into a buffer kept at its longest, then copied into a string of its length:
        // one allocation, never a growth. (Room reserved up to the next quote instead grew again
        // for most messages, which hold escaped quotes: 24 000 reallocations on 16 MiB.)
        let mut out = std::mem::take(&mut self.scratch);
        out.clear();
        let decoded = self.unescape(start, end, keep, &mut out);
        let string = decoded.map(|()| String::from(out.as_str()));
        self.scratch = out;
        string
    }

    /// Decodes the string from `start`, whose first backslash is at `end`, into `out` (when
    /// `keep`), up to its closing quote.
    fn unescape(&mut self, start: usize, mut end: usize, keep: bool, out: &mut String) -> Step<()> {
        let mut from = start;
        loop {
            if keep {
                out.push_str(self.slice(from, end)?);
            }
            match self.data.get(end) {
                Some(b'"') => {
                    self.at = end + 1;
                    return Ok(());
                }
                Some(b'\\') => from = self.escape(end + 1, out, keep)?,
                Some(_) => return Err(Stop::GiveUp),
                None => return Err(Stop::End),
            }
            end = self.plain_run(from);
        }
    }

    /// The escape after a backslash at `at - 1`, appended to `out` (when `keep`). Returns the
    /// offset after it.
    fn escape(&self, at: usize, out: &mut String, keep: bool) -> Step<usize> {
        let b = *self.data.get(at).ok_or(Stop::End)?;
        let c = match b {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let (c, next) = self.unicode(at + 1)?;
                if keep {
                    out.push(c);
                }
                return Ok(next);
            }
            _ => return Err(Stop::GiveUp),
        };
        if keep {
            out.push(c);
        }
        Ok(at + 1)
    }

    /// The character of a `\u` escape whose hex digits start at `at` (a surrogate pair takes a
    /// second escape). Lone surrogates are left to serde_json.
    fn unicode(&self, at: usize) -> Step<(char, usize)> {
        let hi = self.hex4(at)?;
        match hi {
            0xD800..=0xDBFF => {
                if self.data.len() < at + 6 {
                    return Err(Stop::End);
                }
                if &self.data[at + 4..at + 6] != b"\\u" {
                    return Err(Stop::GiveUp);
                }
                let lo = self.hex4(at + 6)?;
                if !(0xDC00..=0xDFFF).contains(&lo) {
                    return Err(Stop::GiveUp);
                }
                let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                Ok((char::from_u32(c).ok_or(Stop::GiveUp)?, at + 10))
            }
            0xDC00..=0xDFFF => Err(Stop::GiveUp),
            c => Ok((char::from_u32(c).ok_or(Stop::GiveUp)?, at + 4)),
        }
    }

    fn hex4(&self, at: usize) -> Step<u32> {
        let digits = self.data.get(at..at + 4).ok_or(Stop::End)?;
        let mut n = 0;
        for &d in digits {
            let v = (d as char).to_digit(16).ok_or(Stop::GiveUp)?;
            n = n * 16 + v;
        }
        Ok(n)
    }

    /// A plain integer (after whitespace): an optional minus, no leading zero, up to 18 digits,
    /// followed by neither a fraction nor an exponent. Anything else is serde_json's.
    fn integer(&mut self) -> Step<i64> {
        let first = self.ws().ok_or(Stop::End)?;
        let negative = first == b'-';
        let start = self.at + negative as usize;
        let mut end = start;
        let mut n: i64 = 0;
        // Hot path (a timestamp and an ingestion time of 13 digits an event: 16 M of 577 M
        // instructions on 16 MiB read digit by digit): eight digits at a time while they leave
        // room under the 18 allowed, the rest one by one.
        while end - start + 8 <= 18
            && let Some(value) = self.data.get(end..end + 8).and_then(eight_digits)
        {
            n = n * 100_000_000 + value as i64;
            end += 8;
        }
        while let Some(&d) = self.data.get(end) {
            if !d.is_ascii_digit() {
                break;
            }
            // A 19th digit: given up on before it could overflow.
            if end - start == 18 {
                return Err(Stop::GiveUp);
            }
            n = n * 10 + (d - b'0') as i64;
            end += 1;
        }
        let digits = end - start;
        match self.data.get(end) {
            None => return Err(Stop::End),
            Some(b'.' | b'e' | b'E') => return Err(Stop::GiveUp),
            Some(_) => {}
        }
        // `-0` is a float to serde_json; a leading zero is an error.
        if digits == 0 || (self.data[start] == b'0' && (digits > 1 || negative)) {
            return Err(Stop::GiveUp);
        }
        self.at = end;
        Ok(if negative { -n } else { n })
    }

    /// Checks a value it does not keep: strings, plain integers, literals, and arrays and objects
    /// of them up to [`MAX_SKIP_DEPTH`] deep.
    fn skip_value(&mut self, depth: u32) -> Step<()> {
        match self.ws().ok_or(Stop::End)? {
            b'"' => self.string_value(false).map(drop),
            b'-' | b'0'..=b'9' => self.integer().map(drop),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'[' if depth < MAX_SKIP_DEPTH => self.skip_items(b']', |s| s.skip_value(depth + 1)),
            b'{' if depth < MAX_SKIP_DEPTH => self.skip_items(b'}', |s| {
                s.string_value(false)?;
                s.expect(b':')?;
                s.skip_value(depth + 1)
            }),
            _ => Err(Stop::GiveUp),
        }
    }

    /// Skips the items of the array or object that opens at the cursor, up to its `close`.
    fn skip_items(&mut self, close: u8, mut item: impl FnMut(&mut Self) -> Step<()>) -> Step<()> {
        self.at += 1;
        if self.ws() == Some(close) {
            self.at += 1;
            return Ok(());
        }
        loop {
            item(self)?;
            if !self.next_or_close(close)? {
                return Ok(());
            }
        }
    }

    fn literal(&mut self, word: &[u8]) -> Step<()> {
        match self.data.get(self.at..self.at + word.len()) {
            Some(w) if w == word => {
                self.at += word.len();
                Ok(())
            }
            Some(_) => Err(Stop::GiveUp),
            None => Err(Stop::End),
        }
    }
}

/// How far ahead of an event the reader asks for the input to be brought into the cache: about
/// ten events of the CLI's pages.
const PREFETCH_AHEAD: usize = 4096;

/// Asks for the cache line of `data[at]` (if there is one) to be brought into the cache.
///
/// Why: the reader is bound by loads of the input, most where it enters a new page of memory (the
/// hardware prefetchers stay within a page), for which it waits on a page walk and memory.
#[inline]
fn prefetch(data: &[u8], at: usize) {
    #[cfg(target_arch = "x86_64")]
    if let Some(byte) = data.get(at) {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: a prefetch is a hint: it never faults and changes nothing the program can
        // read; the pointer is into `data`.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(byte).cast::<i8>()) }
    }
    // Elsewhere a no-op (the arguments are used, so no target warns).
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (data, at);
}

/// The first byte of `d` from `from` on that is a quote, a backslash or a control byte (or the
/// end): where a run of a string's plain bytes ends.
///
/// Hot path (every string of every event, and the runs between a message's escapes: 20 M of
/// 577 M instructions on 16 MiB as eight-byte words alone). On x86-64 sixteen bytes at a time
/// with SSE2 compares (about half the instructions; the compiler did not vectorise the same
/// test written as a loop over the bytes), then the words and bytes of the rest.
#[inline]
fn plain_run(d: &[u8], from: usize) -> usize {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE2 is part of the x86-64 baseline (every x86-64 CPU has it, and the compiler
    // assumes it for every x86-64 target); the function reads only through a checked slice.
    let from = match unsafe { plain_run_sse2(d, from) } {
        Ok(at) => return at,
        Err(rest) => rest,
    };
    plain_run_words(d, from)
}

/// [`plain_run`] sixteen bytes at a time while sixteen remain: `Ok` where the run ends, or `Err`
/// where fewer than sixteen bytes are left.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
fn plain_run_sse2(d: &[u8], from: usize) -> Result<usize, usize> {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set_epi64x,
        _mm_set1_epi8,
    };
    let mut i = from;
    while let Some(chunk) = d.get(i..i + 16) {
        // Two words from a checked slice (the compiler makes them one unaligned load).
        let lo = i64::from_le_bytes(chunk[..8].try_into().unwrap_or([0; 8]));
        let hi = i64::from_le_bytes(chunk[8..].try_into().unwrap_or([0; 8]));
        let x = _mm_set_epi64x(hi, lo);
        let quote = _mm_cmpeq_epi8(x, _mm_set1_epi8(b'"' as i8));
        let backslash = _mm_cmpeq_epi8(x, _mm_set1_epi8(b'\\' as i8));
        // Below 0x20 (unsigned): the lesser of the byte and 0x1F is the byte.
        let control = _mm_cmpeq_epi8(_mm_min_epu8(x, _mm_set1_epi8(0x1F)), x);
        let ends = _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control));
        if ends != 0 {
            return Ok(i + ends.trailing_zeros() as usize);
        }
        i += 16;
    }
    Err(i)
}

/// [`plain_run`] eight bytes at a time, then byte by byte.
#[inline]
fn plain_run_words(d: &[u8], from: usize) -> usize {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let mut i = from;
    // Each test flags every byte that matches and maybe bytes after one that does (a borrow),
    // never one before: the lowest flag is the first match.
    while i + 8 <= d.len() {
        let x = u64::from_le_bytes(d[i..i + 8].try_into().unwrap_or([0; 8]));
        let quote = x ^ (LO * b'"' as u64);
        let backslash = x ^ (LO * b'\\' as u64);
        let special = ((quote.wrapping_sub(LO) & !quote)
            | (backslash.wrapping_sub(LO) & !backslash)
            | (x.wrapping_sub(LO * 0x20) & !x))
            & HI;
        if special != 0 {
            return i + (special.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&b) = d.get(i) {
        if b == b'"' || b == b'\\' || b < 0x20 {
            return i;
        }
        i += 1;
    }
    i
}

/// The number eight ASCII digits write (`None` if a byte is not a digit).
///
/// Hand-written for [`Scan::integer`]'s hot path: the bytes are read as one little-endian word
/// (its first digit in the lowest byte) and combined in three steps, pairs of digits, then
/// fours, then the eight, each step a multiply and a shift on lanes twice as wide.
fn eight_digits(bytes: &[u8]) -> Option<u64> {
    const ZEROS: u64 = 0x3030_3030_3030_3030;
    const HIGH_NIBBLES: u64 = 0xF0F0_F0F0_F0F0_F0F0;
    let x = u64::from_le_bytes(bytes.try_into().ok()?);
    // A digit is 0x30..=0x39: its high nibble is 3, and adding 6 does not carry out of its low
    // nibble. (A carry between bytes needs a byte of 0xFA or more, which the first test fails.)
    let digits =
        x & HIGH_NIBBLES == ZEROS && x.wrapping_add(0x0606_0606_0606_0606) & HIGH_NIBBLES == ZEROS;
    if !digits {
        return None;
    }
    let d = x - ZEROS;
    // Each 16-bit lane: 10 x its low byte's digit + its high byte's (at most 99).
    let pairs = (d * 10 + (d >> 8)) & 0x00FF_00FF_00FF_00FF;
    // Each 32-bit lane: 100 x its low pair + its high pair (at most 9999).
    let fours = (pairs * 100 + (pairs >> 16)) & 0x0000_FFFF_0000_FFFF;
    Some((fours * 10_000 + (fours >> 32)) & 0xFFFF_FFFF)
}

/// Events of a page read ahead by [`read_run`], on another thread: the reader takes them when it
/// reaches their start inside a page's `events` (and only then: where a run starts is a guess,
/// see [`event_start`]), as if it had read them itself.
pub(crate) trait Ahead<'d> {
    /// The run read ahead from `at`, the start of an event of a page's `events` array the reader
    /// is at, if there is one.
    fn take(&mut self, at: usize) -> Option<Run<'d>>;
}

/// Consecutive events of a page's `events` array (separated by commas), read by hand from the
/// start of one, up to the first event that starts at or past a limit, or the first that is not
/// read whole (the reader reads that one itself, and gives up on it as it would have).
#[derive(Debug)]
pub(crate) struct Run<'d> {
    /// Just past its last event's `}`.
    end: usize,
    /// Newlines in `data[start..end]`.
    newlines: u64,
    /// Its records, on lines counted from 1 at `start` (not yet numbered on from the walker's).
    records: Vec<Record<'d>>,
    /// Where its last event starts, and its line (counted the same way).
    last: (usize, u64),
}

/// Reads the events from `start` (an event's `{`, at a guess) on, as [`Scan::items`] reads them,
/// up to the first one that starts at or past `limit`. `None` if not even the first one is an
/// event read whole.
pub(crate) fn read_run(text: &str, start: usize, limit: usize) -> Option<Run<'_>> {
    let mut scan = Scan::borrowing(text);
    scan.seek(start, 1);
    let mut run = Run {
        end: start,
        newlines: 0,
        // An event of the CLI's pages is about 400 bytes: grow once or twice, not a dozen times.
        records: Vec::with_capacity(limit.saturating_sub(start).min(text.len()) / 256 + 16),
        last: (start, 1),
    };
    loop {
        let (at, line) = (scan.at, scan.line());
        let Ok(Ok(r)) = scan.event(true) else { break };
        run.records.push(r);
        run.end = scan.at;
        run.newlines = scan.newlines;
        run.last = (at, line);
        if scan.next_or_close(b']') != Ok(true) || scan.ws().is_none() || scan.at >= limit {
            break;
        }
    }
    (!run.records.is_empty()).then_some(run)
}

/// The first offset from `from` on that is likely the start of an event in a page's `events`: a
/// `{`, whitespace, then one of the keys of an event and its colon. Inside a JSON string a quote
/// is escaped, so in valid JSON this is an object's start (a `searchedLogStreams` element or an
/// object of another document may look the same: the reader takes a run only where its own
/// reading reaches it).
pub(crate) fn event_start(text: &str, from: usize) -> Option<usize> {
    let data = text.as_bytes();
    let from = from.min(data.len());
    memchr::memchr_iter(b'{', &data[from..])
        .map(|i| from + i)
        .find(|&at| starts_event(text, at))
}

fn starts_event(text: &str, brace: usize) -> bool {
    let mut scan = Scan::borrowing(text);
    scan.seek(brace + 1, 1);
    let Ok(key) = scan.key() else { return false };
    matches!(
        key,
        b"logStreamName" | b"timestamp" | b"message" | b"ingestionTime" | b"eventId"
    ) && scan.ws() == Some(b':')
}

/// A `timestamp` as serde_json's walker reads an integer one: epoch milliseconds, or epoch
/// seconds when it has 9 to 11 digits.
fn epoch_ms(i: i64) -> i64 {
    if (100_000_000..100_000_000_000).contains(&i) {
        i * 1000
    } else {
        i
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::assert_same_from_memory;
    use super::super::{Walker, Window, decode};
    use super::*;
    use crate::format::Record;

    /// A small deterministic generator (xorshift), so a failure names its case.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
        fn chance(&mut self, one_in: usize) -> bool {
            self.below(one_in) == 0
        }
    }

    /// A JSON string literal of random text: plain ASCII, every escape, `\u` escapes (upper and
    /// lower case hex, surrogate pairs), raw UTF-8, long runs; `odd` allows what the reader must
    /// give up on or serde_json rejects (lone surrogates, control bytes, bad escapes).
    fn string(rng: &mut Rng, odd: bool) -> String {
        let mut s = String::from("\"");
        for _ in 0..rng.below(12) {
            let piece = match rng.below(if odd { 16 } else { 13 }) {
                0 => {
                    "START RequestId: 6a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d Version: $LATEST".into()
                }
                1 => "[ERROR] OperationalError: could not connect to server".into(),
                2 => {
                    ["\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t"][rng.below(8)].into()
                }
                3 => {
                    let c =
                        [0x41, 0x7f, 0xe9, 0x3b1, 0x65e5, 0xfffd, 0x0, 0x1f, 0xffff][rng.below(9)];
                    if rng.chance(2) {
                        format!("\\u{c:04x}")
                    } else {
                        format!("\\u{c:04X}")
                    }
                }
                4 => {
                    // A character outside the BMP as a surrogate pair.
                    let c: u32 = [0x1F600, 0x10000, 0x10FFFF, 0x1D11E][rng.below(4)];
                    let v = c - 0x10000;
                    format!(
                        "\\u{:04x}\\u{:04X}",
                        0xD800 + (v >> 10),
                        0xDC00 + (v & 0x3FF)
                    )
                }
                5 => ["é", "日本語", "😀", "\u{7f}", "ß\u{301}"][rng.below(5)].into(),
                6 => "x".repeat(rng.below(5_000)),
                7 => " ".repeat(rng.below(40)),
                8 => "password=hunter2 ".into(),
                9 => "Traceback (most recent call last):\\n  File \\\"/var/task/x.py\\\", line 3"
                    .into(),
                10..=12 => "END RequestId: 6a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d".into(),
                13 => ["\\ud800", "\\udc00x", "\\ud83d\\u0041", "\\ud83d"][rng.below(4)].into(),
                14 => ["\u{1}", "\t", "\n"][rng.below(3)].into(),
                _ => ["\\x", "\\u12", "\\uZZZZ", "\\"][rng.below(4)].into(),
            };
            s.push_str(&piece);
        }
        s.push('"');
        s
    }

    /// What [`Scan::integer`] must read, said another way: the run of digits counted, then
    /// parsed by the standard library (the oracle [`eight_digits`] is checked against).
    fn integer_by_parse(text: &str) -> Step<(i64, usize)> {
        let skipped = text.len() - text.trim_start_matches([' ', '\t', '\r', '\n']).len();
        let rest = &text[skipped..];
        let sign = usize::from(rest.starts_with('-'));
        let body = rest.get(sign..).ok_or(Stop::End)?;
        let digits = body.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 18 {
            return Err(Stop::GiveUp);
        }
        let end = skipped + sign + digits;
        match text.as_bytes().get(end) {
            None => return Err(Stop::End),
            Some(b'.' | b'e' | b'E') => return Err(Stop::GiveUp),
            Some(_) => {}
        }
        if digits == 0 || (body.starts_with('0') && (digits > 1 || sign == 1)) {
            return Err(Stop::GiveUp);
        }
        Ok((rest[..sign + digits].parse().unwrap(), end))
    }

    #[test]
    fn plain_runs_end_where_byte_by_byte_they_do() {
        let mut rng = Rng(0x9a1b_2c3d);
        let alphabet = [
            b'a', b' ', b'"', b'\\', 0x1F, 0x20, 0x7F, 0x80, 0xC3, 0xFF, 0x00, b'\n',
        ];
        for len in 0..80 {
            let data: Vec<u8> = (0..len)
                .map(|_| match rng.chance(6) {
                    true => alphabet[rng.below(alphabet.len())],
                    false => b'x',
                })
                .collect();
            for from in 0..=len {
                let slow = (from..len)
                    .find(|&i| matches!(data[i], b'"' | b'\\' | 0..0x20))
                    .unwrap_or(len);
                assert_eq!(plain_run(&data, from), slow, "{data:?} from {from}");
            }
        }
    }

    #[test]
    fn integers_read_eight_digits_at_a_time_as_the_standard_parse_reads() {
        let mut rng = Rng(0x5eed_1e57);
        let mut cases: Vec<String> = Vec::new();
        for len in 0..=21 {
            for neg in ["", "-"] {
                for after in [",", "}", " ", ".5", "e3", "E", "", ":", "/", "a"] {
                    let digits: String = (0..len)
                        .map(|i| match i {
                            0 if rng.chance(4) => '0',
                            _ => char::from(b'0' + rng.below(10) as u8),
                        })
                        .collect();
                    cases.push(format!("{neg}{digits}{after}"));
                    // A byte just outside the digits somewhere in the first sixteen.
                    let mut odd = digits.into_bytes();
                    if !odd.is_empty() {
                        let at = rng.below(odd.len().min(16));
                        odd[at] = [b'/', b':', b'0' + 10, b' ', 0x39 + 6][rng.below(5)];
                        cases.push(format!("{neg}{}{after}", String::from_utf8(odd).unwrap()));
                    }
                }
            }
        }
        cases.extend(
            [
                "99999999999999999999,",
                "999999999999999999,",
                "1714564800123,",
            ]
            .map(String::from),
        );
        for case in &cases {
            let mut scan = Scan::borrowing(case);
            let got = scan.integer().map(|n| (n, scan.at));
            assert_eq!(got, integer_by_parse(case), "{case:?}");
        }
    }

    fn integer(rng: &mut Rng, odd: bool) -> String {
        let plain = [
            "1714564800123",
            "0",
            "1714564800",
            "-5",
            "99999999999999999",
        ];
        let strange = [
            "1.5e3",
            "-0",
            "0123",
            "12345678901234567890",
            "1E400",
            "1714564800123.0",
            "\"2024-05-01T00:00:00Z\"",
            "null",
            "-",
        ];
        if odd && rng.chance(3) {
            strange[rng.below(strange.len())].into()
        } else {
            plain[rng.below(plain.len())].into()
        }
    }

    /// Whitespace between tokens in one of several styles.
    fn ws(rng: &mut Rng, style: usize, depth: usize) -> String {
        match style {
            0 => String::new(),
            1 => format!("\n{}", "    ".repeat(depth)),
            2 => format!("\r\n{}", "\t".repeat(depth)),
            _ => [" ", "\n", "\t", "  \r\n ", ""][rng.below(5)].into(),
        }
    }

    fn event(rng: &mut Rng, style: usize, odd: bool) -> String {
        let mut members = vec![
            format!("\"logStreamName\":{}", string(rng, false)),
            format!("\"timestamp\":{}", integer(rng, odd)),
            format!("\"message\":{}", string(rng, odd)),
            format!("\"ingestionTime\":{}", integer(rng, odd)),
            format!("\"eventId\":\"{}\"", rng.next()),
        ];
        // Any member may be missing; the message only from events the reader gives up on.
        let drop = rng.below(members.len());
        if rng.chance(3) && (odd || drop != 2) {
            members.remove(drop);
        }
        if odd && rng.chance(4) {
            let strange = [
                "\"message\":null",
                "\"message\":{\"a\":1}",
                "\"level\":\"ERROR\"",
                "\"type\":\"platform.start\"",
                "\"\\u006dessage\":\"escaped key\"",
                "\"message\":\"twice\"",
                "\"extra\":[1,[2,[3,[4,[5]]]]]",
                "\"logStreamName\":null",
                "\"eventSource\":\"secretsmanager.amazonaws.com\"",
            ];
            members.insert(
                rng.below(members.len() + 1),
                strange[rng.below(strange.len())].into(),
            );
        }
        object(rng, style, members, 3)
    }

    /// An object of `members` in a random order, indented for `depth` in `style`.
    fn object(rng: &mut Rng, style: usize, mut members: Vec<String>, depth: usize) -> String {
        for i in (1..members.len()).rev() {
            members.swap(i, rng.below(i + 1));
        }
        let sep = format!(",{}", ws(rng, style, depth));
        format!(
            "{{{}{}{}}}",
            ws(rng, style, depth),
            members.join(&sep),
            ws(rng, style, depth - 1)
        )
    }

    fn page(rng: &mut Rng, style: usize, odd: bool) -> String {
        let events = rng.below(6);
        page_of(rng, style, odd, events)
    }

    /// A page of `events` events.
    fn page_of(rng: &mut Rng, style: usize, odd: bool, events: usize) -> String {
        let events: Vec<String> = (0..events).map(|_| event(rng, style, odd)).collect();
        let sep = format!(",{}", ws(rng, style, 2));
        let mut members = vec![format!(
            "\"events\":{}[{}{}{}]",
            ws(rng, style, 1),
            ws(rng, style, 2),
            events.join(&sep),
            ws(rng, style, 1)
        )];
        if rng.chance(2) {
            members.push(format!(
                "\"searchedLogStreams\":[{{\"logStreamName\":{},\"searchedCompletely\":true}}]",
                string(rng, false)
            ));
        }
        if rng.chance(2) {
            members.push(format!("\"nextToken\":{}", string(rng, false)));
        }
        if rng.chance(2) {
            members.push("\"nextForwardToken\":\"f/1\",\"nextBackwardToken\":\"b/0\"".into());
        }
        if odd && rng.chance(3) {
            let strange = [
                "\"events\":[]",
                "\"ResponseMetadata\":{\"RequestId\":\"x\"}",
                "\"logGroup\":\"/aws/lambda/g\"",
                "\"message\":\"top\"",
                "\"nextToken\":1.5",
            ];
            members.push(strange[rng.below(strange.len())].into());
        }
        object(rng, style, members, 1)
    }

    /// A few documents, some of other kinds, with the damage real inputs have.
    fn input(rng: &mut Rng) -> Vec<u8> {
        let odd = rng.chance(2);
        let mut text = String::new();
        for _ in 0..1 + rng.below(4) {
            let style = rng.below(4);
            let doc = match rng.below(12) {
                0 => format!("[{}]", string(rng, odd)),
                1 => format!("[{}]", event(rng, style, odd)),
                2 => event(rng, style, odd),
                _ => page(rng, style, odd),
            };
            text.push_str(&doc);
            text.push_str(["\n", "", "\n\n", " \n", "\r\n"][rng.below(5)]);
            if odd && rng.chance(6) {
                text.push_str("$ aws logs filter-log-events --log-group-name x\n");
            }
        }
        let mut data = text.into_bytes();
        if odd && rng.chance(3) {
            data.truncate(rng.below(data.len() + 1));
        }
        if odd && rng.chance(4) && !data.is_empty() {
            let i = rng.below(data.len());
            data[i] = [b'}', b']', b',', b'"', b'\\', b'\n', b'x', 0xff][rng.below(8)];
        }
        data
    }

    /// What decoding `data` gives: records and errors.
    fn outcome(
        decode: crate::format::MemoryDecoder,
        data: &[u8],
    ) -> (Vec<Record<'_>>, Vec<crate::problem::Problem>) {
        let mut records = Vec::new();
        let errors = decode(data, &mut |r| records.push(r));
        (records, errors)
    }

    type Outcome<'o> = (&'o [Record<'o>], &'o [crate::problem::Problem]);

    /// Asserts that `got` is `expected`; if not, keeps the input (too long to print) in the
    /// temporary folder and says where.
    fn same_outcome(case: &str, data: &[u8], expected: Outcome, got: Outcome) {
        if expected == got {
            return;
        }
        let path = std::env::temp_dir().join(format!("rotdiag-{case}.json"));
        std::fs::write(&path, data).unwrap();
        let first = expected.0.iter().zip(got.0).position(|(a, b)| a != b);
        panic!(
            "{case} ({}): {} vs {} records (first difference at {first:?}), errors {:?} vs {:?}",
            path.display(),
            expected.0.len(),
            got.0.len(),
            expected.1,
            got.1
        );
    }

    #[test]
    fn scanned_pages_match_serde_json_on_generated_inputs() {
        let mut rng = Rng(0x0DD5_CA11_1234_5678);
        let mut read_by_hand = 0;
        for case in 0..4000 {
            let data = input(&mut rng);
            let (records, errors) = outcome(super::super::decode_slice, &data);
            let (scanned, scan_errors) = outcome(super::super::scan_slice, &data);
            same_outcome(
                &format!("scan-case-{case}"),
                &data,
                (&records[..], &errors[..]),
                (&scanned[..], &scan_errors[..]),
            );
            read_by_hand += usize::from(!records.is_empty() && errors.is_empty());
        }
        assert!(read_by_hand > 1000, "{read_by_hand}");
    }

    /// A reader that hands over a few bytes at a time, as a pipe does.
    struct Dribble<'d> {
        data: &'d [u8],
        rng: Rng,
    }

    impl Read for Dribble<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = (1 + self.rng.below(3000))
                .min(buf.len())
                .min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    /// On a stream, in windows small enough that documents are cut by them and some are longer
    /// than a window may hold, the reader gives what the serde_json walker of streams gives.
    #[test]
    fn scanned_streams_match_serde_json_on_generated_inputs() {
        let mut rng = Rng(0x005E_ED0F_5717_EA35);
        for case in 0..3000 {
            let data = input(&mut rng);
            let mut records = Vec::new();
            let errors = decode(&mut &data[..], &mut |r| records.push(r));
            let windows = Windows::new(1 + rng.below(4096), 256 + rng.below(32 << 10));
            let mut reader = Dribble {
                data: &data,
                rng: Rng(case + 1),
            };
            let mut scanned = Vec::new();
            let scan_errors =
                super::super::scan_stream_in(&mut reader, &mut |r| scanned.push(r), windows);
            same_outcome(
                &format!("stream-case-{case}"),
                &data,
                (&records[..], &errors[..]),
                (&scanned[..], &scan_errors[..]),
            );
        }
    }

    /// Decodes `data` as a stream in `windows`, a few bytes a read.
    fn stream(
        data: &[u8],
        windows: Windows,
    ) -> (Vec<Record<'static>>, Vec<crate::problem::Problem>) {
        let mut reader = Dribble { data, rng: Rng(7) };
        let mut records = Vec::new();
        let errors = super::super::scan_stream_in(&mut reader, &mut |r| records.push(r), windows);
        (records, errors)
    }

    #[test]
    fn stream_windows_edge_cases() {
        let mut rng = Rng(99);
        let pages: Vec<String> = (0..6).map(|i| page(&mut rng, i % 4, false)).collect();
        let text = pages.join("\n");
        let cases: Vec<(&str, Vec<u8>, Windows)> = vec![
            // Every page cut by reads of 7 bytes, none longer than a window may be.
            (
                "small reads",
                text.clone().into_bytes(),
                Windows::new(7, 1 << 20),
            ),
            // Pages longer than a window may be: serde_json reads the rest, records the reader
            // delivered already are not delivered twice.
            (
                "long pages",
                text.clone().into_bytes(),
                Windows::new(64, 300),
            ),
            // Documents on one line: no line that starts another.
            (
                "one line",
                text.replace('\n', " ").into_bytes(),
                Windows::new(100, 1 << 20),
            ),
            // A character cut by a read, and invalid UTF-8 after a good page.
            (
                "utf-8",
                format!(
                    "{}\n{{\"events\":[{{\"message\":\"caf\u{e9} \u{1F600}\"}}]}}\n",
                    pages[0]
                )
                .into_bytes(),
                Windows::new(3, 1 << 20),
            ),
            (
                "invalid utf-8",
                {
                    let mut d = format!("{}\n", pages[2]).into_bytes();
                    d.extend_from_slice(b"{\"events\":[{\"message\":\"\xe9t\xff\"}]}\n");
                    d.extend_from_slice(pages[3].as_bytes());
                    d
                },
                Windows::new(50, 1 << 20),
            ),
            // Stray text, then a truncated page.
            (
                "stray and truncated",
                {
                    let mut d = format!("{}\n$ aws logs\n{}", pages[4], pages[5]).into_bytes();
                    d.truncate(d.len() - 9);
                    d
                },
                Windows::new(16, 1 << 20),
            ),
        ];
        for (label, data, windows) in cases {
            let mut records = Vec::new();
            let errors = decode(&mut &data[..], &mut |r| records.push(r));
            assert!(!records.is_empty(), "{label}");
            let (scanned, scan_errors) = stream(&data, windows);
            assert_eq!(records, scanned, "{label}");
            assert_eq!(errors, scan_errors, "{label}");
        }
    }

    /// Runs read ahead the way `pipeline::ahead` cuts them (from the first event start at or
    /// after each multiple of `run_bytes`, up to the first event at or past the next), all
    /// before the reader starts; taken where the reader reaches their start.
    struct Eager<'d> {
        runs: std::collections::VecDeque<(usize, Option<Run<'d>>)>,
        taken: usize,
    }

    impl<'d> Eager<'d> {
        fn new(data: &'d str, run_bytes: usize) -> Eager<'d> {
            let mut runs = std::collections::VecDeque::new();
            let mut probe = 0;
            while let Some(start) = event_start(data, probe) {
                runs.push_back((start, read_run(data, start, start + run_bytes)));
                probe = start + run_bytes;
            }
            Eager { runs, taken: 0 }
        }
    }

    impl<'d> Ahead<'d> for Eager<'d> {
        fn take(&mut self, at: usize) -> Option<Run<'d>> {
            while let Some((start, _)) = self.runs.front() {
                if at < *start {
                    return None;
                }
                let (start, run) = self.runs.pop_front()?;
                if at == start {
                    self.taken += usize::from(run.is_some());
                    return run;
                }
            }
            None
        }
    }

    /// What [`super::super::scan_slice_ahead`] gives with runs of `run_bytes` read ahead, and
    /// how many runs it took.
    /// (Invalid UTF-8 is read by [`super::super::scan_slice`], as the pipeline does.)
    fn ahead_outcome(
        data: &[u8],
        run_bytes: usize,
    ) -> (Vec<Record<'_>>, Vec<crate::problem::Problem>, usize) {
        let Ok(text) = std::str::from_utf8(data) else {
            let (records, errors) = outcome(super::super::scan_slice, data);
            return (records, errors, 0);
        };
        let mut eager = Eager::new(text, run_bytes);
        let mut records = Vec::new();
        let errors = super::super::scan_slice_ahead(text, &mut |r| records.push(r), &mut eager);
        (records, errors, eager.taken)
    }

    /// Pages read in runs cut anywhere give what the reader gives alone (and serde_json), on
    /// generated inputs, damaged ones included, and on long pages that many runs cut.
    #[test]
    fn runs_read_ahead_match_the_reader_on_generated_inputs() {
        let mut rng = Rng(0x0A4E_AD00_2026_1206);
        let mut taken = 0;
        for case in 0..3000 {
            let data = if case % 3 == 0 {
                let mut text = String::new();
                for _ in 0..1 + rng.below(3) {
                    let (style, events, odd) = (rng.below(4), 20 + rng.below(120), rng.chance(4));
                    text.push_str(&page_of(&mut rng, style, odd, events));
                    text.push_str(["\n", "", " \n", "\r\n"][rng.below(4)]);
                }
                let mut data = text.into_bytes();
                if rng.chance(2) {
                    let i = rng.below(data.len());
                    data[i] = [b'}', b']', b',', b'"', b'\\', b'\n', b'x', b'{'][rng.below(8)];
                }
                if rng.chance(3) {
                    data.truncate(data.len() - rng.below(data.len() / 3));
                }
                data
            } else {
                input(&mut rng)
            };
            let (records, errors) = outcome(super::super::scan_slice, &data);
            let run_bytes = 1 + rng.below(4096);
            let (ahead, ahead_errors, n) = ahead_outcome(&data, run_bytes);
            taken += n;
            same_outcome(
                &format!("ahead-case-{case}"),
                &data,
                (&records[..], &errors[..]),
                (&ahead[..], &ahead_errors[..]),
            );
        }
        assert!(taken > 3000, "{taken}");
    }

    #[test]
    fn event_starts_are_found_from_anywhere() {
        let page = concat!(
            "{\n    \"events\": [\n        {\n            \"logStreamName\": \"s\",\n",
            "            \"message\": \"a \\\\\\\"{\\\"message\\\": 1} {\\\\\"\n        },\n",
            "        {\"timestamp\": 1, \"message\": \"b\\\\\"}\n    ],\n",
            "    \"searchedLogStreams\": [{\"logStreamName\": \"s\"}]\n}\n",
            "{\"events\":[{\n\"eventId\" :\"1\",\"message\":\"c\"}]}"
        );
        let data = page.as_bytes();
        assert!(std::str::from_utf8(data).is_ok());
        let serde: Vec<serde_json::Value> = serde_json::Deserializer::from_slice(data)
            .into_iter()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(serde.len(), 2, "valid JSON");
        let starts: Vec<usize> = (0..data.len())
            .filter_map(|from| event_start(page, from))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        // The three events and the `searchedLogStreams` element (which looks like one): not
        // the `{` and quotes inside the first message (escaped, after a run of backslashes).
        let found: Vec<&str> = starts
            .iter()
            .map(|&s| std::str::from_utf8(&data[s..s + 12]).unwrap())
            .collect();
        assert_eq!(
            found,
            [
                "{\n          ",
                "{\"timestamp\"",
                "{\"logStreamN",
                "{\n\"eventId\" "
            ]
        );
        // A run stops at the end of its page's events; the one in `searchedLogStreams` reads
        // nothing (no message: the reader would give up), and the reader never reaches it.
        let run = read_run(page, starts[0], data.len()).unwrap();
        assert_eq!(run.records.len(), 2);
        assert_eq!(&data[run.end..run.end + 6], b"\n    ]");
        assert_eq!((run.newlines, run.last.1), (4, 5));
        assert!(read_run(page, starts[2], data.len()).is_none());
        // Limits: a run ends before the first event that starts at or past its limit.
        let run = read_run(page, starts[0], starts[0] + 1).unwrap();
        assert_eq!(run.records.len(), 1);
        for run_bytes in [1, 7, 64, 1 << 20] {
            let (records, errors, _) = ahead_outcome(data, run_bytes);
            assert_eq!(
                (records, errors),
                outcome(super::super::scan_slice, data),
                "{run_bytes}"
            );
        }
    }

    /// Records of one name have one key, the offset of that name's first occurrence, whether
    /// read in a run or by the reader; other names (and a name with an escape: no key) another.
    #[test]
    fn records_of_one_stream_name_share_a_key() {
        let event = |stream: &str, m: u32| {
            format!("{{\"logStreamName\": \"{stream}\", \"timestamp\": 1, \"message\": \"{m}\"}}")
        };
        let names = [
            "a/[1]x",
            "a/[1]x",
            "b/[1]y",
            "a/[1]x",
            "b/[1]y",
            "a/[\\u0031]x",
        ];
        let events: Vec<String> = names.iter().zip(0..).map(|(s, m)| event(s, m)).collect();
        let page = format!("{{\"events\": [{}]}}", events.join(", "));
        let from_run = read_run(&page, page.find('[').unwrap() + 1, page.len())
            .unwrap()
            .records;
        let (by_reader, _) = outcome(super::super::scan_slice, page.as_bytes());
        for records in [&from_run[..], &by_reader[..]] {
            let keys: Vec<Option<u64>> = records
                .iter()
                .map(|r| r.stream_key.map(|k| k.get()))
                .collect();
            let a = page.find("a/[1]x").unwrap() as u64;
            let b = page.find("b/[1]y").unwrap() as u64;
            assert_eq!(keys, [Some(a), Some(a), Some(b), Some(a), Some(b), None]);
            assert_eq!(records[5].stream.as_deref(), Some("a/[1]x"));
        }
    }

    /// The reader answers (does not give up) on the pages the CLI writes, escapes included.
    #[test]
    fn plain_pages_are_read_without_serde() {
        let mut rng = Rng(42);
        for style in 0..4 {
            let page = page(&mut rng, style, false);
            let mut n = 0;
            let mut sink = |_| n += 1;
            let mut w = Walker::new(&mut sink, Some(Window::default()));
            let mut scan = Scan::borrowing(&page);
            scan.ws();
            assert!(scan.document(Skip::default(), &mut w).is_ok(), "{page}");
            assert_eq!(scan.at, page.len());
        }
    }

    #[test]
    fn escapes_are_decoded_as_serde_json_decodes_them() {
        let text = r#"{"events":[{"timestamp":1,"message":"a\"b\\c\/d\be\ff\ng\rh\ti\u00e9\u65E5\ud83d\ude00\u0000"}]}"#;
        let mut out = Vec::new();
        let errors = super::super::scan_slice(text.as_bytes(), &mut |r| out.push(r));
        assert!(errors.is_empty());
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        let expected = v["events"][0]["message"].as_str().unwrap();
        assert_eq!(out[0].message.as_ref(), expected.as_bytes());
    }

    #[test]
    fn what_serde_json_must_decide_is_given_up() {
        for page in [
            r#"{"events":[{"timestamp":1.5,"message":"m"}]}"#,
            r#"{"events":[{"timestamp":1,"message":null}]}"#,
            r#"{"events":[{"timestamp":1,"message":"\ud800"}]}"#,
            r#"{"events":[{"timestamp":1,"message":"m","message":"n"}]}"#,
            r#"{"events":[{"timestamp":1,"message":"m","level":"INFO"}]}"#,
            r#"{"events":[{"timestamp":-0,"message":"m"}]}"#,
            r#"{"events":[{"timestamp":01,"message":"m"}]}"#,
            r#"{"events":[{"timestamp":1,"message":"m"}],"logGroup":"g"}"#,
            r#"{"events":[{"timestamp":1,"message":"m"}] "#,
            r#"{"events":[{"timestamp":1,"message":"m"}],}"#,
            "[\"m\"]",
        ] {
            let mut sink = |_| {};
            let mut w = Walker::new(&mut sink, Some(Window::default()));
            let mut scan = Scan::borrowing(page);
            scan.ws();
            assert!(scan.document(Skip::default(), &mut w).is_err(), "{page}");
            let mut records = Vec::new();
            let errors = decode(&mut page.as_bytes(), &mut |r| records.push(r));
            assert_same_from_memory(page.as_bytes(), &records, &errors);
        }
    }

    /// A page far longer than a window may hold (the CLI's one merged page, piped) is read by hand
    /// to its end, a window at a time, and gives what serde_json gives.
    #[test]
    fn long_pages_are_read_by_hand_a_window_at_a_time() {
        let mut rng = Rng(0x10C6);
        for style in 0..4 {
            let text = format!(
                "{}\n{}\n",
                page_of(&mut rng, style, false, 400),
                page_of(&mut rng, style, false, 3)
            );
            // Events of up to 60 KiB (runs of `x`) fit in a window; the page does not.
            assert!(text.len() > 4 * 128 * 1024, "{}", text.len());
            let mut records = Vec::new();
            let errors = decode(&mut text.as_bytes(), &mut |r| records.push(r));
            let mut scanned = Vec::new();
            let mut sink = |r| scanned.push(r);
            let mut w = Walker::new(&mut sink, Some(Window::default()));
            let mut reader = Dribble {
                data: text.as_bytes(),
                rng: Rng(3),
            };
            let rest = Windows::new(4096, 128 * 1024).read(&mut reader, &mut w);
            assert!(rest.is_none(), "style {style}: serde_json took over");
            let scan_errors = w.finish();
            assert_eq!(records.len(), 403, "style {style}");
            assert_eq!((records, errors), (scanned, scan_errors), "style {style}");
        }
    }

    /// One to three long pages of events in random styles; half the time damaged late in the
    /// input (a byte replaced) and maybe truncated.
    fn long_pages(rng: &mut Rng) -> Vec<u8> {
        let odd = rng.chance(2);
        let mut text = String::new();
        for _ in 0..1 + rng.below(3) {
            let (style, events) = (rng.below(4), 20 + rng.below(120));
            let odd_events = odd && rng.chance(3);
            text.push_str(&page_of(rng, style, odd_events, events));
            text.push_str(["\n", "", " \n", "\r\n"][rng.below(4)]);
        }
        let mut data = text.into_bytes();
        if odd {
            let i = data.len() / 2 + rng.below(data.len() / 2);
            data[i] = [b'}', b']', b',', b'"', b'\\', b'\n', b'x', 0xff][rng.below(8)];
        }
        if odd && rng.chance(3) {
            data.truncate(data.len() - rng.below(data.len() / 3));
        }
        data
    }

    /// Long pages cut by windows anywhere, damaged anywhere (late in a page too, so that
    /// serde_json takes over a page taken up again, after a head and a gap), truncated: the
    /// records and errors of serde_json, lines and offsets included.
    #[test]
    fn long_pages_cut_and_damaged_match_serde_json() {
        let mut rng = Rng(0x00C0_FFEE_0DD5);
        for case in 0..400 {
            let data = long_pages(&mut rng);
            let mut records = Vec::new();
            let errors = decode(&mut &data[..], &mut |r| records.push(r));
            let windows = Windows::new(1 + rng.below(2048), 256 + rng.below(4096));
            let (scanned, scan_errors) = stream(&data, windows);
            same_outcome(
                &format!("long-case-{case}"),
                &data,
                (&records[..], &errors[..]),
                (&scanned[..], &scan_errors[..]),
            );
        }
    }
}
