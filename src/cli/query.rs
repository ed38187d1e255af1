//! `rotdiag query insights|athena`: the arguments, and printing what [`crate::query`] builds.

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use crate::query::{Signals, athena, insights};
use crate::rules;
use crate::time::{self, EpochMs};

#[derive(Subcommand, Debug)]
pub enum QueryCommand {
    /// CloudWatch Logs Insights: the invocations with a failure signal, then their events.
    ///
    /// Without --events: the query of step 1, one row per log group, stream and request id with
    /// a failure signal (`--query-string "$(rotdiag query insights)"`). With --log-group, whole
    /// `aws logs start-query` commands instead, one per time slice (--split) and per 50 log
    /// groups.
    ///
    /// With --events --from-results FILE (step 1's `aws logs get-query-results` JSON): one
    /// `aws logs start-query` command per line, fetching the events of the streams that failed
    /// around each failure; their results are read by `rotdiag results.json`.
    #[command(after_long_help = INSIGHTS_EXAMPLE)]
    Insights(InsightsArgs),
    /// Athena: a table over CloudWatch S3 export folders, and the export objects with a failure
    /// signal.
    ///
    /// Without --ddl: the query listing the objects (`"$path"`) that hold a failure signal.
    /// With --ddl: the CREATE EXTERNAL TABLE statement for the export prefix (--location).
    #[command(after_long_help = ATHENA_EXAMPLE)]
    Athena(AthenaArgs),
}

const INSIGHTS_EXAMPLE: &str = "\
Example (README, \"Beyond one machine\"):
  id=$(aws logs start-query --log-group-names /aws/lambda/RotFn \\
        --start-time $(date -d '-2 days' +%s) --end-time $(date +%s) \\
        --query-string \"$(rotdiag query insights)\" --query queryId --output text)
  aws logs get-query-results --query-id \"$id\" > found.json    # again until status is Complete
  rotdiag query insights --events --from-results found.json > fetch.sh
  # run each start-query line of fetch.sh, then get-query-results into events-N.json
  rotdiag events-*.json";

const ATHENA_EXAMPLE: &str = "\
Example (README, \"Beyond one machine\"):
  aws athena start-query-execution --work-group primary \\
    --query-string \"$(rotdiag query athena --ddl --location s3://BUCKET/exportedlogs/)\"
  id=$(aws athena start-query-execution --work-group primary \\
        --query-string \"$(rotdiag query athena)\" --query QueryExecutionId --output text)
  aws athena get-query-execution --query-execution-id \"$id\"    # until SUCCEEDED
  aws athena get-query-results --query-execution-id \"$id\" \\
    --query 'ResultSet.Rows[].Data[0].VarCharValue' --output text | tr '\\t' '\\n' | grep '^s3://' |
  while read -r o; do aws s3 cp \"$o\" \"exports/${o#s3://}\"; done
  rotdiag exports/";

#[derive(Args, Debug)]
pub struct InsightsArgs {
    /// Print the queries returning the whole events of the failed invocations (step 2), from
    /// --from-results or --request-ids.
    #[arg(long)]
    pub events: bool,

    /// Step 1's results: `aws logs get-query-results` JSON (`-`: standard input).
    #[arg(long, value_name = "FILE", requires = "events")]
    pub from_results: Option<PathBuf>,

    /// Request ids to fetch (any text: every 8-4-4-4-12 hex id in it; `-`: standard input).
    #[arg(
        long,
        value_name = "FILE",
        requires = "events",
        conflicts_with = "from_results"
    )]
    pub request_ids: Option<PathBuf>,

    /// Log group to query (repeat for more): print `aws logs start-query` commands instead of
    /// the bare query.
    #[arg(long = "log-group", value_name = "NAME")]
    pub log_groups: Vec<String>,

    /// Start of the time range of the printed commands (default: 1d before now; same forms as
    /// the top-level --since).
    #[arg(long, value_name = "WHEN", value_parser = parse_when)]
    pub since: Option<EpochMs>,

    /// End of the time range of the printed commands (default: now).
    #[arg(long, value_name = "WHEN", value_parser = parse_when)]
    pub until: Option<EpochMs>,

    /// Cut the time range into slices of this length, one command each (6h, 1d), when a query
    /// returns 10,000 rows (Insights' limit: the results were cut).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub split: Option<i64>,

    /// With --from-results: how far before each failure to fetch (the invocation's start and
    /// the rotation's earlier steps; default 15m, Lambda's longest timeout).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub context: Option<i64>,

    /// With --from-results: at most N stream windows per query (lower it when a query returns
    /// 10,000 rows).
    #[arg(long, value_name = "N", default_value_t = insights::DEFAULT_WINDOWS_PER_QUERY)]
    pub windows_per_query: usize,

    /// Add rule files from DIR, as the top-level --rules does: the queries follow the rule set.
    #[arg(long, value_name = "DIR")]
    pub rules: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct AthenaArgs {
    /// Print the CREATE EXTERNAL TABLE statement instead of the query.
    #[arg(long)]
    pub ddl: bool,

    /// The export prefix (the export task's destination bucket and prefix), for --ddl.
    #[arg(long, value_name = "S3URL", requires = "ddl")]
    pub location: Option<String>,

    /// Table name of both statements.
    #[arg(long, value_name = "NAME", default_value = athena::DEFAULT_TABLE)]
    pub table: String,

    /// Add rule files from DIR, as the top-level --rules does: the query follows the rule set.
    #[arg(long, value_name = "DIR")]
    pub rules: Option<PathBuf>,
}

fn parse_when(s: &str) -> Result<EpochMs, String> {
    time::parse_bound(s, time::now())
}

fn parse_duration(s: &str) -> Result<i64, String> {
    humantime::parse_duration(s)
        .map(|d| d.as_millis().min(i64::MAX as u128) as i64)
        .map_err(|e| format!("`{s}` is not a duration (90m, 6h, 1d): {e}"))
}

/// What went wrong, as printed on stderr (`rotdiag: …`), exit status 2.
struct Failure(String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Failure {
        Failure(e.to_string())
    }
}

/// Runs a `query` subcommand; returns the exit status.
pub fn run(cmd: &QueryCommand) -> io::Result<u8> {
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let result = match cmd {
        QueryCommand::Insights(a) => run_insights(a, &mut out),
        QueryCommand::Athena(a) => run_athena(a, &mut out),
    };
    match result {
        Ok(()) => {
            out.flush()?;
            Ok(0)
        }
        Err(Failure(msg)) => {
            out.flush()?;
            eprintln!("rotdiag: {msg}");
            Ok(2)
        }
    }
}

fn signals(rules_dir: Option<&Path>) -> Result<Signals, Failure> {
    match rules::load(rules_dir) {
        Ok(r) => Ok(Signals::from_rules(&r)),
        Err(errors) => Err(Failure(
            errors
                .iter()
                .map(|e| format!("rule error: {e}"))
                .collect::<Vec<_>>()
                .join("\nrotdiag: "),
        )),
    }
}

fn read_input(path: &Path) -> Result<(String, String), Failure> {
    let name = path.display().to_string();
    let mut bytes = Vec::new();
    let read = if name == "-" {
        io::stdin().lock().read_to_end(&mut bytes)
    } else {
        std::fs::File::open(path).and_then(|mut f| f.read_to_end(&mut bytes))
    };
    read.map_err(|e| Failure(format!("{name}: {e}")))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        Failure(format!(
            "{name}: not UTF-8 text (byte {})",
            e.utf8_error().valid_up_to()
        ))
    })?;
    Ok((name, text))
}

fn range(a: &InsightsArgs) -> Result<(EpochMs, EpochMs), Failure> {
    let until = a.until.unwrap_or_else(time::now);
    let since = a.since.unwrap_or(until - 86_400_000);
    if since >= until {
        return Err(Failure(format!(
            "--since ({}) must be before --until ({})",
            time::format_iso(since),
            time::format_iso(until)
        )));
    }
    Ok((since, until))
}

fn run_insights(a: &InsightsArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let signals = signals(a.rules.as_deref())?;
    if !a.events {
        if a.log_groups.is_empty() {
            writeln!(out, "{}", insights::find_query(&signals))?;
            return Ok(());
        }
        let (since, until) = range(a)?;
        let slices = insights::split(since, until, a.split);
        for call in insights::find_calls(&signals, &a.log_groups, &slices) {
            writeln!(out, "{}", call.command())?;
        }
        return Ok(());
    }
    if let Some(path) = &a.from_results {
        let (name, text) = read_input(path)?;
        let found = insights::parse_found(&text, &name)?;
        if let Some(status) = found.status.as_deref().filter(|s| *s != "Complete") {
            eprintln!(
                "rotdiag: {name}: the query's status is {status}, not Complete: its results may be partial (run get-query-results again)"
            );
        }
        if found.truncated() {
            eprintln!(
                "rotdiag: {name}: {} rows, Insights' limit: the results were probably cut; split the time range (--split) and run step 1 again",
                found.rows.len()
            );
        }
        let before = a.context.unwrap_or(insights::CONTEXT_BEFORE_MS);
        let windows = insights::windows(&found.rows, before, insights::CONTEXT_AFTER_MS);
        let calls = insights::events_queries(&windows, a.windows_per_query)?;
        eprintln!(
            "rotdiag: {name}: {} failed invocation(s) in {} stream window(s): {} start-query command(s)",
            found.rows.len(),
            windows.len(),
            calls.len()
        );
        for call in calls {
            writeln!(out, "{}", call.command())?;
        }
        return Ok(());
    }
    let Some(path) = &a.request_ids else {
        return Err(Failure(
            "--events needs --from-results FILE (step 1's results) or --request-ids FILE".into(),
        ));
    };
    let (name, text) = read_input(path)?;
    let ids = insights::request_ids(&text, &name)?;
    let queries = insights::request_id_queries(&ids);
    if a.log_groups.is_empty() {
        if queries.len() > 1 {
            return Err(Failure(format!(
                "{name}: {} request ids need {} queries of at most {} characters; give --log-group to print one start-query command per query",
                ids.len(),
                queries.len(),
                insights::MAX_QUERY_CHARS
            )));
        }
        writeln!(out, "{}", queries[0])?;
        return Ok(());
    }
    let (since, until) = range(a)?;
    for query in queries {
        for groups in a.log_groups.chunks(insights::MAX_LOG_GROUPS) {
            let call = insights::StartQuery {
                log_groups: groups.to_vec(),
                start: since,
                end: until,
                query: query.clone(),
            };
            writeln!(out, "{}", call.command())?;
        }
    }
    Ok(())
}

fn run_athena(a: &AthenaArgs, out: &mut dyn Write) -> Result<(), Failure> {
    let table = athena::table_name(&a.table)?;
    if a.ddl {
        let location = match &a.location {
            Some(l) => athena::location(l)?,
            None => {
                eprintln!(
                    "rotdiag: no --location: the DDL says {} (give the export task's s3://bucket/prefix/)",
                    athena::PLACEHOLDER_LOCATION
                );
                athena::PLACEHOLDER_LOCATION.to_string()
            }
        };
        writeln!(out, "{}", athena::table_ddl(&table, &location))?;
        return Ok(());
    }
    let signals = signals(a.rules.as_deref())?;
    writeln!(out, "{}", athena::objects_query(&signals, &table))?;
    Ok(())
}
