//! The run: inputs -> records -> invocations -> rotations -> occurrences -> ranked diagnoses.
//!
//! Each input is scanned on its own (inputs in parallel, and a big mapped file in parallel blocks):
//! records are decoded and classified and matched against the rule literals in parallel, then fed
//! in order to one [`Assembler`](crate::lambda::invocation::Assembler) and [`Tracker`] per input, which close invocations and rotations as
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
//! | [`MappedDocuments`] ([`documents`]) | a mapped JSON file | parsed from its slice on a thread of its own (pages of events by hand), batches analysed on the pool |
//! | [`StreamDocuments`] ([`documents`]) | any other structured input | the same, from a reader (JSON in windows that end where a page, or an event of a page, ends) |
//!
//! Standard input that stays open (`aws logs tail --follow | rotdiag`) is followed instead
//! ([`follow()`], [`follow`](mod@follow)): read as it arrives, and each rotation reported to a
//! [`LiveSink`] as soon as it is decided, before the full report at the end.
//!
//! Every strategy feeds a [`Session`] ([`session`]): the serial fold of one input. The rotations
//! it closes are evaluated on the pool and handed, in closing order, to a sink ([`sink`]: the
//! batch report collects them; a live mode reports each as it comes). What an input
//! is (a file, stdin, each member of an archive), how it is opened and detected, and how far it
//! was read once done, is [`sources`].

mod blocks;
mod documents;
mod follow;
mod mapped;
mod session;
mod sink;
mod sources;
mod windows;

use std::path::PathBuf;

use rayon::prelude::*;

use crate::diagnosis::timeline;
use crate::engine::trace::trace;
use crate::format::{Decoder, Format, Record};
use crate::input::{self, InputSpec, Opened, WalkRules};
use crate::lambda::Analysis;
use crate::lambda::rotation::{Keep, Listed, Tracker};
use crate::problem::{Kind, Problem};
use crate::progress::Progress;
pub use crate::report::Run;
use crate::rules::RuleSet;
use crate::summary::{InputReport, InputState, Settings, Summary};
use crate::time::Window;
use documents::{MappedDocuments, StreamDocuments};
use mapped::MappedBlocks;
use session::{Session, SourceOutcome};
use sink::Closed;
use windows::StreamWindows;

pub use follow::{Live, LiveSink, Outcome, Stop, follow};

/// The longest record kept, in bytes: CloudWatch Logs' own limit for one event (256 KiB until
/// 2025, 1 MiB since), so no export holds a longer one. A longer run of lines without a record
/// prefix (a file that is not a log, a paste that lost its prefixes) is cut here, said so on
/// stderr, and the rest of it up to the next record start is skipped: memory stays at a few
/// windows whatever the input.
pub(crate) const MAX_RECORD_BYTES: usize = 1 << 20;

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
    /// Which engine analyses records (the reference one only to compare reports with).
    #[doc(hidden)]
    pub engine: Engine,
    /// Which rotations to keep whole: the ones a timeline shows (`--timeline`), or all of them
    /// to trace how the rules scored them (`--test`).
    pub keep: Keep,
    /// Which rotations the report lists step by step (the others are counted): those that did
    /// not succeed, or all of them (`--all-rotations`).
    pub listed: Listed,
}

/// How records are analysed. The scan-first engine and the engine it replaces must give the
/// same report byte for byte (`tests/it/engines.rs`); the reference engine is kept only for that
/// comparison, and goes once the new engine has replaced it everywhere.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[doc(hidden)]
pub enum Engine {
    /// The engine being built for issue 11. So far it differs from the reference engine only
    /// in reading Lambda JSON log records by hand (`lambda::flat_json`) and JSON pages of
    /// events by hand (`format::events_json::scan`, a stream in windows); the scan-first pass
    /// over each block (lines without a hit never classified) is not in yet (BENCHMARKS.md,
    /// "What limits it").
    #[default]
    ScanFirst,
    /// Every record classified and matched in full.
    Reference,
}

/// The rule set and the engine, as the parallel stage needs them.
#[derive(Clone, Copy)]
pub(crate) struct Analyzer<'r> {
    pub(crate) rules: &'r RuleSet,
    pub(crate) engine: Engine,
}

impl<'r> Analyzer<'r> {
    #[cfg(test)]
    pub(crate) fn new(rules: &'r RuleSet) -> Analyzer<'r> {
        Analyzer {
            rules,
            engine: Engine::default(),
        }
    }
}

/// Scans `paths` (none: stdin) and diagnoses what failed.
pub fn run(paths: &[PathBuf], rules: &RuleSet, opts: &Options) -> Run {
    let (specs, walk_problems) = input::expand(paths, opts.walk);
    let progress = Progress::new(opts.progress, specs.len() as u64, total_size(&specs));
    let outcomes: Vec<SourceOutcome> = specs
        .par_iter()
        .enumerate()
        .map(|(i, spec)| {
            let o = sources::scan_source(i, spec, rules, opts, &progress);
            progress.file_done();
            o
        })
        .collect::<Vec<_>>()
        .into_iter()
        .flatten()
        .collect();
    progress.finish();

    let mut unread = Vec::new();
    for (k, p) in walk_problems.into_iter().enumerate() {
        let state = if p.unread {
            InputState::Unread
        } else {
            InputState::Skipped
        };
        let problem = Problem::at(None, None, Kind::Path(p.message));
        let id = source_id(specs.len() + k, 0);
        unread.push((id, InputReport::unread(p.source, state, problem)));
    }
    conclude(outcomes, unread, rules, opts, log_groups(&specs))
}

/// The run from what each input gave (in input order) and the inputs that could not be opened:
/// rotations still open at the end of an input are carried across inputs and closed, then the
/// diagnoses ranked and the rotations listed. `groups` says which inputs hold which log group
/// (S3 export objects: [`log_groups`]), for placing invocations by time across inputs.
fn conclude(
    mut outcomes: Vec<SourceOutcome>,
    unread: Vec<(u64, InputReport)>,
    rules: &RuleSet,
    opts: &Options,
    groups: rustc_hash::FxHashMap<u64, u32>,
) -> Run {
    let mut sources: Vec<(u64, String)> = outcomes
        .iter()
        .map(|o| (o.id, o.report.source.clone()))
        .collect();
    sources.extend(unread.iter().map(|(id, r)| (*id, r.source.clone())));
    let inputs: Vec<InputReport> = unread.into_iter().map(|(_, r)| r).collect();

    let mut closed = Closed::new(opts);
    let mut global = Tracker::new();
    global.set_groups(groups);
    let mut invocations = 0;
    let mut reports = Vec::new();
    for o in outcomes.drain(..) {
        closed.merge(o.closed);
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
    sink::close(global.drain_closed(), rules, &mut closed);
    reports.extend(inputs);
    let rotations = closed.ledger.finish(rules);
    let (timeline, trace) = match &opts.keep {
        Keep::Matching(selector) => (
            Some(timeline::build(selector, closed.kept, rules, &sources)),
            None,
        ),
        Keep::All => (None, Some(trace(&closed.kept, rules, &sources))),
        Keep::Nothing => (None, None),
    };
    Run {
        summary: Summary {
            inputs: reports,
            invocations,
            rotations: rotations.counts(),
            settings: settings(rules, opts),
        },
        diagnoses: closed.agg.finish(rules, &sources),
        rotations,
        timeline,
        trace,
    }
}

/// The log group of each input known to hold one (by source id): S3 export objects, by export
/// task folder.
fn log_groups(specs: &[InputSpec]) -> rustc_hash::FxHashMap<u64, u32> {
    let mut tasks: rustc_hash::FxHashMap<PathBuf, u32> = Default::default();
    let mut out = rustc_hash::FxHashMap::default();
    for (i, spec) in specs.iter().enumerate() {
        if let Some(task) = input::export_task_of(spec) {
            let n = tasks.len() as u32;
            out.insert(source_id(i, 0), *tasks.entry(task).or_insert(n));
        }
    }
    out
}

/// What the run's results depend on besides its inputs (reports carry it for `rotdiag merge`).
fn settings(rules: &RuleSet, opts: &Options) -> Settings {
    Settings {
        rules: rules.fingerprint.clone(),
        since: opts.window.since.map(crate::time::format_iso),
        until: opts.window.until.map(crate::time::format_iso),
        input_format: opts.input_format.map(|f| f.name().to_string()),
    }
}

/// The id of an input: its place among the command line's expanded inputs, and for a member of an
/// archive its place in the archive (0 for the input itself), so ids sort in input order.
fn source_id(spec: usize, member: u32) -> u64 {
    ((spec as u64) << 32) | member as u64
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

impl Analyzer<'_> {
    /// Classifies a message, matches it against every rule literal, reads its step and facts.
    pub(crate) fn analyze(&self, message: &[u8]) -> Analysis {
        match self.engine {
            Engine::ScanFirst => crate::lambda::analyze(message, self.rules),
            Engine::Reference => crate::lambda::analyze_reference(message, self.rules),
        }
    }
}

/// Scans an opened input with the strategy for how it is held (mapped or streamed) and how its
/// shape decodes (line-oriented or documents), into `report`.
fn scan(opened: Opened, format: Format, session: &mut Session, report: &mut InputReport) {
    let decoder = match session.analyzer().engine {
        Engine::ScanFirst => format.scanning_decoder(),
        Engine::Reference => format.decoder(),
    };
    match (opened, decoder) {
        (Opened::Archive(_), _) => {}
        (Opened::Mapped(m), Decoder::Lines(decoder)) => {
            let data = m.bytes();
            MappedBlocks { data, decoder }
                .scan(session)
                .report_to(report);
            sources::note_change(&m, report);
        }
        (Opened::Stream(mut r), Decoder::Lines(decoder)) => StreamWindows {
            reader: &mut r,
            decoder,
        }
        .scan(session)
        .report_to(report),
        (Opened::Mapped(m), Decoder::Structured(_)) if format.memory_decoder().is_some() => {
            let decode = match session.analyzer().engine {
                Engine::ScanFirst => format.scanning_memory_decoder(),
                Engine::Reference => format.memory_decoder(),
            };
            let decode = decode.unwrap();
            MappedDocuments {
                data: m.bytes(),
                decode,
            }
            .scan(session)
            .report_to(report);
            sources::note_change(&m, report);
        }
        (Opened::Mapped(m), Decoder::Structured(decode)) => {
            StreamDocuments {
                reader: m.bytes(),
                decode,
            }
            .scan(session)
            .report_to(report);
            sources::note_change(&m, report);
        }
        (Opened::Stream(r), Decoder::Structured(decode)) => StreamDocuments { reader: r, decode }
            .scan(session)
            .report_to(report),
    }
}

/// What a strategy read: the input's bytes (on disk for mapped inputs, decoded for streams), the
/// problems met decoding it, and those that stopped reading it early (they make it incomplete).
struct Scanned {
    bytes: u64,
    problems: Vec<Problem>,
    incomplete: Vec<Problem>,
}

impl Scanned {
    fn report_to(self, report: &mut InputReport) {
        report.bytes = self.bytes;
        report.errors.extend(self.problems);
        for p in self.incomplete {
            report.incomplete(p);
        }
    }
}

/// One way of decoding an opened input into records, analysing them on the pool, and feeding
/// them to the [`Session`] in input order: [`MappedBlocks`], [`StreamWindows`],
/// [`MappedDocuments`], [`StreamDocuments`].
trait Strategy {
    fn scan(self, session: &mut Session) -> Scanned;
}
