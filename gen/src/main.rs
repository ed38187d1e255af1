//! `rotdiag-gen`: deterministic corpus generator for rotdiag's benchmarks and tests.
//!
//! ```text
//! cargo run --release -p rotdiag-gen -- --shape s3-export --size 1GiB --seed 42 --out bench-data/s3.log
//! cargo run --release -p rotdiag-gen -- --shape events-json --size 64MiB --out bench-data/ev.json
//! cargo run --release -p rotdiag-gen -- --shape s3-export --size 1GiB --files 200 --gzip --out bench-data/folder
//! ```
//!
//! Writes realistic CloudWatch Logs of Secrets Manager rotation functions (healthy rotations,
//! retries, every failure cause a function's logs can show) mixed with unrelated API functions,
//! and prints what it wrote on stderr (`key: value` lines: rotations, failed rotations per
//! cause, invocations, events, lines, bytes). Same seed, size and shape: same bytes.
//! See the library (`gen/src/lib.rs`) for the model.

use std::fs::File;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use rotdiag::format::Format;
use rotdiag_gen::{self as synth, Config, parse_shape, parse_size};

const USAGE: &str = "\
usage: rotdiag-gen [--shape SHAPE] [--size 1GiB] [--seed N] [--out FILE|DIR|-]
           [--files N [--gzip]] [--fail-rate PER_MILLE] [--noise PERCENT] [--only CAUSE]
           [--page-events N]

  --shape      s3-export (default): `<ts> <message>` lines of an S3 export task;
               events-json: `aws logs filter-log-events` JSON, pages concatenated;
               also events-text (--output text), tail, tail-short, console, raw
  --size       bytes to write (uncompressed): 64MiB, 1GiB, 500MB, 123456 (default 64MiB)
  --seed       random seed (default 42); same seed + size + shape = same bytes
  --out        output file, `-` for stdout (default), or with --files a folder
  --files N    write a folder instead of one file. s3-export: as CloudWatch exports, one
               export task per log group (36 log groups: 24 rotation functions, 12 others),
               one object per log stream (one execution environment), a stream continuing
               in 000001, 000002, ... after SIZE/N bytes (so N objects or more):
               <out>/exportedlogs/<account>/<region>/aws/lambda/<function>/<taskId>/
               <stream>/000000[.gz], and aws-logs-write-test beside each <taskId>/;
               other shapes: N files of about equal size
  --gzip       gzip each file of --files
  --fail-rate  failing rotations per 1000 rotations (default 100)
  --noise      share of the bytes written by unrelated API functions, % (default 50)
  --only CAUSE every rotation fails with this cause (to inspect one cause's lines)
  --page-events N  events-json: events per page (default 10000, one API page); 0: one page
               of every event, as the CLI writes when it follows nextToken itself
";

fn main() -> ExitCode {
    match real_main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rotdiag-gen: {e}");
            ExitCode::from(2)
        }
    }
}

fn real_main() -> Result<(), String> {
    let mut shape = Format::S3Export;
    let mut size = 64u64 << 20;
    let mut seed = 42u64;
    let mut out: Option<String> = None;
    let mut files: Option<u64> = None;
    let mut gzip = false;
    let mut fail = 100u32;
    let mut noise = 50u32;
    let mut only = None;
    let mut page_events = synth::PAGE_EVENTS;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (a.clone(), None),
        };
        let mut value = |name: &str| -> Result<String, String> {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs a value\n\n{USAGE}"))
        };
        match flag.as_str() {
            "--shape" => shape = parse_shape(&value("--shape")?)?,
            "--size" => size = parse_size(&value("--size")?)?,
            "--seed" => {
                seed = value("--seed")?
                    .parse()
                    .map_err(|_| "--seed takes a number".to_string())?
            }
            "--out" | "-o" => out = Some(value("--out")?),
            "--files" => {
                let n: u64 = value("--files")?
                    .parse()
                    .map_err(|_| "--files takes a number".to_string())?;
                if n == 0 {
                    return Err("--files must be at least 1".into());
                }
                files = Some(n);
            }
            "--gzip" => gzip = true,
            "--fail-rate" => {
                fail = value("--fail-rate")?
                    .parse()
                    .ok()
                    .filter(|n| *n <= 1000)
                    .ok_or("--fail-rate takes a number from 0 to 1000")?
            }
            "--noise" => {
                noise = value("--noise")?
                    .parse()
                    .ok()
                    .filter(|n| *n <= 95)
                    .ok_or("--noise takes a percentage from 0 to 95")?
            }
            "--only" => only = Some(value("--only")?),
            "--page-events" => {
                page_events = value("--page-events")?
                    .parse()
                    .map_err(|_| "--page-events takes a number".to_string())?
            }
            "-h" | "--help" => {
                print!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown argument '{other}'\n\n{USAGE}")),
        }
    }
    if gzip && files.is_none() {
        return Err("--gzip applies to --files folders (pipe a single file through gzip)".into());
    }
    let mut cfg = Config::new(shape, size, seed);
    cfg.fail_per_mille = fail;
    cfg.noise_percent = noise;
    cfg.only = only;
    cfg.page_events = page_events;
    let started = std::time::Instant::now();
    let summary = match (files, out.as_deref()) {
        (Some(n), Some(dir)) if dir != "-" => {
            synth::generate_folder(&cfg, &PathBuf::from(dir), n, gzip)
                .map_err(|e| format!("writing {dir}: {e}"))?
        }
        (Some(_), _) => return Err("--files needs --out DIR".into()),
        (None, None | Some("-")) => {
            let stdout = io::stdout();
            let mut lock = stdout.lock();
            let s = synth::generate(&cfg, &mut lock).map_err(|e| format!("writing stdout: {e}"))?;
            lock.flush().map_err(|e| e.to_string())?;
            s
        }
        (None, Some(path)) => {
            let mut f = File::create(path).map_err(|e| format!("creating {path}: {e}"))?;
            let s = synth::generate(&cfg, &mut f).map_err(|e| format!("writing {path}: {e}"))?;
            f.sync_all().ok();
            s
        }
    };
    eprint!("{}", summary.render());
    eprintln!("elapsed_ms: {}", started.elapsed().as_millis());
    Ok(())
}
