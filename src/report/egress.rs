//! The one way out. Every report format takes its data as a [`Shown`] and its diagnoses as a
//! [`Ranked`], which can only be built here, by passing every string of the run through
//! [`redact`] (and, for a terminal, through [`escape_controls`]); every message for stderr is
//! built by [`stderr_lines`] or [`warn`]. A format added later (ndjson, markdown) receives them
//! too, so it cannot print a string that has not been redacted.
//!
//! The diagnoses are redacted as they are made, a chunk at a time, when the report reads them
//! ([`Ranked::stream`]), not with the rest of the run: they are what grows with the input, so no
//! report holds them all (at 1 GiB of S3-export text on stdin the human report peaked at 84.7-84.9
//! MiB when it was handed them all made, and at 68.7-71.8 MiB streamed, as the JSON report does).
//!
//! The visitors below destructure every struct without `..`: a field added to a report type is a
//! compile error here until it is visited.

use std::borrow::Cow;
use std::io::Write;
use std::sync::Arc;

use rayon::prelude::*;

use super::Run;
use crate::diagnosis::timeline::{Timeline, TimelineRotation, TimelineStep};
use crate::diagnosis::{Alternative, Diagnoses, Diagnosis, Evidence, Representative, Why};
use crate::engine::trace::{
    CandidateTrace, EvidenceTrace, InvocationTrace, LineHits, SymptomTrace, Trace,
};
use crate::problem::{Kind, Location, Problem};
use crate::redact::{escape_controls, redact, redact_recurring};
use crate::summary::InputReport;

/// Where the text goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Target {
    /// A terminal (or a file a person will `cat`): control characters are made visible.
    Terminal,
    /// A data format that escapes control characters itself (JSON).
    Data,
}

/// A run whose every string has been redacted for its target, but its diagnoses: those are in
/// the [`Ranked`] made beside it (the run's own field is left empty).
pub(crate) struct Shown {
    run: Run,
}

/// A run's diagnoses in rank order, made and redacted a chunk at a time as a report reads them
/// (once: [`Ranked::stream`] takes them by value). What a report needs across all of them
/// before it writes the first (how many, the secret of each) is read from their packed form,
/// without making any.
///
/// Why a type of its own: every report reads its diagnoses the same way, so the texts of every
/// diagnosis of a run (22 MB at 1 GiB of S3-export text) are never held at once, whichever the
/// format; and a report cannot go over them twice, as it could when the human and markdown
/// reports were handed them all made.
pub(crate) struct Ranked {
    diagnoses: Diagnoses,
    target: Target,
}

impl Shown {
    /// The run redacted, and its diagnoses, to be made and redacted as they are read.
    pub(crate) fn new(mut run: Run, target: Target) -> (Shown, Ranked) {
        let Run {
            summary,
            diagnoses,
            rotations,
            timeline,
            trace,
        } = &mut run;
        // An entry per input: 94,187 for a folder of S3 export objects, each path redacted (on
        // the pool: it was a tenth of what the end of such a run does on one thread).
        let clean = |s: &mut String| clean(s, target);
        summary
            .inputs
            .par_iter_mut()
            .with_min_len(256)
            .for_each(|input| visit_input(input, clean));
        let diagnoses = std::mem::take(diagnoses);
        let mut sources: Vec<(Arc<str>, Arc<str>)> = Vec::new();
        // Rotations name secrets and functions through one table: each name is made safe once
        // (on the pool: a name per secret and function, thousands in a month of logs).
        rotations.names.par_iter_mut().for_each(|name| {
            if let Cow::Owned(o) = safe(name, target) {
                *name = o.into();
            }
        });
        if let Some(t) = timeline {
            visit_timeline(t, target, &mut sources);
        }
        if let Some(t) = trace {
            visit_trace(t, target, &mut sources);
        }
        (Shown { run }, Ranked { diagnoses, target })
    }

    pub(crate) fn run(&self) -> &Run {
        &self.run
    }
}

impl Ranked {
    /// How many diagnoses the run has.
    pub(crate) fn len(&self) -> usize {
        self.diagnoses.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.diagnoses.is_empty()
    }

    /// The secret of each diagnosis, in rank order, redacted as the diagnosis is.
    pub(crate) fn secrets(&self) -> Vec<Option<Cow<'_, str>>> {
        let target = self.target;
        self.diagnoses
            .secrets()
            .into_iter()
            .map(|s| s.map(|s| safe_recurring(s, target)))
            .collect()
    }

    /// How many diagnoses name no secret (redaction leaves a secret a secret).
    pub(crate) fn without_secret(&self) -> usize {
        self.diagnoses
            .secrets()
            .iter()
            .filter(|s| s.is_none())
            .count()
    }

    /// The diagnoses in rank order, each redacted, made a chunk at a time.
    pub(crate) fn stream(self) -> impl Iterator<Item = Diagnosis> {
        self.chunks().flatten()
    }

    /// The diagnoses in rank order, each redacted, a chunk at a time as they are made (the JSON
    /// report renders a chunk on the pool).
    pub(crate) fn chunks(self) -> impl Iterator<Item = Vec<Diagnosis>> {
        redacted(self.diagnoses, self.target)
    }
}

/// `diagnoses` made a chunk at a time, each chunk redacted on the pool (with thousands of
/// diagnoses this was a tenth of a run's instructions, all after the scan, on one thread). Each
/// worker shares source names among the diagnoses it sees (the names are the same text whoever
/// shares them).
fn redacted(diagnoses: Diagnoses, target: Target) -> impl Iterator<Item = Vec<Diagnosis>> {
    diagnoses.into_chunks().map(move |mut chunk| {
        chunk
            .par_iter_mut()
            .for_each_init(Vec::new, |sources, d| visit_diagnosis(d, target, sources));
        chunk
    })
}

/// `s` redacted, and for a terminal with control characters made visible.
pub(crate) fn safe(s: &str, target: Target) -> Cow<'_, str> {
    shown(redact(s), target)
}

/// [`safe`] for a text that recurs from diagnosis to diagnosis (a rule's text filled with the
/// same facts: titles, explanations, references, secrets): its redaction is remembered
/// ([`redact_recurring`]).
fn safe_recurring(s: &str, target: Target) -> Cow<'_, str> {
    shown(redact_recurring(s), target)
}

/// A redacted text as `target` shows it: for a terminal, with control characters made visible.
fn shown(r: Cow<'_, str>, target: Target) -> Cow<'_, str> {
    if target == Target::Data {
        return r;
    }
    match escape_controls(&r) {
        Cow::Borrowed(_) => r,
        Cow::Owned(e) => Cow::Owned(e),
    }
}

fn clean(s: &mut String, target: Target) {
    if let Cow::Owned(o) = safe(s, target) {
        *s = o;
    }
}

/// [`clean`] of a text that recurs ([`safe_recurring`]).
fn clean_recurring(s: &mut String, target: Target) {
    if let Cow::Owned(o) = safe_recurring(s, target) {
        *s = o;
    }
}

fn visit_input(i: &mut InputReport, clean: impl Fn(&mut String)) {
    let InputReport {
        source,
        format,
        transport,
        records: _,
        skipped: _,
        filtered: _,
        untimed: _,
        bytes: _,
        errors,
        state: _,
    } = i;
    clean(source);
    clean(format);
    transport.iter_mut().for_each(&clean);
    for e in errors {
        visit_problem(e, &clean);
    }
}

fn visit_problem(p: &mut Problem, clean: &impl Fn(&mut String)) {
    let Problem { at, kind } = p;
    let Location {
        source,
        line: _,
        offset: _,
    } = at;
    if let Some(s) = source {
        clean(s);
    }
    match kind {
        Kind::Path(s)
        | Kind::Open(s)
        | Kind::Read(s)
        | Kind::Decode(s)
        | Kind::Rule(s)
        | Kind::Changed(s)
        | Kind::Reported(s)
        | Kind::Merge(s)
        | Kind::Archive(s) => clean(s),
        Kind::NoRecords {
            bytes: _,
            read_as,
            forced: _,
        } => clean(read_as),
        Kind::Truncated
        | Kind::LineTooLong { .. }
        | Kind::Binary { .. }
        | Kind::Suppressed(_)
        | Kind::RecordsCut { .. }
        | Kind::Empty { .. }
        | Kind::OnlyBinary => {}
    }
}

/// A diagnosis made safe to show. Every text but the evidence recurs across diagnoses (one
/// rule's text filled with the same facts), so its redaction is remembered; evidence lines are
/// each their own.
fn visit_diagnosis(d: &mut Diagnosis, target: Target, sources: &mut Vec<(Arc<str>, Arc<str>)>) {
    let clean = |s: &mut String| clean_recurring(s, target);
    let Diagnosis {
        rank: _,
        cause,
        subject,
        symptom,
        title,
        severity: _,
        confidence: _,
        secret,
        function,
        step,
        occurrences: _,
        first_seen,
        last_seen,
        evidence,
        remediation,
        references,
        alternatives,
        why,
        representative,
        explanation,
        symptom_title,
    } = d;
    for s in [cause, subject, symptom, title, symptom_title] {
        clean(s);
    }
    let Representative {
        confidence: _,
        first_seen: rep_seen,
        input: _,
        line: _,
    } = representative;
    for s in [
        secret,
        function,
        step,
        first_seen,
        last_seen,
        explanation,
        rep_seen,
    ]
    .into_iter()
    .flatten()
    {
        clean(s);
    }
    for s in remediation.iter_mut() {
        clean(s);
    }
    for w in why {
        let Why { text, weight: _ } = w;
        clean(text);
    }
    if references
        .iter()
        .any(|r| safe_recurring(r, target) != r.as_str())
    {
        *references = references
            .iter()
            .map(|r| safe_recurring(r, target).into_owned())
            .collect();
    }
    for a in alternatives {
        let Alternative {
            cause,
            confidence: _,
        } = a;
        clean(cause);
    }
    for e in evidence {
        visit_evidence(e, target, sources);
    }
}

fn visit_evidence(e: &mut Evidence, target: Target, sources: &mut Vec<(Arc<str>, Arc<str>)>) {
    let Evidence {
        source,
        line: _,
        timestamp,
        request_id,
        text,
    } = e;
    *source = shared_source(source, target, sources);
    for s in [timestamp, request_id].into_iter().flatten() {
        clean(s, target);
    }
    clean(text, target);
}

fn visit_timeline(t: &mut Timeline, target: Target, sources: &mut Vec<(Arc<str>, Arc<str>)>) {
    let Timeline {
        selector,
        rotations,
    } = t;
    clean(selector, target);
    for r in rotations {
        let TimelineRotation {
            secret,
            token,
            function,
            status: _,
            cause,
            steps,
        } = r;
        for s in [secret, token, function, cause].into_iter().flatten() {
            clean(s, target);
        }
        for step in steps {
            let TimelineStep {
                step: _,
                inferred: _,
                attempt: _,
                request_id,
                start,
                duration_ms: _,
                outcome: _,
                timeout_ms: _,
                failed_line,
            } = step;
            for s in [request_id, start].into_iter().flatten() {
                clean(s, target);
            }
            if let Some(e) = failed_line {
                visit_evidence(e, target, sources);
            }
        }
    }
}

/// The rule trace holds log lines and facts (a secret ARN); rule texts are ours, but go through
/// the same door.
fn visit_trace(t: &mut Trace, target: Target, sources: &mut Vec<(Arc<str>, Arc<str>)>) {
    let Trace { lines, invocations } = t;
    let clean = |s: &mut String| clean(s, target);
    for l in lines {
        let LineHits {
            source,
            line: _,
            text,
            patterns,
        } = l;
        *source = shared_source(source, target, sources);
        clean(text);
        patterns.iter_mut().for_each(clean);
    }
    for i in invocations {
        let InvocationTrace {
            source,
            line: _,
            request_id,
            start,
            step: _,
            secret,
            symptoms,
            skipped_tiers: _,
        } = i;
        *source = shared_source(source, target, sources);
        for s in [request_id, start, secret].into_iter().flatten() {
            clean(s);
        }
        for s in symptoms {
            let SymptomTrace {
                symptom,
                tier: _,
                trigger,
                candidates,
            } = s;
            clean(symptom);
            clean(trigger);
            for c in candidates {
                let CandidateTrace {
                    cause,
                    requires,
                    prior: _,
                    evidence,
                    z: _,
                    confidence: _,
                } = c;
                clean(cause);
                if let Some((r, _)) = requires {
                    clean(r);
                }
                for e in evidence {
                    let EvidenceTrace {
                        condition,
                        weight: _,
                        held: _,
                        why,
                    } = e;
                    clean(condition);
                    if let Some(w) = why {
                        clean(w);
                    }
                }
            }
        }
    }
}

/// A source name made safe once, however many evidence lines share it.
fn shared_source(s: &Arc<str>, target: Target, seen: &mut Vec<(Arc<str>, Arc<str>)>) -> Arc<str> {
    if let Some((_, safe)) = seen.iter().find(|(raw, _)| Arc::ptr_eq(raw, s)) {
        return safe.clone();
    }
    let out: Arc<str> = match safe(s, target) {
        Cow::Borrowed(_) => s.clone(),
        Cow::Owned(o) => o.into(),
    };
    seen.push((s.clone(), out.clone()));
    out
}

/// The messages about the inputs of a run, for stderr: `rotdiag: PATH:LINE: reason` or
/// `rotdiag: PATH (byte N): reason`, redacted and safe for a terminal.
pub fn stderr_lines(run: &Run) -> Vec<String> {
    let mut out = Vec::new();
    for input in &run.summary.inputs {
        for e in &input.errors {
            let at = match (e.at.line, e.at.offset) {
                (Some(l), _) => format!(":{l}"),
                (None, Some(o)) => format!(" (byte {o})"),
                _ => String::new(),
            };
            out.push(about(&input.source, &format!("{at}: {}", e.kind)));
        }
    }
    for input in run.summary.inputs.iter().filter(|i| i.untimed > 0) {
        let msg = format!(
            ": {} record(s) carry no timestamp and follow none that does: kept, as --since/--until cannot place them",
            input.untimed
        );
        out.push(about(&input.source, &msg));
    }
    out
}

/// `rotdiag: SOURCE…`, the source and the rest made safe apart, so that a credential in a file
/// name does not swallow the line number after it.
fn about(source: &str, rest: &str) -> String {
    format!(
        "rotdiag: {}{}",
        safe(source, Target::Terminal),
        safe(rest, Target::Terminal)
    )
}

fn line(msg: &str) -> String {
    format!("rotdiag: {}", safe(msg, Target::Terminal))
}

/// Writes `rotdiag: <msg>` to stderr, redacted and safe for a terminal. A closed stderr is
/// ignored: it must not change the exit status or panic.
pub fn warn(msg: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{}", line(msg));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_redacts_and_escapes_for_a_terminal_only() {
        let s = "password=hunter2\r\x1b[2J\u{9b}";
        assert_eq!(safe(s, Target::Terminal), "password=***\\r\\x1b[2J\\u{9b}");
        assert_eq!(safe(s, Target::Data), "password=***\r\x1b[2J\u{9b}");
    }
}
