//! Reports: the ranked diagnoses for a person ([`human`]) or a script ([`json`]).

pub mod human;
pub mod json;

use crate::summary::Summary;

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
        writeln!(out, "  {:<36} {}", c.id, c.title)?;
    }
    writeln!(
        out,
        "{} patterns, {} literals",
        rules.patterns.len(),
        rules.matcher.literals().len()
    )?;
    Ok(())
}
