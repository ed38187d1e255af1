//! The stream-windows strategy: a line-oriented stream (stdin, a `.gz` member, UTF-16 text) read
//! a window at a time into two buffers, each window ending at a record boundary (the unfinished
//! record at its end is carried into the next), and decoded in parallel blocks while the previous
//! window is assembled.

use std::io::Read;

use super::blocks::{
    DecodedBlock, InOrder, STREAM_BLOCK, Spare, decode_window, overlapped, window_size,
};
use super::session::Session;
use super::{MAX_RECORD_BYTES, Scanned, Strategy};
use crate::format::lines::LineDecoder;
use crate::problem::Problem;
use crate::rules::RuleSet;

/// A line-oriented input read from a stream.
pub(super) struct StreamWindows<'r> {
    pub(super) reader: &'r mut dyn Read,
    pub(super) decoder: LineDecoder,
}

/// Reads a stream into window buffers that end at record boundaries.
struct WindowReader<'r> {
    inner: &'r mut dyn Read,
    decoder: LineDecoder,
    /// Bytes asked of the reader at a time, and at least this many more than the carry.
    block: usize,
    /// A window that shows no record boundary in this many bytes is cut there anyway, and the
    /// rest of its record skipped.
    max_record: usize,
    eof: bool,
    /// Bytes read so far.
    read: u64,
    errors: Vec<Problem>,
    /// After a window was cut inside an over-long record: what is left of it up to the next
    /// record start.
    skip: Skip,
}

/// Skipping the rest of an over-long record.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Skip {
    #[default]
    No,
    /// Skipping; `mid_line` while the line the window was cut in has not ended (its first part
    /// was counted as a line by the window).
    Yes { mid_line: bool },
}

/// Lines and bytes skipped before a window.
#[derive(Clone, Copy, Debug, Default)]
struct Skipped {
    lines: u64,
    bytes: u64,
}

impl<'r> WindowReader<'r> {
    fn new(inner: &'r mut dyn Read, decoder: LineDecoder) -> WindowReader<'r> {
        WindowReader {
            inner,
            decoder,
            block: STREAM_BLOCK,
            max_record: MAX_RECORD_BYTES,
            eof: false,
            read: 0,
            errors: Vec::new(),
            skip: Skip::No,
        }
    }

    /// Fills `buf` (see [`WindowReader::fill`]) and decodes the window in it. Returns the decoded
    /// window, the carry for the next one, and the window's length (0 at the end of the input).
    fn fill_and_decode<'b>(
        &mut self,
        buf: &'b mut Vec<u8>,
        carry: &[u8],
        offset: u64,
        size: usize,
        rules: &RuleSet,
        spare: &Spare,
    ) -> (Vec<DecodedBlock<'b>>, &'b [u8], u64) {
        let mut skipped = Skipped::default();
        let cut = self.fill(buf, carry, size, &mut skipped);
        let buf: &'b Vec<u8> = buf;
        let mut window = Vec::new();
        if skipped.bytes > 0 {
            window.push(DecodedBlock::skipped(skipped.lines, skipped.bytes));
        }
        let at = offset + skipped.bytes;
        window.extend(decode_window(
            &buf[..cut],
            &self.decoder,
            at,
            STREAM_BLOCK,
            rules,
            spare,
        ));
        (window, &buf[cut..], cut as u64 + skipped.bytes)
    }

    /// Drops from the front of `buf` what is left of an over-long record, up to the next record
    /// start (kept). Returns false while the record goes on past `buf`.
    fn skip_rest(&mut self, buf: &mut Vec<u8>, skipped: &mut Skipped) -> bool {
        let Skip::Yes { mid_line } = self.skip else {
            return true;
        };
        let from = if mid_line {
            memchr::memchr(b'\n', buf).map(|i| i + 1)
        } else {
            Some(0)
        };
        let found = from.and_then(|f| self.decoder.boundary(buf, f));
        let drop = match found {
            Some(b) => b,
            None if self.eof => buf.len(),
            // Keep the last partial line: it may be a record start cut by the read. A line
            // without its end that continues the cut one, or is as long as a record may be,
            // goes whole.
            None => match memchr::memrchr(b'\n', buf) {
                Some(i) => i + 1,
                None if mid_line || buf.len() >= self.max_record => {
                    self.skip = Skip::Yes { mid_line: true };
                    buf.len()
                }
                None => 0,
            },
        };
        let mut lines = memchr::memchr_iter(b'\n', &buf[..drop]).count() as u64;
        if matches!(self.skip, Skip::Yes { mid_line: true }) && lines > 0 {
            lines -= 1;
            self.skip = Skip::Yes { mid_line: false };
        }
        skipped.lines += lines;
        skipped.bytes += drop as u64;
        buf.drain(..drop);
        if found.is_some() || self.eof {
            self.skip = Skip::No;
            return true;
        }
        false
    }

    /// Fills `buf` with `carry` (the unfinished record of the previous window) and then input,
    /// up to about `size` bytes. Returns where the window's last whole record ends: the rest of
    /// `buf` is the next window's carry. Returns 0 only at the end of the input.
    fn fill(
        &mut self,
        buf: &mut Vec<u8>,
        carry: &[u8],
        size: usize,
        skipped: &mut Skipped,
    ) -> usize {
        buf.clear();
        buf.extend_from_slice(carry);
        let mut target = size.max(carry.len() + self.block);
        loop {
            while !self.eof && buf.len() < target {
                let start = buf.len();
                buf.resize(start + (target - start).min(self.block), 0);
                match self.inner.read(&mut buf[start..]) {
                    Ok(0) => {
                        buf.truncate(start);
                        self.eof = true;
                    }
                    Ok(n) => {
                        buf.truncate(start + n);
                        self.read += n as u64;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => buf.truncate(start),
                    Err(e) => {
                        buf.truncate(start);
                        self.eof = true;
                        self.errors.push(Problem::read(Some(self.read), &e));
                    }
                }
            }
            if !self.skip_rest(buf, skipped) || (!self.eof && buf.len() < target) {
                continue;
            }
            if self.eof {
                return buf.len();
            }
            match last_boundary(buf, &self.decoder) {
                Some(c) => return c,
                // More than the longest record, so that the record is longer than that and
                // said to be cut: a window of exactly `max_record` bytes (1 MiB: 256 KiB blocks
                // on two threads) held a record just shorter, cut silently.
                None if buf.len() > self.max_record => {
                    // One record fills the window: decode what is here (the record is cut at
                    // MAX_RECORD_BYTES) and skip the rest of it.
                    let mid_line = buf.last() != Some(&b'\n');
                    self.skip = Skip::Yes { mid_line };
                    return buf.len();
                }
                None => target = buf.len() * 2,
            }
        }
    }
}

/// A record boundary near the end of `buf`, after its first line (so a window is never empty):
/// the first one in the last 64 KiB, else in the last half, and so on back to the start.
fn last_boundary(buf: &[u8], decoder: &LineDecoder) -> Option<usize> {
    let mut back = (64usize << 10).min(buf.len());
    loop {
        let from = buf.len() - back;
        if let Some(b) = decoder.boundary(buf, from.max(1))
            && b > 0
            && b < buf.len()
        {
            return Some(b);
        }
        if back == buf.len() {
            return None;
        }
        back = (back * 4).min(buf.len());
    }
}

impl Strategy for StreamWindows<'_> {
    /// Decodes the stream a window at a time with two buffers: while one window is assembled (on
    /// a helper thread), the next is read and decoded in parallel. Memory stays at two windows
    /// whatever the input size.
    fn scan(self, session: &mut Session) -> Scanned {
        let rules = session.rules;
        let size = window_size(STREAM_BLOCK);
        let mut reader = WindowReader::new(self.reader, self.decoder);
        let spare = &Spare::default();
        let mut order = InOrder {
            session,
            line_base: 0,
            spare,
        };
        let (mut a, mut b) = (Vec::new(), Vec::new());
        // Each step fills one buffer (starting with the other's carry) and decodes it while the
        // window decoded into the other buffer by the previous step is assembled.
        let mut offset = 0u64;
        // The window decoded into `b` by the previous step and the carry after it.
        let mut pending_b: (Vec<DecodedBlock>, &[u8]) = (Vec::new(), &[]);
        loop {
            let (blocks, carry) = pending_b;
            let (buf, rd) = (&mut a, &mut reader);
            let (done_a, carry, n) = overlapped(&mut order, blocks, move || {
                rd.fill_and_decode(buf, carry, offset, size, rules, spare)
            });
            if n == 0 {
                break;
            }
            offset += n;
            let (buf, rd) = (&mut b, &mut reader);
            let (done_b, carry, n) = overlapped(&mut order, done_a, move || {
                rd.fill_and_decode(buf, carry, offset, size, rules, spare)
            });
            if n == 0 {
                break;
            }
            offset += n;
            pending_b = (done_b, carry);
        }
        Scanned {
            bytes: reader.read,
            problems: Vec::new(),
            incomplete: reader.errors,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{Decoder, Format};
    use crate::lambda::platform::PlatformEvent;
    use crate::testing::rules;

    /// A record as the tests compare them: line, offset, message. A plain START, END or REPORT
    /// line becomes a platform event, which carries no offset (`None`).
    type Rec = (u64, Option<u64>, Vec<u8>);

    fn decoder(format: Format) -> LineDecoder {
        let Decoder::Lines(d) = format.decoder() else {
            panic!("{format} is not line-oriented")
        };
        d
    }

    /// Every record of `input` decoded whole, in one block.
    fn whole(input: &[u8], format: Format) -> Vec<Rec> {
        let mut out = Vec::new();
        decoder(format).decode(input, 1, 0, &mut out);
        out.into_iter()
            .map(|r| {
                let offset = PlatformEvent::of(&r).is_none().then_some(r.offset);
                (r.line, offset, r.message.to_vec())
            })
            .collect()
    }

    /// Every record of `input` read as the stream strategy reads it, through windows of about
    /// `size` bytes read `block` bytes at a time, a window with no record boundary cut after
    /// `max_record` bytes; lines numbered on from window to window as the session numbers them.
    /// Also the length of each window.
    fn windowed(
        input: &[u8],
        format: Format,
        size: usize,
        block: usize,
        max_record: usize,
    ) -> (Vec<Rec>, Vec<usize>) {
        let mut r: &[u8] = input;
        let mut reader = WindowReader {
            block,
            max_record,
            ..WindowReader::new(&mut r, decoder(format))
        };
        let spare = Spare::default();
        let (mut buf, mut carry) = (Vec::new(), Vec::new());
        let (mut offset, mut line_base) = (0u64, 0u64);
        let (mut records, mut windows) = (Vec::new(), Vec::new());
        loop {
            let (blocks, rest, n) =
                reader.fill_and_decode(&mut buf, &carry, offset, size, rules(), &spare);
            if n == 0 {
                assert!(rest.is_empty(), "input left at the end");
                break;
            }
            windows.push(n as usize);
            for b in blocks {
                assert_eq!(b.records.len(), b.analyzed.len());
                let at = |line| line + line_base;
                let mut block: Vec<Rec> = (b.records.iter())
                    .map(|r| (at(r.line), Some(r.offset), r.message.to_vec()))
                    .chain((b.events.iter()).map(|e| (at(e.line), None, e.message.to_vec())))
                    .collect();
                block.sort_by_key(|r| r.0);
                records.extend(block);
                line_base += b.lines;
            }
            carry = rest.to_vec();
            offset += n;
        }
        assert_eq!(windows.iter().sum::<usize>(), input.len());
        assert!(reader.errors.is_empty());
        (records, windows)
    }

    const RID: &str = "1f4c2b7e-8d7a-4f6e-9c1a-2b3c4d5e6f70";

    /// S3-export text whose records span several lines (a traceback, a blank line after a
    /// message ending in a newline), with `eol` line endings.
    fn export(eol: &str) -> String {
        let mut s = String::new();
        for i in 0..12 {
            s.push_str(&format!(
                "2024-05-01T12:00:{i:02}.123Z START RequestId: {RID} Version: $LATEST{eol}{eol}"
            ));
            s.push_str(&format!("2024-05-01T12:00:{i:02}.456Z [ERROR] ValueError: Unable to log into database{eol}Traceback (most recent call last):{eol}\u{a0}\u{a0}File \"/var/task/lambda_function.py\", line 77, in lambda_handler{eol}"));
            s.push_str(&format!(
                "2024-05-01T12:00:{i:02}.789Z END RequestId: {RID}{eol}"
            ));
        }
        s
    }

    #[test]
    fn a_record_straddling_a_window_boundary_is_decoded_whole() {
        let input = export("\n");
        let want = whole(input.as_bytes(), Format::S3Export);
        assert_eq!(want.len(), 36);
        for size in [1, 7, 64, 100, 333, 1000] {
            let (got, windows) = windowed(input.as_bytes(), Format::S3Export, size, 16, 1 << 20);
            assert!(
                windows.len() > 1 || size >= 1000,
                "size {size}: {windows:?}"
            );
            assert_eq!(got, want, "size {size}");
        }
    }

    #[test]
    fn crlf_line_endings_split_across_windows() {
        let input = export("\r\n");
        let want = whole(input.as_bytes(), Format::S3Export);
        // Every window size from 1 to 200 bytes, reading 3 bytes at a time: reads end between a
        // CR and its LF again and again; windows only end after an LF.
        for size in 1..200 {
            let (got, windows) = windowed(input.as_bytes(), Format::S3Export, size, 3, 1 << 20);
            assert_eq!(got, want, "size {size}");
            let mut at = 0;
            for w in &windows[..windows.len() - 1] {
                at += w;
                assert_eq!(
                    input.as_bytes()[at - 1],
                    b'\n',
                    "size {size}: window ends at {at}"
                );
            }
        }
        assert!(want.iter().all(|(_, _, m)| !m.ends_with(b"\r")));
    }

    #[test]
    fn a_window_with_no_newline_is_cut_and_the_rest_of_the_record_skipped() {
        // One line of 10 KB and no newline: no record boundary anywhere. A window grows (doubling)
        // until it holds the longest record allowed, then ends there; the rest of the record is
        // skipped, window by window, and still counted as read.
        let input = vec![b'x'; 10_000];
        let (got, windows) = windowed(&input, Format::Raw, 100, 64, 1000);
        assert!(windows.len() >= 2, "{windows:?}");
        assert!((1000..2000).contains(&windows[0]), "{windows:?}");
        // One record: the first window, at offset 0 on line 1.
        assert_eq!(got.len(), 1, "{got:?}");
        let (line, offset, text) = &got[0];
        assert_eq!((*line, *offset), (1, Some(0)));
        assert!(text.len() <= windows[0] && input.starts_with(text));
    }

    #[test]
    fn the_record_after_an_over_long_one_is_read_whole() {
        // An over-long first line, then ordinary records: the skip ends at the next record start.
        let mut input = format!("2024-05-01T12:00:00.000Z {}\n", "y".repeat(5000)).into_bytes();
        let rest = export("\n");
        input.extend_from_slice(rest.as_bytes());
        let (got, _) = windowed(&input, Format::S3Export, 100, 64, 1000);
        let want = whole(rest.as_bytes(), Format::S3Export);
        assert_eq!(got.len(), want.len() + 1);
        let base = (input.len() - rest.len()) as u64;
        for ((_, offset, m), (_, w_offset, w)) in got[1..].iter().zip(&want) {
            assert_eq!((*offset, m), (w_offset.map(|o| o + base), w));
        }
    }

    #[test]
    fn empty_input_and_windows_of_blank_lines() {
        let (got, windows) = windowed(b"", Format::S3Export, 64, 16, 1 << 20);
        assert!(got.is_empty() && windows.is_empty());
        // Blank lines only: windows are read, and hold no record.
        let blank = "\n".repeat(500);
        let (got, windows) = windowed(blank.as_bytes(), Format::S3Export, 64, 16, 1 << 20);
        assert!(got.is_empty());
        assert_eq!(windows.iter().sum::<usize>(), 500);
    }

    #[test]
    fn a_read_error_ends_the_input_where_it_happened() {
        struct Failing<'a>(&'a [u8]);
        impl Read for Failing<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                if self.0.is_empty() {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                let n = self.0.len().min(buf.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let input = export("\n");
        let mut r = Failing(input.as_bytes());
        let mut reader = WindowReader::new(&mut r, decoder(Format::S3Export));
        let mut buf = Vec::new();
        assert_eq!(
            reader.fill(&mut buf, &[], 1 << 20, &mut Skipped::default()),
            input.len()
        );
        assert_eq!(reader.read, input.len() as u64);
        assert_eq!(reader.errors.len(), 1);
        assert!(
            reader.errors[0].to_string().contains("truncated"),
            "{:?}",
            reader.errors
        );
        assert_eq!(reader.errors[0].at.offset, Some(input.len() as u64));
    }
}
