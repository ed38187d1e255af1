//! What an input is, and how far it was read: a file or stdin opened (mapped or streamed, its
//! transport layers peeled), or each member of an archive (tar, zip, nested up to
//! [`MAX_ARCHIVE_DEPTH`]), detected and scanned ([`super::scan`]); once done, settled as read,
//! empty, incomplete or unread (the exit status is made of that).

use std::path::PathBuf;

use super::session::{Session, SourceOutcome};
use super::{Options, scan, source_id};
use crate::format::{Format, detect};
use crate::input::archive::Archive;
use crate::input::{self, InputSpec, Opened};
use crate::problem::{Kind, Problem};
use crate::progress::Progress;
use crate::rules::RuleSet;
use crate::summary::{InputReport, InputState};

/// Archives inside archives are opened this deep.
const MAX_ARCHIVE_DEPTH: usize = 3;

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
pub(super) fn scan_source(
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
    opened(ctx, idx, named, input::open(spec, progress))
}

/// Scans standard input from `reader` (follow mode hands over an input that is no live shape:
/// what it already read, then the rest).
pub(super) fn scan_stdin_reader(
    reader: Box<dyn std::io::Read + Send>,
    rules: &RuleSet,
    opts: &Options,
) -> Vec<SourceOutcome> {
    let progress = &Progress::default();
    let ctx = Ctx {
        rules,
        opts,
        progress,
    };
    let named = Named {
        id: source_id(0, 0),
        name: InputSpec::Stdin.name(),
        stream: None,
    };
    opened(ctx, 0, named, input::transport::stream(reader))
}

/// Scans the `idx`th input once opened: one outcome, or one per member of an archive.
fn opened(
    ctx: Ctx,
    idx: usize,
    named: Named,
    opened: std::io::Result<(Opened, Vec<u8>, input::transport::Layers)>,
) -> Vec<SourceOutcome> {
    match opened {
        Err(e) => vec![unread(ctx, named, Kind::Open(input::describe_io(&e)))],
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
fn unread(ctx: Ctx, named: Named, kind: Kind) -> SourceOutcome {
    let problem = Problem::at(None, None, kind);
    let report = InputReport::unread(named.name, InputState::Unread, problem);
    Session::new(ctx.rules, named.id, ctx.opts).end(report)
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
                let mut o = unread(ctx, named, Kind::Archive(e));
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
            Err(e) => out.push(unread(ctx, named, Kind::Open(e.to_string()))),
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
                Kind::Archive(format!(
                    "an archive inside archives {MAX_ARCHIVE_DEPTH} deep: not opened"
                )),
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
            Kind::Archive(format!("{} archive holds no files", kind.name())),
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
    let mut session = Session::new(rules, named.id, opts);
    session.assembler.set_default_stream(named.stream);
    // A file held in memory is its own sample (`input::open` does not copy it).
    let sample = match &opened {
        Opened::Mapped(m) => m.sample(),
        _ => sample,
    };
    let format = opts.input_format.unwrap_or_else(|| detect::detect(sample));
    report.format = format.name().to_string();
    report.transport = layer_names;
    if matches!(opened, Opened::Mapped(_)) {
        session.progress = ctx.progress.clone();
    }
    let (sample_blank, sampled) = (sample.iter().all(u8::is_ascii_whitespace), sample.len());
    scan(opened, format, &mut session, &mut report);
    let blank = sample_blank && report.bytes <= sampled as u64;
    let mut outcome = session.end(report);
    settle(&mut outcome.report, blank, opts.input_format);
    outcome
}

/// Reports a mapped file that changed while it was read.
pub(super) fn note_change(m: &input::Mapped, report: &mut InputReport) {
    let Some(change) = m.change() else {
        return;
    };
    if change.lost_data() {
        // The zero pages that stood in for the lost data were skipped as binary: that message
        // would only mislead.
        report
            .errors
            .retain(|e| !matches!(e.kind, Kind::Binary { .. }));
        report.incomplete(Problem::at(None, None, Kind::Changed(change.to_string())));
    } else {
        let problem = Problem::at(None, None, Kind::Changed(change.to_string()));
        report.errors.push(problem);
    }
}

/// Works out how far an input was read once it is done: empty (0 bytes or only blank lines),
/// or unread when non-empty input gave no record at all (not a log, or a wrong
/// `--input-format`).
pub(super) fn settle(r: &mut InputReport, blank: bool, forced: Option<Format>) {
    if r.state == InputState::Unread {
        return;
    }
    let nothing = r.records + r.filtered + r.skipped == 0;
    if r.state == InputState::Read && (r.bytes == 0 || (blank && nothing && r.errors.is_empty())) {
        r.state = InputState::Empty;
        let problem = Problem::at(None, None, Kind::Empty { bytes: r.bytes });
        r.errors.push(problem);
        return;
    }
    if r.records + r.filtered > 0 {
        return;
    }
    r.state = InputState::Unread;
    let kind = match (forced, r.skipped) {
        (_, n) if n > 0 => Kind::OnlyBinary,
        (Some(f), _) => Kind::NoRecords {
            bytes: r.bytes,
            read_as: f.to_string(),
            forced: true,
        },
        (None, _) => Kind::NoRecords {
            bytes: r.bytes,
            read_as: r.format_shown(),
            forced: false,
        },
    };
    r.errors.push(Problem::at(None, None, kind));
}
