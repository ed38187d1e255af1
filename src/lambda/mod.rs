//! The Lambda model: records -> invocations -> rotations, one concept per module.
//!
//! In the parallel stage, [`analyze`] reads each message:
//!
//! * [`line`](mod@line) classifies it (platform line, application line, unhandled error, timeout line);
//!   a line the model's `unhandled` literals mark (Node's `Invoke Error`, Go's error JSON, a Java
//!   or .NET stack trace: the other runtimes' report of an error that ended the invocation) is an
//!   unhandled error too;
//!   `json` renders a JSON log format record or a CloudTrail event as the text line it stands for;
//!   [`report`] parses REPORT and INIT_REPORT numbers;
//! * the rule literals are matched ([`crate::rules::matcher`]) and [`facts`] read off the line;
//! * the text the serial stage will keep of the line (as evidence, or as its invocation's last
//!   activity) is copied, so the serial stage only moves it.
//!
//! The line-oriented strategies skip all of that for a plain START, END or REPORT (two thirds of
//! a rotation function's lines): [`platform`] reads it into a small event instead.
//!
//! In the serial stage, in input order:
//!
//! * [`invocation`] groups lines into invocations by request id, per log stream: a router
//!   (`invocation::assemble`) sends each line to its invocation, whose state each kind of line
//!   changes (`invocation::state`), and keeps what diagnosis needs (matched lines, the last
//!   activity, REPORT numbers, facts);
//! * [`rotation`] groups closed invocations into rotations by secret ARN and version token, infers
//!   the step of invocations that logged nothing, places CloudTrail calls (`rotation::calls`), and
//!   counts rotations (`rotation::ledger`).

pub(crate) mod facts;
mod flat_json;
pub mod invocation;
mod json;
pub mod line;
pub(crate) mod platform;
pub(crate) mod report;
pub mod rotation;

use crate::aws::Step;
use crate::rules::RuleSet;
use crate::rules::matcher::{Hits, Positions};
use facts::Facts;
use line::{Kind, Line, classify};

/// What the parallel stage learns about one message: its classification, the patterns it
/// matches, the step it names and the facts it states. The serial stage only files these away.
#[derive(Clone, Debug)]
pub struct Analysis {
    pub(crate) line: Line,
    pub hits: Hits,
    pub(crate) step: Option<Step>,
    pub(crate) facts: Facts,
    /// The line's text as the serial stage will keep it ([`invocation::copy_ahead`]): copied
    /// in parallel, not by the serial stage.
    pub(crate) text: invocation::Copied,
    /// The message holds a NUL byte: binary data, not a log line (the serial stage skips it).
    pub(crate) binary: bool,
}

/// What is known of a message's bytes before it is analysed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bytes {
    /// Nothing: the analysis looks for a NUL byte itself.
    Unchecked,
    /// They lie in a block already searched for a NUL as a whole, which holds none (one search
    /// of a block instead of one per line: 9 M instructions on 16 MiB of S3-export text).
    NulFree,
}

/// Classifies a message, matches it against every rule literal (and the regexes behind the ones
/// found), and reads its step and facts.
pub(crate) fn analyze(message: &[u8], rules: &RuleSet) -> Analysis {
    analyze_known(message, Bytes::Unchecked, rules)
}

/// [`analyze`], for a message whose bytes are known to be `bytes`.
pub(crate) fn analyze_known(message: &[u8], bytes: Bytes, rules: &RuleSet) -> Analysis {
    matched(classify(message), message, bytes, rules)
}

/// [`analyze`] as the engine the scan-first one replaces does it (JSON records read by
/// `serde_json` only); goes with that engine.
pub(crate) fn analyze_reference(message: &[u8], rules: &RuleSet) -> Analysis {
    matched(
        line::classify_with(message, line::JsonReader::Serde),
        message,
        Bytes::Unchecked,
        rules,
    )
}

/// Matches a classified message against every rule literal (and the regexes behind the ones
/// found), and reads its step and facts.
fn matched(mut line: Line, message: &[u8], bytes: Bytes, rules: &RuleSet) -> Analysis {
    let text = line.scan_text(message);
    let mut hits = Hits::new();
    let mut positions = Positions::new();
    // START/END carry nothing rules look for, and a REPORT only when it has a status: skipping
    // them halves the bytes the automaton scans in a rotation function's logs. INIT_START (one
    // per cold start) names the runtime's region, which fixes need.
    let scan = match line.kind {
        Kind::Start | Kind::End => false,
        Kind::Report => line
            .metrics
            .as_ref()
            .is_some_and(|m| m.status.is_some() || m.error_type.is_some()),
        _ => true,
    };
    if scan {
        rules
            .matcher
            .scan_with_positions(text, &mut hits, Some(&mut positions));
    }
    let (step, facts) = if hits.is_empty() && positions.is_empty() {
        (None, Facts::default())
    } else {
        (
            rules.model.step_of(&hits),
            facts::extract(rules, text, &hits, &positions),
        )
    };
    // Most lines scanned match nothing: no search of an empty list (a call each).
    if !hits.is_empty() && rules.model.unhandled.is_some_and(|p| hits.contains(&p)) {
        line.unhandled();
    }
    let text = invocation::copy_ahead(&line, message, &hits, rules);
    Analysis {
        line,
        hits,
        step,
        facts,
        text,
        binary: match bytes {
            Bytes::Unchecked => memchr::memchr(0, message).is_some(),
            Bytes::NulFree => false,
        },
    }
}
