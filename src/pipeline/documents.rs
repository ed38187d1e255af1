//! The structured-documents strategy: JSON (every JSON shape), the CLI's text, YAML and table
//! outputs, CSV. A decoder parses records one after another (from memory for a mapped JSON file,
//! from a reader otherwise); batches of records are classified and matched on the pool and fed
//! to the session in order.

use std::collections::VecDeque;
use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TryRecvError};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use super::ahead::{READ_AHEAD_FROM, checked_text, with_read_ahead};
use super::session::Session;
use super::{Scanned, Strategy, analyze_records};
use crate::format::{AheadDecoder, MemoryDecoder, Record, StructuredDecoder};
use crate::lambda::{Analysis, Bytes};
use crate::problem::Problem;
use crate::rules::RuleSet;

/// Records per batch of a structured input. Up to seven batches are alive at once (two queued, one
/// being filled, [`IN_FLIGHT`] being classified or fed), each record holding its message: since
/// JSON pages are read by hand the decoder keeps the queue full, and 8192 records a batch cost
/// 13 MiB more peak memory on stdin JSON than this (`cat` of 256 MiB of `filter-log-events`
/// JSON: 55 -> 42 MiB), for no measurable time.
const JSON_BATCH: usize = 2048;

/// Records of a batch analysed by one task of the pool (small enough to share a batch out
/// between threads, large enough that collecting the analyses costs little).
const ANALYZE_CHUNK: usize = 64;

/// Parts a mapped JSON file is checked to be UTF-8 in ([`checked_text`]), shared out between the
/// workers of the pool (more parts than threads: a worker busy elsewhere leaves its share to the
/// others).
const CHECK_PARTS: usize = 16;

/// A JSON input held in memory (a mapped file), parsed from its slice.
pub(super) struct MappedDocuments<'a> {
    pub(super) data: &'a [u8],
    pub(super) decode: MemoryDecoder,
    /// The decoder that takes pages' events read ahead on other threads ([`super::ahead`]), used
    /// with more than one thread.
    pub(super) ahead: Option<AheadDecoder>,
}

impl<'a> Strategy for MappedDocuments<'a> {
    fn scan(self, session: &mut Session) -> Scanned {
        let MappedDocuments {
            data,
            decode,
            ahead,
        } = self;
        let progress = session.progress.clone();
        let helpers = rayon::current_num_threads().saturating_sub(1);
        // The read-ahead takes text: the input is checked to be UTF-8 once, here, on this
        // worker of the pool and any other that is free (the memory decoder checks it itself,
        // and reads invalid UTF-8 as a stream). Not on the decoder's thread: from there the
        // check was queued on the pool while this worker blocked on the decoder's queue, so on
        // two threads one core checked the whole file while the other idled (perf on 1 GiB:
        // 0.17 s of samples warm, 0.7 s when the file was partly out of the page cache).
        let text = match ahead {
            Some(read) if helpers > 0 && data.len() >= READ_AHEAD_FROM => {
                checked_text(data, CHECK_PARTS).map(|text| (read, text))
            }
            _ => None,
        };
        let problems = scan_structured(
            move |sink: &mut dyn FnMut(Record<'a>)| {
                let mut done = 0;
                let mut sink = |r: Record<'a>| {
                    // Progress by the offset records are at (advanced at most every 1 MiB).
                    if r.offset > done + (1 << 20) {
                        progress.advance(r.offset - done);
                        done = r.offset;
                    }
                    sink(r)
                };
                let errs = match text {
                    Some((read, text)) => {
                        with_read_ahead(text, helpers, |a| read(text, &mut sink, a))
                    }
                    None => decode(data, &mut sink),
                };
                progress.advance((data.len() as u64).saturating_sub(done));
                errs
            },
            session,
        );
        Scanned {
            bytes: data.len() as u64,
            problems,
            incomplete: Vec::new(),
        }
    }
}

/// A structured input read from a stream (or a mapped file of a shape parsed from a reader).
pub(super) struct StreamDocuments<R> {
    pub(super) reader: R,
    pub(super) decode: StructuredDecoder,
}

impl<R: Read + Send> Strategy for StreamDocuments<R> {
    fn scan(self, session: &mut Session) -> Scanned {
        let decode = self.decode;
        let mut counted = CountingReader {
            inner: session.progress.reader(self.reader),
            bytes: 0,
            error: None,
        };
        let problems = scan_structured(
            |sink: &mut dyn FnMut(Record<'static>)| decode(&mut counted, sink),
            session,
        );
        Scanned {
            bytes: counted.bytes,
            problems,
            incomplete: counted.error.into_iter().collect(),
        }
    }
}

/// Decodes a document-shaped input in batches: parse (serially), classify and match (in parallel),
/// assemble (in order). With more than one thread the decoder runs on a thread of its own,
/// handing batches of records over a short queue, while this thread keeps up to
/// [`IN_FLIGHT`] of them being analysed on the pool, a task per chunk, and assembles each as soon
/// as it and the ones before it are analysed ([`Pipeline`]): parsing is serial, so it must not
/// wait for the rest, and assembling is serial too.
fn scan_structured<'r, D>(decode: D, session: &mut Session) -> Vec<Problem>
where
    D: FnOnce(&mut dyn FnMut(Record<'r>)) -> Vec<Problem> + Send,
{
    let rules = session.rules;
    if rayon::current_num_threads() < 2 {
        let mut batch: Vec<Record<'r>> = Vec::with_capacity(JSON_BATCH);
        let consume = |batch: &[Record<'r>], session: &mut Session| {
            let analyses = batch
                .chunks(ANALYZE_CHUNK)
                .map(|chunk| analyze_chunk(chunk, rules))
                .collect();
            feed(session, batch, analyses);
        };
        let errors = decode(&mut |rec| {
            batch.push(rec);
            if batch.len() >= JSON_BATCH {
                consume(&batch, session);
                batch.clear();
            }
        });
        consume(&batch, session);
        return errors;
    }
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Record<'r>>>(2);
    let signal = Signal::default();
    std::thread::scope(|s| {
        let signal = &signal;
        let decoder = s.spawn(move || {
            // Whatever way the decoder ends (a panic too), the sender is dropped and the
            // assembling side woken to see it.
            let mut sender = Sending {
                tx: Some(tx),
                signal,
            };
            let mut batch = Vec::with_capacity(JSON_BATCH);
            let errors = decode(&mut |rec| {
                batch.push(rec);
                if batch.len() >= JSON_BATCH {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(JSON_BATCH));
                    sender.send(full);
                }
            });
            if !batch.is_empty() {
                sender.send(batch);
            }
            errors
        });
        rayon::scope_fifo(|pool| {
            Pipeline {
                rx,
                signal,
                in_flight: VecDeque::new(),
                open: true,
            }
            .run(pool, rules, session);
        });
        decoder
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Classifies and matches the records of a chunk.
fn analyze_chunk(chunk: &[Record], rules: &RuleSet) -> Vec<Analysis> {
    let mut out = Vec::with_capacity(chunk.len());
    analyze_records(chunk, |_| Bytes::Unchecked, rules, &mut out);
    out
}

/// Batches analysed at once, the one being assembled included (each holds its records: see
/// [`JSON_BATCH`]). Four rather than three: `-j 2` on events-json-1GiB, 4 alternating rounds,
/// median 2.44 -> 2.29 s; `cat` of the one-page 1 GiB file 2.47 -> 2.54 s, peak RSS the same
/// (51.9 MB).
const IN_FLIGHT: usize = 4;

/// The assembling side of [`scan_structured`] with more than one thread: batches taken from the
/// decoder, analysed on the pool a task per chunk, assembled in order on this thread, which
/// otherwise runs the analyses queued here ([`rayon::yield_local`]) or sleeps until a batch is
/// analysed or comes in.
///
/// Why: assembling a batch while the pool analysed the next one ([`rayon::join`]) made this
/// thread wait, at every batch, for the last chunk another worker had taken, while that worker
/// shared its core with the decoder's threads (on two threads, perf: this worker 86 % busy, a
/// steady eighth of it lost at those waits). With a batch or two analysed ahead, it assembles or
/// analyses whenever there is something to do.
struct Pipeline<'a, 'r> {
    rx: Receiver<Vec<Record<'r>>>,
    signal: &'a Signal,
    in_flight: VecDeque<Arc<Analyzing<'r>>>,
    /// The decoder may still send batches.
    open: bool,
}

impl<'a, 'r> Pipeline<'a, 'r> {
    fn run(mut self, pool: &rayon::ScopeFifo<'a>, rules: &'a RuleSet, session: &mut Session<'_>)
    where
        'r: 'a,
    {
        loop {
            // Read before looking, so that anything that happens after the look wakes the wait.
            let seen = self.signal.count();
            self.take_batches(pool, rules);
            let Some(front) = self.in_flight.front() else {
                if self.open {
                    self.signal.wait(seen);
                    continue;
                }
                return;
            };
            if front.failed.load(Ordering::Acquire) {
                // A task panicked: the scope re-raises its panic once this returns.
                return;
            }
            if front.remaining.load(Ordering::Acquire) == 0 {
                if let Some(done) = self.in_flight.pop_front() {
                    done.feed(session);
                }
                continue;
            }
            if !matches!(rayon::yield_local(), Some(rayon::Yield::Executed)) {
                self.signal.wait(seen);
            }
        }
    }

    /// Takes the batches the decoder has sent, up to [`IN_FLIGHT`], and queues their analyses.
    fn take_batches(&mut self, pool: &rayon::ScopeFifo<'a>, rules: &'a RuleSet)
    where
        'r: 'a,
    {
        while self.open && self.in_flight.len() < IN_FLIGHT {
            match self.rx.try_recv() {
                Ok(batch) => {
                    self.in_flight
                        .push_back(Analyzing::spawn(batch, pool, rules, self.signal))
                }
                Err(TryRecvError::Empty) => return,
                Err(TryRecvError::Disconnected) => self.open = false,
            }
        }
    }
}

/// A batch being analysed: its records, the analyses of each chunk as its task finishes, and how
/// many tasks are left.
struct Analyzing<'r> {
    records: Vec<Record<'r>>,
    chunks: Vec<Mutex<Vec<Analysis>>>,
    remaining: AtomicUsize,
    /// A task panicked (its panic reaches the caller when the scope ends).
    failed: AtomicBool,
}

impl<'r> Analyzing<'r> {
    /// Queues a task per chunk of `records` on `pool`.
    fn spawn<'a>(
        records: Vec<Record<'r>>,
        pool: &rayon::ScopeFifo<'a>,
        rules: &'a RuleSet,
        signal: &'a Signal,
    ) -> Arc<Analyzing<'r>>
    where
        'r: 'a,
    {
        let n = records.len().div_ceil(ANALYZE_CHUNK);
        let batch = Arc::new(Analyzing {
            records,
            chunks: (0..n).map(|_| Mutex::default()).collect(),
            remaining: AtomicUsize::new(n),
            failed: AtomicBool::new(false),
        });
        for k in 0..n {
            let batch = batch.clone();
            pool.spawn_fifo(move |_| {
                let done = Done {
                    batch: &batch,
                    signal,
                };
                let from = k * ANALYZE_CHUNK;
                let to = (from + ANALYZE_CHUNK).min(batch.records.len());
                let analyses = analyze_chunk(&batch.records[from..to], rules);
                *lock(&batch.chunks[k]) = analyses;
                done.finish();
            });
        }
        batch
    }

    /// Feeds the analysed batch to the session.
    fn feed(&self, session: &mut Session) {
        let analyses = self.chunks.iter().map(|c| std::mem::take(&mut *lock(c)));
        feed(session, &self.records, analyses.collect());
    }
}

/// A chunk's task ending: counted done (or the batch marked failed, when it unwinds), and the
/// assembling side woken.
struct Done<'b, 'r> {
    batch: &'b Analyzing<'r>,
    signal: &'b Signal,
}

impl Done<'_, '_> {
    fn finish(self) {
        self.batch.remaining.fetch_sub(1, Ordering::AcqRel);
        // The wake-up is the drop's.
    }
}

impl Drop for Done<'_, '_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.batch.failed.store(true, Ordering::Release);
        }
        self.signal.bump();
    }
}

/// The decoder's end of the queue: every batch sent, and the sender's drop, wake the
/// assembling side.
struct Sending<'a, 'r> {
    tx: Option<SyncSender<Vec<Record<'r>>>>,
    signal: &'a Signal,
}

impl<'r> Sending<'_, 'r> {
    fn send(&mut self, batch: Vec<Record<'r>>) {
        if let Some(tx) = &self.tx {
            // Fails only when the receiving side is gone (it panicked; the panic is re-raised
            // by the scope).
            let _ = tx.send(batch);
        }
        self.signal.bump();
    }
}

impl Drop for Sending<'_, '_> {
    fn drop(&mut self) {
        drop(self.tx.take());
        self.signal.bump();
    }
}

/// An event count: a counter bumped at every event, and a wait for it to move past a value read
/// before looking (so no event between the look and the wait is missed).
#[derive(Default)]
struct Signal {
    count: Mutex<u64>,
    moved: Condvar,
}

impl Signal {
    fn count(&self) -> u64 {
        *lock(&self.count)
    }

    fn bump(&self) {
        *lock(&self.count) += 1;
        self.moved.notify_all();
    }

    /// Waits until the count is not `seen`.
    fn wait(&self, seen: u64) {
        let mut count = lock(&self.count);
        while *count == seen {
            count = self
                .moved
                .wait(count)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Feeds a batch to the session with its analyses, one list per [`ANALYZE_CHUNK`] records.
fn feed(session: &mut Session, batch: &[Record], analyses: Vec<Vec<Analysis>>) {
    for (records, mut analyses) in batch.chunks(ANALYZE_CHUNK).zip(analyses) {
        session.feed(records, &mut analyses);
    }
}

/// Counts bytes through a reader and turns a mid-stream read error (truncated gzip) into a report.
struct CountingReader<R> {
    inner: R,
    bytes: u64,
    error: Option<Problem>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.bytes += n as u64;
                Ok(n)
            }
            Err(e) => {
                self.error = Some(Problem::read(Some(self.bytes), &e));
                Ok(0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use std::panic::AssertUnwindSafe;

    use super::*;
    use crate::pipeline::Options;

    fn record(n: u64) -> Record<'static> {
        Record {
            line: n + 1,
            offset: n * 100,
            timestamp: None,
            stream: None,
            group: None,
            message: Cow::Borrowed(b"[INFO] a line".as_slice()),
            stream_key: None,
        }
    }

    /// `f` given a fresh session, on a pool of `threads` threads.
    fn on_pool<T: Send>(threads: usize, f: impl FnOnce(Session) -> T + Send) -> T {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            f(Session::new(
                crate::testing::rules(),
                0,
                &Options::default(),
            ))
        })
    }

    /// A decoder that panics after some batches ends the scan with its panic, on every thread
    /// count: the assembling side, asleep by then, is woken to see the queue close (without
    /// that, this test hangs).
    #[test]
    fn a_panic_in_the_decoder_reaches_the_caller() {
        for threads in [1, 2, 3] {
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
                on_pool(threads, |mut session| {
                    scan_structured(
                        |sink: &mut dyn FnMut(Record<'static>)| {
                            for n in 0..(IN_FLIGHT as u64 + 2) * JSON_BATCH as u64 + 5 {
                                sink(record(n));
                            }
                            // Time for the assembling side to take every batch and sleep:
                            // it must be woken by the panic's drop of the queue.
                            std::thread::sleep(std::time::Duration::from_millis(100));
                            panic!("the decoder failed");
                        },
                        &mut session,
                    )
                })
            }));
            let payload = outcome.expect_err("the panic reaches the caller");
            assert_eq!(
                payload.downcast_ref::<&str>(),
                Some(&"the decoder failed"),
                "{threads} threads"
            );
        }
    }

    /// Every record a decoder hands over is fed once, whatever the thread count (the order is
    /// the integration tests' `determinism` and `strategies`: reports are the same).
    #[test]
    fn every_record_is_fed_once() {
        for threads in [1, 2, 3] {
            let records = on_pool(threads, |mut session| {
                let n = 5 * JSON_BATCH as u64 + 7;
                scan_structured(
                    |sink: &mut dyn FnMut(Record<'static>)| {
                        (0..n).for_each(|i| sink(record(i)));
                        Vec::new()
                    },
                    &mut session,
                );
                session
                    .end(crate::summary::InputReport::new("test".into()))
                    .report
                    .records
            });
            assert_eq!(records, 5 * JSON_BATCH as u64 + 7, "{threads} threads");
        }
    }
}
