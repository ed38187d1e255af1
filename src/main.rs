use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;

use rotdiag::cli::{Args, ColorWhen, Command, OutputFormat};
use rotdiag::pipeline::{self, Options};
use rotdiag::{report, rules};

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(args) {
        Ok(code) => ExitCode::from(code),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::from(0),
        Err(e) => {
            eprintln!("rotdiag: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: Args) -> io::Result<u8> {
    if let Some(Command::Query(q)) = &args.command {
        return rotdiag::cli::query::run(q);
    }
    if let Some(n) = args.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build_global()
            .map_err(io::Error::other)?;
    }
    let rules = match rules::load(args.rules.as_deref()) {
        Ok(r) => r,
        Err(errors) => {
            for e in errors {
                eprintln!("rotdiag: rule error: {e}");
            }
            return Ok(2);
        }
    };
    let stdout = io::stdout();
    if args.list_literals {
        let mut out = io::BufWriter::new(stdout.lock());
        for l in rules.matcher.literals() {
            writeln!(out, "{l}")?;
        }
        out.flush()?;
        return Ok(0);
    }
    if args.list_rules {
        let mut out = io::BufWriter::new(stdout.lock());
        rotdiag::report::list_rules(&rules, &mut out)?;
        out.flush()?;
        return Ok(0);
    }

    if let (Some(s), Some(u)) = (args.since, args.until)
        && s >= u
    {
        eprintln!(
            "rotdiag: --since ({}) must be before --until ({})",
            rotdiag::time::format_iso(s),
            rotdiag::time::format_iso(u)
        );
        return Ok(2);
    }
    let opts = Options {
        input_format: args.input_format,
        window: rotdiag::time::Window {
            since: args.since,
            until: args.until,
        },
        progress: !args.no_progress,
    };
    let run = pipeline::run(&args.paths, &rules, &opts);

    for input in &run.inputs {
        for e in &input.errors {
            let at = match (e.line, e.offset) {
                (Some(l), _) => format!(":{l}"),
                (None, Some(o)) => format!(" (byte {o})"),
                _ => String::new(),
            };
            eprintln!("rotdiag: {}{at}: {}", input.source, e.message);
        }
    }
    for input in run.inputs.iter().filter(|i| i.untimed > 0) {
        eprintln!(
            "rotdiag: {}: {} record(s) carry no timestamp and follow none that does: kept, as --since/--until cannot place them",
            input.source, input.untimed
        );
    }
    let readable = run.inputs.iter().any(|i| i.readable);

    match args.format {
        OutputFormat::Json => {
            let mut out = io::BufWriter::new(stdout.lock());
            report::json::write(&run, &mut out)?;
            out.flush()?;
        }
        OutputFormat::Human => {
            let choice = match args.color {
                ColorWhen::Always => anstream::ColorChoice::Always,
                ColorWhen::Never => anstream::ColorChoice::Never,
                ColorWhen::Auto => anstream::ColorChoice::Auto,
            };
            // Render, then write once through anstream, which keeps or strips the styles.
            let mut buf = Vec::new();
            report::human::write(&run, &mut buf)?;
            let mut out = anstream::AutoStream::new(stdout.lock(), choice);
            out.write_all(&buf)?;
            out.flush()?;
        }
    }
    if !readable {
        return Ok(2);
    }
    Ok(if run.diagnoses.is_empty() { 0 } else { 1 })
}
