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
use serde_json::Value;

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

/// [`same`] on `file` and on its bytes `data` on stdin, with `threads` workers, as JSON.
fn same_file_and_stdin(label: &str, threads: &str, file: &str, data: &[u8]) {
    let args = ["-j", threads, "-f", "json"];
    same(
        &format!("{label} file"),
        None,
        &[&args[..], &[file]].concat(),
        None,
    );
    same(&format!("{label} stdin"), None, &args, Some(data));
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
                same_file_and_stdin(&label, threads, &file, &data);
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

/// JSON written the ways real pages differ from the generator's, to read the hand reader of
/// pages (`format::events_json::scan`) against serde_json: compact and tab-indented CRLF pages,
/// messages with every JSON escape (`\uXXXX` in both cases, surrogate pairs, `\/`) and
/// non-ASCII text, and pages the reader must give up on (float timestamps, an event with more
/// keys, stray shell text between pages, a truncated last page). As a file and on stdin, with one
/// worker and with two.
#[test]
fn json_pages_written_every_way_give_the_same_reports() {
    let (data, _) = rotdiag_gen::generate_vec(&Config::new(Format::EventsJson, 2 << 20, 11));
    // The generator's events in pages of 400, as `--page-size 400` would give them.
    let mut events = Vec::new();
    for page in serde_json::Deserializer::from_slice(&data).into_iter::<Value>() {
        if let Value::Array(evs) = page.unwrap()["events"].take() {
            events.extend(evs);
        }
    }
    let pages: Vec<Value> = events
        .chunks(400)
        .enumerate()
        .map(|(i, evs)| {
            serde_json::json!({
                "events": evs,
                "searchedLogStreams": [],
                "nextToken": format!("Bxkq6kVGFtq2y_MoigeqscPOdhXVbhiVtLoAmXb5jCr{i}"),
            })
        })
        .collect();
    assert!(pages.len() > 8, "{} pages", pages.len());
    let dir = tempfile::tempdir().unwrap();
    for variant in 0..4 {
        let mut text = String::new();
        for (i, page) in pages.iter().enumerate() {
            let mut page = page.clone();
            decorate(&mut page, i, variant);
            let style = match variant {
                0 => Style::compact(),
                1 => Style::escaped(),
                _ => Style::tabs(),
            };
            write_value(&mut text, &page, &style, 0);
            text.push_str(style.newline);
            if variant == 3 && i % 3 == 1 {
                text.push_str("$ aws logs filter-log-events --log-group-name /aws/lambda/x\n");
            }
        }
        let mut text = text.into_bytes();
        if variant == 3 {
            // Inside a page, maybe inside a character.
            text.truncate(text.len() - text.len() / 7);
        }
        let file = write(dir.path(), &format!("pages-{variant}.json"), &text);
        for threads in ["1", "2"] {
            let label = format!("variant {variant} -j {threads}");
            same_file_and_stdin(&label, threads, &file, &text);
        }
    }
}

/// Non-ASCII text in some messages; in variant 2 and up, some events the reader gives up on.
fn decorate(page: &mut Value, page_no: usize, variant: usize) {
    let Some(events) = page.get_mut("events").and_then(Value::as_array_mut) else {
        return;
    };
    for (i, ev) in events.iter_mut().enumerate() {
        if i % 7 == 3
            && let Some(Value::String(m)) = ev.get_mut("message")
        {
            m.push_str(" caf\u{e9} \u{65e5}\u{672c} \u{1F600} tab\there \"quoted\" C:\\path/x");
        }
        if variant >= 2 && page_no.is_multiple_of(2) && i == 5 {
            if let Some(t) = ev.get("timestamp").and_then(Value::as_i64) {
                ev["timestamp"] = serde_json::json!(t as f64);
            }
            if page_no.is_multiple_of(4) {
                ev["level"] = Value::from("INFO");
            }
        }
    }
}

/// How [`write_value`] lays JSON out.
struct Style {
    indent: &'static str,
    newline: &'static str,
    /// Every character of a string but letters, digits and spaces as a `\u` escape (`/` as
    /// `\/`), non-BMP ones as surrogate pairs.
    escape_all: bool,
}

impl Style {
    fn compact() -> Style {
        Style {
            indent: "",
            newline: "\n",
            escape_all: false,
        }
    }
    fn escaped() -> Style {
        Style {
            indent: "  ",
            newline: "\n",
            escape_all: true,
        }
    }
    fn tabs() -> Style {
        Style {
            indent: "\t",
            newline: "\r\n",
            escape_all: false,
        }
    }
}

fn write_value(out: &mut String, v: &Value, style: &Style, depth: usize) {
    let pad = |out: &mut String, depth: usize| {
        if !style.indent.is_empty() {
            out.push_str(style.newline);
            out.push_str(&style.indent.repeat(depth));
        }
    };
    match v {
        Value::String(s) => write_string(out, s, style.escape_all),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                pad(out, depth + 1);
                write_value(out, item, style, depth + 1);
            }
            if !items.is_empty() {
                pad(out, depth);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                pad(out, depth + 1);
                write_string(out, k, false);
                out.push_str(if style.indent.is_empty() { ":" } else { ": " });
                write_value(out, item, style, depth + 1);
            }
            if !map.is_empty() {
                pad(out, depth);
            }
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}

fn write_string(out: &mut String, s: &str, escape_all: bool) {
    if !escape_all {
        out.push_str(&serde_json::to_string(s).unwrap());
        return;
    }
    out.push('"');
    for (i, c) in s.chars().enumerate() {
        match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | ' ' => out.push(c),
            '/' => out.push_str("\\/"),
            c => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    if i % 2 == 0 {
                        out.push_str(&format!("\\u{u:04x}"));
                    } else {
                        out.push_str(&format!("\\u{u:04X}"));
                    }
                }
            }
        }
    }
    out.push('"');
}
