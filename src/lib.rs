//! # rotdiag
//!
//! rotdiag reads the CloudWatch Logs of an AWS Secrets Manager rotation Lambda, in whatever shape
//! the user exported them, and tells why a rotation failed: the most likely cause first, the log
//! lines that prove it, and the fix, filled in with the ARNs found in those logs.
//!
//! ## Architecture
//!
//! A one-way stack: each stage consumes what the stage below it produced, and small leaf modules
//! (identifiers, time, templates, the error type) sit under all of them.
//!
//! ```text
//!  bytes ──► records ──► lines ──► invocations ──► rotations ──► occurrences ──► diagnoses ──► report
//!  input     format      lambda    lambda::         lambda::      engine          diagnosis     report
//!                        ::line    invocation       rotation
//!                                      pipeline: runs the stages, input by input
//! ```
//!
//! * [`input`]: files (memory-mapped, guarded against truncation), folders (walked as ripgrep
//!   does), stdin, tar and zip archives; gzip, BOMs, UTF-16 and colour codes are peeled off as
//!   streaming layers.
//! * [`format`](mod@format): detects the export shape by content and decodes it into [`format::Record`]s (one
//!   CloudWatch event each: timestamp, stream, message). Line-oriented shapes decode in blocks cut
//!   at record boundaries; documents (JSON, YAML, CSV, the CLI's text and tables) event by event.
//! * [`rules`]: the knowledge, as data (`rules/*.toml`, embedded at build time), compiled into a
//!   rule set: symptoms, causes, the model of a rotation function's logs, and one aho-corasick
//!   automaton over every literal the rules look for.
//! * [`lambda`]: classifies each message (START/END/REPORT, `[LEVEL]` lines, unhandled errors,
//!   JSON log format records, CloudTrail events) and matches it against the rule literals; then
//!   groups lines by request id and log stream into invocations, and invocations by secret and
//!   version token into rotations.
//! * [`engine`]: evaluates the symptoms of the rules against every failed invocation of a failed
//!   rotation and scores the candidate causes, folding CloudTrail's record of a failure into the
//!   Lambda logs' record of it.
//! * [`diagnosis`]: merges occurrences per cause and secret, ranks them, fills the remediation
//!   templates and redacts credentials.
//! * [`report`]: the human, markdown, JSON and ndjson reports (and follow mode's live ones), from
//!   the [`summary`] and the diagnoses;
//!   every string passes one egress point (`report::egress`) that redacts it with [`redact`].
//! * [`pipeline`]: the run. Each input is decoded by the strategy that fits how it is held and
//!   its shape (mapped blocks, stream windows, documents); classification and matching (the
//!   per-byte work) run in parallel, assembly in input order; the rotations it closes are
//!   evaluated on the pool and handed, in closing order, to a sink (the batch report, or a live
//!   one), so the output is deterministic. A pipe that stays open is followed live
//!   (`pipeline::follow`): decoded as it arrives, each rotation reported as soon as it is
//!   decided. [`cli`] and `main.rs` hold the arguments, the signals and the exit status.
//! * [`query`] (beside the pipeline): prints Logs Insights and Athena queries that find the
//!   failures where the logs live, from the rule set's literals.
//! * [`merge`] (beside the pipeline): reads partial JSON reports back (each made from some of
//!   the log groups, on a Spark executor) and makes the results one run over all their inputs
//!   would have made, through the same aggregation, ledger and report code.
//!
//! The leaves: `aws` (request ids, steps, ARNs and principals: one parser for each), [`time`]
//! (instants in every dialect CloudWatch tooling prints), `template` (`{placeholder}`
//! rendering), [`redact`] (the credential detectors), [`problem`] (the one error type: a location
//! and a kind), `progress` (the bar), `pool` (what is dropped on the thread pool, and when not),
//! and [`summary`] (what a run read, for the reports).
//!
//! ## Module order
//!
//! A module imports only modules on lines above its own (a leaf imports nothing from the crate);
//! the `module_order` test below reads this list and checks every `crate::` path in `src/`.
//!
//! 1. `aws`, [`time`], `template`, [`redact`], [`problem`], `progress`, `pool` (the leaves)
//! 2. [`summary`] (per-input reports and totals, which hold [`problem`]s)
//! 3. [`input`] (bytes)
//! 4. [`format`](mod@format) (records)
//! 5. [`rules`] (the rule set)
//! 6. [`lambda`] (invocations and rotations)
//! 7. [`engine`] (occurrences)
//! 8. [`diagnosis`] (ranked diagnoses)
//! 9. [`report`] (the reports)
//! 10. [`pipeline`] (the run), [`query`] (queries that find failures where the logs live), [`merge`] (partial reports merged)
//! 11. [`cli`] (arguments and exit status; with `main.rs`, the binary)

#![warn(clippy::too_many_lines, clippy::struct_excessive_bools)]
// These docs describe the internals (the public surface is what the binary, benches, fuzz target,
// generator and tests need): read them with `cargo doc --document-private-items --open`, where the
// links to crate-private items resolve.
#![allow(rustdoc::private_intra_doc_links)]

mod aws;
pub mod cli;
pub mod diagnosis;
pub mod engine;
pub mod format;
pub mod input;
pub mod lambda;
pub mod merge;
pub mod pipeline;
mod pool;
pub mod problem;
mod progress;
pub mod query;
pub mod redact;
pub mod report;
pub mod rules;
pub mod summary;
mod template;
#[cfg(test)]
mod testing;
pub mod time;

#[cfg(test)]
mod module_order {
    //! Checks the module order stated in the crate documentation against the source.

    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};

    /// Level of each top-level module, read off the "Module order" list of this file's doc.
    fn levels() -> BTreeMap<String, usize> {
        let doc = include_str!("lib.rs");
        let mut levels = BTreeMap::new();
        let list = doc
            .split("## Module order")
            .nth(1)
            .expect("a Module order section");
        for line in list.lines().skip(1).take_while(|l| l.starts_with("//!")) {
            let line = line.trim_start_matches("//!").trim();
            let Some((n, rest)) = line.split_once(". ") else {
                continue;
            };
            let Ok(level) = n.parse::<usize>() else {
                continue;
            };
            // The names, without the descriptions in parentheses.
            let mut names = String::new();
            let mut depth = 0usize;
            for c in rest.chars() {
                match c {
                    '(' => depth += 1,
                    ')' => depth = depth.saturating_sub(1),
                    c if depth == 0 => names.push(c),
                    _ => {}
                }
            }
            for name in names.split('`').skip(1).step_by(2) {
                levels.insert(name.to_string(), level);
            }
        }
        levels
    }

    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                rust_files(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }

    /// The top-level modules a file names: `crate::x` anywhere but in comments, and `super::x`
    /// in a top-level module's own file (where `super` is the crate).
    fn imports(text: &str, top_level_file: bool) -> Vec<String> {
        let mut out = Vec::new();
        for line in text.lines() {
            let code = line.split("//").next().unwrap_or("");
            let mut prefixes = vec!["crate::"];
            if top_level_file {
                prefixes.push("super::");
            }
            for prefix in prefixes {
                for (i, _) in code.match_indices(prefix) {
                    let rest = &code[i + prefix.len()..];
                    let name: String = rest
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if !name.is_empty() {
                        out.push(name);
                    }
                }
            }
        }
        out
    }

    #[test]
    fn the_crate_doc_lists_every_module_once() {
        let levels = levels();
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let declared: Vec<String> = include_str!("lib.rs")
            .lines()
            .filter_map(|l| {
                let l = l.trim_start_matches("pub ");
                l.strip_prefix("mod ")?.strip_suffix(';').map(str::to_owned)
            })
            .filter(|m| m != "testing")
            .collect();
        let listed: Vec<&String> = levels.keys().collect();
        let mut declared_sorted: Vec<&String> = declared.iter().collect();
        declared_sorted.sort();
        assert_eq!(
            listed, declared_sorted,
            "the Module order list and the `mod` lines"
        );
        assert!(src.join("main.rs").is_file());
    }

    /// No module imports one at its own level or above it (`testing`, for tests only, may
    /// import anything; what imports it is test code).
    #[test]
    fn no_module_imports_one_above_it() {
        let levels = levels();
        let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        files.sort();
        let mut violations = Vec::new();
        for file in files {
            let rel = file.strip_prefix(&src).unwrap();
            let parts: Vec<&str> = rel.iter().map(|p| p.to_str().unwrap()).collect();
            let module = parts[0].trim_end_matches(".rs");
            let (module, top_level) = match module {
                "lib" | "testing" => continue,
                // The binary sits with the command line, at the top.
                "main" => ("cli", true),
                m => (m, parts.len() == 1 || parts[1] == "mod.rs"),
            };
            let level = levels[module];
            let text = std::fs::read_to_string(&file).unwrap();
            for import in imports(&text, top_level) {
                if import == module || import == "testing" || !levels.contains_key(&import) {
                    continue;
                }
                if levels[&import] >= level {
                    violations.push(format!(
                        "{}: {module} (level {level}) imports {import} (level {})",
                        rel.display(),
                        levels[&import]
                    ));
                }
            }
        }
        violations.sort();
        violations.dedup();
        assert!(violations.is_empty(), "\n{}", violations.join("\n"));
    }

    #[test]
    fn the_check_sees_imports() {
        let found = imports(
            "use crate::aws::Step;\n// crate::pipeline in a comment\nlet x = crate::time::now();",
            false,
        );
        assert_eq!(found, ["aws", "time"]);
        assert_eq!(imports("use super::problem::Problem;", true), ["problem"]);
        assert!(imports("use super::Kind;", false).is_empty());
        assert_eq!(levels()["aws"], 1);
        assert!(levels()["pipeline"] > levels()["report"]);
    }
}
