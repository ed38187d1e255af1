//! Reports: the ranked diagnoses for a person ([`human`]) or a script ([`json`]).
//!
//! [`render`] is the only way to a report: it hands the format a run redacted by [`egress`]. A
//! report is made of what a run found ([`Run`]): the [`Summary`] of what was read, and the
//! diagnoses.

pub mod egress;
pub(crate) mod human;
pub(crate) mod json;

use std::io;

use crate::diagnosis::Diagnosis;
use crate::summary::Summary;
use egress::{Shown, Target};

/// What a run found: what was read, and the ranked diagnoses.
pub struct Run {
    pub summary: Summary,
    pub diagnoses: Vec<Diagnosis>,
}

/// The report formats (`--format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
}

/// The report of `run` in `format`, every string redacted on the way out. The human report
/// carries styles for `anstream` to keep or strip.
pub fn render(run: Run, format: Format) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    render_to(run, format, &mut out)?;
    Ok(out)
}

/// [`render`], written to `out` as it is made: the report of a big input is tens of MB, which
/// a buffer would hold (twice, while it grows) on top of the diagnoses it is made from.
pub fn render_to(run: Run, format: Format, out: &mut dyn io::Write) -> io::Result<()> {
    match format {
        Format::Human => human::write(&Shown::new(run, Target::Terminal), out),
        Format::Json => json::write(&Shown::new(run, Target::Data), out),
    }
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
