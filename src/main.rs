#![warn(clippy::too_many_lines, clippy::struct_excessive_bools)]

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;

use rotdiag::cli::{Args, ColorWhen, Command, OutputFormat};
use rotdiag::input::WalkRules;
use rotdiag::pipeline::{self, Options, Run};
use rotdiag::report::egress::{stderr_lines, warn};
use rotdiag::{report, rules};

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
    if let Some(Command::Query(q)) = &args.command {
        return match rotdiag::cli::query::run(q) {
            Ok(status) => status,
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => FOUND_NOTHING,
            Err(e) => {
                warn(&e.to_string());
                TROUBLE
            }
        };
    }
    if let Some(n) = args.threads
        && let Err(e) = rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global()
    {
        warn(&format!("cannot start {n} threads: {e}"));
        return TROUBLE;
    }
    let rules = match rules::load(args.rules.as_deref()) {
        Ok(r) => r,
        Err(errors) => {
            for e in errors {
                warn(&format!("rule error: {e}"));
            }
            return TROUBLE;
        }
    };
    if args.list.list_literals || args.list.list_rules {
        let mut out = Vec::new();
        if args.list.list_literals {
            for l in rules.matcher.literals() {
                let _ = writeln!(out, "{l}");
            }
        } else {
            let _ = report::list_rules(&rules, &mut out);
        }
        return write_stdout(&out, ColorWhen::Never, 0);
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
    let opts = Options {
        input_format: args.input_format,
        window: rotdiag::time::Window {
            since: args.since,
            until: args.until,
        },
        progress: !args.no_progress,
        walk: WalkRules {
            hidden: args.walk.hidden,
            follow: args.walk.follow,
        },
        engine: if args.reference_engine {
            pipeline::Engine::Reference
        } else {
            pipeline::Engine::ScanFirst
        },
    };
    let run = pipeline::run(&args.paths, &rules, &opts);
    for line in stderr_lines(&run) {
        let _ = writeln!(io::stderr().lock(), "{line}");
    }
    let status = exit_status(&run, args.skip_unreadable);
    let written = match args.format {
        // JSON has no styles to strip: straight to stdout.
        OutputFormat::Json => {
            let mut out = io::BufWriter::with_capacity(1 << 16, io::stdout().lock());
            report::render_to(run, args.format, &mut out).and_then(|()| out.flush())
        }
        OutputFormat::Human => {
            let stream = anstream::AutoStream::new(io::stdout().lock(), color_choice(args.color));
            let mut out = io::BufWriter::with_capacity(1 << 16, stream);
            report::render_to(run, args.format, &mut out).and_then(|()| out.flush())
        }
    };
    write_status(written, status)
}

/// The exit status once the report is written: `status`, unless stdout failed (a closed pipe is
/// no failure: the reader has what it wanted).
fn write_status(written: io::Result<()>, status: u8) -> u8 {
    match written {
        Ok(()) => status,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => status,
        Err(e) => {
            warn(&format!("cannot write the report: {e}"));
            TROUBLE
        }
    }
}

fn color_choice(color: ColorWhen) -> anstream::ColorChoice {
    match color {
        ColorWhen::Always => anstream::ColorChoice::Always,
        ColorWhen::Never => anstream::ColorChoice::Never,
        ColorWhen::Auto => anstream::ColorChoice::Auto,
    }
}

/// The exit status of a run, and what stderr must say about it.
fn exit_status(run: &Run, skip_unreadable: bool) -> u8 {
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
    if diagnosed { DIAGNOSED } else { FOUND_NOTHING }
}

/// Writes the report to stdout (through anstream for colour). When stdout is closed early
/// (`rotdiag … | head -1`), the run's status stands: a reader that stopped reading must not turn
/// "failures found" into "healthy".
fn write_stdout(bytes: &[u8], color: ColorWhen, status: u8) -> u8 {
    let mut out = anstream::AutoStream::new(io::stdout().lock(), color_choice(color));
    write_status(out.write_all(bytes).and_then(|()| out.flush()), status)
}
