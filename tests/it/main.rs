//! The integration tests: one binary (one link, one run of the harness), a module per concern,
//! and the helpers they share in [`util`].
//!
//! * [`catalog`]: every message of the catalog (`rules/catalog/`), pasted alone and inside an
//!   invocation of its runtime, yields its catalogued cause.
//! * [`cli`]: the command line: exit codes, bad input, colour, the JSON contract, determinism,
//!   `--rules`, `--since` / `--until`.
//! * [`corpus`]: every case of `corpus/` against its `expect.toml`.
//! * [`exit_status`]: exit statuses as grep uses them, for archives, nested gzip, unreadable and
//!   empty inputs, and a closed stdout.
//! * [`files`]: files that change while read, what a folder walk picks up, over-long records.
//! * [`follow`]: a pipe kept open: diagnoses printed while it is open, the full report and the
//!   usual status on SIGINT or SIGTERM; the latency measurement (ignored).
//! * [`generated`]: what the corpus generator (`rotdiag-gen`) wrote, against its ground truth.
//! * [`merge`]: `rotdiag merge` of partial reports equals one run over their inputs (corpus
//!   cases, generated log groups split at random), and refuses what one run could not make.
//! * [`query`]: `rotdiag query insights|athena` follows the rule set and the target grammars.
//! * [`redaction`]: no report format, and nothing on stderr, holds a credential a log line held.
//! * [`schema`]: real reports (JSON and every ndjson record) against `schema/report.schema.json`.
//! * [`robustness`]: no input makes a decoder panic or hang (a seeded property test, the fuzz
//!   regressions), and the edge cases of `docs/log-formats.md` diagnose.
//! * [`shapes`]: one scenario in every export shape diagnoses the same.
//! * [`strategies`]: every way of reading an input (a mapped file, a pipe, gzipped; one worker
//!   or four) gives the same report, on generated data of every shape, JSON pages written every
//!   way, a folder of every shape and the whole corpus.
//! * [`views`]: the summary per secret, the rotations list, the timeline, ndjson and markdown,
//!   `-q`, `--fail-on`, `explain`, `--test`, `--generate`, fitting the terminal, fixes filled
//!   from the logs, stdin from a terminal.
//! * [`shapes_real_cli`]: what the real AWS CLIs print (`corpus/shapes-real-cli/`) diagnoses as
//!   each scenario expects.

mod catalog;
mod cli;
mod corpus;
mod exit_status;
mod files;
mod follow;
mod generated;
mod merge;
mod query;
mod redaction;
mod robustness;
mod schema;
mod shapes;
mod shapes_real_cli;
mod strategies;
mod util;
mod views;
