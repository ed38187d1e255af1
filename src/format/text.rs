//! Reading text line by line with bounded memory, for the structured text shapes (`--output
//! text`, `--output table`, Insights text).

use std::io::{self, BufRead, BufReader, Read};

use crate::problem::{Kind, Problem};

/// The longest line (and record) kept: a CloudWatch event is at most 1 MB, so anything longer is
/// not a log line; the rest of such a line is skipped and reported.
pub(crate) const MAX_LINE: usize = 16 << 20;

/// Reads lines (without their `\n` / `\r\n`), counting line numbers and byte offsets.
pub(crate) struct LineReader<'r> {
    inner: BufReader<&'r mut dyn Read>,
    /// 1-based number of the line last returned.
    pub(crate) line: u64,
    /// Byte offset of the line last returned.
    pub(crate) offset: u64,
    next_offset: u64,
    /// Problems met (a read error ends the input; an over-long line is cut).
    pub(crate) errors: Vec<Problem>,
    /// Stop reading (set after a read error).
    done: bool,
}

impl<'r> LineReader<'r> {
    pub(crate) fn new(input: &'r mut dyn Read) -> LineReader<'r> {
        LineReader {
            inner: BufReader::with_capacity(256 * 1024, input),
            line: 0,
            offset: 0,
            next_offset: 0,
            errors: Vec::new(),
            done: false,
        }
    }

    /// Reads the next line into `buf` (cleared first). Returns false at the end of the input.
    pub(crate) fn next_line(&mut self, buf: &mut Vec<u8>) -> bool {
        buf.clear();
        if self.done {
            return false;
        }
        let start = self.next_offset;
        let mut consumed = 0u64;
        let mut cut = false;
        loop {
            let avail = match self.inner.fill_buf() {
                Ok(a) => a,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.done = true;
                    self.errors.push(Problem::read(Some(start + consumed), &e));
                    break;
                }
            };
            if avail.is_empty() {
                self.done = true;
                break;
            }
            let (take, found) = match memchr::memchr(b'\n', avail) {
                Some(i) => (i + 1, true),
                None => (avail.len(), false),
            };
            let keep = take.min(MAX_LINE.saturating_sub(buf.len()));
            if keep < take {
                cut = true;
            }
            buf.extend_from_slice(&avail[..keep]);
            self.inner.consume(take);
            consumed += take as u64;
            if found {
                break;
            }
        }
        if consumed == 0 {
            return false;
        }
        self.line += 1;
        self.offset = start;
        self.next_offset = start + consumed;
        if buf.last() == Some(&b'\n') {
            buf.pop();
        }
        if buf.last() == Some(&b'\r') {
            buf.pop();
        }
        if cut {
            self.errors.push(Problem::at(
                Some(self.line),
                Some(start),
                Kind::LineTooLong {
                    max_mib: MAX_LINE >> 20,
                },
            ));
        }
        true
    }
}

/// Lossy UTF-8 of a byte slice, owned.
pub(crate) fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8]) -> Vec<(u64, u64, Vec<u8>)> {
        let mut r: &[u8] = input;
        let mut lr = LineReader::new(&mut r);
        let mut buf = Vec::new();
        let mut out = Vec::new();
        while lr.next_line(&mut buf) {
            out.push((lr.line, lr.offset, buf.clone()));
        }
        out
    }

    #[test]
    fn lines_offsets_and_line_endings() {
        let l = lines(b"a\r\nbb\n\nlast");
        assert_eq!(
            l,
            vec![
                (1, 0, b"a".to_vec()),
                (2, 3, b"bb".to_vec()),
                (3, 6, b"".to_vec()),
                (4, 7, b"last".to_vec())
            ]
        );
        assert!(lines(b"").is_empty());
    }

    #[test]
    fn over_long_lines_are_cut() {
        let mut data = vec![b'x'; MAX_LINE + 10];
        data.extend_from_slice(b"\nnext\n");
        let mut r: &[u8] = &data;
        let mut lr = LineReader::new(&mut r);
        let mut buf = Vec::new();
        assert!(lr.next_line(&mut buf));
        assert_eq!(buf.len(), MAX_LINE);
        assert!(lr.next_line(&mut buf));
        assert_eq!(buf, b"next");
        assert_eq!(lr.errors.len(), 1);
    }
}
