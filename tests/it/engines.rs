//! The safety net of the scan-first engine: for every input, its report (stdout, in JSON and in
//! human form), its stderr and its exit status are those of the engine it replaces
//! (`--reference-engine`), byte for byte. Inputs: generated data of every shape the generator
//! writes (several seeds and sizes, as a file and on stdin, with one thread and with several), a
//! folder of gzipped exports and one of mixed shapes, and every corpus case as its `expect.toml`
//! runs it. This test goes with the reference engine.

use std::path::Path;
use std::process::Output;

use rotdiag::format::Format;
use rotdiag_gen::{Config, SHAPES};

use crate::corpus::{cases, load};
use crate::util::run::{rotdiag_in, write};

/// Runs both engines with `args` (in `dir`, with `stdin`) and asserts the same outputs.
fn same(label: &str, dir: Option<&Path>, args: &[&str], stdin: Option<&[u8]>) {
    let new = rotdiag_in(dir, args, stdin);
    let mut reference_args = vec!["--reference-engine"];
    reference_args.extend_from_slice(args);
    let old = rotdiag_in(dir, &reference_args, stdin);
    assert_same(label, &new, &old);
}

fn assert_same(label: &str, new: &Output, old: &Output) {
    assert_eq!(new.status.code(), old.status.code(), "{label}: exit status");
    assert!(
        new.stderr == old.stderr,
        "{label}: stderr\n--- scan-first\n{}\n--- reference\n{}",
        String::from_utf8_lossy(&new.stderr),
        String::from_utf8_lossy(&old.stderr)
    );
    if new.stdout != old.stdout {
        let (n, o) = (
            String::from_utf8_lossy(&new.stdout),
            String::from_utf8_lossy(&old.stdout),
        );
        let first = n
            .lines()
            .zip(o.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(n.lines().count().min(o.lines().count()));
        panic!(
            "{label}: reports differ from line {}\n--- scan-first\n{}\n--- reference\n{}",
            first + 1,
            n.lines().skip(first).take(8).collect::<Vec<_>>().join("\n"),
            o.lines().skip(first).take(8).collect::<Vec<_>>().join("\n"),
        );
    }
}

/// Every generated shape, at sizes that fit in one block and span many windows, as a file and
/// on stdin, with one worker and with four.
#[test]
fn generated_shapes_give_the_same_reports() {
    for shape in SHAPES {
        for (size, seed) in [(48 << 10, 3), (3 << 20, 29)] {
            let (data, _) = rotdiag_gen::generate_vec(&Config::new(shape, size, seed));
            let dir = tempfile::tempdir().unwrap();
            let file = write(dir.path(), "input", &data);
            for threads in ["1", "4"] {
                let label = format!("{shape} {size} B seed {seed} -j {threads}");
                same(
                    &format!("{label} file"),
                    None,
                    &["-j", threads, "-f", "json", &file],
                    None,
                );
                same(
                    &format!("{label} stdin"),
                    None,
                    &["-j", threads, "-f", "json"],
                    Some(&data),
                );
            }
            same(
                &format!("{shape} {size} B seed {seed} human"),
                None,
                &["--color", "never", &file],
                None,
            );
        }
    }
}

/// Generated data with a time window: records are filtered by the timestamps of lines that hold
/// no rule literal too.
#[test]
fn a_time_window_gives_the_same_reports() {
    let (data, s) = rotdiag_gen::generate_vec(&Config::new(Format::S3Export, 2 << 20, 5));
    let mid = (s.first_event + s.last_event) / 2;
    let since = rotdiag::time::format_iso(s.first_event + (mid - s.first_event) / 3);
    let until = rotdiag::time::format_iso(mid);
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "input", &data);
    let args = ["-f", "json", "--since", &since, "--until", &until];
    let mut with_file = args.to_vec();
    with_file.push(&file);
    same("window file", None, &with_file, None);
    same("window stdin", None, &args, Some(&data));
}

/// A folder of gzipped S3 exports (rotations spread over files), and one of every shape.
#[test]
fn folders_give_the_same_reports() {
    let gz = tempfile::tempdir().unwrap();
    let cfg = Config::new(Format::S3Export, 3 << 20, 17);
    rotdiag_gen::generate_folder(&cfg, gz.path(), 24, true).unwrap();
    let gz_path = gz.path().to_str().unwrap();
    for threads in ["1", "2"] {
        same(
            &format!("gzip folder -j {threads}"),
            None,
            &["-j", threads, "-f", "json", gz_path],
            None,
        );
    }
    let mixed = tempfile::tempdir().unwrap();
    for (i, shape) in SHAPES.into_iter().enumerate() {
        let (data, _) = rotdiag_gen::generate_vec(&Config::new(shape, 256 << 10, 40 + i as u64));
        write(mixed.path(), &format!("{i}-{}", shape.name()), &data);
    }
    same(
        "mixed folder",
        None,
        &["-f", "json", mixed.path().to_str().unwrap()],
        None,
    );
}

/// Every corpus case, run as its `expect.toml` says, in JSON and in human form.
#[test]
fn the_corpus_gives_the_same_reports() {
    for case in cases() {
        let exp = load(&case);
        let stdin = exp
            .stdin
            .as_ref()
            .map(|f| std::fs::read(case.join(f)).expect("stdin file"));
        for format in ["json", "human"] {
            let mut args = vec!["--format", format, "--color", "never"];
            args.extend(exp.args.iter().map(String::as_str));
            args.extend(exp.inputs.iter().map(String::as_str));
            same(
                &format!("{} ({format})", case.display()),
                Some(&case),
                &args,
                Some(stdin.as_deref().unwrap_or_default()),
            );
        }
    }
}
