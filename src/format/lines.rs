//! Line-oriented shapes: S3 export files, `aws logs tail`, console copies, raw Lambda text.
//!
//! Every one of them is "a prefix, then the message" on the line that starts an event, with the
//! event's further lines (tracebacks, pretty-printed JSON, the blank line S3 exports leave after a
//! message ending in `\n`) following without a prefix. So a record is a run of lines that begins at
//! a line carrying the shape's prefix. Decoding works on a block that starts at a record boundary;
//! [`LineDecoder::boundary`] finds such boundaries so a big input can be cut into blocks that are
//! decoded independently (in parallel, or one after the other while streaming).

use std::borrow::Cow;
use std::sync::LazyLock;

use memchr::memchr;
use memchr::memmem::Finder;

use super::{Format, Record};
use crate::aws::RequestId;
use crate::input::transport::strip_ansi;
use crate::time::{self, EpochMs};

/// The lines of `s`, as `s.split(|&b| b == b'\n')` gives them (a last, possibly empty, piece
/// after the last `\n` included), found with `memchr`: detection splits up to 64 KiB of every
/// input into lines several times, and the byte-at-a-time split was most of its cost (an archive
/// of 94,000 small objects spent a quarter of its instructions detecting their format).
pub(crate) fn split_lines(s: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = Some(s);
    std::iter::from_fn(move || {
        let r = rest?;
        match memchr(b'\n', r) {
            Some(i) => {
                rest = Some(&r[i + 1..]);
                Some(&r[..i])
            }
            None => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// Where the prefix of a record-start line ends.
#[derive(Debug, PartialEq, Eq)]
struct Start {
    timestamp: Option<EpochMs>,
    /// Byte range of the stream name within the line.
    stream: Option<(usize, usize)>,
    /// Index in the line where the message begins.
    message: usize,
}

/// Decodes one line-oriented [`Format`].
#[derive(Clone, Copy, Debug)]
pub struct LineDecoder {
    format: Format,
}

impl LineDecoder {
    pub(crate) fn new(format: Format) -> LineDecoder {
        LineDecoder { format }
    }

    pub fn format(&self) -> Format {
        self.format
    }

    /// Does `line` (without its newline) start a record in this format?
    pub(crate) fn is_record_start(&self, line: &[u8]) -> bool {
        self.start(strip_cr(line)).is_some()
    }

    fn start(&self, line: &[u8]) -> Option<Start> {
        match self.own_start(line) {
            Some(s) => Some(s),
            None => self.mixed_start(line),
        }
    }

    /// One file may hold two pasted exports of different line shapes (an S3 export followed by a
    /// `tail`, a console copy with a raw snippet): a line that carries another line shape's prefix
    /// starts a record too, decoded by that shape. Only lines that are not record starts of this
    /// shape get here (continuation lines), and most of those are rejected by their first byte.
    fn mixed_start(&self, line: &[u8]) -> Option<Start> {
        match line.first() {
            None => return None,
            Some(&b) if b >= 0x80 => return None,
            _ => {}
        }
        let other = super::detect::line_shape(line)?;
        if other == self.format {
            return None;
        }
        match other {
            Format::Tail | Format::TailShort | Format::S3Export | Format::Console | Format::Raw => {
                LineDecoder::new(other).own_start(line)
            }
            _ => None,
        }
    }

    /// Where the prefix of a record-start line of this very shape ends.
    fn own_start(&self, line: &[u8]) -> Option<Start> {
        match self.format {
            Format::S3Export => {
                let (ts, used) = time::parse_iso_prefix(line)?;
                if has_offset(line, used) {
                    // `<ts>+00:00 <stream> …` is `aws logs tail` (pasted after an export).
                    return None;
                }
                match line.get(used) {
                    Some(b' ') | Some(b'\t') => Some(Start {
                        timestamp: Some(ts),
                        stream: None,
                        message: used + 1,
                    }),
                    None => Some(Start {
                        timestamp: Some(ts),
                        stream: None,
                        message: used,
                    }),
                    _ => None,
                }
            }
            Format::Tail => {
                let (ts, used) = time::parse_iso_prefix(line)?;
                // `tail` always prints `+00:00`; `<ts>Z <message>` is an S3 export line and
                // `<ts> <message>` a `--format short` one, which have no stream column.
                if line.get(used) != Some(&b' ') || !has_offset(line, used) {
                    return None;
                }
                let s = used + 1;
                let e = s + line[s..]
                    .iter()
                    .position(|&b| b == b' ')
                    .unwrap_or(line.len() - s);
                if e == s {
                    return None;
                }
                Some(Start {
                    timestamp: Some(ts),
                    stream: Some((s, e)),
                    message: (e + 1).min(line.len()),
                })
            }
            Format::TailShort => {
                let (ts, used) = time::parse_iso_prefix(line)?;
                (line.get(used) == Some(&b' ')).then_some(Start {
                    timestamp: Some(ts),
                    stream: None,
                    message: used + 1,
                })
            }
            Format::Console => console_start(line),
            Format::Raw => {
                // `--query 'events[].message' --output text` joins messages with TABs, so a
                // message that follows one ending in `\n` starts its line with a TAB.
                let message = if raw_start(line) {
                    0
                } else if line.first() == Some(&b'\t') && raw_start(&line[1..]) {
                    1
                } else {
                    return None;
                };
                Some(Start {
                    timestamp: None,
                    stream: None,
                    message,
                })
            }
            _ => None,
        }
    }

    /// The first record boundary at or after `from`: the index of a line start whose line starts a
    /// record. `from` need not be at a line start. Returns `None` when the rest of `buf` holds no
    /// complete record-start line (the caller needs more bytes, or has reached the end).
    pub fn boundary(&self, buf: &[u8], from: usize) -> Option<usize> {
        let mut pos = if from == 0 || buf.get(from - 1) == Some(&b'\n') {
            from
        } else {
            from + memchr(b'\n', buf.get(from..)?)? + 1
        };
        while pos < buf.len() {
            let end = pos + memchr(b'\n', &buf[pos..])?;
            if self.is_record_start(&buf[pos..end]) {
                return Some(pos);
            }
            pos = end + 1;
        }
        None
    }

    /// Decodes `block` (which starts at a record boundary or at the start of the input) into
    /// records, appending them to `out`. Returns the number of lines in the block.
    ///
    /// `first_line` and `base_offset` position the block in the whole input. Lines before the
    /// first record start are kept as one record without a prefix, so nothing is silently lost.
    pub fn decode<'a>(
        &self,
        block: &'a [u8],
        first_line: u64,
        base_offset: u64,
        out: &mut Vec<Record<'a>>,
    ) -> u64 {
        self.decode_each(block, first_line, base_offset, |r| out.push(r))
    }

    /// [`LineDecoder::decode`], handing each record to `each` as it is made: the caller sorts
    /// records as they come (`pipeline::blocks` turns platform lines into small events) rather
    /// than storing every one first.
    ///
    /// An S3 export gets its own copy of the loop, with [`s3_start`] inlined into it: its record
    /// starts are nearly all one fixed shape, told by a few byte compares before the general
    /// prefix parsers are asked.
    pub(crate) fn decode_each<'a>(
        &self,
        block: &'a [u8],
        first_line: u64,
        base_offset: u64,
        each: impl FnMut(Record<'a>),
    ) -> u64 {
        let at = (block, first_line, base_offset);
        match self.format {
            Format::S3Export => {
                decode_lines(at, each, |line| s3_start(line).or_else(|| self.start(line)))
            }
            _ => decode_lines(at, each, |line| self.start(line)),
        }
    }
}

/// The loop of [`LineDecoder::decode_each`], with `start` telling (and parsing) the lines that
/// start a record. `at` is the block, the number of its first line and its offset in the input.
#[inline(always)]
fn decode_lines<'a>(
    (block, first_line, base_offset): (&'a [u8], u64, u64),
    mut each: impl FnMut(Record<'a>),
    start: impl Fn(&[u8]) -> Option<Start>,
) -> u64 {
    let mut lines = 0u64;
    let mut current: Option<Pending> = None;
    let mut ls = 0usize;
    let newlines = Newlines::new();
    while ls < block.len() {
        let le = newlines.next(block, ls).unwrap_or(block.len());
        // An empty line starts no record and extends none (S3 exports write one after most
        // messages: half of their lines).
        if le > ls {
            let line = strip_cr(&block[ls..le]);
            if let Some(st) = start(line) {
                let next = Pending {
                    line: first_line + lines,
                    start: ls,
                    message: ls + st.message,
                    timestamp: st.timestamp,
                    stream: st.stream.map(|(a, b)| (ls + a, ls + b)),
                };
                if let Some(p) = current.replace(next) {
                    each(p.into_record(block, ls, base_offset));
                }
            } else if current.is_none() && !line.iter().all(|b| b.is_ascii_whitespace()) {
                current = Some(Pending {
                    line: first_line + lines,
                    start: ls,
                    message: ls,
                    timestamp: None,
                    stream: None,
                });
            }
        }
        lines += 1;
        ls = le + 1;
    }
    if let Some(p) = current.take() {
        each(p.into_record(block, block.len(), base_offset));
    }
    lines
}

/// The record start nearly every line of an S3 export begins with, `YYYY-MM-DDTHH:MM:SS.mmmZ`
/// and a space or TAB, read at fixed places; `None` leaves the line to [`LineDecoder::start`]
/// (which gives the same answer for the lines this takes: the `Z` rules out an offset).
#[inline(always)]
fn s3_start(line: &[u8]) -> Option<Start> {
    let head = line.first_chunk::<25>()?;
    if head[23] != b'Z' || !matches!(head[24], b' ' | b'\t') {
        return None;
    }
    let (ts, _) = time::parse_millis_prefix(head.first_chunk::<24>()?)?;
    Some(Start {
        timestamp: Some(ts),
        stream: None,
        message: 25,
    })
}

/// Finds the newlines of a block. On x86-64 with AVX2 (checked once per block), memchr's AVX2
/// searcher is called directly: `memchr::memchr` goes through a function pointer and a
/// dispatching layer first, about 16 of the ~94 instructions a call costs on an S3 export line.
#[derive(Clone, Copy)]
struct Newlines {
    #[cfg(target_arch = "x86_64")]
    avx2: Option<memchr::arch::x86_64::avx2::memchr::One>,
}

impl Newlines {
    fn new() -> Newlines {
        Newlines {
            #[cfg(target_arch = "x86_64")]
            avx2: memchr::arch::x86_64::avx2::memchr::One::new(b'\n'),
        }
    }

    /// The index of the first `\n` in `block` at or after `from`. A line that is only its `\n`
    /// is told by one byte, without a search: a search costs about 65 instructions however short
    /// the line, and S3 exports write an empty line after most messages (98,781 of the 210,092
    /// lines of the 16 MiB bench file).
    #[inline(always)]
    fn next(&self, block: &[u8], from: usize) -> Option<usize> {
        match block.get(from)? {
            b'\n' => Some(from),
            _ => self.find(&block[from..]).map(|i| from + i),
        }
    }

    #[inline(always)]
    fn find(&self, s: &[u8]) -> Option<usize> {
        #[cfg(target_arch = "x86_64")]
        if let Some(one) = &self.avx2 {
            return one.find(s);
        }
        memchr(b'\n', s)
    }
}

struct Pending {
    line: u64,
    start: usize,
    message: usize,
    timestamp: Option<EpochMs>,
    stream: Option<(usize, usize)>,
}

impl Pending {
    /// Inlined into the decode loop: a call, and the copy of `self` it takes, cost about a
    /// third of what making a record costs (S3 export, callgrind).
    #[inline(always)]
    fn into_record(self, block: &[u8], end: usize, base_offset: u64) -> Record<'_> {
        let end = end.max(self.message);
        let mut message = &block[self.message.min(end)..end];
        // `tail --format json` prints a JSON message from the line after `<ts> <stream> `.
        while let Some((&first, rest)) = message.split_first() {
            if first == b'\n' || first == b'\r' {
                message = rest;
            } else {
                break;
            }
        }
        // Most messages of an S3 export end in their newline and the empty line after it: both
        // in one compare, the byte loop for the rest.
        if let Some(rest) = message.strip_suffix(b"\n\n") {
            message = rest;
        }
        while let Some((&last, rest)) = message.split_last() {
            if last == b'\n' || last == b'\r' {
                message = rest;
            } else {
                break;
            }
        }
        // Colour codes were removed with the transport layers (src/input/transport.rs).
        let message = Cow::Borrowed(message);
        let stream = self.stream.map(|(a, b)| stream_name(&block[a..b]));
        Record {
            line: self.line,
            offset: base_offset + self.start as u64,
            timestamp: self.timestamp,
            stream,
            group: None,
            message,
            stream_key: None,
        }
    }
}

/// The stream column of a `tail` line as text. Out of line: only `tail` lines have one.
#[inline(never)]
fn stream_name(s: &[u8]) -> Cow<'_, str> {
    match std::str::from_utf8(s) {
        Ok(s) => Cow::Borrowed(s),
        _ => Cow::Owned(String::from_utf8_lossy(&strip_ansi(s)).into_owned()),
    }
}

/// Does the timestamp that ends at `used` carry a numeric zone offset (`+00:00`, `-0500`)?
fn has_offset(line: &[u8], used: usize) -> bool {
    let ts = &line[..used];
    [6, 5]
        .iter()
        .any(|&n| used > 19 + n - 1 && matches!(ts[used - n], b'+' | b'-'))
        && !ts.ends_with(b"Z")
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Strips ANSI codes from the start of a line so prefix parsing sees plain text.
fn plain_prefix(line: &[u8]) -> Cow<'_, [u8]> {
    if memchr(0x1b, &line[..line.len().min(256)]).is_some() {
        Cow::Owned(strip_ansi(line))
    } else {
        Cow::Borrowed(line)
    }
}

/// A console copy: optional indentation and `|`, a timestamp, then `|` or a TAB (or spaces), then
/// the message. The console shows ISO timestamps with `Z` or an offset.
fn console_start(line: &[u8]) -> Option<Start> {
    let mut i = line
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    if line.get(i) == Some(&b'|') {
        i += 1;
        i += line[i..]
            .iter()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count();
    }
    let (ts, used) = time::parse_iso_prefix(&line[i..])?;
    let mut j = i + used;
    let ws = line[j..]
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    j += ws;
    if line.get(j) == Some(&b'|') {
        j += 1;
        if line.get(j) == Some(&b' ') || line.get(j) == Some(&b'\t') {
            j += 1;
        }
    } else if ws == 0 && j < line.len() {
        return None;
    }
    Some(Start {
        timestamp: Some(ts),
        stream: None,
        message: j,
    })
}

/// Raw Lambda text: a record starts at a line the Lambda runtime or platform begins an event with.
pub(crate) fn raw_start(line: &[u8]) -> bool {
    let line = plain_prefix(line);
    let l = &line[..];
    const STARTS: [&[u8]; 9] = [
        b"START RequestId:",
        b"END RequestId:",
        b"REPORT RequestId:",
        b"INIT_START",
        b"INIT_REPORT",
        b"RequestId:",
        b"LAMBDA_WARNING:",
        b"{\"time\":",
        b"{\"timestamp\":",
    ];
    if STARTS.iter().any(|s| l.starts_with(s)) {
        return true;
    }
    match l.first() {
        Some(b'[') => {
            let close = l.iter().take(12).position(|&b| b == b']');
            matches!(
                close.map(|c| &l[1..c]),
                Some(b"INFO" | b"ERROR" | b"WARNING" | b"DEBUG" | b"CRITICAL")
            )
        }
        Some(b'0'..=b'9') => {
            // `<ts> <request id> …` (legacy timeout line, Node.js-style lines)
            time::parse_iso_prefix(l)
                .map(|(_, used)| {
                    let rest = &l[used..];
                    let n = rest
                        .iter()
                        .take_while(|&&b| b == b' ' || b == b'\t')
                        .count();
                    n > 0 && RequestId::parse_prefix(&rest[n..]).is_some()
                })
                .unwrap_or(false)
        }
        Some(b'{') => {
            // Searchers built once: building one per line showed up in profiles.
            static LEVEL: LazyLock<Finder> = LazyLock::new(|| Finder::new(b"\"level\""));
            static PLATFORM: LazyLock<Finder> =
                LazyLock::new(|| Finder::new(b"\"type\":\"platform."));
            l.starts_with(b"{\"") && (LEVEL.find(l).is_some() || PLATFORM.find(l).is_some())
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_lines_gives_what_splitting_at_each_newline_gives() {
        for text in [
            "",
            "\n",
            "\n\n",
            "a",
            "a\n",
            "\na",
            "a\nb",
            "a\r\nb\r\n",
            "a\n\nb\n\n\n",
            "é\n\t\n",
        ] {
            let want: Vec<&[u8]> = text.as_bytes().split(|&b| b == b'\n').collect();
            assert_eq!(
                split_lines(text.as_bytes()).collect::<Vec<_>>(),
                want,
                "{text:?}"
            );
        }
    }

    fn decode(format: Format, text: &str) -> Vec<(u64, Option<i64>, Option<String>, String)> {
        let mut out = Vec::new();
        let lines = LineDecoder::new(format).decode(text.as_bytes(), 1, 0, &mut out);
        assert_eq!(lines as usize, text.lines().count());
        out.into_iter()
            .map(|r| {
                (
                    r.line,
                    r.timestamp,
                    r.stream.map(|s| s.into_owned()),
                    String::from_utf8(r.message.into_owned()).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn s3_export_records_keep_their_tracebacks_and_drop_the_blank_line() {
        let text = "2024-05-01T12:00:00.123Z START RequestId: 1f4c2b7e-8d7a-4f6e-9c1a-2b3c4d5e6f70 Version: $LATEST\n\n2024-05-01T12:00:01.000Z [ERROR] OperationalError: failed\nTraceback (most recent call last):\n\u{a0}\u{a0}File \"/var/task/lambda_function.py\", line 76, in lambda_handler\n2024-05-01T12:00:01.010Z END RequestId: 1f4c2b7e-8d7a-4f6e-9c1a-2b3c4d5e6f70\n\n";
        let r = decode(Format::S3Export, text);
        assert_eq!(r.len(), 3);
        assert_eq!(r[0].0, 1);
        assert_eq!(r[0].1, Some(1_714_564_800_123));
        assert!(r[0].3.starts_with("START RequestId:"));
        assert_eq!(r[1].0, 3);
        assert!(r[1].3.ends_with("in lambda_handler"), "{}", r[1].3);
        assert_eq!(r[2].0, 6);
    }

    #[test]
    fn tail_detailed_carries_the_stream_and_json_format_continues() {
        let text = "2024-05-01T12:00:00.123000+00:00 2024/05/01/[$LATEST]0123456789abcdef0123456789abcdef START RequestId: 1f4c2b7e-8d7a-4f6e-9c1a-2b3c4d5e6f70 Version: $LATEST\n2024-05-01T12:00:01.500000+00:00 2024/05/01/[$LATEST]0123 \n{\n    \"time\": \"2024-05-01T12:00:01.500Z\"\n}\n";
        let r = decode(Format::Tail, text);
        assert_eq!(r.len(), 2);
        assert_eq!(
            r[0].2.as_deref(),
            Some("2024/05/01/[$LATEST]0123456789abcdef0123456789abcdef")
        );
        assert!(r[0].3.starts_with("START"));
        // `--format json`: the pretty JSON message starts on the line after `<ts> <stream> `.
        assert_eq!(r[1].3, "{\n    \"time\": \"2024-05-01T12:00:01.500Z\"\n}");
    }

    #[test]
    fn tail_json_format_with_crlf_and_a_header_at_the_very_end() {
        let text = "2024-05-01T12:00:01+00:00 2024/05/01/[$LATEST]0123 \r\n{\r\n    \"time\": \"x\"\r\n}\r\n2024-05-01T12:00:02+00:00 2024/05/01/[$LATEST]0123 ";
        let r = decode(Format::Tail, text);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].3, "{\r\n    \"time\": \"x\"\r\n}");
        assert_eq!(r[0].1, Some(1_714_564_801_000));
        assert_eq!(r[1].3, "");
    }

    #[test]
    fn tail_with_colour_codes() {
        let text = "\x1b[32m2018-01-01T00:29:43.079060+00:00\x1b[0m \x1b[36mstream_name\x1b[0m my message\n";
        let d = LineDecoder::new(Format::Tail);
        assert!(!d.is_record_start(text.trim_end().as_bytes()));
        // Colour is stripped by the transport layer before decoding; see `strip_ansi`.
        assert_eq!(
            strip_ansi(text.as_bytes()),
            b"2018-01-01T00:29:43.079060+00:00 stream_name my message\n"
        );
    }

    #[test]
    fn console_copies_with_pipes_tabs_or_spaces() {
        for text in [
            "  | 2024-05-01T12:00:00.123Z | START RequestId: x\n",
            "2024-05-01T12:00:00.123+00:00\tSTART RequestId: x\n",
            "| 2024-05-01T12:00:00.123Z  START RequestId: x\n",
        ] {
            let r = decode(Format::Console, text);
            assert_eq!(r.len(), 1, "{text}");
            assert_eq!(r[0].1, Some(1_714_564_800_123));
            assert_eq!(r[0].3, "START RequestId: x", "{text}");
        }
    }

    #[test]
    fn raw_text_groups_tracebacks_under_their_error() {
        let text = "START RequestId: 1f4c2b7e-8d7a-4f6e-9c1a-2b3c4d5e6f70 Version: $LATEST\n[ERROR] KeyError: 'host key is missing from secret JSON'\nTraceback (most recent call last):\n  File \"/var/task/lambda_function.py\", line 61, in lambda_handler\nEND RequestId: 1f4c2b7e-8d7a-4f6e-9c1a-2b3c4d5e6f70\n";
        let r = decode(Format::Raw, text);
        assert_eq!(r.len(), 3);
        assert!(r[1].3.contains("Traceback"));
    }

    #[test]
    fn leading_text_before_the_first_record_is_kept() {
        let r = decode(
            Format::S3Export,
            "garbage line\n2024-05-01T12:00:00.123Z x\n",
        );
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].3, "garbage line");
    }

    #[test]
    fn boundaries_land_on_record_starts() {
        let text = b"2024-05-01T12:00:00.123Z a\ncontinued\n2024-05-01T12:00:00.124Z b\n";
        let d = LineDecoder::new(Format::S3Export);
        assert_eq!(d.boundary(text, 1), Some(37));
        assert_eq!(d.boundary(text, 0), Some(0));
        assert_eq!(d.boundary(text, 38), None);
    }

    /// Empty lines (found without `memchr`) anywhere: at the start of a block, in a row, as
    /// CRLF, last; they count as lines and start or extend no record.
    #[test]
    fn empty_lines_count_but_start_nothing() {
        let text = "\n\n2024-05-01T12:00:00.123Z a\n\n\r\n2024-05-01T12:00:00.124Z b\r\nmore\n\n\n";
        let r = decode(Format::S3Export, text);
        assert_eq!(
            r.iter().map(|r| (r.0, r.3.as_str())).collect::<Vec<_>>(),
            [(3, "a"), (6, "b\r\nmore")]
        );
        let mut out = Vec::new();
        let d = LineDecoder::new(Format::S3Export);
        assert_eq!(d.decode(text.as_bytes(), 1, 0, &mut out), 9);
        // A block of nothing but newlines: no record, every line counted.
        out.clear();
        assert_eq!(d.decode(b"\n\n\n", 1, 0, &mut out), 3);
        assert!(out.is_empty());
        // A last line without its newline is still read.
        out.clear();
        assert_eq!(d.decode(b"\n2024-05-01T12:00:00.123Z x", 1, 0, &mut out), 2);
        assert_eq!((out[0].line, &out[0].message[..]), (2, &b"x"[..]));
        let n = Newlines::new();
        assert_eq!(n.next(b"a\n\n", 0), Some(1));
        assert_eq!(n.next(b"a\n\n", 2), Some(2));
        assert_eq!(n.next(b"a\n\n", 3), None);
        assert_eq!(n.next(b"a\n\nb", 3), None);
    }

    /// [`s3_start`] beside [`LineDecoder::start`]: the same answer for every line it takes, and
    /// `None` (the general parsers decide) for every other shape, including near misses.
    #[test]
    fn s3_fast_start_agrees_with_the_general_parsers() {
        let d = LineDecoder::new(Format::S3Export);
        let mut taken = 0;
        for date in [
            "2024-05-01T12:00",
            "2024-12-31T23:59",
            "2024-13-01T12:00",
            "2024-05-01 12:00",
            "2024-05-01T24:00",
            "2O24-05-01T12:00",
        ] {
            for time in [
                ":00.123", ":59.999", ":60.000", ":61.000", ":6a.123", ":00,123", ":00.12",
                ":00.1234", ":00",
            ] {
                for zone in ["Z", "", "+00:00", "-0500", "z"] {
                    for rest in [" START x", "\tSTART x", "", " ", "x", "\r", "  two spaces"] {
                        let line = format!("{date}{time}{zone}{rest}");
                        let l = line.as_bytes();
                        let fast = s3_start(l);
                        taken += usize::from(fast.is_some());
                        assert!(fast.is_none() || fast == d.start(l), "{line:?}");
                        assert_eq!(fast.or_else(|| d.start(l)), d.start(l), "{line:?}");
                    }
                }
            }
        }
        assert!(taken > 0);
        for line in [
            "",
            "x",
            "2024-05-01T12:00:00.123",
            "2024-05-01T12:00:00.123Z",
        ] {
            assert_eq!(s3_start(line.as_bytes()), None, "{line:?}");
        }
    }

    /// [`Newlines`] (memchr's AVX2 searcher called directly, where there is one) beside
    /// `memchr::memchr`, on every length around the 16- and 32-byte steps and every place of
    /// the first newline.
    #[test]
    fn newlines_are_found_where_memchr_finds_them() {
        let n = Newlines::new();
        for len in 0..200 {
            let mut s = vec![b'x'; len];
            assert_eq!(n.find(&s), memchr(b'\n', &s), "{len}");
            for at in 0..len {
                s[at] = b'\n';
                assert_eq!(n.find(&s), Some(at), "{len} {at}");
                for from in 0..=len {
                    assert_eq!(
                        n.next(&s, from),
                        memchr(b'\n', &s[from..]).map(|i| from + i),
                        "{len} {at} {from}"
                    );
                }
                s[at] = b'x';
            }
        }
    }

    #[test]
    fn crlf_line_endings() {
        let r = decode(Format::S3Export, "2024-05-01T12:00:00.123Z START x\r\n\r\n");
        assert_eq!(r[0].3, "START x");
    }

    #[test]
    fn one_file_with_two_pastes_of_different_shapes() {
        let rid = "1f4c2b7e-8d7a-4f6e-9c1a-2b3c4d5e6f70";
        let s3 = format!("2024-05-01T12:00:00.123Z START RequestId: {rid} Version: $LATEST\n\n");
        let tail = format!(
            "2024-05-01T12:00:01.000000+00:00 2024/05/01/[$LATEST]0123 END RequestId: {rid}\n"
        );
        let raw = format!("REPORT RequestId: {rid}\tDuration: 2.00 ms\n");
        let text = format!("{s3}$ aws logs tail /aws/lambda/x\n{tail}{raw}");
        for primary in [Format::S3Export, Format::Tail, Format::Raw] {
            let r = decode(primary, &text);
            assert_eq!(r.len(), 3, "{primary:?}: {r:?}");
            assert!(r[0].3.starts_with("START"), "{primary:?}: {r:?}");
            assert_eq!(
                r[1].2.as_deref(),
                Some("2024/05/01/[$LATEST]0123"),
                "{primary:?}"
            );
            assert_eq!(r[1].3, format!("END RequestId: {rid}"), "{primary:?}");
            assert_eq!(r[1].1, Some(1_714_564_801_000));
            assert!(r[2].3.starts_with("REPORT"), "{primary:?}");
        }
        // The shell prompt stays with the record before it.
        let r = decode(Format::S3Export, &text);
        assert!(r[0].3.ends_with("$ aws logs tail /aws/lambda/x"), "{r:?}");
    }

    #[test]
    fn tail_does_not_take_export_or_short_lines_for_stream_lines() {
        let d = LineDecoder::new(Format::Tail);
        assert!(
            d.own_start(b"2024-05-01T12:00:00.123Z START RequestId: x")
                .is_none()
        );
        assert!(
            d.own_start(b"2024-05-01T12:00:00 START RequestId: x")
                .is_none()
        );
        assert!(
            d.own_start(b"2024-05-01T12:00:00+00:00 stream START")
                .is_some()
        );
        let d = LineDecoder::new(Format::S3Export);
        assert!(
            d.own_start(b"2024-05-01T12:00:00.123000+00:00 stream x")
                .is_none()
        );
        assert!(d.own_start(b"2024-05-01T12:00:00.123Z x").is_some());
    }

    #[test]
    fn raw_messages_joined_by_tabs() {
        // `--query 'events[].message' --output text`
        let r = decode(
            Format::Raw,
            "START RequestId: x Version: $LATEST\n\tEND RequestId: x\n\tREPORT RequestId: x\n",
        );
        assert_eq!(r.len(), 3);
        assert_eq!(r[1].3, "END RequestId: x");
    }
}
