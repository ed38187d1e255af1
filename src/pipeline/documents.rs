//! The structured-documents strategy: JSON (every JSON shape), the CLI's text, YAML and table
//! outputs, CSV. A decoder parses records one after another (from memory for a mapped JSON file,
//! from a reader otherwise); batches of records are classified and matched on the pool and fed
//! to the session in order.

use std::io::Read;

use rayon::prelude::*;

use super::ahead::{READ_AHEAD_FROM, checked_text, with_read_ahead};
use super::session::Session;
use super::{Scanned, Strategy, analyze_records};
use crate::format::{AheadDecoder, MemoryDecoder, Record, StructuredDecoder};
use crate::lambda::{Analysis, Bytes};
use crate::problem::Problem;

/// Records per batch of a structured input. Up to five batches are alive at once (two queued, one
/// being filled, one being classified, one being fed), each record holding its message: since
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
/// assemble (in order). With more than one thread the decoder runs on a thread of
/// its own, handing batches of records over a short queue, while this thread classifies them (on
/// the pool) and assembles them in order: parsing is serial, so it must not wait for the rest.
/// Assembling is serial too: a batch is assembled while the next is classified
/// ([`fold_beside`]).
fn scan_structured<'r, D>(decode: D, session: &mut Session) -> Vec<Problem>
where
    D: FnOnce(&mut dyn FnMut(Record<'r>)) -> Vec<Problem> + Send,
{
    let rules = session.rules;
    // The analyses of each chunk of a batch, kept apart (one flat list cost a copy of them all
    // and the reallocations of its growth: 14 M instructions on 16 MiB of JSON).
    let analyze = |batch: &[Record<'r>]| -> Vec<Vec<Analysis>> {
        batch
            .par_chunks(ANALYZE_CHUNK)
            .map(|chunk| {
                let mut out = Vec::with_capacity(chunk.len());
                analyze_records(chunk, |_| Bytes::Unchecked, rules, &mut out);
                out
            })
            .collect()
    };
    let consume = |batch: &[Record<'r>], session: &mut Session| {
        feed(session, batch, analyze(batch));
    };
    if rayon::current_num_threads() < 2 {
        let mut batch: Vec<Record<'r>> = Vec::with_capacity(JSON_BATCH);
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
    std::thread::scope(|s| {
        let decoder = s.spawn(move || {
            let mut batch = Vec::with_capacity(JSON_BATCH);
            let errors = decode(&mut |rec| {
                batch.push(rec);
                if batch.len() >= JSON_BATCH {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(JSON_BATCH));
                    // Fails only when the receiving side panicked; the panic is re-raised below.
                    let _ = tx.send(full);
                }
            });
            if !batch.is_empty() {
                let _ = tx.send(batch);
            }
            errors
        });
        let mut analyzed = None;
        for batch in rx {
            let next = fold_beside(analyzed.take(), session, || analyze(&batch));
            analyzed = Some((batch, next));
        }
        fold_beside(analyzed, session, || ());
        decoder
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Feeds a batch and its analyses (if any) to the session on this thread while `work` runs on
/// another worker of the pool (or after, on this one, when none is free).
///
/// Why: fed only once a batch was analysed, the pool waited for each fold (about a quarter of a
/// `filter-log-events` run's instructions past reading) and the fold for each analysis.
fn fold_beside<T: Send>(
    analyzed: Option<(Vec<Record<'_>>, Vec<Vec<Analysis>>)>,
    session: &mut Session,
    work: impl FnOnce() -> T + Send,
) -> T {
    let fold = || {
        if let Some((batch, analyses)) = analyzed {
            feed(session, &batch, analyses);
        }
    };
    rayon::join(fold, work).1
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
