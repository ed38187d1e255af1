//! `rotdiag merge`: partial reports (JSON documents or ndjson) made into the report one run over
//! all their inputs would have made, for archives diagnosed in pieces (a Spark job over a bucket
//! of exports: `scripts/spark/`).
//!
//! Nothing is ranked twice: the partial reports are read back into the library's own types and go
//! through the same code as a run's results. Diagnoses are merged by the key a run's aggregator
//! uses, (cause, subject), their representative chosen by the same total order
//! (`diagnosis::merge_reported`, from each diagnosis' `representative`: its unrounded
//! confidence, when it started, its input and line); rotations are recorded again in a rotation
//! ledger, which merges them by token and sorts them as a run's does, and the summary per secret
//! is computed from them as for any run; inputs are listed in the order of the reports; the
//! report is written by `report::write`, in any format.
//!
//! That gives what one run would have given when no rotation and no secret's diagnosis needs
//! two partial reports to be made: when each partial report covers whole log groups (rotations
//! never cross a rotation function's log group, and one export task is one log group), and the
//! reports are given in the order a run would have read their inputs (a folder walk reads paths
//! in order, so `rotdiag DIR` reads log group after log group). Partitions by log group *and
//! time range* are exact unless a rotation has pieces on both sides of a boundary: one run joins
//! them across inputs (by version token, and a piece that names its secret but no token with the
//! secret's rotation still open at the end of its input) and evaluates the rotation whole, each
//! partial report evaluated its piece. The merge joins the pieces' rotation records by version
//! token (counted once, its steps together, succeeded if a piece did), but the diagnoses of the
//! pieces stay what each piece showed: a failure the later piece recovered from is still
//! diagnosed, and a failed piece's cause is the earlier report's. README, "Beyond one machine",
//! says so too. One more join crosses inputs: a step that names neither secret nor token is
//! placed by time into a rotation it follows; across export tasks it is not (the pipeline knows
//! an S3 export object's task folder), but inputs that do not say their log group (a file of
//! `filter-log-events` output) may join another file's rotation in one run, never in a partial
//! one.
//!
//! Merged reports must agree on what changes results: the report shape (`schema_version`), the
//! rule set (`settings.rules`, a fingerprint of the rule files) and `--since`, `--until` and
//! `--input-format` (`settings`). Each must list every rotation (`--all-rotations`: the summary
//! per secret is computed from them), and hold no timeline or rule trace. A report that breaks
//! one of these is refused with an error naming it.

use std::fs;
use std::io::{self, Read};
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use crate::diagnosis::{Diagnosis, merge_reported};
use crate::lambda::rotation::{ListedRotation, RotationLedger};
use crate::problem::{Kind, Location, Problem};
use crate::report::{Run, SCHEMA_VERSION};
use crate::rules::RuleSet;
use crate::summary::{InputReport, Settings, Summary};

/// One partial report, read back.
struct Partial {
    /// Where it was read: the file (and which report in it, when it holds several).
    name: String,
    settings: Settings,
    inputs: Vec<InputReport>,
    invocations: u64,
    /// How many rotations it counted (it must list them all).
    rotations_counted: u64,
    diagnoses: Vec<Diagnosis>,
    rotations: Vec<ListedRotation>,
}

/// What a JSON document holds that a merge reads (the secrets are computed again).
#[derive(Deserialize)]
struct Document {
    settings: Option<Settings>,
    inputs: Vec<InputReport>,
    summary: Counts,
    diagnoses: Vec<Diagnosis>,
    rotations: Vec<ListedRotation>,
    timeline: Option<Value>,
    trace: Option<Value>,
}

/// The counts a merge reads back (the rest are sums it computes again).
#[derive(Deserialize)]
struct Counts {
    invocations: u64,
    rotations: u64,
}

/// The last record of an ndjson report.
#[derive(Deserialize)]
struct End {
    settings: Option<Settings>,
    inputs: Vec<InputReport>,
    summary: Counts,
}

/// Reads the partial reports in `paths` (`-` or none: standard input) and merges them into one
/// run's results, as the module doc says. The error names the report that cannot be merged.
pub fn merge(paths: &[&Path], rules: &RuleSet) -> Result<Run, Problem> {
    let mut partials = Vec::new();
    let stdin = [Path::new("-")];
    let paths = if paths.is_empty() { &stdin[..] } else { paths };
    for p in paths {
        let (name, bytes) = read(p)?;
        partials.extend(parse(&name, &bytes)?);
    }
    let Some(first) = partials.first() else {
        return Err(Problem::of(
            "rotdiag merge",
            Kind::Merge("no report to merge".into()),
        ));
    };
    let settings = first.settings.clone();
    for p in &partials {
        check(p, &settings, &partials[0].name, rules)?;
    }
    combine(partials, settings, rules)
}

/// The bytes of one report file, or of standard input.
fn read(p: &Path) -> Result<(String, Vec<u8>), Problem> {
    if p.as_os_str() == "-" {
        let mut bytes = Vec::new();
        io::stdin()
            .lock()
            .read_to_end(&mut bytes)
            .map_err(|e| Problem::of("<stdin>", Kind::Read(e.to_string())))?;
        return Ok(("<stdin>".into(), bytes));
    }
    let name = p.display().to_string();
    match fs::read(p) {
        Ok(b) => Ok((name, b)),
        Err(e) => Err(Problem::of(name, Kind::Open(e.to_string()))),
    }
}

fn refuse(name: &str, reason: String) -> Problem {
    Problem::of(name, Kind::Merge(reason))
}

/// The reports in one file: JSON documents, one after another, or ndjson reports (records up to
/// and including each `summary` record), in any mix.
fn parse(name: &str, bytes: &[u8]) -> Result<Vec<Partial>, Problem> {
    let mut reader = Reader {
        name,
        out: Vec::new(),
        open: None,
    };
    let mut stream = serde_json::Deserializer::from_slice(bytes).into_iter::<Value>();
    while let Some(v) = stream.next() {
        let at = stream.byte_offset() as u64;
        let v = v.map_err(|e| Problem {
            at: Location {
                source: Some(name.to_string()),
                line: Some(e.line() as u64),
                offset: None,
            },
            kind: Kind::Merge(format!("not a JSON report: {e}")),
        })?;
        reader.value(v).map_err(|reason| Problem {
            at: Location {
                source: Some(name.to_string()),
                line: None,
                offset: Some(at),
            },
            kind: Kind::Merge(reason),
        })?;
    }
    if reader.open.is_some() {
        return Err(refuse(
            name,
            "an ndjson report without its summary record (cut short?)".into(),
        ));
    }
    Ok(reader.out)
}

/// Reads the JSON values of one file into partial reports.
struct Reader<'a> {
    name: &'a str,
    out: Vec<Partial>,
    /// The ndjson report whose records are being read (until its summary record).
    open: Option<Partial>,
}

impl Reader<'_> {
    /// The name of the next report: the file's, then `FILE (report N)` for the N-th.
    fn label(&self) -> String {
        match self.out.len() {
            0 => self.name.to_string(),
            n => format!("{} (report {})", self.name, n + 1),
        }
    }

    fn value(&mut self, v: Value) -> Result<(), String> {
        let version = v.get("schema_version").and_then(Value::as_u64);
        if version != Some(u64::from(SCHEMA_VERSION)) {
            return Err(match version {
                Some(n) => format!(
                    "a report of schema_version {n}: this rotdiag merges version {SCHEMA_VERSION} (make the partial reports with the same rotdiag)"
                ),
                None => "not a rotdiag JSON or ndjson report (no schema_version)".into(),
            });
        }
        match v.get("type").and_then(Value::as_str).map(str::to_owned) {
            None => self.document(v),
            Some(kind) => self.record(&kind, v),
        }
    }

    fn document(&mut self, v: Value) -> Result<(), String> {
        let d: Document =
            serde_json::from_value(v).map_err(|e| format!("not a rotdiag JSON report: {e}"))?;
        if d.timeline.is_some() || d.trace.is_some() {
            return Err(plain_runs("a timeline or a rule trace"));
        }
        let p = Partial {
            name: self.label(),
            settings: d.settings.ok_or_else(no_settings)?,
            inputs: d.inputs,
            invocations: d.summary.invocations,
            rotations_counted: d.summary.rotations,
            diagnoses: d.diagnoses,
            rotations: d.rotations,
        };
        self.out.push(p);
        Ok(())
    }

    fn record(&mut self, kind: &str, v: Value) -> Result<(), String> {
        let bad = |e: serde_json::Error| format!("a bad {kind} record: {e}");
        let p = self.open.get_or_insert_with(|| Partial {
            name: String::new(),
            settings: Settings::default(),
            inputs: Vec::new(),
            invocations: 0,
            rotations_counted: 0,
            diagnoses: Vec::new(),
            rotations: Vec::new(),
        });
        match kind {
            "diagnosis" => p.diagnoses.push(serde_json::from_value(v).map_err(bad)?),
            "rotation" => p.rotations.push(serde_json::from_value(v).map_err(bad)?),
            // The summary per secret is computed again from the rotations.
            "secret" => {}
            "summary" => {
                let end: End = serde_json::from_value(v).map_err(bad)?;
                let name = self.label();
                let mut p = self.open.take().expect("opened above");
                p.name = name;
                p.settings = end.settings.ok_or_else(no_settings)?;
                p.inputs = end.inputs;
                p.invocations = end.summary.invocations;
                p.rotations_counted = end.summary.rotations;
                self.out.push(p);
            }
            other => return Err(plain_runs(&format!("a {other} record"))),
        }
        Ok(())
    }
}

fn plain_runs(what: &str) -> String {
    format!("holds {what} (--timeline, --test): merge the reports of plain runs")
}

fn no_settings() -> String {
    "has no settings (made by an older rotdiag): its rules and options cannot be checked".into()
}

/// Refuses a report a run over all the inputs could not have made alongside the first one.
fn check(p: &Partial, first: &Settings, first_name: &str, rules: &RuleSet) -> Result<(), Problem> {
    let s = &p.settings;
    if s.rules != rules.fingerprint {
        return Err(refuse(
            &p.name,
            format!(
                "made with other rules ({}; these are {}): merge with the --rules the partial runs used",
                s.rules, rules.fingerprint
            ),
        ));
    }
    let shown = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".into());
    for (flag, a, b) in [
        ("--since", &s.since, &first.since),
        ("--until", &s.until, &first.until),
        ("--input-format", &s.input_format, &first.input_format),
    ] {
        if a != b {
            return Err(refuse(
                &p.name,
                format!(
                    "made with {flag} {} but {first_name} with {flag} {}: one run could not have made both",
                    shown(a),
                    shown(b)
                ),
            ));
        }
    }
    if (p.rotations.len() as u64) < p.rotations_counted {
        return Err(refuse(
            &p.name,
            format!(
                "lists {} of its {} rotations: make partial reports with --all-rotations (the summary per secret is computed from every rotation)",
                p.rotations.len(),
                p.rotations_counted
            ),
        ));
    }
    Ok(())
}

/// One run's results from the checked partial reports.
fn combine(partials: Vec<Partial>, settings: Settings, rules: &RuleSet) -> Result<Run, Problem> {
    let mut inputs: Vec<InputReport> = Vec::new();
    let mut invocations = 0;
    let mut ledger = RotationLedger::default();
    let mut diagnoses = Vec::new();
    for p in partials {
        let offset = inputs.len();
        for r in &p.rotations {
            ledger
                .record_listed(r, rules)
                .map_err(|e| refuse(&p.name, e))?;
        }
        for mut d in p.diagnoses {
            match d.representative.input {
                Some(i) if i < p.inputs.len() => d.representative.input = Some(offset + i),
                _ => {
                    return Err(refuse(
                        &p.name,
                        format!(
                            "diagnosis {} ({}): its representative's input is not in the report",
                            d.rank, d.cause
                        ),
                    ));
                }
            }
            diagnoses.push(d);
        }
        inputs.extend(p.inputs);
        invocations += p.invocations;
    }
    let names: Vec<&str> = inputs.iter().map(|i| i.source.as_str()).collect();
    let diagnoses =
        merge_reported(diagnoses, &names, rules).map_err(|e| refuse("rotdiag merge", e))?;
    let rotations = ledger.finish(rules);
    Ok(Run {
        summary: Summary {
            inputs,
            invocations,
            rotations: rotations.counts(),
            settings,
        },
        diagnoses: diagnoses.into(),
        rotations,
        timeline: None,
        trace: None,
    })
}
