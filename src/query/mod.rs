//! Queries that prefilter rotation logs where they live: CloudWatch Logs Insights over log groups,
//! Athena over CloudWatch S3 export folders.
//!
//! rotdiag reads what is on this machine. An organisation with hundreds of rotation functions has
//! log groups it cannot download whole and terabytes of exports in S3. The engines that hold those
//! logs can search text, so rotdiag prints the search: a query that finds the few places holding a
//! failure signal (log groups, streams, request ids, time windows; or export objects), and the
//! user downloads only those and diagnoses them here. Nothing is reimplemented in those engines:
//! the query only selects, rotdiag still decides.
//!
//! ## Which literals signal a failure
//!
//! A prefilter may select too much, never too little: every invocation rotdiag would diagnose must
//! be selected. rotdiag diagnoses an invocation when it *failed* and a symptom's trigger holds
//! (`lambda::invocation`'s `Outcome`, `engine`). So the signals are, from the compiled
//! [`RuleSet`]:
//!
//! * **Symptom triggers**: the literals of the patterns a trigger requires (`has`, `after`, within
//!   `all`/`any`), and the needles of its regex patterns (every match contains one). Two symptoms
//!   (`rotation-setup-denied`, `vpc-network-interface`) fire without `failed = true`, on the line
//!   alone, so their literals are needed in any case; the others name the failure directly.
//! * **Error markers** (`model.error_markers`, `model.unhandled`): lines the rules define as errors
//!   even without a `[ERROR]` prefix (a botocore `An error occurred (`, a traceback, `Status:
//!   timeout`), and the runtimes' reports of an error that ended an invocation (Node.js `Invoke
//!   Error`, Go's error JSON, a Java or .NET stack trace).
//! * **Platform and runtime signals** ([`PLATFORM`]): what makes an invocation failed whatever
//!   the rules say: the timeout line and REPORT's `Status: timeout|error|failure` (text and JSON
//!   platform records), a runtime that exited, and log levels at or above ERROR in each runtime's
//!   line format (Python `[ERROR]`, Node.js `\tERROR\t`, the JSON log format's `"level"`). These
//!   are not rule data: they are the Lambda formats `lambda::line` reads (the catalog's
//!   `rules/catalog/lambda-platform.toml` and `python-runtime.toml` cite them).
//!
//! Left out, on purpose:
//!
//! * the model's structural and neutral literals (steps, `rotation_related`, `neutral`,
//!   `rotation_succeeded`, facts): every healthy rotation prints them, so a query holding them
//!   would select everything;
//! * patterns a trigger names under `last` (`Found credentials in environment variables`,
//!   `createSecret: Successfully put secret`): they are the healthy line a function hung after;
//!   the failure itself is the timeout, a platform signal;
//! * evidence-only patterns (driver texts, `tls_capable`, `vpce-`): they weigh causes of a failure
//!   a trigger or a platform signal already selected, and some are healthy lines;
//! * literals of rotdiag's own CloudTrail rendering (`CloudTrail <eventName> …`): that text never
//!   occurs in a log. A trigger's event name (`CloudTrail RotationFailed`) becomes the raw JSON
//!   `"eventName":"RotationFailed"` as CloudTrail delivers it to a log group (so does any event
//!   name a symptom matches that says a rotation failed or was abandoned, trigger or not: rotdiag
//!   scores those events as failures), and any failed API call carries `"errorCode":` there.
//!
//! A literal that contains another signal is dropped (the shorter one already matches every line
//! the longer one does), which keeps the Insights query within its length limit.
//!
//! Layout: [`escape`] quotes a literal for each language, [`insights`] and [`athena`] build the
//! queries. This module imports only [`crate::rules`] and the [`crate::time`] leaf.

pub(crate) mod athena;
pub(crate) mod escape;
pub(crate) mod insights;

use std::collections::BTreeSet;
use std::fmt;

use crate::rules::{Condition, PatternId, RuleSet};

/// Where a signal comes from, for `--list-signals`-style explanations and tests.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Origin {
    /// A literal (or regex needle) of a pattern a symptom's trigger requires: `<symptom>/<pattern>`.
    Trigger(String),
    /// `model.error_markers`.
    ErrorMarker,
    /// A CloudTrail event name a trigger requires, as the raw JSON record spells it.
    CloudTrail(String),
    /// A Lambda platform or runtime line format ([`PLATFORM`]).
    Platform(&'static str),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Trigger(p) => write!(f, "trigger {p}"),
            Origin::ErrorMarker => f.write_str("model error marker"),
            Origin::CloudTrail(p) => write!(f, "CloudTrail event of trigger {p}"),
            Origin::Platform(what) => write!(f, "platform: {what}"),
        }
    }
}

/// One literal searched for, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Signal {
    pub(crate) text: String,
    pub(crate) origin: Origin,
}

/// Lambda platform and runtime texts that make an invocation failed (see the module doc). Each is
/// an exact, case-sensitive substring of the raw message.
pub(crate) const PLATFORM: &[(&str, &str)] = &[
    ("Task timed out after", "legacy timeout line"),
    ("Status: timeout", "REPORT/INIT_REPORT status"),
    ("Status: error", "REPORT/INIT_REPORT status"),
    ("Status: failure", "REPORT/INIT_REPORT status"),
    ("\"status\":\"timeout\"", "JSON platform.report status"),
    ("\"status\":\"error\"", "JSON platform.report status"),
    ("\"status\":\"failure\"", "JSON platform.report status"),
    ("Runtime exited", "runtime process exit"),
    ("Runtime.ExitError", "runtime process exit"),
    ("[ERROR]", "Python text log level"),
    ("[CRITICAL]", "Python text log level"),
    ("\tERROR\t", "Node.js text log level"),
    ("\tFATAL\t", "Node.js text log level"),
    ("\"level\":\"ERROR\"", "JSON log format level"),
    (
        "\"level\": \"ERROR\"",
        "JSON log format level (Python separators)",
    ),
    ("\"level\":\"FATAL\"", "JSON log format level"),
    ("\"level\":\"CRITICAL\"", "JSON log format level"),
    (
        "\"level\": \"CRITICAL\"",
        "JSON log format level (Python separators)",
    ),
    (
        "\"log_level\": \"ERROR\"",
        "Python runtime's unhandled-error record",
    ),
    (
        "\"log_level\":\"ERROR\"",
        "Python runtime's unhandled-error record",
    ),
    ("\"errorCode\":", "failed API call in a CloudTrail record"),
];

/// The prefix of rotdiag's own one-line rendering of a CloudTrail event (`format::cloudtrail`).
const CLOUDTRAIL_RENDERING: &str = "CloudTrail ";

/// The failure signals of a rule set: the smallest set of literals such that a message holds one
/// of them exactly when it holds one of the rule set's [`failure_literals`]. Sorted, so the
/// queries are the same from run to run.
#[derive(Clone, Debug)]
pub(crate) struct Signals {
    signals: Vec<Signal>,
}

/// Every failure literal of the rule set (including those another one already matches), sorted
/// and without repeats.
fn failure_literals(rules: &RuleSet) -> Vec<Signal> {
    let mut all: Vec<Signal> = Vec::new();
    for symptom in &rules.symptoms {
        let mut ids = Vec::new();
        required_patterns(&symptom.trigger, &mut ids);
        for id in ids {
            let Some(p) = rules.patterns.get(id as usize) else {
                continue;
            };
            for lit in &p.literals {
                all.push(trigger_signal(lit, &p.name));
            }
        }
    }
    // Secrets Manager's own record that a rotation failed, wherever a symptom names it.
    for p in rules
        .patterns
        .iter()
        .filter(|p| !p.name.starts_with("model/"))
    {
        for lit in &p.literals {
            if let Some(name) = failed_rotation_event(lit) {
                all.push(Signal {
                    text: format!("\"eventName\":\"{name}\""),
                    origin: Origin::CloudTrail(p.name.clone()),
                });
            }
        }
    }
    for p in [rules.model.error_marker, rules.model.unhandled]
        .into_iter()
        .flatten()
    {
        for lit in &rules.patterns[p as usize].literals {
            all.push(Signal {
                text: lit.clone(),
                origin: Origin::ErrorMarker,
            });
        }
    }
    for (text, what) in PLATFORM {
        all.push(Signal {
            text: (*text).to_string(),
            origin: Origin::Platform(what),
        });
    }
    all.retain(|s| !s.text.is_empty());
    all.sort_by(|a, b| a.text.cmp(&b.text).then(a.origin.cmp(&b.origin)));
    all.dedup_by(|a, b| a.text == b.text);
    all
}

impl Signals {
    pub(crate) fn from_rules(rules: &RuleSet) -> Signals {
        Signals {
            signals: minimal_cover(&failure_literals(rules)),
        }
    }

    /// The literals the queries search for (no one contains another).
    pub(crate) fn literals(&self) -> impl Iterator<Item = &str> {
        self.signals.iter().map(|s| s.text.as_str())
    }
}

/// `CloudTrail RotationFailed` → `RotationFailed`: an event of Secrets Manager's that says a
/// rotation failed (`…Failed`, `…Abandoned`), which rotdiag scores as a failure.
fn failed_rotation_event(lit: &str) -> Option<&str> {
    let name = lit.strip_prefix(CLOUDTRAIL_RENDERING)?;
    let event = !name.is_empty()
        && name.bytes().all(|b| b.is_ascii_alphanumeric())
        && name.contains("Rotation");
    (event && (name.ends_with("Failed") || name.ends_with("Abandoned"))).then_some(name)
}

/// A trigger's literal as it occurs in a raw log message.
fn trigger_signal(lit: &str, pattern: &str) -> Signal {
    match lit.strip_prefix(CLOUDTRAIL_RENDERING) {
        Some(rest) => {
            // `CloudTrail RotationFailed` names an event; a needle such as `CloudTrail ` or
            // `CloudTrail Decrypt` only prefixes the rendering of events whose failure the
            // record's `errorCode` shows (a platform signal).
            let name = rest.trim();
            let whole_name = !name.is_empty()
                && name == rest
                && name.bytes().all(|b| b.is_ascii_alphanumeric())
                && name.contains("Rotation");
            let text = if whole_name {
                format!("\"eventName\":\"{name}\"")
            } else {
                "\"errorCode\":".to_string()
            };
            Signal {
                text,
                origin: Origin::CloudTrail(pattern.to_string()),
            }
        }
        None => Signal {
            text: lit.to_string(),
            origin: Origin::Trigger(pattern.to_string()),
        },
    }
}

/// The patterns a condition requires to be present somewhere (`has`, `after`, a `then` after its
/// `after`), through `all`/`any`; not under `not`, and not `last` (see the module doc).
fn required_patterns(c: &Condition, out: &mut Vec<PatternId>) {
    match c {
        Condition::Has(ids, _) => out.extend_from_slice(ids),
        Condition::AfterNone { after, .. } => out.push(*after),
        Condition::AfterThen { then, .. } => out.extend_from_slice(then),
        Condition::All(cs) | Condition::Any(cs) => {
            for c in cs {
                required_patterns(c, out);
            }
        }
        _ => {}
    }
}

/// Drops every signal that contains another one (sorted input, sorted output).
fn minimal_cover(sorted: &[Signal]) -> Vec<Signal> {
    let mut by_len: Vec<&Signal> = sorted.iter().collect();
    by_len.sort_by(|a, b| a.text.len().cmp(&b.text.len()).then(a.text.cmp(&b.text)));
    let mut kept: Vec<&Signal> = Vec::new();
    for s in by_len {
        if !kept.iter().any(|k| s.text.contains(k.text.as_str())) {
            kept.push(s);
        }
    }
    let mut out: Vec<Signal> = kept.into_iter().cloned().collect();
    out.sort_by(|a, b| a.text.cmp(&b.text));
    out
}

/// What went wrong building a query: bad input to the query builders, named with its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Error {
    /// A results file that is not what `aws logs get-query-results` prints.
    Results { source: String, reason: String },
    /// A request-id list with nothing usable in it.
    NoRequestIds { source: String },
    /// A value that cannot go into a query.
    Value { what: String, reason: String },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Results { source, reason } => write!(f, "{source}: {reason}"),
            Error::NoRequestIds { source } => {
                write!(f, "{source}: no request id (8-4-4-4-12 hex digits) found")
            }
            Error::Value { what, reason } => write!(f, "{what}: {reason}"),
        }
    }
}

impl std::error::Error for Error {}

/// Distinct strings, sorted (log group names, streams).
pub(crate) fn distinct<'a>(items: impl Iterator<Item = &'a str>) -> Vec<String> {
    items
        .map(str::to_string)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signals() -> Signals {
        Signals::from_rules(&crate::rules::load(None).expect("embedded rules"))
    }

    #[test]
    fn no_signal_contains_another() {
        let s = signals();
        let lits: Vec<&str> = s.literals().collect();
        for a in &lits {
            for b in &lits {
                assert!(a == b || !a.contains(b), "{a:?} contains {b:?}");
            }
        }
    }

    #[test]
    fn every_covered_literal_holds_a_signal() {
        let s = signals();
        for c in failure_literals(&crate::rules::load(None).expect("embedded rules")) {
            assert!(
                s.literals().any(|l| c.text.contains(l)),
                "{:?} ({}) is matched by no signal",
                c.text,
                c.origin
            );
        }
    }

    #[test]
    fn healthy_structural_literals_are_not_signals() {
        let s = signals();
        for healthy in [
            "Found credentials in environment variables",
            "createSecret: Successfully put secret",
            "setSecret:",
            "AWSCURRENT",
            "Successfully established SSL/TLS connection",
            "vpce-",
            "CloudTrail ",
        ] {
            assert!(
                !s.literals().any(|l| healthy.contains(l)),
                "{healthy:?} would be selected"
            );
        }
    }

    #[test]
    fn trigger_literals_and_platform_signals_are_in() {
        let s = signals();
        for failure in [
            "setSecret: Unable to log into database with previous, current, or pending secret",
            "Task timed out after 3.00 seconds",
            "REPORT RequestId: x\tDuration: 3000.00 ms\tStatus: timeout",
            "KeyError: 'RotationEnabled'",
            "{\"eventVersion\":\"1.08\",\"eventName\":\"RotationFailed\"}",
            "Secrets Manager cannot invoke the specified Lambda function",
        ] {
            assert!(
                s.literals().any(|l| failure.contains(l)),
                "{failure:?} would be missed"
            );
        }
    }

    #[test]
    fn cloudtrail_renderings_become_raw_json() {
        let r = trigger_signal("CloudTrail RotationFailed", "x/y");
        assert_eq!(r.text, "\"eventName\":\"RotationFailed\"");
        assert_eq!(trigger_signal("CloudTrail ", "x/y").text, "\"errorCode\":");
        assert_eq!(
            trigger_signal("CloudTrail Decrypt", "x/y").text,
            "\"errorCode\":"
        );
        assert_eq!(trigger_signal("pymysql", "x/y").text, "pymysql");
    }
}
