//! The report for a person at a terminal: most likely cause first, the lines that prove it, the fix.
//!
//! Colour comes from `anstyle` styles written through an `anstream` stream, which drops them when
//! stdout is not a terminal, when `NO_COLOR` is set, or with `--color never`.

use std::io::{self, Write};

use anstyle::{AnsiColor, Color, Style};

use super::egress::Shown;
use super::summary_line;
use crate::diagnosis::Diagnosis;

const BOLD: Style = Style::new().bold();
const DIM: Style = Style::new().dimmed();

fn fg(c: AnsiColor) -> Style {
    Style::new().fg_color(Some(Color::Ansi(c)))
}

fn severity_style(s: &str) -> Style {
    match s {
        "critical" | "high" => fg(AnsiColor::Red).bold(),
        "medium" => fg(AnsiColor::Yellow).bold(),
        "low" => fg(AnsiColor::Cyan),
        _ => DIM,
    }
}

pub fn write(shown: &Shown, out: &mut dyn Write) -> io::Result<()> {
    let run = shown.run();
    if run.diagnoses.is_empty() {
        let what = if run.counts.rotations > 0 && run.counts.failed == 0 {
            "no failed rotation found"
        } else {
            "nothing to diagnose: no failed rotation step in these logs"
        };
        writeln!(
            out,
            "{}{what}{}",
            fg(AnsiColor::Green).bold(),
            fg(AnsiColor::Green).bold().render_reset()
        )?;
        writeln!(out, "{DIM}{}{DIM:#}", summary_line(run))?;
        return Ok(());
    }
    let n = run.diagnoses.len();
    writeln!(
        out,
        "{BOLD}{n} diagnos{}{BOLD:#} {DIM}({}){DIM:#}",
        if n == 1 { "is" } else { "es" },
        summary_line(run)
    )?;
    for d in &run.diagnoses {
        writeln!(out)?;
        diagnosis(d, out)?;
    }
    Ok(())
}

fn diagnosis(d: &Diagnosis, out: &mut dyn Write) -> io::Result<()> {
    let sev = severity_style(d.severity);
    writeln!(
        out,
        "{BOLD}#{} {}{BOLD:#}  {sev}{}{sev:#}  {BOLD}{:.0}%{BOLD:#} {DIM}confidence{DIM:#}",
        d.rank,
        d.cause,
        d.severity,
        d.confidence * 100.0
    )?;
    writeln!(out, "   {BOLD}{}{BOLD:#}", d.title)?;
    if let Some(e) = &d.explanation {
        writeln!(out, "   {DIM}{e}{DIM:#}")?;
    }
    let label = fg(AnsiColor::Blue);
    if let Some(s) = &d.secret {
        writeln!(out, "   {label}secret{label:#}      {s}")?;
    }
    let mut where_ = Vec::new();
    if let Some(f) = &d.function {
        where_.push(format!("function {f}"));
    }
    if let Some(s) = &d.step {
        where_.push(format!("step {s}"));
    }
    if !where_.is_empty() {
        writeln!(out, "   {label}where{label:#}       {}", where_.join(", "))?;
    }
    let seen = match (&d.first_seen, &d.last_seen) {
        (Some(a), Some(b)) if a != b => format!("{a} .. {b}"),
        (Some(a), _) => a.clone(),
        _ => "time unknown".into(),
    };
    writeln!(
        out,
        "   {label}seen{label:#}        {}x, {seen}",
        d.occurrences
    )?;
    writeln!(out, "   {label}symptom{label:#}     {}", d.symptom_title)?;
    for (i, w) in d.why.iter().enumerate() {
        let head = if i == 0 { "because" } else { "" };
        writeln!(out, "   {label}{head:<12}{label:#}{w}")?;
    }
    writeln!(out, "   {label}evidence{label:#}")?;
    let path = fg(AnsiColor::Magenta);
    let num = fg(AnsiColor::Green);
    for e in &d.evidence {
        let first = e.text.lines().next().unwrap_or("").replace('\t', " ");
        let more = e.text.lines().count().saturating_sub(1);
        let ts = e.timestamp.as_deref().unwrap_or("");
        write!(
            out,
            "     {path}{}{path:#}:{num}{}{num:#}  {DIM}{ts}{DIM:#}  {}",
            e.source, e.line, first
        )?;
        if more > 0 {
            write!(
                out,
                " {DIM}(+{more} line{}){DIM:#}",
                if more == 1 { "" } else { "s" }
            )?;
        }
        writeln!(out)?;
    }
    if !d.remediation.is_empty() {
        writeln!(out, "   {label}fix{label:#}")?;
        for (i, r) in d.remediation.iter().enumerate() {
            let mut lines = r.lines();
            writeln!(out, "     {}. {}", i + 1, lines.next().unwrap_or(""))?;
            for l in lines {
                writeln!(out, "        {l}")?;
            }
        }
    }
    if !d.alternatives.is_empty() {
        let alts: Vec<String> = d
            .alternatives
            .iter()
            .map(|a| format!("{} {:.0}%", a.cause, a.confidence * 100.0))
            .collect();
        writeln!(
            out,
            "   {label}also possible{label:#} {DIM}{}{DIM:#}",
            alts.join(", ")
        )?;
    }
    for r in d.references.iter() {
        writeln!(out, "   {label}docs{label:#}        {DIM}{r}{DIM:#}")?;
    }
    Ok(())
}
