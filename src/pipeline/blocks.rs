//! What the two line-oriented strategies share ([`super::mapped`], [`super::windows`]): a window
//! of text cut into blocks at record boundaries, each block decoded, classified and matched on the
//! pool, and the blocks fed to the session in input order while the next window is decoded.
//!
//! A block's plain START, END and REPORT lines become [`PlatformEvent`]s as they are decoded
//! (two thirds of a rotation function's lines: no `Record` kept, no `Analysis`); the other
//! records take the full path. The two lists are merged back into input order by line number
//! when the session is fed.

use std::borrow::Cow;
use std::sync::Mutex;

use rayon::prelude::*;

use super::session::Session;
use super::{MAX_RECORD_BYTES, analyze_records};
use crate::format::Record;
use crate::format::lines::LineDecoder;
use crate::lambda::platform::PlatformEvent;
use crate::lambda::{Analysis, Bytes};
use crate::rules::RuleSet;

/// Bytes per parallel block of a mapped line-oriented input.
pub(super) const BLOCK: usize = 512 << 10;
/// Bytes per parallel block of a line-oriented stream: half of [`BLOCK`], because a stream's
/// blocks are what its memory is (a mapped file's pages are the page cache's). Each block's
/// decoded records and analyses take about twice its bytes (`Record` is 104 bytes a line,
/// `Analysis` 160, a line about 80), and the blocks of two windows are in flight: 512 KiB blocks
/// held about 20 MiB on two threads, a fifth of the peak RSS of `cat FILE | rotdiag` on S3-export
/// text (benches/HISTORY.md, "Peak RSS on stdin").
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
    /// The records that take the full path, and their analyses.
    pub(super) records: Vec<Record<'a>>,
    pub(super) analyzed: Vec<Analysis>,
    /// The platform lines read as events; with `records`, every record of the block, each list
    /// in input order.
    pub(super) events: Vec<PlatformEvent<'a>>,
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
            events: Vec::new(),
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
    rules: &RuleSet,
    spare: &Spare,
) -> Vec<DecodedBlock<'a>> {
    let cuts = split_blocks(data, decoder, block);
    let blocks: Vec<(usize, usize)> = cuts.windows(2).map(|w| (w[0], w[1])).collect();
    let decode = |&(s, e): &(usize, usize)| {
        decode_block(&data[s..e], decoder, base_offset + s as u64, rules, spare)
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
    rules: &RuleSet,
    spare: &Spare,
) -> DecodedBlock<'a> {
    let (mut records, mut analyzed, mut events) = spare.take();
    let bytes = if memchr::memchr(0, data).is_none() {
        Bytes::NulFree
    } else {
        Bytes::Unchecked
    };
    let lines = match bytes {
        Bytes::NulFree => decode_sorted(data, decoder, base_offset, &mut records, &mut events),
        // A block with a NUL byte somewhere (each message is looked at for one on the full
        // path): every record takes the full path.
        Bytes::Unchecked => {
            // About one record per 64 bytes: grow once or twice, not a dozen times.
            records.reserve(data.len() / 64 + 16);
            decoder.decode(data, 1, base_offset, &mut records)
        }
    };
    let cut = cap_records(&mut records);
    analyze_block(bytes, &records, rules, &mut analyzed);
    DecodedBlock {
        records,
        analyzed,
        events,
        lines,
        bytes: data.len() as u64,
        cut,
    }
}

/// Decodes a block without a NUL byte, each plain platform line into `events`, every other
/// record into `records` (see [`PlatformEvent::of`]). Returns the number of lines.
fn decode_sorted<'a>(
    data: &'a [u8],
    decoder: &LineDecoder,
    base_offset: u64,
    records: &mut Vec<Record<'a>>,
    events: &mut Vec<PlatformEvent<'a>>,
) -> u64 {
    // In a rotation function's log about half the records are platform lines.
    records.reserve(data.len() / 128 + 16);
    events.reserve(data.len() / 128 + 16);
    decoder.decode_each(data, 1, base_offset, |r| {
        // A message over the cap is cut (and counted) on the full path.
        let event = if r.message.len() <= MAX_RECORD_BYTES {
            PlatformEvent::of(&r)
        } else {
            None
        };
        match event {
            Some(e) => events.push(e),
            None => records.push(r),
        }
    })
}

/// Analyses the records of a block on the pool. `block` is what a search of the whole block
/// for a NUL byte found: without one, no message that is a slice of it holds one (a message the
/// decoder rebuilt is still looked at on its own).
fn analyze_block(block: Bytes, records: &[Record], rules: &RuleSet, out: &mut Vec<Analysis>) {
    let bytes = |r: &Record| match r.message {
        Cow::Borrowed(_) => block,
        Cow::Owned(_) => Bytes::Unchecked,
    };
    analyze_records(records, bytes, rules, out);
}

/// The buffers of decoded blocks, handed back once assembled so that later blocks reuse them:
/// allocating (and freeing, on another thread) a few MiB per window costs time, and memory the
/// allocator is slow to give back.
#[derive(Default)]
pub(super) struct Spare {
    buffers: Mutex<Vec<Buffers<'static>>>,
}

/// The buffers of one block: its records, their analyses, its platform events.
type Buffers<'a> = (Vec<Record<'a>>, Vec<Analysis>, Vec<PlatformEvent<'a>>);

impl Spare {
    /// Empty buffers, reused when there are some.
    fn take<'a>(&self) -> Buffers<'a> {
        let spare = self.buffers.lock().unwrap_or_else(|e| e.into_inner()).pop();
        spare.unwrap_or_default()
    }

    fn give_back(
        &self,
        records: Vec<Record>,
        mut analyzed: Vec<Analysis>,
        events: Vec<PlatformEvent>,
    ) {
        analyzed.clear();
        let mut buffers = self.buffers.lock().unwrap_or_else(|e| e.into_inner());
        // Enough for the blocks of two windows in flight.
        if buffers.len() < 4 * WINDOW_BLOCKS * rayon::current_num_threads() {
            buffers.push((recycle(records), analyzed, recycle_events(events)));
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

/// [`recycle`] for a vector of platform events.
fn recycle_events<'b>(mut v: Vec<PlatformEvent<'_>>) -> Vec<PlatformEvent<'b>> {
    v.clear();
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
                mut events,
                lines,
                bytes,
                cut,
            } = block;
            for r in &mut records {
                r.line += self.line_base;
            }
            for e in &mut events {
                e.line += self.line_base;
            }
            let base = self.line_base;
            self.session.cut.extend(cut.into_iter().map(|l| l + base));
            self.session
                .feed_with_events(&records, &mut analyzed, &mut events);
            self.line_base += lines;
            self.session.progress.advance(bytes);
            self.spare.give_back(records, analyzed, events);
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
        let blocks = decode_window(data, &decoder, 7, BLOCK, rules(), &Spare::default());
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

    /// Every record of `blocks` (records and platform events) as (line, timestamp, message),
    /// lines numbered across blocks.
    fn merged(blocks: &[DecodedBlock]) -> Vec<(u64, Option<i64>, Vec<u8>)> {
        let mut all = Vec::new();
        let mut base = 0;
        for b in blocks {
            let mut block: Vec<_> = b
                .records
                .iter()
                .map(|r| (r.line + base, r.timestamp, r.message.to_vec()))
                .chain(
                    b.events
                        .iter()
                        .map(|e| (e.line + base, e.timestamp, e.message.to_vec())),
                )
                .collect();
            block.sort_by_key(|r| r.0);
            all.extend(block);
            base += b.lines;
        }
        all
    }

    /// Plain START, END and REPORT lines become events in blocks without a NUL byte; merged
    /// back by line number they are every record the decoder gives of the whole input.
    #[test]
    fn platform_lines_become_events_and_merge_back_as_the_records() {
        let Decoder::Lines(decoder) = Format::S3Export.decoder() else {
            panic!()
        };
        let rid = "1f4c2b7e-8d7a-4f6e-9c1a-2b3c4d5e6f70";
        let mut input = String::new();
        for i in 0..2000 {
            let status = if i % 7 == 0 { "Status: timeout" } else { "" };
            let nul = if i == 1000 { "\0" } else { "" };
            input.push_str(&format!(
                "2024-05-01T12:00:00.000Z START RequestId: {rid} Version: $LATEST\r\n\
                 2024-05-01T12:00:00.100Z [INFO]\t2024-05-01T12:00:00.100Z\t{rid}\tstep {i}{nul}\n\
                 2024-05-01T12:00:00.200Z END RequestId: {rid}\n\
                 2024-05-01T12:00:00.300Z REPORT RequestId: {rid}\tDuration: 1.00 ms\tBilled Duration: 1 ms\tMemory Size: 128 MB\tMax Memory Used: 80 MB\t{status}\n\n"
            ));
        }
        let data = input.as_bytes();
        let fast = decode_window(data, &decoder, 0, 16 << 10, rules(), &Spare::default());
        assert!(fast.len() > 10);
        let mut whole = Vec::new();
        decoder.decode(data, 1, 0, &mut whole);
        let full: Vec<_> = (whole.iter())
            .map(|r| (r.line, r.timestamp, r.message.to_vec()))
            .collect();
        assert_eq!(merged(&fast), full);
        // The block with the NUL byte takes the record path whole; every other block makes an
        // event of each START, END, and REPORT without a status.
        let binary = |b: &DecodedBlock| b.records.iter().any(|r| r.message.contains(&0));
        assert_eq!(fast.iter().filter(|b| binary(b)).count(), 1);
        for b in fast.iter().filter(|b| !binary(b)) {
            assert!(!b.events.is_empty());
            let timeout = |m: &[u8]| m.windows(15).any(|w| w == b"Status: timeout");
            assert!(
                b.records
                    .iter()
                    .all(|r| r.message.starts_with(b"[INFO]") || timeout(&r.message))
            );
        }
        for b in fast.iter().filter(|b| binary(b)) {
            assert!(b.events.is_empty());
        }
    }

    #[test]
    fn an_empty_window_is_one_empty_block() {
        let Decoder::Lines(decoder) = Format::Raw.decoder() else {
            panic!()
        };
        assert_eq!(split_blocks(b"", &decoder, 16), [0, 0]);
        let blocks = decode_window(b"", &decoder, 0, BLOCK, rules(), &Spare::default());
        assert!(blocks.iter().all(|b| b.records.is_empty() && b.lines == 0));
    }
}
