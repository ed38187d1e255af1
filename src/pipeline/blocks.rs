//! What the two line-oriented strategies share ([`super::mapped`], [`super::windows`]): a window
//! of text cut into blocks at record boundaries, each block decoded, classified and matched on the
//! pool, and the blocks fed to the session in input order while the next window is decoded.

use std::borrow::Cow;
use std::sync::Mutex;

use rayon::prelude::*;

use super::session::Session;
use super::{Analyzer, MAX_RECORD_BYTES};
use crate::format::Record;
use crate::format::lines::LineDecoder;
use crate::lambda::{Analysis, Bytes};

/// Bytes per parallel block of a mapped line-oriented input.
pub(super) const BLOCK: usize = 512 << 10;
/// Bytes per parallel block of a line-oriented stream: half of [`BLOCK`], because a stream's
/// blocks are what its memory is (a mapped file's pages are the page cache's). Each block's
/// decoded records and analyses take about twice its bytes (`Record` is 104 bytes a line,
/// `Analysis` 160, a line about 80), and the blocks of two windows are in flight: 512 KiB blocks
/// held about 20 MiB on two threads, a fifth of the peak RSS of `cat FILE | rotdiag` on S3-export
/// text (BENCHMARKS.md, "Peak RSS on stdin").
pub(super) const STREAM_BLOCK: usize = 256 << 10;
/// Blocks per thread in a window (a window is decoded in parallel while the previous one is
/// assembled in order).
pub(super) const WINDOW_BLOCKS: usize = 2;

/// The bytes of a window of blocks of `block` bytes: a block per thread and per
/// [`WINDOW_BLOCKS`].
pub(super) fn window_size(block: usize) -> usize {
    rayon::current_num_threads().max(1) * WINDOW_BLOCKS * block
}

/// One block of line-oriented input, decoded, classified and matched.
pub(super) struct DecodedBlock<'a> {
    pub(super) records: Vec<Record<'a>>,
    pub(super) analyzed: Vec<Analysis>,
    pub(super) lines: u64,
    bytes: u64,
    /// Lines (in the block) of records cut at [`MAX_RECORD_BYTES`].
    cut: Vec<u64>,
}

impl DecodedBlock<'_> {
    /// Lines skipped without decoding (the rest of an over-long record).
    pub(super) fn skipped(lines: u64, bytes: u64) -> Self {
        DecodedBlock {
            records: Vec::new(),
            analyzed: Vec::new(),
            lines,
            bytes,
            cut: Vec::new(),
        }
    }
}

/// Cuts over-long messages at [`MAX_RECORD_BYTES`] (at a character boundary); returns the lines
/// of the records cut.
fn cap_records(records: &mut [Record]) -> Vec<u64> {
    let mut cut = Vec::new();
    for r in records
        .iter_mut()
        .filter(|r| r.message.len() > MAX_RECORD_BYTES)
    {
        let m = &r.message;
        let mut end = MAX_RECORD_BYTES;
        while end > 0 && (m[end] & 0xC0) == 0x80 {
            end -= 1;
        }
        match &mut r.message {
            std::borrow::Cow::Borrowed(b) => *b = &b[..end],
            std::borrow::Cow::Owned(v) => v.truncate(end),
        }
        cut.push(r.line);
    }
    cut
}

/// Decodes one window of line-oriented input: cut into blocks of about `block` bytes at record
/// boundaries, each block decoded, classified and matched on the pool. `base_offset` is the
/// window's offset in the input.
pub(super) fn decode_window<'a>(
    data: &'a [u8],
    decoder: &LineDecoder,
    base_offset: u64,
    block: usize,
    an: Analyzer,
    spare: &Spare,
) -> Vec<DecodedBlock<'a>> {
    let cuts = split_blocks(data, decoder, block);
    let blocks: Vec<(usize, usize)> = cuts.windows(2).map(|w| (w[0], w[1])).collect();
    let decode = |&(s, e): &(usize, usize)| {
        decode_block(&data[s..e], decoder, base_offset + s as u64, an, spare)
    };
    if blocks.len() <= 1 {
        blocks.iter().map(decode).collect()
    } else {
        blocks.par_iter().map(decode).collect()
    }
}

fn decode_block<'a>(
    data: &'a [u8],
    decoder: &LineDecoder,
    base_offset: u64,
    an: Analyzer,
    spare: &Spare,
) -> DecodedBlock<'a> {
    let (mut records, mut analyzed) = spare.take();
    // About one record per 64 bytes: grow once or twice, not a dozen times.
    records.reserve(data.len() / 64 + 16);
    let lines = decoder.decode(data, 1, base_offset, &mut records);
    let cut = cap_records(&mut records);
    analyze_block(data, &records, an, &mut analyzed);
    DecodedBlock {
        records,
        analyzed,
        lines,
        bytes: data.len() as u64,
        cut,
    }
}

/// Analyses the records of a block (`data`) on the pool. The block is searched for a NUL byte
/// once: without one, no message that is a slice of it holds one (a message the decoder rebuilt
/// is still looked at on its own).
fn analyze_block(data: &[u8], records: &[Record], an: Analyzer, out: &mut Vec<Analysis>) {
    let block = if memchr::memchr(0, data).is_none() {
        Bytes::NulFree
    } else {
        Bytes::Unchecked
    };
    out.extend(records.iter().map(|r| {
        let bytes = match r.message {
            Cow::Borrowed(_) => block,
            Cow::Owned(_) => Bytes::Unchecked,
        };
        an.analyze_known(&r.message, bytes)
    }));
}

/// The buffers of decoded blocks, handed back once assembled so that later blocks reuse them:
/// allocating (and freeing, on another thread) a few MiB per window costs time, and memory the
/// allocator is slow to give back.
#[derive(Default)]
pub(super) struct Spare {
    buffers: Mutex<Vec<(Vec<Record<'static>>, Vec<Analysis>)>>,
}

impl Spare {
    /// Empty buffers, reused when there are some.
    fn take<'a>(&self) -> (Vec<Record<'a>>, Vec<Analysis>) {
        let spare = self.buffers.lock().unwrap_or_else(|e| e.into_inner()).pop();
        spare.unwrap_or_default()
    }

    fn give_back(&self, records: Vec<Record>, mut analyzed: Vec<Analysis>) {
        analyzed.clear();
        let mut buffers = self.buffers.lock().unwrap_or_else(|e| e.into_inner());
        // Enough for the blocks of two windows in flight.
        if buffers.len() < 4 * WINDOW_BLOCKS * rayon::current_num_threads() {
            buffers.push((recycle(records), analyzed));
        }
    }
}

/// An emptied vector of records, with its allocation, as a vector of records of another input
/// buffer (no record survives, so no borrow does).
fn recycle<'b>(mut v: Vec<Record<'_>>) -> Vec<Record<'b>> {
    v.clear();
    // In-place collection of an empty iterator keeps the allocation.
    v.into_iter().map(|_| unreachable!()).collect()
}

/// The serial stage: feeds decoded blocks to the session in input order, numbering lines.
pub(super) struct InOrder<'s, 'r> {
    pub(super) session: &'s mut Session<'r>,
    pub(super) line_base: u64,
    pub(super) spare: &'s Spare,
}

impl InOrder<'_, '_> {
    pub(super) fn assemble(&mut self, blocks: Vec<DecodedBlock>) {
        for block in blocks {
            let DecodedBlock {
                mut records,
                mut analyzed,
                lines,
                bytes,
                cut,
            } = block;
            for r in &mut records {
                r.line += self.line_base;
            }
            let base = self.line_base;
            self.session.cut.extend(cut.into_iter().map(|l| l + base));
            self.session.feed(&records, &mut analyzed);
            self.line_base += lines;
            self.session.progress.advance(bytes);
            self.spare.give_back(records, analyzed);
        }
    }
}

/// Runs `work` on this thread while `blocks` are assembled by another worker of the pool (or
/// first, on this thread, with one worker), so the serial stage overlaps the parallel one. No
/// thread is started: a thread per window would cost more than it saves.
pub(super) fn overlapped<T>(
    order: &mut InOrder,
    blocks: Vec<DecodedBlock>,
    work: impl FnOnce() -> T,
) -> T {
    if blocks.is_empty() {
        return work();
    }
    if rayon::current_num_threads() <= 1 {
        order.assemble(blocks);
        return work();
    }
    rayon::in_place_scope(|scope| {
        scope.spawn(move |_| order.assemble(blocks));
        work()
    })
}

/// Cuts `data` into blocks of about `size` bytes, each starting at a record boundary.
pub(super) fn split_blocks(data: &[u8], decoder: &LineDecoder, size: usize) -> Vec<usize> {
    let mut cuts = vec![0];
    let mut pos = size;
    while pos < data.len() {
        match decoder.boundary(data, pos) {
            Some(b) if b > *cuts.last().unwrap() => {
                cuts.push(b);
                pos = b + size;
            }
            _ => break,
        }
    }
    cuts.push(data.len());
    cuts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{Decoder, Format};
    use crate::testing::rules;

    #[test]
    fn blocks_start_at_record_boundaries_and_decode_as_the_whole() {
        let Decoder::Lines(decoder) = Format::S3Export.decoder() else {
            panic!()
        };
        let mut input = String::new();
        for i in 0..40 {
            input.push_str(&format!("2024-05-01T12:00:{i:02}.000Z [ERROR] Boom\nTraceback (most recent call last):\n  File \"x.py\", line {i}\n"));
        }
        let data = input.as_bytes();
        let mut whole = Vec::new();
        decoder.decode(data, 1, 0, &mut whole);
        for size in [1, 10, 50, 100, 1000, 100_000] {
            let cuts = split_blocks(data, &decoder, size);
            assert_eq!((cuts[0], *cuts.last().unwrap()), (0, data.len()));
            assert!(cuts.windows(2).all(|w| w[0] < w[1]), "{size}: {cuts:?}");
            for &c in &cuts[1..cuts.len() - 1] {
                assert!(data[c..].starts_with(b"2024-"), "{size}: cut at {c}");
            }
            let mut line_base = 0;
            let mut got = Vec::new();
            for w in cuts.windows(2) {
                let mut block = Vec::new();
                let lines = decoder.decode(&data[w[0]..w[1]], 1, w[0] as u64, &mut block);
                got.extend(block.iter().map(|r| (r.line + line_base, r.offset)));
                line_base += lines;
            }
            let want: Vec<(u64, u64)> = whole.iter().map(|r| (r.line, r.offset)).collect();
            assert_eq!(got, want);
        }
    }

    #[test]
    fn a_window_decodes_in_blocks_as_the_whole() {
        let Decoder::Lines(decoder) = Format::S3Export.decoder() else {
            panic!()
        };
        let input = "2024-05-01T12:00:00.000Z START x\n".repeat(40_000);
        let data = input.as_bytes();
        assert!(data.len() > 2 * BLOCK);
        let blocks = decode_window(
            data,
            &decoder,
            7,
            BLOCK,
            Analyzer::new(rules()),
            &Spare::default(),
        );
        assert!(blocks.len() > 2);
        let mut line_base = 0;
        for b in &blocks {
            assert_eq!(b.records.len(), b.analyzed.len());
            for r in &b.records {
                assert_eq!(r.line + line_base, (r.offset - 7) / 33 + 1);
            }
            line_base += b.lines;
        }
        assert_eq!(line_base, 40_000);
    }

    #[test]
    fn an_empty_window_is_one_empty_block() {
        let Decoder::Lines(decoder) = Format::Raw.decoder() else {
            panic!()
        };
        assert_eq!(split_blocks(b"", &decoder, 16), [0, 0]);
        let blocks = decode_window(
            b"",
            &decoder,
            0,
            BLOCK,
            Analyzer::new(rules()),
            &Spare::default(),
        );
        assert!(blocks.iter().all(|b| b.records.is_empty() && b.lines == 0));
    }
}
