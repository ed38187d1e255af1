//! What a line of each kind does to the invocation it belongs to: the state changes
//! [`super::Assembler`] applies once it has routed a line to its invocation, and what an
//! invocation learns when it absorbs its stream's init output or closes.

use std::sync::{Arc, LazyLock};

use memchr::memmem::Finder;

use super::{Copied, Failure, Invocation, KeptLine, Last, MAX_KEPT_LINES, Outcome, text_for};
use crate::aws::{RequestId, function_name};
use crate::format::Record;
use crate::lambda::facts::Facts;
use crate::lambda::line::{Kind, Level, Line};
use crate::lambda::report::{Metrics, Status};
use crate::rules::RuleSet;
use crate::rules::matcher::Hits;
use crate::time::EpochMs;

impl Invocation {
    /// Applies what a line routed to this invocation says about it (START, INIT_START and
    /// CloudTrail lines are the router's own). Returns whether the line is evidence by its kind
    /// (an error, a warning, a timeout), whatever patterns it matched.
    pub(super) fn apply(
        &mut self,
        line: &mut Line,
        hits: &Hits,
        rules: &RuleSet,
        record: u64,
    ) -> bool {
        match line.kind {
            Kind::End => {
                self.lifecycle = self.lifecycle.end();
                false
            }
            Kind::Report => self.on_report(line.metrics.take(), record),
            Kind::InitReport => self.on_init_report(line),
            Kind::Timeout => self.on_timeout(line),
            Kind::RuntimeExit => {
                self.failures.insert(Failure::RuntimeExit);
                true
            }
            Kind::Unhandled => {
                self.failures.insert(Failure::Unhandled);
                self.error_lines += 1;
                true
            }
            Kind::App | Kind::Other | Kind::RuntimeWarning => self.on_app_line(line, hits, rules),
            Kind::InitStart | Kind::Start | Kind::CloudTrail => false,
        }
    }

    /// END (`report` is `None`) or REPORT from a platform event (`lambda::platform`): what
    /// [`Invocation::apply`] does with such a line. Returns whether the line is evidence.
    pub(super) fn on_platform_end(&mut self, report: Option<Box<Metrics>>, record: u64) -> bool {
        match report {
            None => {
                self.lifecycle = self.lifecycle.end();
                false
            }
            Some(m) => self.on_report(Some(m), record),
        }
    }

    /// REPORT: the invocation ended; its numbers and status.
    fn on_report(&mut self, metrics: Option<Box<Metrics>>, record: u64) -> bool {
        self.lifecycle = self.lifecycle.end();
        if let Some(m) = metrics {
            if m.status == Some(Status::Timeout) {
                self.failures.insert(Failure::TimedOut);
                self.timeout_ms = self.timeout_ms.or(m.duration_ms);
            }
            self.metrics = Some(m);
        }
        self.reported_at_record = Some(record);
        // The REPORT is evidence (its duration) only for an invocation that failed.
        self.outcome() == Outcome::Failed
    }

    /// INIT_REPORT: evidence when the init phase did not succeed.
    fn on_init_report(&mut self, line: &Line) -> bool {
        let bad = init_failed(line);
        if bad {
            self.failures.insert(Failure::InitFailed);
        }
        bad
    }

    /// The legacy `Task timed out after N seconds` line.
    fn on_timeout(&mut self, line: &Line) -> bool {
        self.failures.insert(Failure::TimedOut);
        self.timeout_ms = line.metrics.as_ref().and_then(|m| m.duration_ms);
        true
    }

    /// A line the function wrote: an error (by its level, or, when it has no level, by an error
    /// marker of the model or a signature a symptom looks for) counts; errors and warnings are
    /// evidence.
    fn on_app_line(&mut self, line: &Line, hits: &Hits, rules: &RuleSet) -> bool {
        let marked_error = marked_error(line, hits, rules);
        if marked_error || line.level >= Some(Level::Error) {
            self.error_lines += 1;
        }
        marked_error || line.level >= Some(Level::Warning)
    }
}

/// A line without a level that holds an error marker of the model or a signature a symptom
/// looks for.
fn marked_error(line: &Line, hits: &Hits, rules: &RuleSet) -> bool {
    line.level.is_none() && rules.marks_error(hits)
}

/// Does an INIT_REPORT line say the init phase did not succeed?
fn init_failed(line: &Line) -> bool {
    line.metrics
        .as_ref()
        .and_then(|m| m.status)
        .is_some_and(|s| s != Status::Success)
}

/// Is a line kept as evidence whatever invocation it joins? It matched a pattern, or its kind
/// makes it evidence (what [`Invocation::apply`] and the router keep). A REPORT is evidence only
/// for an invocation that failed, which the line alone does not tell: `false` here.
///
/// The parallel stage copies the text of such lines ahead ([`super::copy_ahead`]), so the fold,
/// which runs on one thread, only moves it; a line kept that this does not foresee has its text
/// copied by the fold ([`kept`]), so the answer is a matter of speed, never of what is kept.
pub(super) fn evidence_by_itself(line: &Line, hits: &Hits, rules: &RuleSet) -> bool {
    if !hits.is_empty() {
        return true;
    }
    match line.kind {
        Kind::Timeout | Kind::RuntimeExit | Kind::Unhandled | Kind::CloudTrail => true,
        Kind::InitReport => init_failed(line),
        Kind::App | Kind::Other | Kind::RuntimeWarning => {
            marked_error(line, hits, rules) || line.level >= Some(Level::Warning)
        }
        Kind::Report | Kind::End | Kind::Start | Kind::InitStart => false,
    }
}

/// Moves init-phase output into the invocation that followed it.
pub(super) fn absorb(inv: &mut Invocation, pending: Invocation) {
    inv.first_ts = match (inv.first_ts, pending.first_ts) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    inv.first_line = inv.first_line.min(pending.first_line);
    inv.failures.extend(pending.failures);
    inv.error_lines += pending.error_lines;
    inv.seen.union(&pending.seen);
    inv.activity += pending.activity;
    inv.foreign += pending.foreign;
    if inv.step.is_none() {
        inv.step = pending.step;
    }
    inv.facts.merge(pending.facts);
    let shift = pending.lines.len();
    inv.last = match std::mem::take(&mut inv.last) {
        Last::None => pending.last,
        Last::Kept(i) => Last::Kept(i + shift),
        own => own,
    };
    let mut lines = pending.lines;
    lines.append(&mut inv.lines);
    inv.lines = lines;
    inv.lines.truncate(MAX_KEPT_LINES);
    if matches!(inv.last, Last::Kept(i) if i >= inv.lines.len()) {
        inv.last = Last::None;
    }
}

/// The line as evidence: its text as the parallel stage copied it ([`evidence_by_itself`]), or
/// copied now.
pub(super) fn kept(
    source: u64,
    record: &Record,
    line: &Line,
    ts: Option<EpochMs>,
    hits: Hits,
    text: Copied,
) -> KeptLine {
    let text = match text {
        Copied::Evidence(t) => t.into(),
        _ => text_for(line.text(&record.message)),
    };
    KeptLine {
        source,
        line: record.line,
        timestamp: ts,
        request_id: line.request_id,
        kind: line.kind,
        level: line.level,
        hits,
        text,
    }
}

/// A REPORT that came as an event, as evidence: what [`kept`] makes of such a line (its kind,
/// its request id, no level, no hits, its text copied now: for a JSON `platform.report` record,
/// the REPORT line it stands for, rendered only now, for the few invocations that failed).
pub(super) fn kept_report(
    source: u64,
    line: u64,
    request_id: RequestId,
    timestamp: Option<EpochMs>,
    message: &[u8],
) -> KeptLine {
    KeptLine {
        source,
        line,
        timestamp,
        request_id: Some(request_id),
        kind: Kind::Report,
        level: None,
        hits: Hits::new(),
        text: report_text(message),
    }
}

/// The text [`kept`] keeps of a REPORT message: the REPORT line a JSON record stands for, or
/// the message itself.
fn report_text(message: &[u8]) -> String {
    if message.first() == Some(&b'{') {
        let line = crate::lambda::line::classify(message);
        text_for(line.text(message))
    } else {
        text_for(message)
    }
}

/// Derives what an invocation knows about its function, once, when it closes.
pub(super) fn finish(inv: &mut Invocation, rules: &RuleSet) {
    let known = rules.known;
    // Only a failed invocation is diagnosed: only it needs them among its own facts.
    if let Some(init) = inv.init_facts.take()
        && inv.failed()
    {
        inv.facts.merge(Facts::clone(&init));
    }
    if let Some(f) = inv.function.clone() {
        let name = function_name(&f).to_string();
        if f.starts_with("arn:") {
            inv.facts.insert_first(known.function_arn, f);
        }
        inv.facts
            .insert_first(known.function_name, name.into_boxed_str());
    }
    if let Some(name) = inv
        .group
        .as_deref()
        .and_then(|g| g.strip_prefix("/aws/lambda/"))
    {
        inv.facts.insert_first(known.function_name, name.into());
    }
    // The runtime version is not copied into the facts: `engine::facts_for` reads it off the
    // invocation (where it is shared with its stream) for the few invocations diagnosed.
}

/// `INIT_START Runtime Version: python:3.12.v48\t…` -> `python:3.12.v48`: the first word after
/// the first `Runtime Version:` (and before another one). Only that word is converted to text: an
/// INIT_START line per cold start, each copied whole, showed up in profiles.
pub(super) fn runtime_version(msg: &[u8]) -> Option<Arc<str>> {
    // Built once: `memmem::find` builds a searcher per call (3,000 instructions a line).
    static KEY: LazyLock<Finder> = LazyLock::new(|| Finder::new(b"Runtime Version:"));
    let at = KEY.find(msg)? + KEY.needle().len();
    let rest = &msg[at..];
    let rest = &rest[..KEY.find(rest).unwrap_or(rest.len())];
    first_word(rest)
}

/// The first whitespace-separated word of `s` read as lossy UTF-8. Its ASCII bytes are read as
/// bytes: converting the rest of the line first (the runtime's ARN, 100 bytes) cost 1,000
/// instructions an INIT_START; a word that meets a byte past ASCII takes the general path.
fn first_word(s: &[u8]) -> Option<Arc<str>> {
    // The ASCII characters `char::is_whitespace` holds to be whitespace.
    let space = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | b'\x0B' | b'\x0C' | b'\r');
    let start = s.iter().position(|&b| !space(b))?;
    let word = &s[start..];
    let end = (word.iter())
        .position(|&b| space(b) || !b.is_ascii())
        .unwrap_or(word.len());
    if word.get(end).is_some_and(|b| !b.is_ascii()) {
        return first_word_lossy(s);
    }
    Some(Arc::from(String::from_utf8_lossy(&word[..end])))
}

/// [`first_word`] of any bytes.
fn first_word_lossy(s: &[u8]) -> Option<Arc<str>> {
    String::from_utf8_lossy(s)
        .split_whitespace()
        .next()
        .map(Arc::from)
}

#[cfg(test)]
mod tests {
    use super::{first_word, first_word_lossy, runtime_version};

    #[test]
    fn the_runtime_version_is_the_first_word_after_its_key() {
        let line = b"INIT_START Runtime Version: python:3.12.v48\tRuntime Version ARN: arn:aws:lambda:us-east-1::runtime:abc";
        assert_eq!(runtime_version(line).as_deref(), Some("python:3.12.v48"));
        assert_eq!(
            runtime_version(b"INIT_START Runtime Version:   nodejs:20.v30 \xff").as_deref(),
            Some("nodejs:20.v30")
        );
        assert_eq!(runtime_version(b"INIT_START Runtime Version:"), None);
        assert_eq!(
            runtime_version(b"INIT_START Runtime Version:Runtime Version: x"),
            None
        );
        assert_eq!(runtime_version(b"INIT_START"), None);
    }

    /// The byte path gives what converting the whole text then splitting it gives, on words
    /// of ASCII, of other characters, of invalid bytes, and between every kind of whitespace.
    #[test]
    fn the_first_word_is_read_as_the_whole_text_would_be() {
        let parts: [&[u8]; 16] = [
            b"python:3.12.v48",
            b" ",
            b"\t",
            b"\n",
            b"\x0B",
            b"\x0C",
            b"\r",
            b"\x1C",
            "\u{A0}".as_bytes(),
            "\u{85}".as_bytes(),
            "\u{3000}".as_bytes(),
            "n\u{e9}e".as_bytes(),
            b"\xff",
            b"\xe3\x80",
            b"x",
            b"",
        ];
        let mut checked = 0;
        for a in parts {
            for b in parts {
                for c in parts {
                    let s = [a, b, c].concat();
                    assert_eq!(first_word(&s), first_word_lossy(&s), "{s:?}");
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 16 * 16 * 16);
    }
}
