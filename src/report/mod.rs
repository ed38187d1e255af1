//! Reports: what a run found, for a person ([`human`], [`markdown`]) or a script ([`json`],
//! [`ndjson`]).
//!
//! [`render`] is the only way to a report: it hands the format a run redacted by [`egress`]. A
//! report is made of what a run found ([`Run`]): the [`Summary`] of what was read, the ranked
//! diagnoses, every rotation (compact records), and the timeline when one was asked for. The
//! summary per secret ([`secrets`]) is computed from the rotations and diagnoses at report time,
//! from redacted data, the same way for every format.
//!
//! The human report has two views of the same diagnoses: the detail of each (cause, evidence,
//! fix), and, when there are more than [`SUMMARY_ABOVE`] diagnoses, one screen per secret
//! (status now, last success and failure, top cause) with the detail on request (`--detail`).

pub mod egress;
pub mod explain;
mod fit;
pub(crate) mod human;
pub(crate) mod json;
pub mod live;
pub(crate) mod markdown;
pub(crate) mod ndjson;
pub(crate) mod secrets;

use std::io;

use crate::diagnosis::Diagnoses;
use crate::diagnosis::timeline::Timeline;
use crate::engine::trace::Trace;
use crate::lambda::rotation::RotationList;
use crate::summary::Summary;
use egress::{Ranked, Shown, Target};

/// The version of the JSON and ndjson documents' shape (`schema/report.schema.json`): raised
/// when a field is removed or changes meaning, not when one is added.
pub const SCHEMA_VERSION: u32 = 1;

/// The human report shows the summary per secret, not every diagnosis, above this many
/// diagnoses (each takes 15 to 25 lines: six already fill a screen).
pub const SUMMARY_ABOVE: usize = 5;

/// What a run found: what was read, the ranked diagnoses, every rotation, and the timeline or
/// the trace of the rules' scoring asked for.
pub struct Run {
    pub summary: Summary,
    pub diagnoses: Diagnoses,
    pub rotations: RotationList,
    pub timeline: Option<Timeline>,
    pub trace: Option<Trace>,
}

/// The report formats (`--format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// For a terminal: the detail of each diagnosis, or a summary per secret when there are many.
    Human,
    /// One JSON document.
    Json,
    /// One JSON object per line: each diagnosis, each secret, each rotation, then the summary.
    Ndjson,
    /// For a ticket or a chat: GitHub and Slack-style markdown, evidence in code blocks.
    Markdown,
}

impl Format {
    /// Does this format carry styles for a terminal (kept or stripped by `anstream`)?
    pub fn is_styled(self) -> bool {
        self == Format::Human
    }
}

/// Which view of the diagnoses the human and markdown reports show.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum View {
    /// The summary per secret above [`SUMMARY_ABOVE`] diagnoses, else the detail.
    #[default]
    Auto,
    Summary,
    Detail,
}

/// How to lay a report out.
#[derive(Clone, Debug, Default)]
pub struct Layout {
    pub view: View,
    /// List every rotation in the JSON and ndjson reports, not only those that did not succeed
    /// (a month of logs holds 150,000 rotations, nine in ten of them fine: 130 MB of JSON).
    pub all_rotations: bool,
    /// Columns to fit the human report in (`None`: no limit, as when stdout is a file).
    pub width: Option<usize>,
    /// The folders named on the command line: input paths under one are shown relative to it.
    pub roots: Vec<String>,
}

impl Layout {
    /// Is this the summary view, for a report of `diagnoses` diagnoses?
    pub(crate) fn summary(&self, diagnoses: usize) -> bool {
        match self.view {
            View::Summary => true,
            View::Detail => false,
            View::Auto => diagnoses > SUMMARY_ABOVE,
        }
    }
}

/// Writes the report of `run` in `format` to `out` as it is made (a report of a month of logs
/// is not held whole), every string redacted on the way out. The human report carries styles
/// for `anstream` to keep or strip.
pub fn write(run: Run, format: Format, layout: &Layout, out: &mut dyn io::Write) -> io::Result<()> {
    let target = match format {
        Format::Human | Format::Markdown => Target::Terminal,
        Format::Json | Format::Ndjson => Target::Data,
    };
    let (shown, diagnoses) = Shown::new(run, target);
    let page = Page {
        shown: &shown,
        diagnoses,
        layout,
    };
    match format {
        Format::Human => human::write(page, out),
        Format::Markdown => markdown::write(page, out),
        Format::Json => json::write(page, out),
        Format::Ndjson => ndjson::write(page, out),
    }
}

/// What every format writes from: the run as shown (redacted), its diagnoses (made and
/// redacted as the format takes them) and the layout asked for.
pub(crate) struct Page<'a> {
    shown: &'a Shown,
    diagnoses: Ranked,
    layout: &'a Layout,
}

/// The report of `run` in `format`, in memory.
pub fn render(run: Run, format: Format, layout: &Layout) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    write(run, format, layout, &mut out)?;
    Ok(out)
}

/// A one-line account of what was read and found, shared by both reports: inputs and bytes,
/// records (and those skipped or outside --since/--until), invocations, rotations.
pub(crate) fn summary_line(summary: &Summary) -> String {
    let c = &summary.rotations;
    let r = summary.totals();
    let mut s = format!(
        "{} input{} ({}), {} record{}",
        r.inputs,
        plural(r.inputs),
        indicatif::BinaryBytes(r.bytes),
        r.records,
        plural(r.records),
    );
    if r.unread > 0 {
        s += &format!(", {} unreadable", r.unread);
    }
    if r.skipped > 0 {
        s += &format!(", {} skipped", r.skipped);
    }
    if r.filtered > 0 {
        s += &format!(", {} outside --since/--until", r.filtered);
    }
    s += &format!(
        ", {} invocation{}, {} rotation{} ({} failed, {} succeeded)",
        summary.invocations,
        plural(summary.invocations),
        c.rotations,
        plural(c.rotations),
        c.failed,
        c.succeeded,
    );
    s
}

pub(crate) fn plural(n: u64) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// `n diagnosis` / `n diagnoses`.
pub(crate) fn diagnoses_count(n: usize) -> String {
    format!("{n} diagnos{}", if n == 1 { "is" } else { "es" })
}

/// `--list-rules`: every symptom with its candidate causes, then every cause.
pub fn list_rules(
    rules: &crate::rules::RuleSet,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    writeln!(out, "symptoms:")?;
    for s in &rules.symptoms {
        writeln!(out, "  {:<36} {:<8} {}", s.id, s.severity.name(), s.file)?;
        let causes: Vec<&str> = s
            .candidates
            .iter()
            .map(|c| rules.causes[c.cause].id.as_str())
            .collect();
        writeln!(out, "      causes: {}", causes.join(", "))?;
    }
    writeln!(out, "causes:")?;
    for c in &rules.causes {
        writeln!(out, "  {:<36} {}", c.id, c.title())?;
    }
    writeln!(
        out,
        "{} patterns, {} literals",
        rules.patterns.len(),
        rules.matcher.literals().len()
    )?;
    Ok(())
}
