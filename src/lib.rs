//! # rotdiag
//!
//! rotdiag reads the CloudWatch Logs of an AWS Secrets Manager rotation Lambda, in whatever shape
//! the user exported them, and tells why a rotation failed: the most likely cause first, the log
//! lines that prove it, and the fix, filled in with the ARNs found in those logs.
//!
//! ## Architecture
//!
//! One module per stage of the pipeline, each consuming the previous stage's output:
//!
//! ```text
//!  bytes ──► records ──► lines ──► invocations ──► rotations ──► occurrences ──► diagnoses ──► report
//!  input     format      lambda    lambda::         lambda::      engine          diagnosis     report
//!                        ::line    invocation       rotation
//! ```
//!
//! * [`input`]: files (memory-mapped, guarded against truncation), folders (walked as ripgrep
//!   does), stdin, tar and zip archives; gzip, BOMs, UTF-16 and colour codes are peeled off as
//!   streaming layers.
//! * [`format`]: detects the export shape by content and decodes it into [`format::Record`]s (one
//!   CloudWatch event each: timestamp, stream, message). Line-oriented shapes decode in parallel
//!   blocks; JSON documents decode event by event.
//! * [`lambda::line`]: classifies each message (START/END/REPORT, `[LEVEL]` lines, unhandled errors,
//!   JSON log format records). In the same pass [`rules::Matcher`] runs every rule literal over it
//!   with one aho-corasick automaton, and the regexes behind the literals it found.
//! * [`lambda::invocation`] groups lines by request id and log stream into invocations;
//!   [`lambda::rotation`] groups invocations by secret and version token into rotations and infers
//!   the step of invocations that logged nothing.
//! * [`engine`] evaluates the symptoms of [`rules`] against every failed invocation of a failed
//!   rotation and scores the candidate causes; [`diagnosis`] merges occurrences per cause and secret,
//!   ranks them, fills the remediation templates and redacts credentials.
//! * [`report`] prints the human report or the JSON document, every string passing one egress
//!   point that redacts it with [`redact`] (a leaf: the credential detectors).
//! * [`query`] (beside the pipeline, just below [`cli`]) prints Logs Insights and Athena queries
//!   that find the failures where the logs live, from the rule set's literals.
//!
//! The knowledge is data: `rules/*.toml`, embedded at build time. Classification and literal
//! matching (the per-byte work) run in parallel; assembly and evaluation run in input order, so the
//! output is deterministic.

pub mod cli;
pub mod diagnosis;
pub mod engine;
pub mod format;
pub mod input;
pub mod lambda;
pub mod pipeline;
pub mod progress;
pub mod query;
pub mod redact;
pub mod report;
pub mod rules;
pub mod time;
