//! The integration tests: one binary (one link, one run of the harness), a module per concern,
//! and the helpers they share in [`util`].
//!
//! * [`cli`]: the command line: exit codes, bad input, colour, the JSON contract, determinism,
//!   `--rules`, `--since` / `--until`.
//! * [`corpus`]: every case of `corpus/` against its `expect.toml`.
//! * [`generated`]: what the corpus generator (`rotdiag-gen`) wrote, against its ground truth.
//! * [`robustness`]: no input makes a decoder panic or hang (a seeded property test, the fuzz
//!   regressions), and the edge cases of `docs/log-formats.md` diagnose.
//! * [`shapes`]: one scenario in every export shape diagnoses the same.

mod cli;
mod corpus;
mod generated;
mod robustness;
mod shapes;
mod util;
