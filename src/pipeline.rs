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
use std::sync::Mutex;

use rayon::prelude::*;
use serde::Serialize;

use crate::diagnosis::{Aggregator, Diagnosis};
use crate::engine;
use crate::format::lines::LineDecoder;
use crate::format::{DecodeError, Decoder, Format, Record, detect};
use crate::input::archive::Archive;
use crate::input::{self, InputSpec, InputState, Opened, WalkRules};
use crate::lambda::Analysis;
use crate::lambda::invocation::{Assembler, Invocation};
use crate::lambda::rotation::{Rotation, RotationCounts, RotationLedger, Tracker};
use crate::progress::Progress;
use crate::rules::RuleSet;
use crate::time::{EpochMs, Window};

/// Bytes per parallel block of line-oriented input.
const BLOCK: usize = 512 << 10;
/// Blocks per thread in a window (a window is decoded in parallel while the previous one is
/// assembled in order).
const WINDOW_BLOCKS: usize = 2;
/// Records between two hand-overs of closed invocations to the rotation tracker (and sweeps of
/// idle rotations).
const PUMP_EVERY: u64 = 4096;
/// Records per batch of a JSON input.
const JSON_BATCH: usize = 8192;
/// The longest record kept, in bytes: CloudWatch Logs' own limit for one event (256 KiB until
/// 2025, 1 MiB since), so no export holds a longer one. A longer run of lines without a record
/// prefix (a file that is not a log, a paste that lost its prefixes) is cut here, said so on
/// stderr, and the rest of it up to the next record start is skipped: memory stays at a few
/// windows whatever the input.
pub const MAX_RECORD_BYTES: usize = 1 << 20;
/// Archives inside archives are opened this deep.
const MAX_ARCHIVE_DEPTH: usize = 3;

/// How to run.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Skip detection and decode every input in this format.
    pub input_format: Option<Format>,
    /// Leave out records outside this time window (`--since` / `--until`).
    pub window: Window,
    /// Show a progress bar on stderr when it is a terminal and the run is long.
    pub progress: bool,
    /// What a folder walk (and an archive listing) reads.
    pub walk: WalkRules,
}

/// What was read from one input.
#[derive(Clone, Debug, Serialize)]
pub struct InputReport {
    pub source: String,
    pub format: String,
    pub records: u64,
    pub skipped: u64,
    /// Records left out by `--since` / `--until`.
    pub filtered: u64,
    /// Records kept although `--since` / `--until` was given, because nothing in the input
    /// before them carried a timestamp.
    #[serde(skip_serializing_if = "is_zero")]
    pub untimed: u64,
    pub bytes: u64,
    pub errors: Vec<ErrorReport>,
    /// How far it was read: `read`, `empty`, `incomplete`, `unread`, `skipped`.
    pub state: InputState,
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
    let (specs, walk_problems) = input::expand(paths, opts.walk);
    let progress = Progress::new(opts.progress, specs.len() as u64, total_size(&specs));
    let mut outcomes: Vec<SourceOutcome> = specs
        .par_iter()
        .enumerate()
        .map(|(i, spec)| {
            let o = scan_source(i, spec, rules, opts, &progress);
            progress.file_done();
            o
        })
        .collect::<Vec<_>>()
        .into_iter()
        .flatten()
        .collect();
    progress.finish();

    let mut sources: Vec<(u64, String)> = outcomes
        .iter()
        .map(|o| (o.id, o.report.source.clone()))
        .collect();
    let mut inputs: Vec<InputReport> = Vec::new();
    for (k, p) in walk_problems.into_iter().enumerate() {
        sources.push((source_id(specs.len() + k, 0), p.source.clone()));
        let mut report = InputReport::new(p.source);
        report.state = if p.unread {
            InputState::Unread
        } else {
            InputState::Skipped
        };
        report.errors.push(ErrorReport {
            line: None,
            offset: None,
            message: p.message,
        });
        inputs.push(report);
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

/// The id of an input: its place among the command line's expanded inputs, and for a member of an
/// archive its place in the archive (0 for the input itself), so ids sort in input order.
fn source_id(spec: usize, member: u32) -> u64 {
    ((spec as u64) << 32) | member as u64
}

impl InputReport {
    fn new(source: String) -> InputReport {
        InputReport {
            source,
            format: "unknown".into(),
            records: 0,
            skipped: 0,
            filtered: 0,
            untimed: 0,
            bytes: 0,
            errors: Vec::new(),
            state: InputState::Read,
        }
    }

    /// Marks the input read in part (a read error, a file that shrank) with the reason.
    fn incomplete(&mut self, line: Option<u64>, offset: Option<u64>, message: String) {
        self.state = self.state.worst(InputState::Incomplete);
        self.errors.push(ErrorReport {
            line,
            offset,
            message,
        });
    }
}

/// The bytes on disk of every input, or `None` when one is stdin.
fn total_size(specs: &[InputSpec]) -> Option<u64> {
    specs
        .iter()
        .map(|s| match s {
            InputSpec::Stdin => None,
            InputSpec::File(p) => Some(std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)),
        })
        .sum()
}

fn is_zero(n: &u64) -> bool {
    *n == 0
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
    id: u64,
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
    window: Window,
    /// The last timestamp seen: records without one are placed by it.
    last_ts: Option<EpochMs>,
    filtered: u64,
    untimed: u64,
    /// Advanced as blocks are assembled (mapped inputs; streams count as they are read).
    progress: Progress,
    source: u64,
    /// Lines of records cut at [`MAX_RECORD_BYTES`].
    cut: Vec<u64>,
}

impl<'r> Session<'r> {
    fn new(rules: &'r RuleSet, source: u64, window: Window) -> Session<'r> {
        Session {
            rules,
            assembler: Assembler::new(rules, source),
            tracker: Tracker::new(),
            ledger: RotationLedger::default(),
            agg: Aggregator::default(),
            records: 0,
            skipped: 0,
            binary_at: None,
            window,
            last_ts: None,
            filtered: 0,
            untimed: 0,
            progress: Progress::default(),
            source,
            cut: Vec::new(),
        }
    }

    /// Feeds records in order; `analyzed` is drained (its buffer is reused).
    fn feed(&mut self, records: &[Record], analyzed: &mut Vec<Analysis>) {
        for (rec, a) in records.iter().zip(analyzed.drain(..)) {
            if is_binary(&rec.message) {
                self.skipped += 1;
                self.binary_at.get_or_insert(rec.line);
                continue;
            }
            if !self.window.is_open() && !self.in_window(rec, &a) {
                continue;
            }
            self.records += 1;
            self.assembler.push(rec, a);
            // At fixed record counts, not at block ends: where rotations are swept must not
            // depend on how the input was cut into blocks (thread count, stdin or file).
            if self.records.is_multiple_of(PUMP_EVERY) {
                self.pump(true);
            }
        }
    }

    /// Is this record inside `--since` / `--until`? A record without a timestamp of its own (a
    /// continuation, a raw line) is placed by the last one before it.
    fn in_window(&mut self, rec: &Record, a: &Analysis) -> bool {
        if let Some(ts) = rec.timestamp.or(a.line.timestamp) {
            self.last_ts = Some(ts);
        }
        match self.last_ts {
            Some(ts) if !self.window.contains(ts) => {
                self.filtered += 1;
                false
            }
            Some(_) => true,
            None => {
                self.untimed += 1;
                true
            }
        }
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
        report.filtered = self.filtered;
        report.untimed = self.untimed;
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
        if let Some(&line) = self.cut.first() {
            let n = self.cut.len();
            report.errors.push(ErrorReport {
                line: Some(line),
                offset: None,
                message: format!(
                    "{n} record(s) longer than {} KiB (CloudWatch's limit for one event) cut there, first at this line",
                    MAX_RECORD_BYTES >> 10
                ),
            });
        }
        SourceOutcome {
            id: self.source,
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

/// What every input of a run is scanned with.
#[derive(Clone, Copy)]
struct Ctx<'a> {
    rules: &'a RuleSet,
    opts: &'a Options,
    progress: &'a Progress,
}

/// An input's identity: source id, name, and the log stream its path names.
struct Named {
    id: u64,
    name: String,
    stream: Option<String>,
}

/// Scans the `idx`th input: one outcome, or one per member of an archive.
fn scan_source(
    idx: usize,
    spec: &InputSpec,
    rules: &RuleSet,
    opts: &Options,
    progress: &Progress,
) -> Vec<SourceOutcome> {
    let ctx = Ctx {
        rules,
        opts,
        progress,
    };
    let named = Named {
        id: source_id(idx, 0),
        name: spec.name(),
        stream: input::stream_from_path(spec),
    };
    match input::open(spec, progress) {
        Err(e) => vec![unread(
            ctx,
            named,
            format!("cannot read: {}", input::describe_io(&e)),
        )],
        Ok((Opened::Archive(a), _, layers)) => {
            let mut members = 0;
            let mut out = Vec::new();
            let at = ArchiveAt {
                idx,
                name: &named.name,
                layers: layers.describe().join(", "),
                depth: 0,
            };
            scan_archive(ctx, &at, a, &mut members, &mut out);
            out
        }
        Ok((opened, sample, layers)) => {
            let layers = layers.describe().iter().map(|l| l.to_string()).collect();
            vec![scan_opened(ctx, named, opened, &sample, layers)]
        }
    }
}

/// An outcome for an input that could not be read at all.
fn unread(ctx: Ctx, named: Named, message: String) -> SourceOutcome {
    let mut report = InputReport::new(named.name);
    report.state = InputState::Unread;
    report.errors.push(ErrorReport {
        line: None,
        offset: None,
        message,
    });
    Session::new(ctx.rules, named.id, ctx.opts.window).end(report)
}

/// Where an archive sits: the input it came from, its name, its transport layers, how deep.
struct ArchiveAt<'a> {
    idx: usize,
    name: &'a str,
    layers: String,
    depth: usize,
}

/// Scans each member of an archive as an input named `archive:member/path`. A corrupt archive
/// keeps what its members before the fault gave, and is reported as read in part.
fn scan_archive(
    ctx: Ctx,
    at: &ArchiveAt,
    archive: Archive,
    members: &mut u32,
    out: &mut Vec<SourceOutcome>,
) {
    let kind = archive.kind;
    let first = out.len();
    for member in archive.members(ctx.opts.walk.hidden) {
        let member = match member {
            Ok(m) => m,
            Err(e) => {
                *members += 1;
                let named = Named {
                    id: source_id(at.idx, *members),
                    name: at.name.to_string(),
                    stream: None,
                };
                let mut o = unread(ctx, named, e);
                if out.len() > first {
                    o.report.state = InputState::Incomplete;
                }
                out.push(o);
                return;
            }
        };
        *members += 1;
        let path = PathBuf::from(&member.path);
        let named = Named {
            id: source_id(at.idx, *members),
            name: format!("{}:{}", at.name, member.path),
            stream: input::stream_from_path(&InputSpec::File(path)),
        };
        match input::transport::stream(member.reader) {
            Err(e) => out.push(unread(ctx, named, format!("cannot read: {e}"))),
            Ok((Opened::Archive(inner), _, layers)) if at.depth + 1 < MAX_ARCHIVE_DEPTH => {
                let inner_at = ArchiveAt {
                    idx: at.idx,
                    name: &named.name,
                    layers: layers.describe().join(", "),
                    depth: at.depth + 1,
                };
                scan_archive(ctx, &inner_at, inner, members, out);
            }
            Ok((Opened::Archive(_), ..)) => out.push(unread(
                ctx,
                named,
                format!("an archive inside archives {MAX_ARCHIVE_DEPTH} deep: not opened"),
            )),
            Ok((opened, sample, layers)) => {
                let mut l: Vec<String> = layers.describe().iter().map(|l| l.to_string()).collect();
                l.push(if at.layers.is_empty() {
                    format!("in {}", kind.name())
                } else {
                    format!("in {} ({})", kind.name(), at.layers)
                });
                out.push(scan_opened(ctx, named, opened, &sample, l));
            }
        }
    }
    if out.len() == first {
        *members += 1;
        let named = Named {
            id: source_id(at.idx, *members),
            name: at.name.to_string(),
            stream: None,
        };
        let mut o = unread(
            ctx,
            named,
            format!("{} archive holds no files", kind.name()),
        );
        o.report.state = InputState::Empty;
        out.push(o);
    }
}

/// Scans one opened input (a file, stdin, an archive member).
fn scan_opened(
    ctx: Ctx,
    named: Named,
    opened: Opened,
    sample: &[u8],
    layer_names: Vec<String>,
) -> SourceOutcome {
    let (rules, opts) = (ctx.rules, ctx.opts);
    let mut report = InputReport::new(named.name);
    let mut session = Session::new(rules, named.id, opts.window);
    session.assembler.set_default_stream(named.stream);
    let format = opts.input_format.unwrap_or_else(|| detect::detect(sample));
    let mut name = format.name().to_string();
    if !layer_names.is_empty() {
        name = format!("{name} ({})", layer_names.join(", "));
    }
    report.format = name;
    if matches!(opened, Opened::Mapped(_)) {
        session.progress = ctx.progress.clone();
    }
    match (opened, format.decoder()) {
        (Opened::Archive(_), _) => {}
        (Opened::Mapped(m), Decoder::Lines(lines)) => {
            let data = m.bytes();
            report.bytes = data.len() as u64;
            scan_lines(data, lines, &mut session);
            note_change(&m, &mut report);
        }
        (Opened::Stream(mut r), Decoder::Lines(lines)) => {
            let (bytes, errs) = scan_line_stream(&mut r, lines, &mut session);
            report.bytes = bytes;
            for e in errs {
                report.incomplete(e.line, e.offset, e.message);
            }
        }
        (Opened::Mapped(m), Decoder::Structured(_)) if format.memory_decoder().is_some() => {
            let decode = format.memory_decoder().unwrap();
            let data = m.bytes();
            report.bytes = data.len() as u64;
            let progress = session.progress.clone();
            let errs = scan_structured(
                move |sink: &mut dyn FnMut(Record<'static>)| {
                    let mut done = 0;
                    let errs = decode(data, &mut |r: Record<'static>| {
                        // Progress by the offset records are at (advanced at most every 1 MiB).
                        if r.offset > done + (1 << 20) {
                            progress.advance(r.offset - done);
                            done = r.offset;
                        }
                        sink(r)
                    });
                    progress.advance((data.len() as u64).saturating_sub(done));
                    errs
                },
                &mut session,
            );
            report
                .errors
                .extend(errs.into_iter().map(ErrorReport::from));
            note_change(&m, &mut report);
        }
        (Opened::Mapped(m), Decoder::Structured(decode)) => {
            let reader = session.progress.reader(m.bytes());
            scan_structured_reader(reader, decode, &mut session, &mut report);
            note_change(&m, &mut report);
        }
        (Opened::Stream(r), Decoder::Structured(decode)) => {
            let reader = session.progress.reader(r);
            scan_structured_reader(reader, decode, &mut session, &mut report);
        }
    }
    let blank = sample.iter().all(u8::is_ascii_whitespace) && report.bytes <= sample.len() as u64;
    let mut outcome = session.end(report);
    settle(&mut outcome.report, blank, opts.input_format);
    outcome
}

/// Decodes a structured input through a reader, counting its bytes.
fn scan_structured_reader<R: Read + Send>(
    reader: R,
    decode: crate::format::StructuredDecoder,
    session: &mut Session,
    report: &mut InputReport,
) {
    let mut counted = CountingReader {
        inner: reader,
        bytes: 0,
        error: None,
    };
    let errs = scan_structured(
        |sink: &mut dyn FnMut(Record<'static>)| decode(&mut counted, sink),
        session,
    );
    report.bytes = counted.bytes;
    report
        .errors
        .extend(errs.into_iter().map(ErrorReport::from));
    if let Some(e) = counted.error {
        report.incomplete(None, Some(counted.bytes), e);
    }
}

/// Reports a mapped file that changed while it was read.
fn note_change(m: &input::Mapped, report: &mut InputReport) {
    let Some(change) = m.change() else {
        return;
    };
    if change.lost_data() {
        // The zero pages that stood in for the lost data were skipped as binary: that message
        // would only mislead.
        report
            .errors
            .retain(|e| !e.message.starts_with("binary data"));
        report.incomplete(None, None, change.to_string());
    } else {
        report.errors.push(ErrorReport {
            line: None,
            offset: None,
            message: change.to_string(),
        });
    }
}

/// Works out how far an input was read once it is done: empty (0 bytes or only blank lines),
/// or unread when non-empty input gave no record at all (not a log, or a wrong
/// `--input-format`).
fn settle(r: &mut InputReport, blank: bool, forced: Option<Format>) {
    if r.state == InputState::Unread {
        return;
    }
    let nothing = r.records + r.filtered + r.skipped == 0;
    if r.state == InputState::Read && (r.bytes == 0 || (blank && nothing && r.errors.is_empty())) {
        r.state = InputState::Empty;
        let what = if r.bytes == 0 {
            "empty input (0 bytes): nothing to diagnose".to_string()
        } else {
            format!("only blank lines ({} bytes): nothing to diagnose", r.bytes)
        };
        r.errors.push(ErrorReport {
            line: None,
            offset: None,
            message: what,
        });
        return;
    }
    if r.records + r.filtered > 0 {
        return;
    }
    r.state = InputState::Unread;
    let message = match (forced, r.skipped) {
        (_, n) if n > 0 => "no log records: only binary data".to_string(),
        (Some(f), _) => format!(
            "no {f} records in {} bytes: is --input-format {f} right for it?",
            r.bytes
        ),
        (None, _) => format!(
            "no log records in {} bytes read as {}: not a CloudWatch export rotdiag knows (see --input-format)",
            r.bytes, r.format
        ),
    };
    r.errors.push(ErrorReport {
        line: None,
        offset: None,
        message,
    });
}

/// One block of line-oriented input, decoded, classified and matched.
struct DecodedBlock<'a> {
    records: Vec<Record<'a>>,
    analyzed: Vec<Analysis>,
    lines: u64,
    bytes: u64,
    /// Lines (in the block) of records cut at [`MAX_RECORD_BYTES`].
    cut: Vec<u64>,
}

impl DecodedBlock<'_> {
    /// Lines skipped without decoding (the rest of an over-long record).
    fn skipped(lines: u64, bytes: u64) -> Self {
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

/// Decodes one window of line-oriented input: cut into blocks at record boundaries, each block
/// decoded, classified and matched on the pool. `base_offset` is the window's offset in the input.
fn decode_window<'a>(
    data: &'a [u8],
    decoder: &LineDecoder,
    base_offset: u64,
    rules: &RuleSet,
    spare: &Spare,
) -> Vec<DecodedBlock<'a>> {
    let cuts = split_blocks(data, decoder, BLOCK);
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
    let (mut records, mut analyzed) = spare.take();
    // About one record per 64 bytes: grow once or twice, not a dozen times.
    records.reserve(data.len() / 64 + 16);
    let lines = decoder.decode(data, 1, base_offset, &mut records);
    let cut = cap_records(&mut records);
    analyzed.extend(records.iter().map(|r| analyze(r, rules)));
    DecodedBlock {
        records,
        analyzed,
        lines,
        bytes: data.len() as u64,
        cut,
    }
}

/// The buffers of decoded blocks, handed back once assembled so that later blocks reuse them:
/// allocating (and freeing, on another thread) a few MiB per window costs time, and memory the
/// allocator is slow to give back.
#[derive(Default)]
struct Spare {
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
struct InOrder<'s, 'r> {
    session: &'s mut Session<'r>,
    line_base: u64,
    spare: &'s Spare,
}

impl InOrder<'_, '_> {
    fn assemble(&mut self, blocks: Vec<DecodedBlock>) {
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
fn overlapped<T>(order: &mut InOrder, blocks: Vec<DecodedBlock>, work: impl FnOnce() -> T) -> T {
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

/// Decodes mapped line-oriented `data` in parallel windows and feeds the session in order, each
/// window assembled while the next is decoded.
fn scan_lines(data: &[u8], decoder: LineDecoder, session: &mut Session) {
    let rules = session.rules;
    let window = rayon::current_num_threads().max(1) * WINDOW_BLOCKS * BLOCK;
    let spare = Spare::default();
    let mut order = InOrder {
        session,
        line_base: 0,
        spare: &spare,
    };
    let mut pending = Vec::new();
    let mut start = 0;
    while start < data.len() {
        let end = if data.len() - start <= window + window / 2 {
            data.len()
        } else {
            decoder
                .boundary(data, start + window)
                .filter(|&b| b > start)
                .unwrap_or(data.len())
        };
        let part = &data[start..end];
        pending = overlapped(&mut order, pending, || {
            decode_window(part, &decoder, start as u64, rules, &spare)
        });
        start = end;
    }
    order.assemble(pending);
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

/// Reads a stream into window buffers that end at record boundaries.
struct WindowReader<'r> {
    inner: &'r mut dyn Read,
    decoder: LineDecoder,
    eof: bool,
    /// Bytes read so far.
    read: u64,
    errors: Vec<DecodeError>,
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

impl WindowReader<'_> {
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
        window.extend(decode_window(&buf[..cut], &self.decoder, at, rules, spare));
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
                None if mid_line || buf.len() >= MAX_RECORD_BYTES => {
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
        let mut target = size.max(carry.len() + BLOCK);
        loop {
            while !self.eof && buf.len() < target {
                let start = buf.len();
                buf.resize(start + (target - start).min(BLOCK), 0);
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
                        let what = if e.kind() == std::io::ErrorKind::UnexpectedEof {
                            "compressed data ends early (truncated .gz?); everything before this point was read".to_string()
                        } else {
                            format!("read error: {e}; everything before this point was read")
                        };
                        self.errors.push(DecodeError {
                            line: None,
                            offset: Some(self.read),
                            message: what,
                        });
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
                None if buf.len() >= MAX_RECORD_BYTES => {
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

/// Decodes a line-oriented stream a window at a time with two buffers: while one window is
/// assembled (on a helper thread), the next is read and decoded in parallel. Memory stays at two
/// windows whatever the input size. Returns the bytes read and the read errors.
fn scan_line_stream(
    r: &mut dyn Read,
    decoder: LineDecoder,
    session: &mut Session,
) -> (u64, Vec<DecodeError>) {
    let rules = session.rules;
    let size = rayon::current_num_threads().max(1) * WINDOW_BLOCKS * BLOCK;
    let mut reader = WindowReader {
        inner: r,
        decoder,
        eof: false,
        read: 0,
        errors: Vec::new(),
        skip: Skip::No,
    };
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
    (reader.read, reader.errors)
}

/// Decodes a structured input in batches: parse (serially), classify and match (in parallel),
/// assemble (in order).
/// Decodes a document-shaped input. With more than one thread the decoder runs on a thread of
/// its own, handing batches of records over a short queue, while this thread classifies them (on
/// the pool) and assembles them in order: parsing is serial, so it must not wait for the rest.
fn scan_structured<D>(decode: D, session: &mut Session) -> Vec<DecodeError>
where
    D: FnOnce(&mut dyn FnMut(Record<'static>)) -> Vec<DecodeError> + Send,
{
    let rules = session.rules;
    let consume = |batch: &[Record<'static>], session: &mut Session| {
        let mut analyzed: Vec<Analysis> = batch.par_iter().map(|r| analyze(r, rules)).collect();
        session.feed(batch, &mut analyzed);
    };
    if rayon::current_num_threads() < 2 {
        let mut batch: Vec<Record<'static>> = Vec::with_capacity(JSON_BATCH);
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
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Record<'static>>>(2);
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
        for batch in rx {
            consume(&batch, session);
        }
        decoder
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
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
