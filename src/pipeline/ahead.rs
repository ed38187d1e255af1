//! A mapped `filter-log-events` JSON file's pages of events read in parallel.
//!
//! Why: the hand reader of pages (`format::events_json::scan`) was 320 M of the ~680 M
//! instructions of a run on 16 MiB of `filter-log-events` JSON (callgrind, `-j 1`), all of it on
//! the one thread that reads documents in order: on two threads it was the critical path. Here the
//! file is cut into runs of about [`RUN`] bytes at what looks like the start of an event
//! ([`event_start`]); helper threads read each run's events ahead ([`read_run`]), and the reader
//! takes a run when its own reading reaches the run's start inside a page's `events` (line
//! numbers and record numbering follow from where it is). Wherever the guess was wrong (other
//! documents, damaged input, a page's head and tail), the reader reads by itself, as before: the
//! same records, lines and errors.
//!
//! Helper threads of its own, not the pool: the reader runs on a thread beside the pool, one of
//! whose workers waits for its records; a pool task the reader waited for could sit behind workers
//! that all wait on such readers (two JSON files scanned at once on two threads). Nothing here
//! waits for work that has not started: a run the reader reaches before a helper took it, the
//! reader reads itself.
//!
//! A stream (stdin, a `.gz` JSON object) is not read ahead: `events_json::scan_stream` reads it
//! alone, a window at a time. Its windows were read ahead here for a while (helper threads per
//! 1 MiB window, runs of 64 KiB), and it never paid: on stdin, 1 GiB, CPU of `cat | rotdiag`
//! 7.8-9.3 s on against 8.1-9.0 s off (pages), quiet 2.9-4.1 s against 3.2-3.4 s; on a folder of
//! 124 gzipped 8.7 MiB objects `-j 2` 3.8-6.0 s on against 3.7-5.6 s off in a quiet spell, and
//! user + sys 7.0-7.2 s against 6.6-7.0 s. It was taken out (benches/HISTORY.md, branch `noahead`).

use std::collections::VecDeque;
use std::panic::{self, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use rayon::prelude::*;

use crate::format::events_json::{Ahead, Run, event_start, read_run, text_of};

/// Bytes of input per run read ahead: the records of a run are held until the reader takes them
/// (about half its bytes of messages).
/// A page's head and tail are read by the reader, and so is the start of the next page up to the
/// first run that starts in it (up to a run's bytes): pages of the CLI are about 4 MiB.
const RUN: usize = 256 << 10;
/// Runs a mapped file must hold to be read ahead: the reader reads the first run itself and takes
/// each one as it reaches it, so with fewer a helper or two would read a run or two, for the cost
/// of starting helper threads per file (a folder of small JSON files is one scan each).
const RUNS_TO_SHARE: usize = 4;
/// Files smaller than this are read by the reader alone ([`RUNS_TO_SHARE`] runs).
pub(super) const READ_AHEAD_FROM: usize = RUNS_TO_SHARE * RUN;
/// Runs queued or being read ahead per helper.
const RUNS_PER_HELPER: usize = 8;

/// Runs `read` with runs of events of `data` read ahead by `helpers` threads.
pub(super) fn with_read_ahead<'d, T>(
    data: &'d str,
    helpers: usize,
    read: impl FnOnce(&mut dyn Ahead<'d>) -> T,
) -> T {
    with_runs_of(RUN, data, helpers, read)
}

/// [`with_read_ahead`] in runs of `run_bytes`.
fn with_runs_of<'d, T>(
    run_bytes: usize,
    data: &'d str,
    helpers: usize,
    read: impl FnOnce(&mut dyn Ahead<'d>) -> T,
) -> T {
    let shared = Shared {
        queue: Mutex::new(Some(VecDeque::new())),
        work: Condvar::new(),
    };
    std::thread::scope(|s| {
        for _ in 0..helpers {
            s.spawn(|| shared.help(data));
        }
        let mut ahead = ReadAhead {
            data,
            shared: &shared,
            pending: VecDeque::new(),
            probe: 0,
            run_bytes,
            depth: helpers * RUNS_PER_HELPER,
        };
        // Closed however `read` ends: a panic in it must reach the caller, not leave the scope
        // joining helpers that wait for work.
        let _close = Closing(&shared);
        ahead.refill();
        read(&mut ahead)
    })
}

/// Closes the queue when dropped.
struct Closing<'a, 'd>(&'a Shared<'d>);

impl Drop for Closing<'_, '_> {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// A run to read ahead, from the event at `start` up to the first event at or past `limit`.
struct Slot<'d> {
    start: usize,
    limit: usize,
    state: Mutex<State<'d>>,
    done: Condvar,
}

enum State<'d> {
    Queued,
    Running,
    Done(Option<Run<'d>>),
    /// Taken by the reader (read by it, or passed over).
    Taken,
}

impl<'d> Slot<'d> {
    /// Reads the run, unless the reader took it first.
    fn run(&self, data: &'d str) {
        {
            let mut state = lock(&self.state);
            if !matches!(*state, State::Queued) {
                return;
            }
            *state = State::Running;
        }
        // A panic while reading still settles the run (as nothing read ahead: the reader reads
        // it itself) before it goes on, so the reader never waits on a run no one will finish.
        let read = panic::catch_unwind(AssertUnwindSafe(|| read_run(data, self.start, self.limit)));
        let (run, panicked) = match read {
            Ok(run) => (run, None),
            Err(payload) => (None, Some(payload)),
        };
        *lock(&self.state) = State::Done(run);
        self.done.notify_all();
        if let Some(payload) = panicked {
            panic::resume_unwind(payload);
        }
    }

    /// The run, for the reader: read ahead, being read (waited for: it is running), or read now.
    fn claim(&self, data: &'d str) -> Option<Run<'d>> {
        let mut state = lock(&self.state);
        loop {
            match std::mem::replace(&mut *state, State::Taken) {
                State::Queued => {
                    drop(state);
                    return read_run(data, self.start, self.limit);
                }
                State::Running => {
                    *state = State::Running;
                    state = self
                        .done
                        .wait(state)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                State::Done(run) => return run,
                State::Taken => return None,
            }
        }
    }

    /// The reader went past its start: no helper need read it.
    fn pass(&self) {
        let mut state = lock(&self.state);
        if matches!(*state, State::Queued) {
            *state = State::Taken;
        }
    }
}

/// The runs helpers are to read, in input order (`None` once the reader is done).
struct Shared<'d> {
    queue: Mutex<Option<VecDeque<Arc<Slot<'d>>>>>,
    work: Condvar,
}

impl<'d> Shared<'d> {
    fn help(&self, data: &'d str) {
        while let Some(slot) = self.next() {
            slot.run(data);
        }
    }

    fn next(&self) -> Option<Arc<Slot<'d>>> {
        let mut queue = lock(&self.queue);
        loop {
            if let Some(slot) = queue.as_mut()?.pop_front() {
                return Some(slot);
            }
            queue = self
                .work
                .wait(queue)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    fn push(&self, slot: Arc<Slot<'d>>) {
        if let Some(q) = lock(&self.queue).as_mut() {
            q.push_back(slot);
        }
        self.work.notify_one();
    }

    fn close(&self) {
        *lock(&self.queue) = None;
        self.work.notify_all();
    }
}

/// The reader's side: the runs ahead of it, in input order.
struct ReadAhead<'a, 'd> {
    data: &'d str,
    shared: &'a Shared<'d>,
    pending: VecDeque<Arc<Slot<'d>>>,
    /// Where the next run's start is looked for.
    probe: usize,
    run_bytes: usize,
    /// Runs kept ahead.
    depth: usize,
}

impl ReadAhead<'_, '_> {
    /// Queues runs up to [`ReadAhead::depth`] ahead.
    fn refill(&mut self) {
        while self.pending.len() < self.depth && self.probe < self.data.len() {
            let Some(start) = event_start(self.data, self.probe) else {
                self.probe = self.data.len();
                return;
            };
            let limit = start.saturating_add(self.run_bytes);
            self.probe = limit;
            let slot = Arc::new(Slot {
                start,
                limit,
                state: Mutex::new(State::Queued),
                done: Condvar::new(),
            });
            self.pending.push_back(slot.clone());
            self.shared.push(slot);
        }
    }
}

impl<'d> Ahead<'d> for ReadAhead<'_, 'd> {
    fn take(&mut self, at: usize) -> Option<Run<'d>> {
        loop {
            let slot = self.pending.front()?;
            if at < slot.start {
                return None;
            }
            let slot = self.pending.pop_front()?;
            self.refill();
            if at == slot.start {
                return slot.claim(self.data);
            }
            slot.pass();
        }
    }
}

/// `data` as text, if it is UTF-8: checked in `parts` parts ([`text_of`]), on the pool (in
/// parallel where its threads are free, so a busy pool is not oversubscribed).
///
/// Why: the read-ahead takes text, and a mapped file was checked whole, on the reader's thread,
/// before anything else started (3 % of the samples of a 1 GiB `filter-log-events` run on two
/// threads, and the page faults of the whole file): time no other thread could use.
/// The parts are cut where a character starts ([`char_cuts`]), so the whole is UTF-8 exactly when
/// every part is.
pub(super) fn checked_text(data: &[u8], parts: usize) -> Option<&str> {
    let cuts = char_cuts(data, parts.max(1));
    let valid = (cuts.par_windows(2)).all(|w| text_of(&data[w[0]..w[1]]).is_some());
    // SAFETY: every part of `data` is UTF-8 and the parts, cut where characters start, are the
    // whole of it, in order: a concatenation of whole UTF-8 sequences is UTF-8.
    valid.then(|| unsafe { std::str::from_utf8_unchecked(data) })
}

/// Where `data` is cut into `parts` parts of about the same length: 0, the cuts, `data.len()`.
/// A cut is moved back to a byte that is not a UTF-8 continuation byte (`0b10xx_xxxx`), a
/// character's first byte in UTF-8 text, or back to the cut before it.
fn char_cuts(data: &[u8], parts: usize) -> Vec<usize> {
    let mut cuts = vec![0];
    for k in 1..parts {
        let floor = cuts[cuts.len() - 1];
        let mut at = (data.len() / parts * k).max(floor);
        while at > floor && data.get(at).is_some_and(|&b| b & 0xc0 == 0x80) {
            at -= 1;
        }
        cuts.push(at);
    }
    cuts.push(data.len());
    cuts
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::Record;
    use crate::format::events_json::{scan_slice, scan_slice_ahead, scan_stream_in_windows};
    use crate::problem::Problem;

    /// Pages as the CLI writes them (and one compact), messages with escapes and braces.
    fn pages(events: usize) -> String {
        let mut text = String::new();
        for n in 0..3 {
            let events: Vec<String> = (0..events)
                .map(|i| {
                    format!(
                        "{{\n            \"logStreamName\": \"s{}\",\n            \"timestamp\": {},\n            \"message\": \"[ERROR] {{\\\"message\\\": {i}}} \\\\{{\\t\\n\",\n            \"eventId\": \"{i}\"\n        }}",
                        i % 7,
                        1_700_000_000_000u64 + i as u64
                    )
                })
                .collect();
            let page = format!(
                "{{\n    \"events\": [\n        {}\n    ],\n    \"nextToken\": \"t{n}\"\n}}\n",
                events.join(",\n        ")
            );
            if n == 2 {
                let v: serde_json::Value = serde_json::from_str(&page).unwrap();
                text.push_str(&v.to_string());
            } else {
                text.push_str(&page);
            }
        }
        text
    }

    /// The records and problems `read` gives a sink.
    fn outcome<'d>(
        read: impl FnOnce(&mut dyn FnMut(Record<'d>)) -> Vec<Problem>,
    ) -> (Vec<Record<'d>>, Vec<Problem>) {
        let mut records = Vec::new();
        let errors = read(&mut |r| records.push(r));
        (records, errors)
    }

    /// A reader that panics ends the run with its panic; the helpers waiting for work are let go
    /// (the scope would otherwise join them forever).
    #[test]
    #[should_panic(expected = "the reader failed")]
    fn a_panic_in_the_reader_reaches_the_caller() {
        let text = pages(400);
        with_runs_of(4096, &text, 2, |_| -> () {
            panic!("the reader failed");
        });
    }

    /// A way of reading a JSON input into records, as the pipeline reads one.
    #[derive(Clone, Copy, Debug)]
    enum Way {
        /// A mapped file, by the reader alone.
        Mapped,
        /// A mapped file, runs of `run` bytes read ahead by `helpers` threads (invalid UTF-8 is
        /// read alone, as `MappedDocuments` does).
        MappedAhead { run: usize, helpers: usize },
        /// A stream, `read` bytes at a time, documents of up to `document` bytes read by hand.
        Stream { read: usize, document: usize },
    }

    /// Every way, compared with the first: windows and runs small enough that pages, events and
    /// runs are cut anywhere, documents short enough that serde_json takes pages over.
    const WAYS: &[Way] = &[
        Way::Mapped,
        Way::MappedAhead { run: 1, helpers: 1 },
        Way::MappedAhead {
            run: 333,
            helpers: 2,
        },
        Way::MappedAhead {
            run: 4096,
            helpers: 3,
        },
        Way::Stream {
            read: 97,
            document: 256,
        },
        Way::Stream {
            read: 1000,
            document: 8192,
        },
        Way::Stream {
            read: 4096,
            document: 1 << 20,
        },
        Way::Stream {
            read: 1 << 20,
            document: 8 << 20,
        },
    ];

    /// The records (line, offset, timestamp, stream, message) and problems `way` gives for `data`.
    fn read_as(way: Way, data: &[u8]) -> (Vec<Record<'_>>, Vec<Problem>) {
        let parts = match way {
            Way::MappedAhead { helpers, .. } => helpers + 1,
            _ => 1,
        };
        match (way, checked_text(data, parts)) {
            (Way::Mapped, _) | (Way::MappedAhead { .. }, None) => {
                outcome(|sink| scan_slice(data, sink))
            }
            (Way::MappedAhead { run, helpers }, Some(text)) => outcome(|sink| {
                with_runs_of(run, text, helpers, |a| scan_slice_ahead(text, sink, a))
            }),
            (Way::Stream { read, document }, _) => outcome(|sink| {
                scan_stream_in_windows(&mut &data[..], &mut |r| sink(r), (read, document))
            }),
        }
    }

    /// The inputs every way reads: pages as the CLI writes them, damaged and cut.
    fn inputs() -> Vec<(&'static str, Vec<u8>)> {
        let text = pages(60).into_bytes();
        let at =
            |from: usize, byte: u8| from + text[from..].iter().position(|&b| b == byte).unwrap();
        let with = |at: usize, byte: u8| {
            let mut t = text.clone();
            t[at] = byte;
            t
        };
        let page_end = 3 + text.windows(3).position(|w| w == b"\n}\n").unwrap();
        // A stray byte and a cut character, in a message.
        let mut invalid = text.clone();
        let bracket = at(text.len() / 2, b'[') + 1;
        invalid.splice(bracket..bracket, [0xff, b' ', 0xc3]);
        vec![
            ("whole", text.clone()),
            ("a quote lost", with(at(text.len() / 3, b'"'), b'x')),
            ("a brace lost", with(at(text.len() / 5, b'}'), b' ')),
            ("a comma doubled", with(at(text.len() / 4, b','), b'{')),
            (
                "a newline in a message",
                with(at(text.len() / 6, b'\\') + 1, b'\n'),
            ),
            ("cut in an event", text[..text.len() * 2 / 3].to_vec()),
            ("cut in the first page", text[..text.len() / 5].to_vec()),
            ("cut after a page", text[..page_end].to_vec()),
            ("invalid UTF-8", invalid),
            (
                "not JSON after the pages",
                [&text[..], b"\nplain text\n{\"a\": 1}\n"].concat(),
            ),
        ]
    }

    /// Every way of reading (mapped, read ahead or not, or streamed; windows and runs cutting
    /// pages anywhere) gives the same records, offsets and lines included, and the same
    /// problems, for every input: reports alone would not show a record's offset.
    #[test]
    fn every_way_of_reading_gives_the_same_records() {
        for (label, data) in inputs() {
            let first = read_as(WAYS[0], &data);
            assert!(!first.0.is_empty(), "{label}: no records");
            for &way in &WAYS[1..] {
                let got = read_as(way, &data);
                let diff = first.0.iter().zip(&got.0).position(|(a, b)| a != b);
                assert!(
                    got == first,
                    "{label}, {way:?}: {} vs {} records, first difference at {diff:?}: {:?} vs {:?}; problems {:?} vs {:?}",
                    first.0.len(),
                    got.0.len(),
                    diff.map(|i| &first.0[i]),
                    diff.map(|i| &got.0[i]),
                    first.1,
                    got.1
                );
            }
        }
    }

    /// Checked in parts, text is UTF-8 when it is checked whole, wherever its characters of
    /// one to four bytes and its invalid bytes fall against the cuts.
    #[test]
    fn text_checked_in_parts_is_text_checked_whole() {
        let mut inputs: Vec<Vec<u8>> = vec![Vec::new(), b"a".to_vec()];
        let text = "ab\u{e9}c\u{20ac}d\u{1f600}e".repeat(5);
        for cut in 0..=text.len() {
            let mut bytes = text.as_bytes().to_vec();
            inputs.push(bytes.clone());
            // A character cut short, a stray continuation byte, a byte never in UTF-8.
            let mut short = bytes.clone();
            short.remove(cut.min(short.len() - 1));
            inputs.push(short);
            bytes.insert(cut, 0x80);
            inputs.push(bytes.clone());
            bytes[cut] = 0xff;
            inputs.push(bytes);
        }
        inputs.push(vec![0x80; 40]);
        for data in &inputs {
            let whole = std::str::from_utf8(data).ok();
            for parts in 1..=7 {
                assert_eq!(
                    checked_text(data, parts),
                    whole,
                    "{data:?} in {parts} parts"
                );
            }
        }
    }

    #[test]
    fn runs_read_by_helpers_give_what_the_reader_gives() {
        let text = pages(400);
        let mut inputs = vec![text.clone().into_bytes()];
        // Damaged: a quote lost in a message, a page cut short.
        let mut damaged = text.clone().into_bytes();
        let at = damaged.len() / 3;
        let quote = at + damaged[at..].iter().position(|&b| b == b'"').unwrap();
        damaged[quote] = b'x';
        inputs.push(damaged);
        inputs.push(text.as_bytes()[..text.len() * 2 / 3].to_vec());
        for data in &inputs {
            let serial = outcome(|sink| scan_slice(data, sink));
            assert!(serial.0.len() > 300);
            let data = std::str::from_utf8(data).unwrap();
            for helpers in [1, 2, 3] {
                for run_bytes in [1, 333, 4096, 1 << 20] {
                    let ahead = outcome(|sink| {
                        with_runs_of(run_bytes, data, helpers, |a| {
                            scan_slice_ahead(data, sink, a)
                        })
                    });
                    assert!(ahead == serial, "{helpers} helpers, runs of {run_bytes}");
                }
            }
        }
    }
}
