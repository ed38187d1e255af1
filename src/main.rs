#![warn(clippy::too_many_lines, clippy::struct_excessive_bools)]

use std::io::{self, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

use rotdiag::cli::{Args, ColorWhen, Command, MergeArgs, OutputFormat, Severity};
use rotdiag::input::WalkRules;
use rotdiag::lambda::rotation::{Keep, Listed, Selector};
use rotdiag::pipeline::{self, Live, LiveSink, Options, Outcome, Run, Stop};
use rotdiag::report::egress::{stderr_lines, warn};
use rotdiag::report::{self, Layout};
use rotdiag::rules::{self, RuleSet};

/// jemalloc, not glibc's malloc. rotdiag allocates on the pool and frees in the serial fold (and
/// the other way round); glibc gives each thread an arena of its own, where memory freed by
/// another thread is not reused, and one shared arena serialises every allocation on its lock.
/// jemalloc keeps a cache per thread in front of its arenas. Measured on 1 GiB of S3-export text,
/// 2 threads (BENCHMARKS.md, "Allocator"): mapped 6.1-6.5 s -> 4.8 s wall, 9.7-10.4 s -> 8.1 s
/// user; `cat FILE | rotdiag` 8.3 s -> 5.1 s wall and 107 -> 91 MB peak RSS with one arena
/// ([`MALLOC_CONF`]).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options, read before `main` (the crate's jemalloc is built with the `_rjem_`
/// prefix; `_RJEM_MALLOC_CONF` in the environment still overrides them). One arena: with the
/// threads' caches in front of it, one arena cost no measurable time on 2 cores, and memory freed
/// on one thread is reused by the other (8 arenas, jemalloc's default for 2 cores: 109.6 MB peak
/// RSS on stdin against 90.6 MB). Not measured with many threads, where the one arena's lock may
/// start to show: `_RJEM_MALLOC_CONF=narenas:N` tries more without a rebuild.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[unsafe(export_name = "_rjem_malloc_conf")]
pub static MALLOC_CONF: &[u8; 10] = b"narenas:1\0";

/// Has jemalloc return to the system the pages it holds freed (in every arena). Called once the
/// inputs are read (`pipeline::Options::release`): the decode buffers, windows and read-ahead just
/// freed would otherwise stay resident up to jemalloc's decay time (10 s), under the rotation
/// list, the ranked diagnoses and the report made next. 1 GiB of S3-export text on stdin: 65.2 ->
/// 48.6 MiB resident at that point (measured for commit 0c1214a).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn release_freed_pages() {
    // MALLCTL_ARENAS_ALL (4096): every arena.
    const PURGE: &[u8] = b"arena.4096.purge\0";
    // SAFETY: a NUL-terminated name of a control that reads and writes nothing, with null
    // pointers and a zero length for its (absent) old and new values, as jemalloc requires.
    let _ = unsafe {
        tikv_jemalloc_sys::mallctl(
            PURGE.as_ptr().cast(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        )
    };
}

/// What the run calls once its inputs are read (see [`release_freed_pages`]).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const RELEASE: Option<fn()> = Some(release_freed_pages);
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
const RELEASE: Option<fn()> = None;

/// Exit statuses, as grep and ripgrep use them.
const FOUND_NOTHING: u8 = 0;
const DIAGNOSED: u8 = 1;
const TROUBLE: u8 = 2;

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let code = if e.use_stderr() { TROUBLE } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    ExitCode::from(run(args))
}

fn run(args: Args) -> u8 {
    if let Some(kind) = args.generate {
        let mut out = Vec::new();
        let _ = rotdiag::cli::generate::write(kind, &mut out);
        return write_stdout(&out, ColorWhen::Never, FOUND_NOTHING);
    }
    match &args.command {
        Some(Command::Query(q)) => return status_of(rotdiag::cli::query::run(q)),
        Some(Command::Merge(m)) => return merge(m),
        Some(Command::Explain { cause, rules }) => {
            return status_of(rotdiag::cli::explain::run(cause, rules.as_deref()));
        }
        None => {}
    }
    if let Some(n) = args.threads
        && let Err(e) = rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global()
    {
        warn(&format!("cannot start {n} threads: {e}"));
        return TROUBLE;
    }
    let Some(rules) = load_rules(args.rules.as_deref()) else {
        return TROUBLE;
    };
    if args.list.list_literals || args.list.list_rules {
        return list(&rules, args.list.list_literals);
    }
    if let (Some(s), Some(u)) = (args.since, args.until)
        && s >= u
    {
        warn(&format!(
            "--since ({}) must be before --until ({})",
            rotdiag::time::format_iso(s),
            rotdiag::time::format_iso(u)
        ));
        return TROUBLE;
    }
    diagnose(&args, &rules)
}

/// The status of a subcommand that printed its own output.
fn status_of(r: io::Result<u8>) -> u8 {
    match r {
        Ok(status) => status,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => FOUND_NOTHING,
        Err(e) => {
            warn(&e.to_string());
            TROUBLE
        }
    }
}

/// `--list-literals`, `--list-rules`.
fn list(rules: &RuleSet, literals: bool) -> u8 {
    let mut out = Vec::new();
    if literals {
        for l in rules.matcher.literals() {
            let _ = writeln!(out, "{l}");
        }
    } else {
        let _ = report::list_rules(rules, &mut out);
    }
    write_stdout(&out, ColorWhen::Never, 0)
}

/// Reads the inputs, diagnoses, reports.
fn diagnose(args: &Args, rules: &RuleSet) -> u8 {
    let paths: Vec<PathBuf> = match &args.test {
        Some(file) => vec![file.clone()],
        None => args.paths.clone(),
    };
    let from_terminal = reads_stdin(&paths) && io::stdin().is_terminal();
    if from_terminal {
        // One Ctrl-D at the start of a line ends the input (the stdin reader stops at the first
        // end of file it sees).
        warn(
            "reading the logs from standard input: paste them, then press Ctrl-D at the start of a line (Ctrl-C cancels)",
        );
    }
    let keep = match (&args.test, &args.timeline) {
        (Some(_), _) => Keep::All,
        (None, Some(t)) => Keep::Matching(Selector::new(t)),
        (None, None) => Keep::Nothing,
    };
    let opts = Options {
        input_format: args.input_format,
        window: rotdiag::time::Window {
            since: args.since,
            until: args.until,
        },
        // Not over what the user is typing.
        progress: !args.no_progress && !from_terminal,
        walk: WalkRules {
            hidden: args.walk.hidden,
            follow: args.walk.follow,
        },
        keep,
        listed: if args.view.all_rotations {
            Listed::All
        } else {
            Listed::Unsucceeded
        },
        release: RELEASE,
    };
    let layout = Layout {
        view: args.view.view(),
        all_rotations: args.view.all_rotations,
        width: terminal_width(),
        roots: roots(&paths),
    };
    let color = if args.format.is_styled() {
        args.color
    } else {
        ColorWhen::Never
    };
    let run = match live_mode(args, &paths) {
        Ok(None) => pipeline::run(&paths, rules, &opts),
        Ok(Some(live)) => {
            let mut printer = Printer {
                format: args.format,
                layout: &layout,
                color,
                quiet: args.quiet,
                apart: true,
            };
            let run = follow(rules, &opts, live, &mut printer);
            if !printer.apart && args.format == report::Format::Human {
                // The full report, apart from what was printed live.
                let _ = writeln!(io::stdout());
            }
            run
        }
        Err(message) => {
            warn(message);
            return TROUBLE;
        }
    };
    let how = Reporting {
        format: args.format,
        color: args.color,
        quiet: args.quiet,
        skip_unreadable: args.skip_unreadable,
        fail_on: args.fail_on,
    };
    report_run(run, &how, &layout)
}

/// How a run (or a merge) is reported, and what makes its exit status.
struct Reporting {
    format: report::Format,
    color: ColorWhen,
    quiet: bool,
    skip_unreadable: bool,
    fail_on: Option<Severity>,
}

/// Says on stderr what could not be read, writes the report, and returns the exit status.
fn report_run(run: Run, how: &Reporting, layout: &Layout) -> u8 {
    for line in stderr_lines(&run) {
        let _ = writeln!(io::stderr().lock(), "{line}");
    }
    let status = exit_status(&run, how.skip_unreadable, how.fail_on);
    if how.quiet {
        return status;
    }
    let write = |out: &mut dyn Write| report::write(run, how.format, layout, out);
    match how.format {
        // Their strings are JSON-escaped (no control byte left to strip): straight to stdout, not
        // through anstream, whose stripping scanned every byte of a report of thousands of
        // diagnoses (4 % of a run's instructions).
        OutputFormat::Json | OutputFormat::Ndjson => write_plain(status, write),
        f if f.is_styled() => write_report(how.color, status, write),
        _ => write_report(ColorWhen::Never, status, write),
    }
}

/// The rule set (and `--rules DIR`), or `None` after saying on stderr what is wrong with it.
fn load_rules(dir: Option<&std::path::Path>) -> Option<RuleSet> {
    match rules::load(dir) {
        Ok(r) => Some(r),
        Err(errors) => {
            for e in errors {
                warn(&format!("rule error: {e}"));
            }
            None
        }
    }
}

/// `rotdiag merge`: the partial reports merged, reported as a run over their inputs would be,
/// with the exit status that run would give.
fn merge(m: &MergeArgs) -> u8 {
    let Some(rules) = load_rules(m.rules.as_deref()) else {
        return TROUBLE;
    };
    let paths: Vec<&std::path::Path> = m.reports.iter().map(PathBuf::as_path).collect();
    let run = match rotdiag::merge::merge(&paths, &rules) {
        Ok(run) => run,
        Err(e) => {
            warn(&e.to_string());
            return TROUBLE;
        }
    };
    let layout = Layout {
        view: m.view.view(),
        all_rotations: m.view.all_rotations,
        width: terminal_width(),
        roots: Vec::new(),
    };
    let how = Reporting {
        format: m.format,
        color: m.color,
        quiet: m.quiet,
        skip_unreadable: m.skip_unreadable,
        fail_on: m.fail_on,
    };
    report_run(run, &how, &layout)
}

/// Whether to follow stdin live: with `--live`, or when stdin is a pipe (it may stay open:
/// `aws logs tail --follow | rotdiag`) and is the only input; not for `--test` or `--timeline`.
fn live_mode(args: &Args, paths: &[PathBuf]) -> Result<Option<Live>, &'static str> {
    let stdin_alone = paths.is_empty() || (paths.len() == 1 && reads_stdin(paths));
    if args.stdin.live && !stdin_alone {
        return Err("--live follows standard input: give it no path (or only -)");
    }
    if args.test.is_some() || args.timeline.is_some() || !stdin_alone {
        return Ok(None);
    }
    if args.stdin.live {
        return Ok(Some(Live::Always));
    }
    Ok(stdin_is_pipe().then_some(Live::Auto))
}

/// Is stdin a pipe or a socket (not a terminal, a file or nothing)?
fn stdin_is_pipe() -> bool {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        use std::os::unix::fs::FileTypeExt;
        let Ok(fd) = io::stdin().as_fd().try_clone_to_owned() else {
            return false;
        };
        std::fs::File::from(fd)
            .metadata()
            .map(|m| m.file_type().is_fifo() || m.file_type().is_socket())
            .unwrap_or(false)
    }
    #[cfg(not(unix))]
    {
        false
    }
}

/// Follows stdin (see `pipeline::follow`) until it ends or a SIGINT or SIGTERM asks to stop,
/// then returns the run of everything read. A second SIGINT ends rotdiag at once (status 130),
/// in case the report itself is what takes too long.
fn follow(rules: &RuleSet, opts: &Options, live: Live, printer: &mut Printer) -> Run {
    use signal_hook::consts::{SIGINT, SIGTERM};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let stop = Arc::new(AtomicBool::new(false));
    let int = Arc::new(AtomicBool::new(false));
    let registered = signal_hook::flag::register_conditional_shutdown(SIGINT, 130, int.clone())
        .and_then(|_| signal_hook::flag::register(SIGINT, int.clone()))
        .and_then(|_| signal_hook::flag::register(SIGINT, stop.clone()))
        .and_then(|_| signal_hook::flag::register(SIGTERM, stop.clone()));
    if let Err(e) = registered {
        warn(&format!(
            "cannot catch SIGINT and SIGTERM ({e}): stopping will print nothing"
        ));
    }
    let (run, why) = pipeline::follow(rules, opts, live, &stop, printer);
    if why == Stop::Stopped {
        let signal = if int.load(Ordering::Relaxed) {
            "SIGINT"
        } else {
            "SIGTERM"
        };
        warn(&format!(
            "stopped by {signal}: the report of what was read so far follows"
        ));
    }
    run
}

/// Prints follow mode's decisions on stdout as they are made.
struct Printer<'a> {
    format: report::Format,
    layout: &'a Layout,
    color: ColorWhen,
    quiet: bool,
    /// What was printed last is set apart by a blank line (a diagnosis is, a success line not).
    apart: bool,
}

impl LiveSink for Printer<'_> {
    fn decided(&mut self, outcome: Outcome, found: Run) {
        if self.quiet {
            return;
        }
        let attempts = match outcome {
            Outcome::Failed => None,
            Outcome::Succeeded { failed_attempts } => Some(failed_attempts),
        };
        self.apart = outcome == Outcome::Failed;
        let (format, layout) = (self.format, self.layout);
        // Errors are those of the final report too: it says them.
        let _ = write_report(self.color, 0, |out| {
            report::live::write(found, attempts, format, layout, out)
        });
    }
}

/// The folders input paths are shown relative to: the folders named, or the folder of the one
/// file named (its inputs are then shown by their names).
fn roots(paths: &[PathBuf]) -> Vec<String> {
    if let [one] = paths
        && one.is_file()
        && let Some(dir) = one.parent().filter(|d| !d.as_os_str().is_empty())
    {
        return vec![dir.display().to_string()];
    }
    paths
        .iter()
        .filter(|p| p.is_dir())
        .map(|p| p.display().to_string())
        .collect()
}

/// Are the logs read from stdin (no path, or `-`)?
fn reads_stdin(paths: &[PathBuf]) -> bool {
    paths.is_empty() || paths.iter().any(|p| p.as_os_str() == "-")
}

/// The columns to fit the human report in: the terminal's when stdout is one, else `COLUMNS`
/// when set, else no limit (a file keeps whole lines).
fn terminal_width() -> Option<usize> {
    if io::stdout().is_terminal() {
        return terminal_size::terminal_size().map(|(w, _)| usize::from(w.0));
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse().ok())
        .filter(|&c: &usize| c > 0)
}

/// The exit status of a run, and what stderr must say about it. With `--fail-on`, only
/// diagnoses at least that severe make it 1; inputs that could not be read make it 2 either way.
fn exit_status(run: &Run, skip_unreadable: bool, fail_on: Option<Severity>) -> u8 {
    let inputs = &run.summary.inputs;
    let failed = inputs.iter().filter(|i| i.state.is_failure()).count();
    let read_any = inputs.iter().any(|i| i.state.was_read());
    let diagnosed = !run.diagnoses.is_empty();
    if !read_any {
        warn("no input could be read");
        return TROUBLE;
    }
    if failed > 0 && !skip_unreadable {
        let found = if diagnosed {
            " although failures were diagnosed in the others"
        } else {
            ""
        };
        warn(&format!(
            "{failed} input{} could not be read in full (see above): exit status 2{found}; --skip-unreadable lets the status follow the diagnoses alone",
            if failed == 1 { "" } else { "s" }
        ));
        return TROUBLE;
    }
    let counts = match fail_on {
        None => diagnosed,
        Some(floor) => run.diagnoses.any_at_least(floor),
    };
    if counts { DIAGNOSED } else { FOUND_NOTHING }
}

/// Writes `bytes` to stdout.
fn write_stdout(bytes: &[u8], color: ColorWhen, status: u8) -> u8 {
    write_report(color, status, |out| out.write_all(bytes))
}

/// Writes to stdout with `write`, buffered, as it is (see [`write_report`] for a closed stdout).
fn write_plain(status: u8, write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> u8 {
    let mut out = io::BufWriter::with_capacity(1 << 16, io::stdout().lock());
    written(write(&mut out).and_then(|()| out.flush()), status)
}

/// Writes to stdout with `write` (through anstream for colour, buffered). When stdout is closed
/// early (`rotdiag … | head -1`), the run's status stands: a reader that stopped reading must
/// not turn "failures found" into "healthy".
fn write_report(
    color: ColorWhen,
    status: u8,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> u8 {
    let choice = match color {
        ColorWhen::Always => anstream::ColorChoice::Always,
        ColorWhen::Never => anstream::ColorChoice::Never,
        ColorWhen::Auto => anstream::ColorChoice::Auto,
    };
    let stream = anstream::AutoStream::new(io::stdout().lock(), choice);
    let mut out = io::BufWriter::with_capacity(1 << 16, stream);
    written(write(&mut out).and_then(|()| out.flush()), status)
}

/// The exit status once the report is written: `status`, unless stdout failed.
fn written(result: io::Result<()>, status: u8) -> u8 {
    match result {
        Ok(()) => status,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => status,
        Err(e) => {
            warn(&format!("cannot write the report: {e}"));
            TROUBLE
        }
    }
}
