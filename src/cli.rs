//! Command-line arguments.
//!
//! Subcommands sit beside the positional paths (`args_conflicts_with_subcommands`):
//! `rotdiag query insights` runs a subcommand, `rotdiag ./query` reads a file named `query`.

pub mod explain;
pub mod generate;
pub mod query;

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::format::Format;
pub use crate::report::Format as OutputFormat;
pub use crate::rules::Severity;
use crate::time::{self, EpochMs};

/// Diagnose failed AWS Secrets Manager rotations from the CloudWatch logs of the rotation Lambda.
///
/// Reads `aws logs tail` output, `filter-log-events`/`get-log-events` JSON, S3 export files
/// (.gz or not), tar, tar.gz and zip archives of them, console copies and raw Lambda text,
/// detecting the shape of each input. Prints the most likely cause of each failure first, the
/// log lines that prove it, and the fix. Credentials in the logs (passwords, keys, tokens, in
/// any notation) are printed as `***`.
///
/// Folders are walked recursively, skipping hidden entries and not following symbolic links
/// (--hidden, --follow); each file is read once.
///
/// Exit status: 0 when every input was read and no failure was found; 1 when at least one
/// failure was diagnosed (with --fail-on, one at or above that severity); 2 when any input could
/// not be read, or read only in part, or held no log record (even if failures were diagnosed in
/// others; --skip-unreadable changes that), and on usage errors and bad rule files. An empty
/// input (0 bytes) is read fine.
#[derive(Parser, Debug)]
#[command(
    name = "rotdiag",
    version,
    about,
    long_about,
    args_conflicts_with_subcommands = true
)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Files or folders to read (folders recursively). `-` or nothing: standard input.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Report format.
    #[arg(short = 'f', long, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,

    #[command(flatten)]
    pub view: ViewFlags,

    /// Show the rotations of one secret (its ARN, or its name with or without the random
    /// suffix) or of one version token, step by step: each invocation's start, duration,
    /// retries, timeout and the line that failed.
    #[arg(long, value_name = "SECRET|TOKEN")]
    pub timeline: Option<String>,

    #[command(flatten)]
    pub stdin: StdinFlags,

    /// Print nothing on stdout: the exit status says what was found.
    #[arg(short = 'q', long)]
    pub quiet: bool,

    /// Exit 1 only when a diagnosis is at least this severe (exit 0 when all are less severe).
    /// Inputs that could not be read still make the status 2 (see --skip-unreadable).
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub fail_on: Option<Severity>,

    /// Decode every input as this shape instead of detecting it.
    #[arg(long, value_name = "SHAPE", value_parser = parse_format)]
    pub input_format: Option<Format>,

    /// Add rule files from DIR (*.toml, recursively); a symptom or cause with the id of a built-in
    /// one replaces it.
    #[arg(long, value_name = "DIR")]
    pub rules: Option<PathBuf>,

    /// When to colour the human report.
    #[arg(long, value_enum, default_value_t = ColorWhen::Auto, value_name = "WHEN")]
    pub color: ColorWhen,

    /// Only read records at or after this time: an instant (2024-05-01T12:00:00Z), a date
    /// (2024-05-01, UTC), epoch seconds, or a duration before now (90m, 6h, 2d, 1w). Records
    /// without a timestamp are placed by the last one before them.
    #[arg(long, value_name = "WHEN", value_parser = parse_when)]
    pub since: Option<EpochMs>,

    /// Only read records before this time (same forms as --since).
    #[arg(long, value_name = "WHEN", value_parser = parse_when)]
    pub until: Option<EpochMs>,

    #[command(flatten)]
    pub walk: WalkFlags,

    /// Report inputs that cannot be read (or only in part) on stderr, but let the exit status
    /// say only whether failures were diagnosed. Still 2 when no input at all could be read.
    #[arg(long)]
    pub skip_unreadable: bool,

    /// Never show the progress bar (it is shown on stderr only when stderr is a terminal and the
    /// run lasts more than a second).
    #[arg(long)]
    pub no_progress: bool,

    /// Worker threads (default: one per core).
    #[arg(short = 'j', long, value_name = "N")]
    pub threads: Option<usize>,

    #[command(flatten)]
    pub list: ListFlags,

    /// Test the rules (with --rules DIR, yours) on a sample FILE: which patterns each line hits,
    /// and how every candidate cause of every symptom scored (the evidence that held, z,
    /// confidence).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["timeline", "paths"])]
    pub test: Option<PathBuf>,

    /// Print a man page or a shell completion script, generated from these options, then exit.
    #[arg(long, value_enum, value_name = "KIND")]
    pub generate: Option<Generate>,
}

/// Which view of the diagnoses the human and markdown reports show (default: the summary per
/// secret when there are more than 5 diagnoses, else the detail), and which rotations the JSON
/// reports list.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct ViewFlags {
    /// Show one screen per secret: its status now, last success and failure, top cause.
    #[arg(long, conflicts_with = "detail")]
    pub summary: bool,

    /// Show every diagnosis in full (cause, evidence, fix), however many.
    #[arg(long)]
    pub detail: bool,

    /// List every rotation in the JSON and ndjson reports (by default only those that did not
    /// succeed; the counts and the summary per secret always cover every one).
    #[arg(long)]
    pub all_rotations: bool,
}

impl ViewFlags {
    pub fn view(self) -> crate::report::View {
        use crate::report::View;
        match (self.summary, self.detail) {
            (true, _) => View::Summary,
            (_, true) => View::Detail,
            _ => View::Auto,
        }
    }
}

/// What `--generate` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Generate {
    /// The man page (roff), for `man -l -` or a `man1` folder.
    Man,
    CompleteBash,
    CompleteZsh,
    CompleteFish,
    CompletePowershell,
    CompleteElvish,
}

/// How standard input is read.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct StdinFlags {
    /// Follow standard input live (`aws logs tail --follow GROUP | rotdiag --live`): print each
    /// rotation's diagnosis as soon as a step fails, a line when one succeeds, and the full
    /// report when the input ends or on Ctrl-C / SIGTERM. A pipe that stays open is followed
    /// live without it.
    #[arg(long, conflicts_with_all = ["test", "timeline"])]
    pub live: bool,
}

/// How folders (and archives) are walked.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct WalkFlags {
    /// Read hidden files and folders (names starting with `.`) in folder walks and archives.
    #[arg(long)]
    pub hidden: bool,

    /// Follow symbolic links in folder walks (paths named on the command line are always
    /// followed). Each file is still read once, and link loops are reported and skipped.
    #[arg(short = 'L', long)]
    pub follow: bool,
}

/// What to list instead of reading logs.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct ListFlags {
    /// List the symptoms and causes of the rule set, then exit.
    #[arg(long)]
    pub list_rules: bool,

    /// Print every literal the rules look for, one per line (for `rg -F -f`), then exit.
    #[arg(long)]
    pub list_literals: bool,
}

/// What rotdiag does besides diagnosing. A file named like a subcommand is read as `./NAME`.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print a query that finds failed rotations where the logs live (CloudWatch Logs Insights,
    /// Athena over S3 exports), so that only those logs are downloaded and diagnosed.
    #[command(subcommand)]
    Query(query::QueryCommand),

    /// Merge partial JSON or ndjson reports (of some log groups each, made with --all-rotations)
    /// into the report one run over all their inputs would have made. Reads the REPORT files in
    /// order (none or `-`: standard input, concatenated reports or ndjson). Refuses reports of
    /// another schema_version, rule set or --since/--until/--input-format. Exit status as a run
    /// over the inputs would give.
    Merge(MergeArgs),

    /// Explain a cause: what it means, how rotdiag tells it apart from its neighbours, the fix,
    /// the references, and the real messages (from the message catalog) behind it.
    Explain {
        /// The cause's id (`rotdiag --list-rules` lists them).
        #[arg(value_name = "CAUSE")]
        cause: String,

        /// Add rule files from DIR, as for a run.
        #[arg(long, value_name = "DIR")]
        rules: Option<PathBuf>,
    },
}

/// `rotdiag merge`'s arguments: the reports, and how to show the merged one.
#[derive(clap::Args, Debug)]
pub struct MergeArgs {
    /// Partial reports, in the order a single run would have read their inputs.
    #[arg(value_name = "REPORT")]
    pub reports: Vec<PathBuf>,

    /// Report format.
    #[arg(short = 'f', long, value_enum, default_value_t = OutputFormat::Human)]
    pub format: OutputFormat,

    #[command(flatten)]
    pub view: ViewFlags,

    /// The rules the partial runs were given with --rules DIR (their fingerprint must match).
    #[arg(long, value_name = "DIR")]
    pub rules: Option<PathBuf>,

    /// Print nothing on stdout: the exit status says what was found.
    #[arg(short = 'q', long)]
    pub quiet: bool,

    /// Exit 1 only when a diagnosis is at least this severe.
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub fail_on: Option<Severity>,

    /// Let the exit status say only whether failures were diagnosed, although inputs of the
    /// partial runs could not be read.
    #[arg(long)]
    pub skip_unreadable: bool,

    /// When to colour the human report.
    #[arg(long, value_enum, default_value_t = ColorWhen::Auto, value_name = "WHEN")]
    pub color: ColorWhen,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    Auto,
    Always,
    Never,
}

fn parse_when(s: &str) -> Result<EpochMs, String> {
    time::parse_bound(s, time::now())
}

fn parse_format(s: &str) -> Result<Format, String> {
    s.parse()
}
