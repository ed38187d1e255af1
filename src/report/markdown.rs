//! `--format markdown`: the report for a ticket or a chat. It keeps to what GitHub (and GitLab,
//! Jira's markdown) and Slack both render: headings (Slack shows them as text), lists, inline
//! code and fenced code blocks. Evidence and the fix commands are in code blocks, so nothing in a
//! log line is taken for markup; prose is escaped. Like every format it is built from a redacted
//! run: it holds no credential a log line held.
//!
//! The summary per secret and the timeline are the human report's, without colour, in a code
//! block (a table in a code block renders the same everywhere; Slack has no tables).

use std::io::{self, Write};

use super::fit::split_fix;
use super::{Layout, Page, diagnoses_count, human, summary_line};
use crate::diagnosis::Diagnosis;

pub(crate) fn write(page: Page, out: &mut dyn Write) -> io::Result<()> {
    let run = page.shown.run();
    if run.timeline.is_some()
        || (!page.diagnoses.is_empty() && page.layout.summary(page.diagnoses.len()))
    {
        return plain_block(page, out);
    }
    if page.diagnoses.is_empty() {
        writeln!(out, "**rotdiag: no failed rotation found**\n")?;
        return writeln!(out, "{}", escape(&summary_line(&run.summary)));
    }
    writeln!(
        out,
        "**rotdiag: {}** ({})",
        diagnoses_count(page.diagnoses.len()),
        escape(&summary_line(&run.summary))
    )?;
    for d in page.diagnoses.stream() {
        writeln!(out)?;
        diagnosis(&d, &page.layout.roots, out)?;
    }
    Ok(())
}

/// The human report's text without colour, in a code block.
fn plain_block(page: Page, out: &mut dyn Write) -> io::Result<()> {
    let mut text = Vec::new();
    let wide = Layout {
        width: None,
        ..page.layout.clone()
    };
    human::write(
        Page {
            layout: &wide,
            ..page
        },
        &mut text,
    )?;
    let text = anstream::adapter::strip_str(&String::from_utf8_lossy(&text)).to_string();
    let fence = fence_for(&text);
    writeln!(out, "**rotdiag**\n")?;
    writeln!(out, "{fence}text\n{}\n{fence}", text.trim_end())
}

fn diagnosis(d: &Diagnosis, roots: &[String], out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "### {}. {} ({}, {:.0}% confidence)\n",
        d.rank,
        code(&d.cause),
        d.severity,
        d.confidence * 100.0
    )?;
    writeln!(out, "**{}**\n", escape(&d.title))?;
    if let Some(e) = &d.explanation {
        writeln!(out, "{}\n", escape(e))?;
    }
    match &d.secret {
        Some(s) => writeln!(out, "- secret: {}", code(s))?,
        None => writeln!(out, "- secret: not in these logs")?,
    }
    if let Some(f) = &d.function {
        writeln!(out, "- function: {}", code(f))?;
    }
    if let Some(s) = &d.step {
        writeln!(out, "- step: {}", code(s))?;
    }
    let seen = match (&d.first_seen, &d.last_seen) {
        (Some(a), Some(b)) if a != b => format!("{a} .. {b}"),
        (Some(a), _) => a.clone(),
        _ => "time unknown".into(),
    };
    writeln!(out, "- seen: {}x, {seen}", d.occurrences)?;
    writeln!(out, "- symptom: {}", escape(&d.symptom_title))?;
    for w in &d.why {
        let sign = if w.weight >= 0.0 { "for" } else { "against" };
        writeln!(out, "- {sign}: {}", escape(&w.text))?;
    }
    let lines: Vec<String> = d
        .evidence
        .iter()
        .map(|e| {
            format!(
                "{}:{}  {}  {}",
                super::fit::relative(&e.source, roots),
                e.line,
                e.timestamp.as_deref().unwrap_or(""),
                e.text
            )
        })
        .collect();
    let block = lines.join("\n");
    let fence = fence_for(&block);
    writeln!(out, "\nEvidence:\n\n{fence}text\n{block}\n{fence}")?;
    if !d.remediation.is_empty() {
        writeln!(out, "\nFix:\n")?;
        for (i, r) in d.remediation.iter().enumerate() {
            fix(i + 1, r, out)?;
        }
    }
    let alts: Vec<String> = d
        .alternatives
        .iter()
        .filter(|a| (a.confidence * 100.0).round() >= 1.0)
        .map(|a| format!("{} {:.0}%", code(&a.cause), a.confidence * 100.0))
        .collect();
    if !alts.is_empty() {
        writeln!(out, "\nAlso possible: {}", alts.join(", "))?;
    }
    if !d.references.is_empty() {
        writeln!(out, "\nReferences:\n")?;
        for r in d.references.iter() {
            writeln!(out, "- <{r}>")?;
        }
    }
    Ok(())
}

/// A fix: its words, then its command in a code block (the command is what follows the first
/// `: ` when it starts like one); a fix with no command is words only.
fn fix(n: usize, r: &str, out: &mut dyn Write) -> io::Result<()> {
    let (words, command) = split_fix(r);
    match command {
        Some(cmd) => {
            let fence = fence_for(cmd);
            writeln!(out, "{n}. {}:\n", escape(words))?;
            writeln!(out, "   {fence}sh")?;
            for l in cmd.lines() {
                writeln!(out, "   {l}")?;
            }
            writeln!(out, "   {fence}")
        }
        None => writeln!(out, "{n}. {}", escape(r)),
    }
}

/// `s` as inline code, with a fence longer than any run of backticks in it.
fn code(s: &str) -> String {
    let longest = longest_run(s, '`');
    let tick = "`".repeat(longest + 1);
    let pad = if s.starts_with('`') || s.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{tick}{pad}{s}{pad}{tick}")
}

/// A code fence longer than any run of backticks in `block` (at least three).
fn fence_for(block: &str) -> String {
    "`".repeat((longest_run(block, '`') + 1).max(3))
}

fn longest_run(s: &str, c: char) -> usize {
    let (mut best, mut now) = (0, 0);
    for ch in s.chars() {
        now = if ch == c { now + 1 } else { 0 };
        best = best.max(now);
    }
    best
}

/// Prose with what markdown would take for markup escaped (`*`, `_`, backticks, `<`, `[`, …).
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(
            c,
            '\\' | '`' | '*' | '_' | '<' | '>' | '[' | ']' | '|' | '#'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_and_fences_outlast_backticks_in_the_text() {
        assert_eq!(code("a"), "`a`");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`a"), "`` `a ``");
        assert_eq!(fence_for("x ```` y"), "`````");
        assert_eq!(fence_for("x"), "```");
    }

    #[test]
    fn prose_is_escaped() {
        assert_eq!(escape("a_b *c* <d>"), "a\\_b \\*c\\* \\<d\\>");
    }
}
