//! The report for a person at a terminal, in one of three views:
//!
//! * detail: each diagnosis, most likely cause first, the lines that prove it, the fix;
//! * summary: one screen for many diagnoses: the causes, then the secrets that failed (failing
//!   now first) with their last success and failure and top cause ([`super::secrets`]);
//! * timeline: one secret's (or token's) rotations, step by step (`--timeline`).
//!
//! It fits the terminal: evidence lines are cut to its width (the JSON report has them whole),
//! prose is wrapped, fix commands are never cut (they are copied). Input paths under the one
//! folder named on the command line are shown relative to it. An error logged twice (a
//! template's `[ERROR]` line, then the exception it raises) is shown once.
//!
//! Every view reads the diagnoses once, in rank order, as they are made a chunk at a time
//! (`egress::Ranked`), so a report of a month of logs never holds them all: the detail view
//! writes each as it comes; the summary view needs only how many there are and the secret of
//! each, read from their packed form, and makes none.
//!
//! Colour comes from `anstyle` styles written through an `anstream` stream, which drops them when
//! stdout is not a terminal, when `NO_COLOR` is set, or with `--color never`.

use std::io::{self, Write};

use anstyle::{AnsiColor, Color, Style};

use super::egress::{Ranked, Shown};
use super::fit::{cut, relative, split_fix, width, wrap};
use super::secrets::{SecretSummary, causes, summarize};
use super::{Layout, Page, Run, diagnoses_count, summary_line};
use crate::diagnosis::timeline::{Timeline, TimelineRotation, TimelineStep};
use crate::diagnosis::{Diagnosis, Evidence};
use crate::engine::trace::{CandidateTrace, InvocationTrace, Trace};

const BOLD: Style = Style::new().bold();
const DIM: Style = Style::new().dimmed();

/// Rows of the summary's table of secrets: one screen.
const SECRET_ROWS: usize = 20;

fn fg(c: AnsiColor) -> Style {
    Style::new().fg_color(Some(Color::Ansi(c)))
}

const LABEL: Style = Style::new().fg_color(Some(Color::Ansi(AnsiColor::Blue)));

fn severity_style(s: &str) -> Style {
    match s {
        "critical" | "high" => fg(AnsiColor::Red).bold(),
        "medium" => fg(AnsiColor::Yellow).bold(),
        "low" => fg(AnsiColor::Cyan),
        _ => DIM,
    }
}

fn status_style(s: &str) -> Style {
    match s {
        "failed" | "timed-out" => fg(AnsiColor::Red),
        "succeeded" => fg(AnsiColor::Green),
        _ => DIM,
    }
}

pub(crate) fn write(page: Page, out: &mut dyn Write) -> io::Result<()> {
    let run = page.shown.run();
    let fit = Fit::new(page.layout);
    if let Some(t) = &run.timeline {
        return timeline(run, t, &fit, out);
    }
    if let Some(t) = &run.trace {
        return rule_trace(run, page.diagnoses, t, &fit, out);
    }
    if page.diagnoses.is_empty() {
        return healthy(run, out);
    }
    if page.layout.summary(page.diagnoses.len()) {
        return summary(page.shown, &page.diagnoses, &fit, out);
    }
    fit.header(out, &diagnoses_count(page.diagnoses.len()), "", run)?;
    for d in page.diagnoses.stream() {
        writeln!(out)?;
        diagnosis(&d, &fit, out)?;
    }
    Ok(())
}

/// The width to fit in and the roots paths are relative to.
struct Fit<'a> {
    width: Option<usize>,
    roots: &'a [String],
}

impl<'a> Fit<'a> {
    fn new(layout: &'a Layout) -> Fit<'a> {
        Fit {
            // Narrower than this, cutting would leave nothing readable.
            width: layout.width.map(|w| w.max(40)),
            roots: &layout.roots,
        }
    }

    fn source<'s>(&self, s: &'s str) -> &'s str {
        relative(s, self.roots)
    }

    /// The first line of a view: `head` in bold, `rest`, then what was read, wrapped.
    fn header(&self, out: &mut dyn Write, head: &str, rest: &str, run: &Run) -> io::Result<()> {
        write!(out, "{BOLD}{head}{BOLD:#}{rest}")?;
        let used = width(head) + width(rest) + 1;
        let what = format!("({})", summary_line(&run.summary));
        match self.width {
            // Not room for a few words: the account of what was read goes below.
            Some(w) if used > w / 2 => {
                writeln!(out)?;
                self.prose(out, 0, &what, DIM)
            }
            _ => {
                write!(out, " ")?;
                self.prose(out, used, &what, DIM)
            }
        }
    }

    /// Writes `text` after `indent` columns already written, wrapped to the width, the
    /// following lines indented as much.
    fn prose(
        &self,
        out: &mut dyn Write,
        indent: usize,
        text: &str,
        style: Style,
    ) -> io::Result<()> {
        let lines = match self.width {
            Some(w) => wrap(text, w.saturating_sub(indent).max(20)),
            None => vec![text.to_string()],
        };
        for (i, l) in lines.iter().enumerate() {
            if i > 0 {
                write!(out, "{:indent$}", "")?;
            }
            writeln!(out, "{style}{l}{style:#}")?;
        }
        Ok(())
    }
}

fn healthy(run: &Run, out: &mut dyn Write) -> io::Result<()> {
    let counts = &run.summary.rotations;
    let what = if counts.rotations > 0 && counts.failed == 0 {
        "no failed rotation found"
    } else {
        "nothing to diagnose: no failed rotation step in these logs"
    };
    let ok = fg(AnsiColor::Green).bold();
    writeln!(out, "{ok}{what}{ok:#}")?;
    writeln!(out, "{DIM}{}{DIM:#}", summary_line(&run.summary))
}

fn diagnosis(d: &Diagnosis, fit: &Fit, out: &mut dyn Write) -> io::Result<()> {
    let sev = severity_style(d.severity.name());
    writeln!(
        out,
        "{BOLD}#{} {}{BOLD:#}  {sev}{}{sev:#}  {BOLD}{:.0}%{BOLD:#} {DIM}confidence{DIM:#}",
        d.rank,
        d.cause,
        d.severity,
        d.confidence * 100.0
    )?;
    write!(out, "   ")?;
    fit.prose(out, 3, &d.title, BOLD)?;
    if let Some(e) = &d.explanation {
        write!(out, "   ")?;
        fit.prose(out, 3, e, DIM)?;
    }
    field(out, "secret")?;
    match &d.secret {
        Some(s) => writeln!(out, "{s}")?,
        None => writeln!(out, "{DIM}not in these logs{DIM:#}")?,
    }
    let mut where_ = Vec::new();
    if let Some(f) = &d.function {
        where_.push(format!("function {f}"));
    }
    if let Some(s) = &d.step {
        where_.push(format!("step {s}"));
    }
    if !where_.is_empty() {
        field(out, "where")?;
        writeln!(out, "{}", where_.join(", "))?;
    }
    let seen = match (&d.first_seen, &d.last_seen) {
        (Some(a), Some(b)) if a != b => format!("{a} .. {b}"),
        (Some(a), _) => a.clone(),
        _ => "time unknown".into(),
    };
    field(out, "seen")?;
    writeln!(out, "{}x, {seen}", d.occurrences)?;
    field(out, "symptom")?;
    fit.prose(out, 15, &d.symptom_title, Style::new())?;
    for (i, w) in d.why.iter().enumerate() {
        field(out, if i == 0 { "because" } else { "" })?;
        let sign = if w.weight >= 0.0 { "+" } else { "-" };
        fit.prose(out, 15, &format!("{sign} {}", w.text), Style::new())?;
    }
    writeln!(out, "   {LABEL}evidence{LABEL:#}")?;
    evidence_lines(&d.evidence, fit, out)?;
    if !d.remediation.is_empty() {
        writeln!(out, "   {LABEL}fix{LABEL:#}")?;
        for (i, r) in d.remediation.iter().enumerate() {
            fix(i + 1, r, fit, out)?;
        }
    }
    // An alternative and its percentage stay on one line (a no-break space between them).
    let alts: Vec<String> = d
        .alternatives
        .iter()
        .filter(|a| (a.confidence * 100.0).round() >= 1.0)
        .map(|a| format!("{}\u{a0}{:.0}%", a.cause, a.confidence * 100.0))
        .collect();
    if !alts.is_empty() {
        write!(out, "   {LABEL}also possible{LABEL:#} ")?;
        let lines = match fit.width {
            Some(w) => wrap(&alts.join(", "), w.saturating_sub(17).max(20)),
            None => vec![alts.join(", ")],
        };
        for (i, l) in lines.iter().enumerate() {
            let pad = if i == 0 { 0 } else { 17 };
            writeln!(out, "{:pad$}{DIM}{}{DIM:#}", "", l.replace('\u{a0}', " "))?;
        }
    }
    for r in d.references.iter() {
        field(out, "docs")?;
        writeln!(out, "{DIM}{r}{DIM:#}")?;
    }
    Ok(())
}

/// A fix: its words (wrapped), then its command on lines of its own, whole (a command is
/// copied: it is never cut or wrapped).
fn fix(n: usize, r: &str, fit: &Fit, out: &mut dyn Write) -> io::Result<()> {
    let (words, command) = split_fix(r);
    write!(out, "     {n}. ")?;
    match command {
        Some(cmd) => {
            fit.prose(out, 8, &format!("{words}:"), Style::new())?;
            for l in cmd.lines() {
                writeln!(out, "          {l}")?;
            }
        }
        None => {
            let mut lines = r.lines();
            fit.prose(out, 8, lines.next().unwrap_or(""), Style::new())?;
            for l in lines {
                writeln!(out, "        {l}")?;
            }
        }
    }
    Ok(())
}

/// `   label       ` (15 columns).
fn field(out: &mut dyn Write, label: &str) -> io::Result<()> {
    write!(out, "   {LABEL}{label:<12}{LABEL:#}")
}

/// The evidence, grouped by input: the input's path on a line of its own, then each line as
/// `:LINE  TIME  TEXT`, cut to the width.
fn evidence_lines(lines: &[Evidence], fit: &Fit, out: &mut dyn Write) -> io::Result<()> {
    let mut last: Option<&str> = None;
    for (e, also) in shown_once(lines) {
        if last != Some(&*e.source) {
            let path = fg(AnsiColor::Magenta);
            let source = fit.source(&e.source);
            let source = match fit.width {
                Some(w) => cut_middle(source, w.saturating_sub(5)),
                None => source.to_string(),
            };
            writeln!(out, "     {path}{source}{path:#}")?;
            last = Some(&e.source);
        }
        evidence(e, also, fit, out)?;
    }
    Ok(())
}

/// One evidence line, `:LINE  TIME  TEXT`; `also` names the line that said the same thing again.
/// Cut to the width: the time goes first when room is short (the diagnosis says when it was
/// seen), then the notes after the text go to a line of their own.
fn evidence(
    e: &Evidence,
    also: Option<&Evidence>,
    fit: &Fit,
    out: &mut dyn Write,
) -> io::Result<()> {
    let num = fg(AnsiColor::Green);
    let mut ts = e.timestamp.as_deref().unwrap_or("");
    let (first, shown) = headline(&e.text);
    let first = first.replace('\t', " ");
    let more = e.text.lines().count().saturating_sub(shown);
    let mut tail = String::new();
    if more > 0 {
        tail = format!(" (+{more} line{})", if more == 1 { "" } else { "s" });
    }
    if let Some(a) = also {
        let kind = exception_of(&a.text).unwrap_or("again");
        tail += &format!(" (raised as {kind}, :{})", a.line);
    }
    let mut tail_below = false;
    let text = match fit.width {
        Some(w) => {
            let lead = |ts: &str| width(&format!("       :{}  {ts}  ", e.line));
            let mut room = w.saturating_sub(lead(ts) + width(&tail));
            if room < 50 && !ts.is_empty() {
                ts = "";
                room = w.saturating_sub(lead(ts) + width(&tail));
            }
            if room < 20 && !tail.is_empty() {
                tail_below = true;
                room = w.saturating_sub(lead(ts));
            }
            cut(&first, room.max(10)).into_owned()
        }
        None => first,
    };
    let gap = if ts.is_empty() { "" } else { "  " };
    write!(
        out,
        "       {num}:{}{num:#}  {DIM}{ts}{DIM:#}{gap}{text}",
        e.line
    )?;
    if tail_below {
        writeln!(out)?;
        writeln!(out, "        {DIM}{}{DIM:#}", tail.trim_start())
    } else {
        writeln!(out, "{DIM}{tail}{DIM:#}")
    }
}

/// A path cut in its middle to `max` columns (its start and its file name are what tell it).
fn cut_middle(s: &str, max: usize) -> String {
    if width(s) <= max || max < 10 {
        return s.to_string();
    }
    let tail: String = {
        let mut t: Vec<char> = Vec::new();
        let mut w = 0;
        for c in s.chars().rev() {
            w += unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
            if w > max / 2 {
                break;
            }
            t.push(c);
        }
        t.into_iter().rev().collect()
    };
    let head = cut(s, max - width(&tail)).into_owned();
    format!("{head}{tail}")
}

/// A Lambda line without the timestamp and request id the runtime writes after its level
/// (`[ERROR]\t<time>\t<request id>\t<message>` -> `[ERROR] <message>`) or Lambda after
/// `REPORT`: the evidence line shows the time already, and the request id is in the JSON report.
fn without_prefix(text: &str) -> std::borrow::Cow<'_, str> {
    if let Some(rest) = text.strip_prefix("REPORT RequestId: ")
        && rest.len() > 37
        && rest.as_bytes()[36].is_ascii_whitespace()
    {
        return format!("REPORT {}", rest[37..].trim_start()).into();
    }
    let mut parts = text.splitn(4, ['\t', ' ']);
    let (Some(level), Some(ts), Some(rid), Some(rest)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return text.into();
    };
    let is_level = level.starts_with('[') && level.ends_with(']');
    let is_ts = ts.len() >= 20 && ts.as_bytes()[0].is_ascii_digit() && ts.contains('T');
    let is_rid = rid.len() == 36 && rid.bytes().filter(|&b| b == b'-').count() == 4;
    if is_level && is_ts && is_rid {
        format!("{level} {rest}").into()
    } else {
        text.into()
    }
}

/// The evidence with each error shown once: a runtime's `[ERROR] Type: message` line is left out
/// when an earlier line already said `message` (the template logs the error, then raises it), and
/// named beside that line instead.
fn shown_once(evidence: &[Evidence]) -> Vec<(&Evidence, Option<&Evidence>)> {
    let mut out: Vec<(&Evidence, Option<&Evidence>)> = Vec::new();
    for e in evidence {
        let said = exception_message(&e.text).and_then(|m| {
            out.iter_mut()
                .find(|(o, also)| also.is_none() && first_line(&o.text).contains(m))
        });
        match said {
            Some(slot) => slot.1 = Some(e),
            None => out.push((e, None)),
        }
    }
    out
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("")
}

/// The line that stands for an evidence text, and how many of its lines it shows: the first
/// line without its runtime prefix, or, when that leaves only the level (a Python JSON-format
/// error record read as text is `[ERROR]\t<time>\t<request id>\t` and then `Type: message`
/// on the next line), the level joined to the next line.
fn headline(text: &str) -> (std::borrow::Cow<'_, str>, usize) {
    let first = without_prefix(first_line(text));
    let level = first.trim_end();
    let bare_level = level.starts_with('[') && level.ends_with(']') && !level.contains(' ');
    match text.lines().nth(1) {
        Some(next) if bare_level && !next.trim().is_empty() => {
            (format!("{level} {}", next.trim_start()).into(), 2)
        }
        _ => (first, 1),
    }
}

/// `[ERROR] ValueError: message…` -> (`ValueError`, `message…`): the runtime's line for an
/// exception the handler did not catch (also `[ERROR] pkg.Type: …`).
fn split_exception(text: &str) -> Option<(&str, &str)> {
    let rest = error_line(text)?;
    let (kind, message) = rest.split_once(": ")?;
    let is_type = !kind.is_empty()
        && kind
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_');
    (is_type && kind.chars().next().is_some_and(|c| c.is_ascii_uppercase()))
        .then_some((kind, message.trim()))
}

/// What follows `[ERROR] ` on the runtime's line for an exception, also in a JSON-format error
/// record read as text, where it is on the line after the level (see [`headline`]).
fn error_line(text: &str) -> Option<&str> {
    let first = first_line(text);
    if let Some(rest) = first.strip_prefix("[ERROR] ") {
        return Some(rest);
    }
    let joined = first.starts_with("[ERROR]") && headline(text).1 == 2;
    joined.then(|| text.lines().nth(1).map(str::trim_start))?
}

fn exception_of(text: &str) -> Option<&str> {
    split_exception(text).map(|(k, _)| k)
}

/// The message of an exception line, when long enough to be sure another line says the same.
fn exception_message(text: &str) -> Option<&str> {
    split_exception(text)
        .map(|(_, m)| m)
        .filter(|m| m.len() >= 20)
}

/// One screen for many diagnoses: the causes, then the secrets that failed.
fn summary(shown: &Shown, diagnoses: &Ranked, fit: &Fit, out: &mut dyn Write) -> io::Result<()> {
    let run = shown.run();
    let secrets = summarize(shown, diagnoses);
    let named = secrets.iter().filter(|s| s.secret.is_some()).count();
    let about = format!(" about {named} secret{}", super::plural(named as u64));
    fit.header(out, &diagnoses_count(diagnoses.len()), &about, run)?;
    let causes = causes(&secrets);
    if !causes.is_empty() {
        writeln!(out)?;
        let w = causes.iter().map(|c| width(c.0)).max().unwrap_or(5).max(5);
        writeln!(
            out,
            "{LABEL}{:<w$}  {:>7}  {:>9}{LABEL:#}",
            "cause", "secrets", "rotations"
        )?;
        for (cause, n, rotations) in &causes {
            writeln!(out, "{cause:<w$}  {n:>7}  {rotations:>9}")?;
        }
    }
    let failed: Vec<&SecretSummary> = secrets.iter().filter(|s| s.failed > 0).collect();
    if !failed.is_empty() {
        writeln!(out)?;
        secret_table(&failed, fit, out)?;
    }
    let failing = secrets.iter().filter(|s| s.failing()).count();
    let recovered = failed.len() - failing;
    let fine = secrets.len() - failed.len();
    writeln!(out)?;
    writeln!(
        out,
        "failing now: {failing}; failed before, succeeded since: {recovered}; no failure: {fine}"
    )?;
    let loose = diagnoses.without_secret();
    if loose > 0 {
        writeln!(
            out,
            "{} name no secret (a fragment, or a function whose logs never print it)",
            diagnoses_count(loose)
        )?;
    }
    writeln!(
        out,
        "{DIM}every diagnosis: --detail; one secret's rotations: --timeline SECRET; all of it: --format json{DIM:#}"
    )
}

/// The secrets that failed, failing now first, at most [`SECRET_ROWS`]. The columns go from
/// what matters most to what matters least, so a narrow terminal cuts the least.
fn secret_table(rows: &[&SecretSummary], fit: &Fit, out: &mut dyn Write) -> io::Result<()> {
    const HEAD: [&str; 6] = [
        "status",
        "secret",
        "top cause",
        "last failure",
        "last success",
        "function",
    ];
    const MAX: [usize; 6] = [9, 40, 40, 16, 16, 40];
    let cells: Vec<[String; 6]> = rows
        .iter()
        .take(SECRET_ROWS)
        .map(|s| {
            let top = s
                .top_cause()
                .map(|c| format!("{} {}x", c.cause, c.rotations))
                .unwrap_or_else(|| "unexplained".into());
            [
                if s.failing() { "failing" } else { "recovered" }.to_string(),
                s.secret
                    .map(short_secret)
                    .unwrap_or("(not in these logs)")
                    .to_string(),
                top,
                short_time(s.last_failure.as_deref()),
                short_time(s.last_success.as_deref()),
                s.functions.join(","),
            ]
        })
        .collect();
    let mut widths: Vec<usize> = HEAD.iter().map(|h| width(h)).collect();
    for row in &cells {
        for ((w, c), max) in widths.iter_mut().zip(row).zip(MAX) {
            *w = (*w).max(width(c)).min(max);
        }
    }
    let line = |cells: &[&str]| -> String {
        let mut s = String::new();
        for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
            let c = cut(c, *w);
            s += &c;
            if i + 1 < cells.len() {
                s += &" ".repeat(w - width(&c) + 2);
            }
        }
        let s = s.trim_end().to_string();
        match fit.width {
            Some(w) => cut(&s, w).into_owned(),
            None => s,
        }
    };
    writeln!(out, "{LABEL}{}{LABEL:#}", line(&HEAD))?;
    for (row, s) in cells.iter().zip(rows) {
        let cols: Vec<&str> = row.iter().map(String::as_str).collect();
        let text = line(&cols);
        let st = if s.failing() {
            fg(AnsiColor::Red)
        } else {
            Style::new()
        };
        // The status word is coloured; the rest as it is.
        let (status, rest) = text.split_at(text.find(' ').unwrap_or(text.len()));
        writeln!(out, "{st}{status}{st:#}{rest}")?;
    }
    if rows.len() > SECRET_ROWS {
        writeln!(
            out,
            "{DIM}… {} more (--format json | jq '.secrets[]'){DIM:#}",
            rows.len() - SECRET_ROWS
        )?;
    }
    Ok(())
}

/// A secret's name in its ARN (with the random suffix that tells secrets of one name apart).
pub(crate) fn short_secret(arn: &str) -> &str {
    match arn.split_once(":secret:") {
        Some((_, name)) if !name.is_empty() => name,
        _ => arn,
    }
}

/// `2025-04-10T09:31:19.455Z` -> `2025-04-10 09:31`.
fn short_time(t: Option<&str>) -> String {
    match t {
        Some(t) if t.len() >= 16 => format!("{} {}", &t[..10], &t[11..16]),
        Some(t) => t.to_string(),
        None => "-".into(),
    }
}

/// `--timeline`: one secret's (or token's) rotations, step by step.
fn timeline(run: &Run, t: &Timeline, fit: &Fit, out: &mut dyn Write) -> io::Result<()> {
    if t.rotations.is_empty() {
        let head = format!("no rotation of {} in these logs", t.selector);
        fit.header(out, &head, "", run)?;
        let mut known: Vec<&str> = run.rotations.iter().filter_map(|r| r.secret).collect();
        known.sort_unstable();
        known.dedup();
        if !known.is_empty() {
            let shown: Vec<&str> = known.iter().take(10).map(|s| short_secret(s)).collect();
            let more = known.len().saturating_sub(10);
            let tail = if more > 0 {
                format!(", … {more} more")
            } else {
                String::new()
            };
            writeln!(out, "secrets in these logs: {}{tail}", shown.join(", "))?;
        }
        return Ok(());
    }
    let n = t.rotations.len();
    let failed = t.rotations.iter().filter(|r| r.status == "failed").count();
    let head = format!("timeline of {}", t.selector);
    let rest = format!(
        ": {n} rotation{} ({failed} failed)",
        super::plural(n as u64)
    );
    fit.header(out, &head, &rest, run)?;
    for r in &t.rotations {
        writeln!(out)?;
        rotation(r, fit, out)?;
    }
    Ok(())
}

fn rotation(r: &TimelineRotation, fit: &Fit, out: &mut dyn Write) -> io::Result<()> {
    let st = status_style(r.status);
    let token = r.token.as_deref().unwrap_or("(version not in these logs)");
    write!(
        out,
        "{BOLD}rotation {token}{BOLD:#}  {st}{}{st:#}",
        r.status
    )?;
    if let Some(c) = &r.cause {
        write!(out, "  {c}")?;
    }
    writeln!(out)?;
    field(out, "secret")?;
    match &r.secret {
        Some(s) => writeln!(out, "{s}")?,
        None => writeln!(out, "{DIM}not in these logs{DIM:#}")?,
    }
    if let Some(f) = &r.function {
        field(out, "function")?;
        writeln!(out, "{f}")?;
    }
    field(out, "steps")?;
    fit.prose(out, 15, &path(&r.steps), Style::new())?;
    for s in &r.steps {
        step(s, fit, out)?;
    }
    Ok(())
}

/// `createSecret -> setSecret failed x3`: the steps in order, repeats counted.
fn path(steps: &[TimelineStep]) -> String {
    let mut parts: Vec<(String, &str, u32)> = Vec::new();
    for s in steps {
        let name = s.step.unwrap_or("unknown step").to_string();
        match parts.last_mut() {
            Some((n, o, k)) if *n == name && *o == s.outcome => *k += 1,
            _ => parts.push((name, s.outcome, 1)),
        }
    }
    parts
        .iter()
        .map(|(n, o, k)| {
            let mut p = n.clone();
            if *o != "succeeded" {
                p += &format!(" {o}");
            }
            if *k > 1 {
                p += &format!(" x{k}");
            }
            p
        })
        .collect::<Vec<_>>()
        .join(" -> ")
}

fn step(s: &TimelineStep, fit: &Fit, out: &mut dyn Write) -> io::Result<()> {
    let mut name = s.step.unwrap_or("(unknown step)").to_string();
    let mut notes = Vec::new();
    if s.inferred {
        notes.push("inferred".to_string());
    }
    if s.attempt > 1 {
        notes.push(format!("retry {}", s.attempt - 1));
    }
    if !notes.is_empty() {
        name += &format!(" ({})", notes.join(", "));
    }
    let duration = s
        .duration_ms
        .map(|d| format!("{d:.0} ms"))
        .unwrap_or_else(|| "-".into());
    let st = status_style(s.outcome);
    let start = s.start.as_deref().unwrap_or("time unknown");
    let mut rest = String::new();
    if let Some(t) = s.timeout_ms {
        rest += &format!("  (timeout {:.0} s)", t / 1000.0);
    }
    if let Some(r) = &s.request_id {
        rest += &format!("  {r}");
    }
    let lead = format!(
        "     {start:<24}  {name:<30} {:<10} {duration:>9}",
        s.outcome
    );
    // The request id goes first when the row does not fit.
    if let Some(w) = fit.width {
        rest = cut(&rest, w.saturating_sub(width(&lead))).into_owned();
    }
    writeln!(
        out,
        "     {DIM}{start:<24}{DIM:#}  {name:<30} {st}{:<10}{st:#} {duration:>9}{DIM}{rest}{DIM:#}",
        s.outcome
    )?;
    if let Some(e) = &s.failed_line {
        let at = format!("{}:{}", fit.source(&e.source), e.line);
        let text = headline(&e.text).0.replace('\t', " ");
        let lead = format!("         {at}  ");
        let text = match fit.width {
            Some(w) => cut(&text, w.saturating_sub(width(&lead)).max(20)).into_owned(),
            None => text,
        };
        let path = fg(AnsiColor::Magenta);
        writeln!(out, "         {path}{at}{path:#}  {text}")?;
    }
    Ok(())
}

/// `--test`: which patterns each line hit, and how every candidate of every symptom scored.
fn rule_trace(
    run: &Run,
    diagnoses: Ranked,
    t: &Trace,
    fit: &Fit,
    out: &mut dyn Write,
) -> io::Result<()> {
    let rest = format!(
        ": {} line{} hit a pattern, {} failed invocation{} scored",
        t.lines.len(),
        super::plural(t.lines.len() as u64),
        t.invocations.len(),
        super::plural(t.invocations.len() as u64),
    );
    fit.header(out, "rule test", &rest, run)?;
    if !t.lines.is_empty() {
        writeln!(out, "\n{LABEL}lines that hit a pattern{LABEL:#}")?;
    }
    let mut last: Option<&str> = None;
    for l in &t.lines {
        if last != Some(&*l.source) {
            let path = fg(AnsiColor::Magenta);
            writeln!(out, "  {path}{}{path:#}", fit.source(&l.source))?;
            last = Some(&l.source);
        }
        let num = fg(AnsiColor::Green);
        let text = headline(&l.text).0.replace('\t', " ");
        let text = match fit.width {
            Some(w) => cut(&text, w.saturating_sub(8).max(20)).into_owned(),
            None => text,
        };
        writeln!(out, "    {num}:{}{num:#}  {text}", l.line)?;
        write!(out, "        {DIM}")?;
        fit.prose(out, 8, &l.patterns.join(", "), Style::new())?;
        write!(out, "{DIM:#}")?;
    }
    for inv in &t.invocations {
        writeln!(out)?;
        invocation_trace(inv, fit, out)?;
    }
    if !diagnoses.is_empty() {
        let best: Vec<String> = diagnoses
            .stream()
            .map(|d| format!("{} {:.0}%", d.cause, d.confidence * 100.0))
            .collect();
        writeln!(out, "\n{LABEL}diagnosed{LABEL:#}    {}", best.join(", "))?;
    }
    Ok(())
}

fn invocation_trace(inv: &InvocationTrace, fit: &Fit, out: &mut dyn Write) -> io::Result<()> {
    let mut about = Vec::new();
    about.extend(inv.request_id.clone());
    about.extend(inv.step.map(str::to_string));
    about.extend(inv.start.clone());
    write!(
        out,
        "{BOLD}failed invocation{BOLD:#} at {}:{}",
        fit.source(&inv.source),
        inv.line,
    )?;
    if about.is_empty() {
        writeln!(out)?;
    } else {
        writeln!(out, " {DIM}({}){DIM:#}", about.join(", "))?;
    }
    if inv.symptoms.is_empty() {
        writeln!(out, "  no symptom's trigger holds: no rule explains it")?;
    }
    for s in &inv.symptoms {
        write!(
            out,
            "  {LABEL}symptom{LABEL:#} {BOLD}{}{BOLD:#} ({})\n    when ",
            s.symptom, s.tier
        )?;
        fit.prose(out, 9, &s.trigger, Style::new())?;
        for c in &s.candidates {
            candidate_trace(c, fit, out)?;
        }
    }
    if !inv.skipped_tiers.is_empty() {
        writeln!(
            out,
            "  {DIM}not tried (an earlier tier explained it): {}{DIM:#}",
            inv.skipped_tiers.join(", ")
        )?;
    }
    Ok(())
}

fn candidate_trace(c: &CandidateTrace, fit: &Fit, out: &mut dyn Write) -> io::Result<()> {
    match (c.z, c.confidence) {
        (Some(z), Some(p)) => writeln!(
            out,
            "    {BOLD}{:<34}{BOLD:#} z = {z:+.2}  {BOLD}{:>3.0}%{BOLD:#} {DIM}(prior {:+}){DIM:#}",
            c.cause,
            p * 100.0,
            c.prior
        )?,
        _ => writeln!(out, "    {:<34} {DIM}not scored{DIM:#}", c.cause)?,
    }
    if let Some((r, held)) = &c.requires {
        let mark = if *held { "held" } else { "FAILED" };
        write!(out, "        {mark:<6} requires ")?;
        fit.prose(out, 24, r, Style::new())?;
    }
    for e in &c.evidence {
        let (mark, st) = if e.held {
            ("held", Style::new())
        } else {
            ("-", DIM)
        };
        write!(out, "        {st}{mark:<6} {:+5.1}{st:#}  ", e.weight)?;
        let text = match &e.why {
            Some(w) => {
                let w = crate::template::render(w, &Default::default());
                format!("{}  [{w}]", e.condition)
            }
            None => e.condition.clone(),
        };
        fit.prose(out, 22, &text, st)?;
    }
    Ok(())
}

/// Follow mode: what was just decided about one rotation: a line that says so, then (when it
/// failed) the detail of each new diagnosis.
pub(super) fn live(
    shown: &Shown,
    diagnoses: Ranked,
    failed_attempts: Option<usize>,
    layout: &Layout,
    out: &mut dyn Write,
) -> io::Result<()> {
    let run = shown.run();
    let fit = Fit::new(layout);
    let Some(r) = run.rotations.iter().next() else {
        return Ok(());
    };
    let secret = r.secret.map_or("(secret not in these logs)", short_secret);
    let token = r.token.map(|t| format!("  {t}")).unwrap_or_default();
    let head = match failed_attempts {
        None => {
            let failed = r
                .steps
                .iter()
                .rev()
                .find(|s| s.outcome().name() != "succeeded");
            let step = failed
                .and_then(|s| s.step())
                .map_or("a step".to_string(), |s| s.name().to_string());
            let at = failed
                .and_then(|s| s.start())
                .map(crate::time::format_iso)
                .unwrap_or_default();
            let st = status_style("failed");
            format!(
                "{st}✗ rotation failed{st:#} {BOLD}{secret}{BOLD:#} at {step}{DIM}{token}  {at}{DIM:#}"
            )
        }
        Some(n) => {
            let at = r
                .last_start()
                .map(crate::time::format_iso)
                .unwrap_or_default();
            let st = status_style("succeeded");
            let after = match n {
                0 => String::new(),
                1 => " after 1 failed step".to_string(),
                n => format!(" after {n} failed steps"),
            };
            format!(
                "{st}✓ rotation succeeded{st:#} {BOLD}{secret}{BOLD:#}{after}{DIM}{token}  {at}{DIM:#}"
            )
        }
    };
    writeln!(out, "{head}")?;
    for d in diagnoses.stream() {
        diagnosis(&d, &fit, out)?;
        writeln!(out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(line: u64, text: &str) -> Evidence {
        Evidence {
            source: "x.log".into(),
            line,
            timestamp: None,
            request_id: None,
            text: text.into(),
        }
    }

    #[test]
    fn a_json_format_error_record_shows_its_exception_and_is_shown_once() {
        let rid = "6f1a3dbf-47a2-47f7-b06d-516ec20fe71e";
        let msg = "Unable to log into database using current credentials for secret x";
        let record = format!(
            "[ERROR]\t2026-12-06T03:10:50Z\t{rid}\t\nValueError: {msg}\n  File \"f.py\", line 1, in h"
        );
        let (line, shown) = headline(&record);
        assert_eq!(line, format!("[ERROR] ValueError: {msg}"));
        assert_eq!(shown, 2);
        assert_eq!(exception_of(&record), Some("ValueError"));
        let logged = format!("[ERROR]\t2026-12-06T03:10:50Z\t{rid}\tsetSecret: {msg}");
        assert_eq!(
            headline(&logged),
            (format!("[ERROR] setSecret: {msg}").into(), 1)
        );
        let all = [ev(48, &logged), ev(55, &record)];
        let once = shown_once(&all);
        assert_eq!(once.len(), 1);
        assert_eq!(once[0].1.map(|e| e.line), Some(55));
    }

    #[test]
    fn an_error_and_the_exception_that_raised_it_are_shown_once() {
        let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-a1B2c3";
        let logged = ev(
            8,
            &format!(
                "[ERROR] 2025-04-10T09:31:19.455Z c8c29336 setSecret: Unable to log into database with previous, current, or pending secret of secret arn {arn}"
            ),
        );
        let raised = ev(
            9,
            &format!(
                "[ERROR] ValueError: Unable to log into database with previous, current, or pending secret of secret arn {arn}\nTraceback (most recent call last):"
            ),
        );
        let report = ev(16, "REPORT RequestId: c8c29336 Duration: 196.48 ms");
        let all = [logged.clone(), raised.clone(), report.clone()];
        let once = shown_once(&all);
        assert_eq!(once.len(), 2);
        assert_eq!(once[0].0.line, 8);
        assert_eq!(once[0].1.map(|e| e.line), Some(9));
        assert_eq!(exception_of(&raised.text), Some("ValueError"));
        // A different message stays.
        let other = ev(
            9,
            "[ERROR] KeyError: 'the host key is missing from secret JSON'",
        );
        assert_eq!(shown_once(&[logged, other]).len(), 2);
    }

    #[test]
    fn the_path_counts_repeated_steps() {
        let s = |step: &'static str, outcome: &'static str| TimelineStep {
            step: Some(step),
            inferred: false,
            attempt: 1,
            request_id: None,
            start: None,
            duration_ms: None,
            outcome,
            timeout_ms: None,
            failed_line: None,
        };
        let steps = [
            s("createSecret", "succeeded"),
            s("setSecret", "failed"),
            s("setSecret", "failed"),
        ];
        assert_eq!(path(&steps), "createSecret -> setSecret failed x2");
    }
}
