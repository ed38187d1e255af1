//! The run: inputs -> records -> invocations -> rotations -> occurrences -> ranked diagnoses.
//!
//! Each input is scanned on its own (inputs in parallel, and a big mapped file in parallel blocks):
//! records are decoded and classified and matched against the rule literals in parallel, then fed
//! in order to one [`Assembler`] and [`Tracker`] per input, which close invocations and rotations as
//! they complete and hand failed rotations to the engine. Rotations still open when an input ends
//! (one step in this file, the next in another stream's file) are carried into a final, global
//! tracker. Per-input results merge in input order, so the report does not depend on scheduling.

use std::io::Read;
use std::path::PathBuf;

use rayon::prelude::*;
use serde::Serialize;

use crate::diagnosis::{Aggregator, Diagnosis};
use crate::engine;
use crate::format::lines::LineDecoder;
use crate::format::{DecodeError, Decoder, Format, Record, StructuredDecoder, detect};
use crate::input::{self, InputSpec, Opened};
use crate::lambda::Analysis;
use crate::lambda::invocation::{Assembler, Invocation};
use crate::lambda::rotation::{Rotation, RotationCounts, RotationLedger, Tracker};
use crate::rules::RuleSet;

/// Bytes per parallel block of line-oriented input.
const BLOCK: usize = 512 << 10;
/// Blocks per thread in a window (a window is decoded in parallel while the previous one is
/// assembled in order).
const WINDOW_BLOCKS: usize = 2;
/// Records per batch of a JSON input.
const JSON_BATCH: usize = 8192;
/// A stream that shows no record boundary in this many bytes is decoded as one block anyway.
const MAX_RECORD_BYTES: usize = 256 << 20;

/// How to run.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Skip detection and decode every input in this format.
    pub input_format: Option<Format>,
}

/// What was read from one input.
#[derive(Clone, Debug, Serialize)]
pub struct InputReport {
    pub source: String,
    pub format: String,
    pub records: u64,
    pub skipped: u64,
    pub bytes: u64,
    pub errors: Vec<ErrorReport>,
    /// False when the input could not be opened or read at all.
    #[serde(skip)]
    pub readable: bool,
}

#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ErrorReport {
    pub line: Option<u64>,
    pub offset: Option<u64>,
    pub message: String,
}

impl From<DecodeError> for ErrorReport {
    fn from(e: DecodeError) -> Self {
        ErrorReport {
            line: e.line,
            offset: e.offset,
            message: e.message,
        }
    }
}

/// The result of a run.
pub struct Run {
    pub inputs: Vec<InputReport>,
    pub invocations: u64,
    pub counts: RotationCounts,
    pub diagnoses: Vec<Diagnosis>,
}

/// Scans `paths` (none: stdin) and diagnoses what failed.
pub fn run(paths: &[PathBuf], rules: &RuleSet, opts: &Options) -> Run {
    let (specs, open_errors) = input::expand(paths);
    let mut outcomes: Vec<SourceOutcome> = specs
        .par_iter()
        .enumerate()
        .map(|(i, spec)| scan_source(i as u32, spec, rules, opts))
        .collect();

    let mut inputs: Vec<InputReport> = Vec::new();
    let mut sources: Vec<String> = specs.iter().map(InputSpec::name).collect();
    for e in open_errors {
        sources.push(e.source.clone());
        inputs.push(InputReport {
            source: e.source,
            format: "unknown".into(),
            records: 0,
            skipped: 0,
            bytes: 0,
            errors: vec![ErrorReport {
                line: None,
                offset: None,
                message: e.message,
            }],
            readable: false,
        });
    }

    let mut agg = Aggregator::default();
    let mut ledger = RotationLedger::default();
    let mut global = Tracker::new();
    let mut invocations = 0;
    let mut reports = Vec::new();
    for o in outcomes.drain(..) {
        agg.merge(o.agg);
        ledger.merge(o.ledger);
        invocations += o.invocations;
        for rot in o.open {
            global.absorb(rot, rules);
        }
        for inv in o.unattributed {
            global.add(inv, rules);
        }
        reports.push(o.report);
    }
    global.finish(rules);
    for rot in global.drain_closed() {
        close_rotation(rot, rules, &mut ledger, &mut agg);
    }
    reports.extend(inputs);
    Run {
        inputs: reports,
        invocations,
        counts: ledger.counts(),
        diagnoses: agg.finish(rules, &sources),
    }
}

fn close_rotation(
    rot: Rotation,
    rules: &RuleSet,
    ledger: &mut RotationLedger,
    agg: &mut Aggregator,
) {
    ledger.record(&rot, rules);
    for o in engine::evaluate(&rot, rules) {
        agg.add(o, rules);
    }
}

struct SourceOutcome {
    report: InputReport,
    agg: Aggregator,
    ledger: RotationLedger,
    open: Vec<Rotation>,
    unattributed: Vec<Invocation>,
    invocations: u64,
}

/// Per-input state: assembly, rotation tracking and the diagnoses of rotations closed so far.
struct Session<'r> {
    rules: &'r RuleSet,
    assembler: Assembler<'r>,
    tracker: Tracker,
    ledger: RotationLedger,
    agg: Aggregator,
    records: u64,
    skipped: u64,
    binary_at: Option<u64>,
}

impl<'r> Session<'r> {
    fn new(rules: &'r RuleSet, source: u32) -> Session<'r> {
        Session {
            rules,
            assembler: Assembler::new(rules, source),
            tracker: Tracker::new(),
            ledger: RotationLedger::default(),
            agg: Aggregator::default(),
            records: 0,
            skipped: 0,
            binary_at: None,
        }
    }

    fn feed(&mut self, records: &[Record], analyzed: Vec<Analysis>) {
        for (rec, a) in records.iter().zip(analyzed) {
            if is_binary(&rec.message) {
                self.skipped += 1;
                self.binary_at.get_or_insert(rec.line);
                continue;
            }
            self.records += 1;
            self.assembler.push(rec, a);
        }
        self.pump(true);
    }

    fn pump(&mut self, sweep: bool) {
        for inv in self.assembler.drain_closed() {
            self.tracker.add(inv, self.rules);
        }
        if sweep && let Some(now) = self.assembler.max_ts() {
            self.tracker.sweep(now, self.rules);
        }
        for rot in self.tracker.drain_closed() {
            close_rotation(rot, self.rules, &mut self.ledger, &mut self.agg);
        }
    }

    fn end(mut self, mut report: InputReport) -> SourceOutcome {
        self.assembler.finish();
        self.pump(false);
        let (open, unattributed) = self.tracker.take_open();
        report.records = self.records;
        report.skipped = self.skipped;
        if let Some(line) = self.binary_at {
            report.errors.push(ErrorReport {
                line: Some(line),
                offset: None,
                message: format!(
                    "binary data (NUL bytes): {} record(s) skipped, first at this line",
                    self.skipped
                ),
            });
        }
        SourceOutcome {
            report,
            agg: self.agg,
            ledger: self.ledger,
            open,
            unattributed,
            invocations: self.assembler.invocations,
        }
    }
}

fn is_binary(message: &[u8]) -> bool {
    memchr::memchr(0, message).is_some()
}

/// Classifies a record, matches it against every rule literal, reads its step and facts.
pub fn analyze(rec: &Record, rules: &RuleSet) -> Analysis {
    crate::lambda::analyze(&rec.message, rules)
}

fn scan_source(idx: u32, spec: &InputSpec, rules: &RuleSet, opts: &Options) -> SourceOutcome {
    let mut report = InputReport {
        source: spec.name(),
        format: "unknown".into(),
        records: 0,
        skipped: 0,
        bytes: 0,
        errors: Vec::new(),
        readable: true,
    };
    let mut session = Session::new(rules, idx);
    session
        .assembler
        .set_default_stream(input::stream_from_path(spec));
    let (opened, sample, layers) = match input::open(spec) {
        Ok(x) => x,
        Err(e) => {
            report.readable = false;
            report.errors.push(ErrorReport {
                line: None,
                offset: None,
                message: format!("cannot read: {}", input::describe_io(&e)),
            });
            return session.end(report);
        }
    };
    let format = opts.input_format.unwrap_or_else(|| detect::detect(&sample));
    let mut name = format.name().to_string();
    let layer_names = layers.describe();
    if !layer_names.is_empty() {
        name = format!("{name} ({})", layer_names.join(", "));
    }
    report.format = name;
    match (opened, format.decoder()) {
        (Opened::Mapped(m), Decoder::Lines(lines)) => {
            let data = m.bytes();
            report.bytes = data.len() as u64;
            scan_lines(data, lines, 0, 0, &mut session);
        }
        (Opened::Stream(mut r), Decoder::Lines(lines)) => {
            let (bytes, errs) = scan_line_stream(&mut r, lines, &mut session);
            report.bytes = bytes;
            report
                .errors
                .extend(errs.into_iter().map(ErrorReport::from));
        }
        (opened, Decoder::Structured(decode)) => {
            let mut counted = CountingReader {
                inner: opened.into_reader(),
                bytes: 0,
                error: None,
            };
            let errs = scan_structured(decode, &mut counted, &mut session);
            report.bytes = counted.bytes;
            report
                .errors
                .extend(errs.into_iter().map(ErrorReport::from));
            if let Some(e) = counted.error {
                report.errors.push(ErrorReport {
                    line: None,
                    offset: Some(counted.bytes),
                    message: e,
                });
            }
        }
    }
    session.end(report)
}

/// One block of line-oriented input, decoded, classified and matched.
struct DecodedBlock<'a> {
    records: Vec<Record<'a>>,
    analyzed: Vec<Analysis>,
    lines: u64,
}

/// Decodes line-oriented `data` in parallel blocks and feeds the session in order.
/// Returns the number of lines.
fn scan_lines(
    data: &[u8],
    decoder: LineDecoder,
    base_offset: u64,
    first_line: u64,
    session: &mut Session,
) -> u64 {
    let cuts = split_blocks(data, &decoder, BLOCK);
    let rules = session.rules;
    let blocks: Vec<(usize, usize)> = cuts.windows(2).map(|w| (w[0], w[1])).collect();
    let decode = |(s, e): (usize, usize)| {
        // About one record per 64 bytes: grow once or twice, not a dozen times.
        let mut records = Vec::with_capacity((e - s) / 64 + 16);
        let lines = decoder.decode(&data[s..e], 1, base_offset + s as u64, &mut records);
        let analyzed = records.iter().map(|r| analyze(r, rules)).collect();
        DecodedBlock {
            records,
            analyzed,
            lines,
        }
    };
    let mut line_base = first_line;
    let mut assemble = |block: DecodedBlock, session: &mut Session| {
        let DecodedBlock {
            mut records,
            analyzed,
            lines,
        } = block;
        for r in &mut records {
            r.line += line_base;
        }
        session.feed(&records, analyzed);
        line_base += lines;
    };
    let threads = rayon::current_num_threads();
    if threads <= 1 || blocks.len() <= 1 {
        for &b in &blocks {
            assemble(decode(b), session);
        }
    } else {
        // Decode and analyse windows of blocks on the pool (this thread, usually a pool worker
        // itself, takes part) while a helper thread assembles the previous window, in order:
        // the serial stage overlaps the parallel one and no pool worker sits blocked on it.
        std::thread::scope(|scope| {
            let (tx, rx) = std::sync::mpsc::sync_channel::<DecodedBlock>(threads * WINDOW_BLOCKS);
            scope.spawn(move || {
                for block in rx {
                    assemble(block, session);
                }
            });
            for window in blocks.chunks(threads * WINDOW_BLOCKS) {
                let out: Vec<DecodedBlock> = window.par_iter().map(|&b| decode(b)).collect();
                for block in out {
                    if tx.send(block).is_err() {
                        return;
                    }
                }
            }
        });
    }
    line_base - first_line
}

/// Cuts `data` into blocks of about `size` bytes, each starting at a record boundary.
fn split_blocks(data: &[u8], decoder: &LineDecoder, size: usize) -> Vec<usize> {
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

/// Decodes a line-oriented stream a window at a time. Returns bytes read and read errors.
fn scan_line_stream(
    r: &mut dyn Read,
    decoder: LineDecoder,
    session: &mut Session,
) -> (u64, Vec<DecodeError>) {
    let mut errors = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut offset = 0u64;
    let mut line_base = 0u64;
    let mut eof = false;
    let mut target = WINDOW_BLOCKS * BLOCK;
    loop {
        while !eof && buf.len() < target {
            let start = buf.len();
            buf.resize(start + BLOCK, 0);
            match r.read(&mut buf[start..]) {
                Ok(0) => {
                    buf.truncate(start);
                    eof = true;
                }
                Ok(n) => buf.truncate(start + n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => buf.truncate(start),
                Err(e) => {
                    buf.truncate(start);
                    eof = true;
                    let what = if e.kind() == std::io::ErrorKind::UnexpectedEof {
                        "compressed data ends early (truncated .gz?); everything before this point was read".to_string()
                    } else {
                        format!("read error: {e}; everything before this point was read")
                    };
                    errors.push(DecodeError {
                        line: None,
                        offset: Some(offset + buf.len() as u64),
                        message: what,
                    });
                }
            }
        }
        if buf.is_empty() {
            break;
        }
        let cut = if eof {
            buf.len()
        } else {
            match last_boundary(&buf, &decoder) {
                Some(c) => c,
                None if buf.len() >= MAX_RECORD_BYTES => buf.len(),
                None => {
                    target = buf.len() * 2;
                    continue;
                }
            }
        };
        let lines = scan_lines(&buf[..cut], decoder, offset, line_base, session);
        // Cuts fall at line starts, so the block's lines are all whole.
        line_base += lines;
        offset += cut as u64;
        buf.drain(..cut);
        target = WINDOW_BLOCKS * BLOCK;
        if eof && buf.is_empty() {
            break;
        }
    }
    (offset, errors)
}

/// The last record boundary in `buf` after its first line (so a block is never empty).
fn last_boundary(buf: &[u8], decoder: &LineDecoder) -> Option<usize> {
    let mut from = buf.len() - buf.len() / 4;
    loop {
        if let Some(b) = decoder.boundary(buf, from)
            && b > 0
        {
            // Walk forward to the last boundary.
            let mut last = b;
            let mut pos = b + 1;
            while let Some(n) = decoder.boundary(buf, pos) {
                last = n;
                pos = n + 1;
            }
            return Some(last);
        }
        if from <= 1 {
            return None;
        }
        from /= 2;
    }
}

/// Decodes a structured input in batches: parse (serially), classify and match (in parallel),
/// assemble (in order).
fn scan_structured(
    decode: StructuredDecoder,
    reader: &mut dyn Read,
    session: &mut Session,
) -> Vec<DecodeError> {
    let mut batch: Vec<Record<'static>> = Vec::with_capacity(JSON_BATCH);
    let rules = session.rules;
    let flush = |batch: &mut Vec<Record<'static>>, session: &mut Session| {
        let analyzed: Vec<Analysis> = batch.par_iter().map(|r| analyze(r, rules)).collect();
        session.feed(batch, analyzed);
        batch.clear();
    };
    let errors = decode(reader, &mut |rec| {
        batch.push(rec);
        if batch.len() >= JSON_BATCH {
            flush(&mut batch, session);
        }
    });
    flush(&mut batch, session);
    errors
}

/// Counts bytes through a reader and turns a mid-stream read error (truncated gzip) into a report.
struct CountingReader<R> {
    inner: R,
    bytes: u64,
    error: Option<String>,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.bytes += n as u64;
                Ok(n)
            }
            Err(e) => {
                self.error = Some(if e.kind() == std::io::ErrorKind::UnexpectedEof {
                    "compressed data ends early (truncated .gz?); everything before this point was read".into()
                } else {
                    format!("read error: {e}")
                });
                Ok(0)
            }
        }
    }
}
