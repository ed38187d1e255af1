//! The run: inputs -> records -> invocations -> rotations -> occurrences -> ranked diagnoses.
//!
//! Each input is scanned on its own (inputs in parallel, and a big mapped file in parallel blocks):
//! records are decoded and classified and matched against the rule literals in parallel, then fed
//! in order to one [`Assembler`] and [`Tracker`] per input, which close invocations and rotations as
//! they complete and hand failed rotations to the engine. Rotations still open when an input ends
//! (one step in this file, the next in another stream's file) are carried into a final, global
//! tracker. Per-input results merge in input order, so the report does not depend on scheduling.
//!
//! How an input is decoded depends on how it is held and on its shape, as a ripgrep searcher picks
//! a strategy; each is a small struct behind one interface ([`Strategy`]):
//!
//! | strategy | input | how |
//! | --- | --- | --- |
//! | [`MappedBlocks`] ([`mapped`]) | a mapped file, line-oriented | windows cut into blocks at record boundaries, decoded in parallel, in place |
//! | [`StreamWindows`] ([`windows`]) | a stream, line-oriented | the same, a window at a time into two buffers (bounded memory) |
//! | [`MappedDocuments`] ([`documents`]) | a mapped JSON file | parsed from its slice on a thread of its own, batches analysed on the pool |
//! | [`StreamDocuments`] ([`documents`]) | any other structured input | the same, from a reader |
//!
//! Every strategy feeds a [`Session`] ([`session`]): the serial fold of one input.

mod blocks;
mod documents;
mod mapped;
mod session;
mod windows;

use std::path::PathBuf;

use rayon::prelude::*;

use crate::diagnosis::{Aggregator, Diagnosis};
use crate::format::{Decoder, Format, Record, detect};
use crate::input::{self, InputSpec, Opened};
use crate::lambda::Analysis;
use crate::lambda::rotation::{RotationLedger, Tracker};
use crate::problem::{Kind, Problem};
use crate::progress::Progress;
use crate::rules::RuleSet;
use crate::summary::{InputReport, Summary};
use crate::time::Window;
use documents::{MappedDocuments, StreamDocuments};
use mapped::MappedBlocks;
use session::{Session, SourceOutcome, close_rotation};
use windows::StreamWindows;

/// How to run.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Skip detection and decode every input in this format.
    pub input_format: Option<Format>,
    /// Leave out records outside this time window (`--since` / `--until`).
    pub window: Window,
    /// Show a progress bar on stderr when it is a terminal and the run is long.
    pub progress: bool,
}

/// The result of a run.
pub struct Run {
    pub summary: Summary,
    pub diagnoses: Vec<Diagnosis>,
}

/// Scans `paths` (none: stdin) and diagnoses what failed.
pub fn run(paths: &[PathBuf], rules: &RuleSet, opts: &Options) -> Run {
    let (specs, open_errors) = input::expand(paths);
    let progress = Progress::new(opts.progress, specs.len() as u64, total_size(&specs));
    let mut outcomes: Vec<SourceOutcome> = specs
        .par_iter()
        .enumerate()
        .map(|(i, spec)| {
            let o = scan_source(i as u32, spec, rules, opts, &progress);
            progress.file_done();
            o
        })
        .collect();
    progress.finish();

    let mut inputs: Vec<InputReport> = Vec::new();
    let mut sources: Vec<String> = specs.iter().map(InputSpec::name).collect();
    for e in open_errors {
        let source = e.at.source.clone().unwrap_or_default();
        sources.push(source.clone());
        inputs.push(InputReport::unreadable(source, e));
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
        summary: Summary {
            inputs: reports,
            invocations,
            rotations: ledger.counts(),
        },
        diagnoses: agg.finish(rules, &sources),
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

/// Classifies a record, matches it against every rule literal, reads its step and facts.
pub fn analyze(rec: &Record, rules: &RuleSet) -> Analysis {
    crate::lambda::analyze(&rec.message, rules)
}

/// Reads one input: opens it, detects its shape, scans it with the strategy that fits, and returns
/// what it gave.
fn scan_source(
    idx: u32,
    spec: &InputSpec,
    rules: &RuleSet,
    opts: &Options,
    progress: &Progress,
) -> SourceOutcome {
    let mut report = InputReport::new(spec.name());
    let mut session = Session::new(rules, idx, opts.window);
    session
        .assembler
        .set_default_stream(input::stream_from_path(spec));
    let (opened, sample, layers) = match input::open(spec, progress) {
        Ok(x) => x,
        Err(e) => {
            report.readable = false;
            report
                .errors
                .push(Problem::at(None, None, Kind::Open(input::describe_io(&e))));
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
    if matches!(opened, Opened::Mapped(_)) {
        // Mapped inputs advance the progress as they are assembled (streams as they are read).
        session.progress = progress.clone();
    }
    let scanned = scan(opened, format, &mut session);
    report.bytes = scanned.bytes;
    report.errors.extend(scanned.problems);
    session.end(report)
}

/// Scans an opened input with the strategy for how it is held (mapped or streamed) and how its
/// shape decodes (line-oriented or documents).
fn scan(opened: Opened, format: Format, session: &mut Session) -> Scanned {
    match (opened, format.decoder()) {
        (Opened::Mapped(m), Decoder::Lines(decoder)) => MappedBlocks {
            data: m.bytes(),
            decoder,
        }
        .scan(session),
        (Opened::Stream(mut r), Decoder::Lines(decoder)) => StreamWindows {
            reader: &mut r,
            decoder,
        }
        .scan(session),
        (Opened::Mapped(m), Decoder::Structured(_)) if format.memory_decoder().is_some() => {
            MappedDocuments {
                data: m.bytes(),
                decode: format.memory_decoder().unwrap(),
            }
            .scan(session)
        }
        (opened, Decoder::Structured(decode)) => StreamDocuments {
            reader: opened.into_reader(),
            decode,
        }
        .scan(session),
    }
}

/// What a strategy read: the input's bytes (on disk for mapped inputs, decoded for streams), and
/// the problems met reading and decoding it.
struct Scanned {
    bytes: u64,
    problems: Vec<Problem>,
}

/// One way of decoding an opened input into records, analysing them on the pool, and feeding
/// them to the [`Session`] in input order: [`MappedBlocks`], [`StreamWindows`],
/// [`MappedDocuments`], [`StreamDocuments`].
trait Strategy {
    fn scan(self, session: &mut Session) -> Scanned;
}
