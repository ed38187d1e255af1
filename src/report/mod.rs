//! Reports: the ranked diagnoses for a person ([`human`]) or a script ([`json`]).

pub mod human;
pub mod json;

use crate::pipeline::Run;

/// A one-line account of what was read, shared by both reports.
pub fn summary_line(run: &Run) -> String {
    let c = &run.counts;
    let inputs = run.inputs.len();
    let records: u64 = run.inputs.iter().map(|i| i.records).sum();
    format!(
        "{inputs} input{}, {records} record{}, {} invocation{}, {} rotation{} ({} failed, {} succeeded)",
        plural(inputs as u64),
        plural(records),
        run.invocations,
        plural(run.invocations),
        c.rotations,
        plural(c.rotations),
        c.failed,
        c.succeeded,
    )
}

pub fn plural(n: u64) -> &'static str {
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
