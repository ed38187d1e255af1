//! Transport layers: what wraps the log text on its way to rotdiag.
//!
//! Detected by content, in this order, repeatedly (Firehose objects can be gzipped twice):
//! gzip (`1F 8B`, every member of a multi-member file; at most [`MAX_GZIP`] layers deep, since a
//! gzip quine decompresses to itself forever), a UTF-16 byte-order mark (PowerShell redirection),
//! UTF-16 without one (recognised by its NUL bytes: every other byte of ASCII text), a UTF-8
//! byte-order mark (Windows editors), and ANSI colour codes (terminal copies of `aws logs tail`).
//! Each layer is a streaming reader, so none of them loads the input into memory. What is left
//! may be an archive ([`super::archive`]), whose members are inputs of their own.

use std::io::{self, Cursor, Read};

use flate2::read::MultiGzDecoder;

use super::Opened;
use super::SNIFF_BYTES;
use super::archive::{self, Archive};

/// gzip layers peeled off one input at most. Firehose writes two; nobody writes eight.
pub(crate) const MAX_GZIP: u8 = 8;

/// Which layers were peeled off an input (reported next to its format).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Layers {
    pub(crate) gzip: u8,
    pub(crate) bom: bool,
    pub(crate) utf16: bool,
    pub(crate) ansi: bool,
}

impl Layers {
    pub(crate) fn describe(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        match self.gzip {
            0 => {}
            1 => v.push("gzip"),
            2 => v.push("gzip x2"),
            _ => v.push("gzip x3+"),
        }
        if self.utf16 {
            v.push("utf-16");
        }
        if self.bom {
            v.push("bom");
        }
        if self.ansi {
            v.push("ansi");
        }
        v
    }
}

/// Does this input need the streaming path (anything but plain UTF-8 text)?
pub(crate) fn needs_stream(head: &[u8], sample: &[u8]) -> bool {
    head.starts_with(&[0x1f, 0x8b])
        || head.starts_with(&[0xff, 0xfe])
        || head.starts_with(&[0xfe, 0xff])
        || utf16_without_bom(sample).is_some()
        || memchr::memmem::find(sample, b"\x1b[").is_some()
}

/// UTF-16 text without a byte-order mark (`Out-File -Encoding unicode` in some PowerShell
/// versions, an editor's "UTF-16 LE" without BOM): ASCII text in UTF-16 has a NUL in every other
/// byte. Looks at the first 512 bytes; returns whether the text is big-endian.
pub(crate) fn utf16_without_bom(sample: &[u8]) -> Option<bool> {
    let s = &sample[..sample.len().min(512) & !1];
    if s.len() < 8 {
        return None;
    }
    let pairs = s.len() / 2;
    // NULs at even and at odd offsets, in one pass over the pairs (every input is asked).
    let (even, odd) = s.chunks_exact(2).fold((0, 0), |(even, odd), unit| {
        (
            even + usize::from(unit[0] == 0),
            odd + usize::from(unit[1] == 0),
        )
    });
    // Nearly every unit has a NUL high byte, and the other byte is almost never NUL.
    if odd * 10 >= pairs * 9 && even * 10 <= pairs {
        Some(false)
    } else if even * 10 >= pairs * 9 && odd * 10 <= pairs {
        Some(true)
    } else {
        None
    }
}

type BoxRead = Box<dyn Read + Send>;

/// Reads up to `n` bytes, then returns them and a reader that yields them again followed by the rest.
/// A read error met while peeking (a truncated gzip member) is replayed after the peeked bytes, so
/// the caller still sees it at the right place.
fn peek(mut r: BoxRead, n: usize) -> io::Result<(Vec<u8>, BoxRead)> {
    let mut head = Vec::with_capacity(n.min(1 << 16));
    let mut limited = (&mut r).take(n as u64);
    let mut error = None;
    if let Err(e) = limited.read_to_end(&mut head) {
        if head.is_empty() {
            return Err(e);
        }
        error = Some(e);
    }
    let replay = Replay {
        head: Cursor::new(head.clone()),
        error,
        rest: r,
    };
    Ok((head, Box::new(replay)))
}

struct Replay {
    head: Cursor<Vec<u8>>,
    error: Option<io::Error>,
    rest: BoxRead,
}

impl Read for Replay {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.head.read(buf)?;
        if n > 0 {
            return Ok(n);
        }
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.rest.read(buf)
    }
}

/// Peels transport layers off a stream and samples the decoded text.
pub fn stream(r: BoxRead) -> io::Result<(Opened, Vec<u8>, Layers)> {
    let mut layers = Layers::default();
    let mut r = r;
    loop {
        let (head, next) = peek(r, 512)?;
        r = next;
        if head.starts_with(&[0x1f, 0x8b]) {
            if layers.gzip >= MAX_GZIP {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "gzip nested more than {MAX_GZIP} layers deep (a gzip quine?): not read"
                    ),
                ));
            }
            layers.gzip += 1;
            r = Box::new(MultiGzDecoder::new(io::BufReader::with_capacity(
                256 * 1024,
                r,
            )));
            continue;
        }
        if head.starts_with(&[0xff, 0xfe]) || head.starts_with(&[0xfe, 0xff]) {
            // The BOM stays in: the decoder removes it, and only it (a second one is a U+FEFF,
            // peeled off as a UTF-8 BOM below).
            layers.utf16 = true;
            r = utf16(r, head[0] == 0xfe)?;
            continue;
        }
        if !layers.utf16
            && let Some(big) = utf16_without_bom(&head)
        {
            layers.utf16 = true;
            r = utf16(r, big)?;
            continue;
        }
        if head.starts_with(b"\xEF\xBB\xBF") {
            let mut bom = [0u8; 3];
            r.read_exact(&mut bom)?;
            layers.bom = true;
            continue;
        }
        break;
    }
    let (sample, mut r) = peek(r, SNIFF_BYTES)?;
    if let Some(kind) = archive::sniff(&sample) {
        let archive = Archive::new(kind, archive::Source::Stream(r));
        return Ok((Opened::Archive(archive), Vec::new(), layers));
    }
    let mut sample = sample;
    if memchr::memmem::find(&sample, b"\x1b[").is_some() {
        layers.ansi = true;
        r = Box::new(AnsiStrip::new(r));
        sample = strip_ansi(&sample);
    }
    Ok((Opened::Stream(r), sample, layers))
}

/// Transcodes UTF-16 (either byte order) to UTF-8 as it is read, each unpaired surrogate or odd
/// last byte a U+FFFD (the Encoding Standard's decoder, `encoding_rs`, as ripgrep reads UTF-16).
/// A byte-order mark of that order at the start is removed.
///
/// Read through a buffer: `encoding_rs_io` 0.1.8, asked for fewer than 4 bytes at the end of its
/// input, hands out the first bytes of the last U+FFFD and drops the rest (its small-read path
/// checks for the end before draining what it holds), and [`peek`]'s `take` asks for as few as
/// are left of the peek. The buffer asks it for [`UTF16_BUFFER`] bytes at a time.
fn utf16(r: BoxRead, big_endian: bool) -> io::Result<BoxRead> {
    let encoding = if big_endian {
        encoding_rs::UTF_16BE
    } else {
        encoding_rs::UTF_16LE
    };
    let decoder = encoding_rs_io::DecodeReaderBytesBuilder::new()
        .encoding(Some(encoding))
        .build_with_buffer(r, vec![0u8; UTF16_BUFFER])?;
    Ok(Box::new(io::BufReader::with_capacity(
        UTF16_BUFFER,
        decoder,
    )))
}

/// Bytes of UTF-16 read at a time.
const UTF16_BUFFER: usize = 64 << 10;

/// Removes ANSI SGR sequences (`ESC [ … m`) that `aws logs tail --color on` and terminal copies
/// leave around timestamps and stream names.
pub(crate) fn strip_ansi(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == 0x1b && s.get(i + 1) == Some(&b'[') {
            let mut j = i + 2;
            while j < s.len() && (s[j].is_ascii_digit() || s[j] == b';') {
                j += 1;
            }
            if j < s.len() && s[j].is_ascii_alphabetic() {
                i = j + 1;
                continue;
            }
        }
        out.push(s[i]);
        i += 1;
    }
    out
}

/// Drops ANSI SGR sequences (`ESC [ digits ; … letter`) from a stream.
struct AnsiStrip<R> {
    inner: R,
    state: u8,
}

impl<R: Read> AnsiStrip<R> {
    fn new(inner: R) -> Self {
        AnsiStrip { inner, state: 0 }
    }
}

impl<R: Read> Read for AnsiStrip<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let n = self.inner.read(buf)?;
            if n == 0 {
                return Ok(0);
            }
            let mut w = 0;
            for r in 0..n {
                let b = buf[r];
                match self.state {
                    0 if b == 0x1b => self.state = 1,
                    0 => {
                        buf[w] = b;
                        w += 1;
                    }
                    1 if b == b'[' => self.state = 2,
                    1 => {
                        // A lone ESC: keep both bytes' worth of meaning by dropping only the ESC.
                        self.state = 0;
                        buf[w] = b;
                        w += 1;
                    }
                    _ => {
                        if b.is_ascii_digit() || b == b';' {
                            continue;
                        }
                        self.state = 0;
                        if !b.is_ascii_alphabetic() {
                            buf[w] = b;
                            w += 1;
                        }
                    }
                }
            }
            if w > 0 {
                return Ok(w);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::gzip;

    fn read_all(bytes: Vec<u8>) -> (Vec<u8>, Layers) {
        let (opened, _sample, layers) = stream(Box::new(Cursor::new(bytes))).unwrap();
        let Opened::Stream(mut r) = opened else {
            panic!()
        };
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        (out, layers)
    }

    #[test]
    fn gzip_multi_member_and_double_gzip() {
        let mut two = gzip(b"first\n");
        two.extend(gzip(b"second\n"));
        let (out, layers) = read_all(two.clone());
        assert_eq!(out, b"first\nsecond\n");
        assert_eq!(layers.gzip, 1);
        let (out, layers) = read_all(gzip(&two));
        assert_eq!(out, b"first\nsecond\n");
        assert_eq!(layers.gzip, 2);
    }

    #[test]
    fn utf16_both_byte_orders_and_boms() {
        let text = "START RequestId: x ✓ 😀\n";
        let mut le = vec![0xff, 0xfe];
        le.extend(text.encode_utf16().flat_map(|u| u.to_le_bytes()));
        let mut be = vec![0xfe, 0xff];
        be.extend(text.encode_utf16().flat_map(|u| u.to_be_bytes()));
        assert_eq!(read_all(le).0, text.as_bytes());
        assert_eq!(read_all(be).0, text.as_bytes());
        let mut bom = b"\xEF\xBB\xBF".to_vec();
        bom.extend_from_slice(text.as_bytes());
        let (out, layers) = read_all(bom);
        assert_eq!(out, text.as_bytes());
        assert!(layers.bom);
    }

    #[test]
    fn utf16_without_a_bom_is_recognised_by_its_nul_bytes() {
        let text = "2025-04-10T09:31:22.507Z START RequestId: x Version: $LATEST\n";
        let le: Vec<u8> = text.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
        let be: Vec<u8> = text.encode_utf16().flat_map(|u| u.to_be_bytes()).collect();
        assert_eq!(utf16_without_bom(&le), Some(false));
        assert_eq!(utf16_without_bom(&be), Some(true));
        assert_eq!(utf16_without_bom(text.as_bytes()), None);
        assert_eq!(utf16_without_bom(&[0u8; 600]), None);
        let (out, layers) = read_all(le);
        assert_eq!(out, text.as_bytes());
        assert!(layers.utf16);
        assert_eq!(read_all(be).0, text.as_bytes());
    }

    /// Hands `data` over in pieces of the sizes given in turn, failing once at each offset of
    /// `errors`.
    struct Pieces {
        data: Vec<u8>,
        pos: usize,
        sizes: Vec<usize>,
        turn: usize,
        errors: Vec<usize>,
    }

    impl Read for Pieces {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if let Some(i) = self.errors.iter().position(|&e| e == self.pos) {
                self.errors.remove(i);
                return Err(io::Error::other(format!("failed at {}", self.pos)));
            }
            let size = self.sizes[self.turn % self.sizes.len()];
            self.turn += 1;
            let next_error = self.errors.iter().copied().filter(|&e| e > self.pos).min();
            let n = size
                .min(buf.len())
                .min(self.data.len() - self.pos)
                .min(next_error.unwrap_or(usize::MAX) - self.pos);
            buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    #[derive(Debug, PartialEq)]
    enum Event {
        Bytes(Vec<u8>),
        Failed(String),
    }

    /// Every read of a stream until its end, the bytes of consecutive reads joined.
    fn transcript(r: BoxRead, read_size: usize) -> (Vec<Event>, Vec<u8>, Option<Layers>) {
        let (mut r, sample, layers) = match stream(r) {
            Err(e) => return (vec![Event::Failed(e.to_string())], Vec::new(), None),
            Ok((Opened::Stream(r), sample, layers)) => (r, sample, layers),
            Ok(_) => panic!("an archive"),
        };
        let mut events = Vec::new();
        let mut buf = vec![0u8; read_size];
        loop {
            match r.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => match events.last_mut() {
                    Some(Event::Bytes(b)) => b.extend_from_slice(&buf[..n]),
                    _ => events.push(Event::Bytes(buf[..n].to_vec())),
                },
                Err(e) => events.push(Event::Failed(e.to_string())),
            }
        }
        (events, sample, Some(layers))
    }

    fn utf16le(text: &str) -> Vec<u8> {
        text.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    fn units(order: fn(u16) -> [u8; 2], units: &[u16]) -> Vec<u8> {
        units.iter().flat_map(|&u| order(u)).collect()
    }

    /// What a UTF-16 input reads as, one `read` of `read_size` bytes at a time.
    fn utf16_reads(data: &[u8], errors: &[usize], read_size: usize) -> Vec<Event> {
        let pieces = Pieces {
            data: data.to_vec(),
            pos: 0,
            sizes: vec![7, 4096],
            turn: 0,
            errors: errors.to_vec(),
        };
        let (events, _sample, layers) = transcript(Box::new(pieces), read_size);
        assert!(layers.is_some_and(|l| l.utf16), "{data:?}");
        events
    }

    fn text(s: &str) -> Event {
        Event::Bytes(s.as_bytes().to_vec())
    }

    #[test]
    fn utf16_odd_ends_unpaired_surrogates_and_boms_read_as_fixed() {
        let le = |u: &[u16]| units(u16::to_le_bytes, u);
        let be = |u: &[u16]| units(u16::to_be_bytes, u);
        let a = u16::from(b'a');
        let b = u16::from(b'b');
        let cases: Vec<(Vec<u8>, &[usize], Vec<Event>)> = vec![
            // An odd last byte, and a high surrogate left open at the end: one U+FFFD, also both.
            (
                [le(&[0xFEFF, a, b]), vec![0x41]].concat(),
                &[],
                vec![text("ab\u{FFFD}")],
            ),
            (le(&[0xFEFF, a, 0xD83D]), &[], vec![text("a\u{FFFD}")]),
            (
                [le(&[0xFEFF, a, 0xD83D]), vec![0x41]].concat(),
                &[],
                vec![text("a\u{FFFD}")],
            ),
            // Unpaired surrogates: a high one before a non-surrogate, a lone low one, two highs.
            (le(&[0xFEFF, 0xD800, a]), &[], vec![text("\u{FFFD}a")]),
            (le(&[0xFEFF, 0xDC00, b]), &[], vec![text("\u{FFFD}b")]),
            (
                le(&[0xFEFF, 0xD83D, 0xD83D, 0xDE00]),
                &[],
                vec![text("\u{FFFD}😀")],
            ),
            (be(&[0xFEFF, 0xD83D, 0xDE00, a]), &[], vec![text("😀a")]),
            (
                [be(&[0xFEFF, a]), vec![0x41]].concat(),
                &[],
                vec![text("a\u{FFFD}")],
            ),
            // The BOM alone; a U+FEFF inside the text stays.
            (le(&[0xFEFF]), &[], vec![]),
            (le(&[0xFEFF, a, 0xFEFF, b]), &[], vec![text("a\u{FEFF}b")]),
            // Without a BOM (told by its NUL bytes), ending in an odd byte.
            (
                [utf16le("START RequestId: x\n"), vec![0x41]].concat(),
                &[],
                vec![text("START RequestId: x\n\u{FFFD}")],
            ),
            // The last U+FFFD across the end of the first 512 bytes peeked (`encoding_rs_io`
            // read for fewer than 4 bytes at its end gives only the first: see `utf16`).
            (
                [le(&[0xFEFF]), utf16le(&"a".repeat(511)), vec![0x41]].concat(),
                &[],
                vec![text(&("a".repeat(511) + "\u{FFFD}"))],
            ),
            // A read error between the halves of a pair: what came before, the error, the rest.
            (
                le(&[0xFEFF, a, b, 0xD83D, 0xDE00, a]),
                &[8],
                vec![text("ab"), Event::Failed("failed at 8".into()), text("😀a")],
            ),
        ];
        for (data, errors, want) in &cases {
            for read_size in [1, 2, 3, 4, 4096] {
                assert_eq!(
                    &utf16_reads(data, errors, read_size),
                    want,
                    "{data:?} {read_size}"
                );
            }
        }
        // Two BOMs: the second is a U+FEFF, peeled off as a UTF-8 BOM.
        let (out, layers) = read_all(le(&[0xFEFF, 0xFEFF, a]));
        assert_eq!(out, b"a");
        assert!(layers.utf16 && layers.bom);
    }

    #[test]
    fn gzip_nesting_is_bounded() {
        let mut data = b"line\n".to_vec();
        for _ in 0..MAX_GZIP {
            data = gzip(&data);
        }
        let (out, layers) = read_all(data.clone());
        assert_eq!(out, b"line\n");
        assert_eq!(layers.gzip, MAX_GZIP);
        let err = stream(Box::new(Cursor::new(gzip(&data)))).err().unwrap();
        assert!(err.to_string().contains("more than 8 layers"), "{err}");
    }

    #[test]
    fn ansi_codes_are_stripped() {
        let (out, layers) = read_all(
            b"\x1b[32m2018-01-01T00:29:43.079060+00:00\x1b[0m \x1b[36mstream\x1b[0m msg\n".to_vec(),
        );
        assert_eq!(out, b"2018-01-01T00:29:43.079060+00:00 stream msg\n");
        assert!(layers.ansi);
    }

    #[test]
    fn truncated_gzip_yields_what_decoded_then_an_error() {
        let data = gzip(&b"line of text\n".repeat(5000));
        let cut = data[..data.len() / 2].to_vec();
        let (opened, _sample, _) = stream(Box::new(Cursor::new(cut))).unwrap();
        let Opened::Stream(mut r) = opened else {
            panic!()
        };
        let mut out = Vec::new();
        let err = r.read_to_end(&mut out).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert!(!out.is_empty());
    }
}
