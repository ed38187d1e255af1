//! The run: inputs -> records -> invocations -> rotations -> occurrences -> ranked diagnoses.
//!
//! Each input is scanned on its own (inputs in parallel, and a big mapped file in parallel blocks):
//! records are decoded and classified and matched against the rule literals in parallel, then fed
//! in order to one [`Assembler`](crate::lambda::invocation::Assembler) and [`Tracker`] per input, which close invocations and rotations as
//! they complete and hand failed rotations to the engine. Rotations still open when an input ends
//! (one step in this file, the next in another stream's file) are carried into one tracker of the
//! whole run ([`Fold`]). Inputs are scanned as the folder walk finds them, and each input's
//! outcome is folded as soon as the ones before it are ([`ordered`], a reorder buffer over the
//! parallel scan): in input order, so the report does not depend on scheduling, and while the
//! other inputs are scanned, so that neither the walk nor the fold across inputs waits for the
//! whole scan (in an S3 export of one object per log stream every rotation spans inputs).
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

mod ahead;
mod blocks;
mod documents;
mod follow;
mod mapped;
mod ordered;
mod session;
mod sink;
mod sources;
mod windows;

use std::path::PathBuf;

use crate::diagnosis::timeline;
use crate::engine::trace::{Trace, trace};
use crate::format::{Decoder, Format, Record};
use crate::input::{self, InputSpec, Opened, WalkRules};
use crate::lambda::rotation::{Keep, Listed, Rotation, Tracker};
use crate::lambda::{Analysis, Bytes};
use crate::problem::{Kind, Problem};
use crate::progress::Progress;
pub use crate::report::Run;
use crate::rules::RuleSet;
use crate::summary::{InputReport, InputState, Settings, Summary};
use crate::time::Window;
use documents::{MappedDocuments, StreamDocuments};
use mapped::MappedBlocks;
use ordered::InOrder;
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
    /// Which rotations to keep whole: the ones a timeline shows (`--timeline`), or all of them
    /// to trace how the rules scored them (`--test`).
    pub keep: Keep,
    /// Which rotations the report lists step by step (the others are counted): those that did
    /// not succeed, or all of them (`--all-rotations`).
    pub listed: Listed,
    /// Called once the inputs are read and their buffers dropped, before the rotation list and
    /// the diagnoses are made: the binary has its allocator return the pages it holds freed, so
    /// that what the end of the run makes is not stacked on them (the library does not know
    /// which allocator it runs on).
    pub release: Option<fn()>,
}

/// Scans `paths` (none: stdin) and diagnoses what failed. Inputs are scanned on the pool as
/// the walk finds them (a walk of 100,000 objects takes a while), and their outcomes folded in
/// input order as they come in ([`ordered`]), so neither the walk nor carrying rotations across
/// inputs is a serial stage before or after the scan. A progress bar needs the totals first: with
/// one, the walk goes first.
///
/// The walk runs on the calling thread, not on a worker of the pool (`in_place_scope_fifo`): it
/// waits on the disk for each folder's entries (an S3 export holds one folder per log stream), and
/// a worker blocked in `getdents` is a worker not scanning. On the bench folder (94,223 files) with
/// one worker, the walk and the scan now overlap (`-j 1` 5.63 -> 4.77 s, medians of 3); with two,
/// the time is the same (3.17 -> 3.19 s: both workers were busy already).
pub fn run(paths: &[PathBuf], rules: &RuleSet, opts: &Options) -> Run {
    let ordered = InOrder::new(Fold::new(rules, opts), Fold::add_input);
    let (inputs, walk_problems) = if Progress::shown(opts.progress) {
        let (specs, problems) = input::expand(paths, opts.walk);
        let progress = Progress::new(true, specs.len() as u64, total_size(&specs));
        let scan = ScanOn {
            rules,
            opts,
            ordered: &ordered,
            progress: &progress,
        };
        rayon::in_place_scope_fifo(|s| {
            for (i, spec) in specs.into_iter().enumerate() {
                scan.spawn(s, i, spec);
            }
        });
        progress.finish();
        (ordered.finish(), problems)
    } else {
        let progress = Progress::default();
        let scan = ScanOn {
            rules,
            opts,
            ordered: &ordered,
            progress: &progress,
        };
        let mut found = 0;
        let problems = rayon::in_place_scope_fifo(|s| {
            input::expand_each(paths, opts.walk, &mut |spec| {
                scan.spawn(s, found, spec);
                found += 1;
            })
        });
        (ordered.finish(), problems)
    };
    let fold = inputs.expect("every input's outcome is handed in");
    let mut unread = Vec::new();
    for (k, p) in walk_problems.into_iter().enumerate() {
        let state = if p.unread {
            InputState::Unread
        } else {
            InputState::Skipped
        };
        let problem = Problem::at(None, None, Kind::Path(p.message));
        let id = source_id(fold.inputs + k, 0);
        unread.push((id, InputReport::unread(p.source, state, problem)));
    }
    fold.finish(unread)
}

/// What one input hands to the fold: the export task folder it sits in, if any (see
/// [`Fold::add_input`]), and its outcomes (one per member of an archive).
type InputOutcome = (Option<PathBuf>, Vec<SourceOutcome>);

/// What scanning an input on the pool needs: the run's rules and options, where its outcome
/// goes, and the progress bar.
struct ScanOn<'s, 'r, F> {
    rules: &'r RuleSet,
    opts: &'r Options,
    ordered: &'s InOrder<InputOutcome, Fold<'r>, F>,
    progress: &'s Progress,
}

impl<'s, 'r: 's, F: Fn(&mut Fold<'r>, InputOutcome) + Sync> ScanOn<'s, 'r, F> {
    /// Scans the `index`th input on the pool (inputs start in the order spawned) and hands what
    /// it gave to the fold.
    fn spawn(&self, scope: &rayon::ScopeFifo<'s>, index: usize, spec: InputSpec) {
        let (rules, opts, ordered, progress) = (self.rules, self.opts, self.ordered, self.progress);
        scope.spawn_fifo(move |_| {
            let task = input::export_task_of(&spec);
            let outcomes = sources::scan_source(index, &spec, rules, opts, progress);
            progress.file_done();
            ordered.put(index, (task, outcomes));
        });
    }
}

/// The run from what each input gave (in input order) and the inputs that could not be opened
/// (see [`Fold`]); none of them is an export object, which would name its log group.
fn conclude(
    outcomes: Vec<SourceOutcome>,
    unread: Vec<(u64, InputReport)>,
    rules: &RuleSet,
    opts: &Options,
) -> Run {
    let mut fold = Fold::new(rules, opts);
    for o in outcomes {
        fold.add(o);
    }
    fold.finish(unread)
}

/// The fold across inputs: each input's outcome taken in input order (its diagnoses merged, the
/// rotations it left open carried into one tracker of the whole run), then the carried rotations
/// closed, the diagnoses ranked and the rotations listed.
///
/// The report is the same however the outcomes were made and whenever they are folded, as long
/// as they come in input order: the batch sink (`closed`) takes each input's share in input
/// order, then the rotations the run's tracker closed (`carried`, evaluated as they close rather
/// than all after the last input) in the order they closed, which is what merging `carried` into
/// `closed` at the end gives (the aggregator and the ledger merge as they record, first one
/// kept on ties).
struct Fold<'r> {
    rules: &'r RuleSet,
    opts: &'r Options,
    /// Inputs taken so far (archives count once, however many members they hold).
    inputs: usize,
    /// The log group of each export task folder met so far, numbered in order of appearance.
    tasks: rustc_hash::FxHashMap<PathBuf, u32>,
    sources: Vec<(u64, String)>,
    reports: Vec<InputReport>,
    closed: Closed,
    tracker: Tracker,
    carried: Closed,
    invocations: u64,
}

impl<'r> Fold<'r> {
    fn new(rules: &'r RuleSet, opts: &'r Options) -> Self {
        Fold {
            rules,
            opts,
            inputs: 0,
            tasks: Default::default(),
            sources: Vec::new(),
            reports: Vec::new(),
            closed: Closed::new(opts),
            tracker: Tracker::new(),
            carried: Closed::new(opts),
            invocations: 0,
        }
    }

    /// Takes the next input (in input order): says which log group it holds if it sits in an
    /// S3 export task folder (one export task is one log group, and the tracker places an
    /// invocation by time only into rotations of its own group), then takes its outcomes.
    fn add_input(&mut self, (task, outcomes): InputOutcome) {
        if let Some(task) = task {
            let next = self.tasks.len() as u32;
            let group = *self.tasks.entry(task).or_insert(next);
            self.tracker.set_group(source_id(self.inputs, 0), group);
        }
        self.inputs += 1;
        for o in outcomes {
            self.add(o);
        }
    }

    /// Takes the next outcome (in input order).
    fn add(&mut self, o: SourceOutcome) {
        self.sources.push((o.id, o.report.source.clone()));
        self.closed.merge(o.closed);
        self.invocations += o.invocations;
        for rot in o.open {
            self.tracker.absorb(rot, self.rules);
        }
        for inv in o.unattributed {
            self.tracker.add(inv, self.rules);
        }
        self.reports.push(o.report);
        sink::close(self.tracker.drain_closed(), self.rules, &mut self.carried);
    }

    /// Closes what is still open and makes the run, with `unread` (the inputs that could not be
    /// opened) listed after the others.
    fn finish(mut self, unread: Vec<(u64, InputReport)>) -> Run {
        let (rules, opts) = (self.rules, self.opts);
        if let Some(release) = opts.release {
            release();
        }
        let mut sources = self.sources;
        sources.extend(unread.iter().map(|(id, r)| (*id, r.source.clone())));
        self.tracker.finish(rules);
        sink::close(self.tracker.drain_closed(), rules, &mut self.carried);
        let mut closed = self.closed;
        closed.merge(self.carried);
        let mut reports = self.reports;
        reports.extend(unread.into_iter().map(|(_, r)| r));
        // The rotation list (and the views of kept rotations) and the ranked diagnoses are made
        // of different parts of the sink: side by side, on the pool.
        let Closed {
            agg, ledger, kept, ..
        } = closed;
        let ((rotations, (timeline, trace)), diagnoses) = rayon::join(
            || {
                (
                    ledger.finish(rules),
                    views(&opts.keep, kept, rules, &sources),
                )
            },
            || agg.rank(rules, &sources),
        );
        Run {
            summary: Summary {
                inputs: reports,
                invocations: self.invocations,
                rotations: rotations.counts(),
                settings: settings(rules, opts),
            },
            diagnoses,
            rotations,
            timeline,
            trace,
        }
    }
}

/// The timeline (`--timeline`) or the rules' trace (`--test`) of the rotations kept whole.
fn views(
    keep: &Keep,
    kept: Vec<Rotation>,
    rules: &RuleSet,
    sources: &[(u64, String)],
) -> (Option<timeline::Timeline>, Option<Trace>) {
    match keep {
        Keep::Matching(selector) => (Some(timeline::build(selector, kept, rules, sources)), None),
        Keep::All => (None, Some(trace(&kept, rules, sources))),
        Keep::Nothing => (None, None),
    }
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

/// Classifies each record, matches it against every rule literal and reads its step and facts,
/// appending the analyses to `out` in order; `bytes` says what is known of a record's bytes. The
/// texts are matched two at a time ([`crate::lambda::analyze_all`]).
pub(crate) fn analyze_records(
    records: &[Record],
    bytes: impl Fn(&Record) -> Bytes,
    rules: &RuleSet,
    out: &mut Vec<Analysis>,
) {
    let messages: Vec<(&[u8], Bytes)> = records.iter().map(|r| (&*r.message, bytes(r))).collect();
    crate::lambda::analyze_all(&messages, rules, out);
}

/// Scans an opened input with the strategy for how it is held (mapped or streamed) and how its
/// shape decodes (line-oriented or documents), into `report`.
fn scan(opened: Opened, format: Format, session: &mut Session, report: &mut InputReport) {
    match (opened, format.decoder()) {
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
        (Opened::Mapped(m), Decoder::Structured(decode)) => {
            let data = m.bytes();
            let scanned = match format.memory_decoder() {
                Some(decode) => MappedDocuments {
                    data,
                    decode,
                    ahead: format.reading_ahead_decoder(),
                }
                .scan(session),
                None => StreamDocuments {
                    reader: data,
                    decode,
                }
                .scan(session),
            };
            scanned.report_to(report);
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
