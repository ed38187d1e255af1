//! Every way rotdiag reads an input gives the same report. One table of inputs (generated data
//! of every shape the generator writes, at two seeds and sizes; a time window; JSON pages
//! written the ways real pages differ from the generator's; a folder of every shape; every
//! corpus case) and one list of ways to read each ([`WAYS`]): a mapped file (blocks or a
//! document parsed from memory), the same bytes on a pipe (follow mode, or the stream
//! strategies: windows, documents from a reader) and gzipped (a stream through the gzip layer),
//! each with one worker and with four. Every way's stdout (JSON and human), stderr and exit
//! status must be the first way's, byte for byte once the input's name is the same
//! ([`Outcome::of`]). As in the regex crates' tests shared by every engine: one table of inputs,
//! one list of engines, every pair compared.
//!
//! Not repeated here: a folder of gzipped exports with an archive and a corrupt object on 1, 2
//! and 4 threads is `generated::a_folder_reports_the_same_bytes_on_any_thread_count`; one
//! scenario in every shape is `shapes`; a pipe that pauses is `follow`.

use std::process::Output;

use rotdiag::format::Format;
use rotdiag_gen::{Config, SHAPES};
use serde_json::Value;

use crate::corpus::{cases, load};
use crate::util::gz::gzip;
use crate::util::run::{rotdiag_in, write};

/// How the input reaches rotdiag.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Hold {
    /// A file on the command line: mapped.
    File,
    /// The same bytes on stdin, a pipe that ends: followed, or read as a stream.
    Pipe,
    /// The file gzipped: a stream through the gzip layer.
    Gzipped,
}

/// A way to read an input: how it is held, with how many workers.
#[derive(Clone, Copy, Debug)]
struct Way {
    hold: Hold,
    threads: &'static str,
}

const fn way(hold: Hold, threads: &'static str) -> Way {
    Way { hold, threads }
}

/// Every way, the first the one the others are compared with.
const WAYS: [Way; 6] = [
    way(Hold::File, "1"),
    way(Hold::File, "4"),
    way(Hold::Pipe, "1"),
    way(Hold::Pipe, "4"),
    way(Hold::Gzipped, "1"),
    way(Hold::Gzipped, "4"),
];

/// The ways the human report is compared on (the JSON report says more, on every way). Not a
/// pipe: one that stays quiet for follow mode's `GO_LIVE_AFTER` (2 s) is followed live, and the
/// human report then prints a line for each rotation as it closes before the report, by design;
/// a loaded machine can stall the test's writer that long (at 500 ms it did, in CI). The JSON report
/// prints nothing live, so pipes are compared in JSON.
const HUMAN_WAYS: [Way; 3] = [
    way(Hold::File, "1"),
    way(Hold::File, "4"),
    way(Hold::Gzipped, "4"),
];

/// The input's file name (in a folder of its own), and its name gzipped: names no report holds
/// but as the input's name.
const FILE: &str = "strategy-input";
const GZIPPED: &str = "strategy-input.gz";
/// The input's name each way, as it is made the same in what the runs print.
const NAMES: [(&str, &str); 3] = [(GZIPPED, "INPUT"), (FILE, "INPUT"), ("<stdin>", "INPUT")];

/// One input of the table: its bytes and the arguments it is run with.
struct Input {
    label: String,
    data: Vec<u8>,
    args: Vec<String>,
}

impl Input {
    fn new(label: String, data: Vec<u8>) -> Input {
        Input {
            label,
            data,
            args: Vec::new(),
        }
    }

    /// Runs every way in `ways` with `--format format` and asserts the same outcome.
    fn check(&self, format: &str, ways: &[Way]) {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), FILE, &self.data);
        write(dir.path(), GZIPPED, &gzip(&self.data));
        let run = |w: Way| {
            let (path, stdin) = match w.hold {
                Hold::File => (Some(FILE), None),
                Hold::Pipe => (None, Some(&self.data[..])),
                Hold::Gzipped => (Some(GZIPPED), None),
            };
            let mut args = vec!["-j", w.threads, "--format", format, "--color", "never"];
            args.extend(self.args.iter().map(String::as_str));
            args.extend(path);
            let out = rotdiag_in(Some(dir.path()), &args, stdin);
            Outcome::of(&out, &NAMES, w.hold)
        };
        let first = run(ways[0]);
        for &w in &ways[1..] {
            first.assert_same(&run(w), &format!("{} {format}", self.label), ways[0], w);
        }
    }

    /// [`Input::check`] on every way in JSON, and on [`HUMAN_WAYS`] in the human report.
    fn check_all(&self) {
        self.check("json", &WAYS);
        self.check("human", &HUMAN_WAYS);
    }
}

/// What a run printed, with the input's name made the same whichever way it was read.
struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Outcome {
    /// `out` with each `(name, as)` of `names` replaced, and, in a JSON report of an input the
    /// test gzipped (`hold`), that gzip layer left out of each input's `transport` (the one thing
    /// that says how the input was held).
    fn of(out: &Output, names: &[(&str, &str)], hold: Hold) -> Outcome {
        let neutral = |bytes: &[u8]| {
            let mut s = String::from_utf8_lossy(bytes).into_owned();
            for (name, with) in names {
                s = s.replace(name, with);
            }
            s
        };
        let mut stdout = neutral(&out.stdout);
        if let Ok(mut v) = serde_json::from_str::<Value>(&stdout) {
            for input in v["inputs"].as_array_mut().into_iter().flatten() {
                if let Some(layers) = input["transport"].as_array_mut()
                    && hold == Hold::Gzipped
                {
                    outermost_gzip_off(layers);
                }
            }
            stdout = serde_json::to_string_pretty(&v).unwrap();
        }
        Outcome {
            code: out.status.code(),
            stdout,
            stderr: neutral(&out.stderr),
        }
    }

    fn assert_same(&self, other: &Outcome, label: &str, a: Way, b: Way) {
        let label = format!("{label}: {a:?} and {b:?}");
        assert_eq!(self.code, other.code, "{label}: exit status");
        assert!(
            self.stderr == other.stderr,
            "{label}: stderr\n--- {a:?}\n{}\n--- {b:?}\n{}",
            self.stderr,
            other.stderr
        );
        if self.stdout != other.stdout {
            let (x, y) = (&self.stdout, &other.stdout);
            let first = (x.lines().zip(y.lines()))
                .position(|(p, q)| p != q)
                .unwrap_or(x.lines().count().min(y.lines().count()));
            let from = |s: &str| s.lines().skip(first).take(8).collect::<Vec<_>>().join("\n");
            panic!(
                "{label}: reports differ from line {}\n--- {a:?}\n{}\n--- {b:?}\n{}",
                first + 1,
                from(x),
                from(y),
            );
        }
    }
}

/// Takes the outermost gzip layer off `layers` (outermost last): `gzip` goes, `gzip x2` (an input
/// that was gzipped already, gzipped again) becomes `gzip`.
fn outermost_gzip_off(layers: &mut Vec<Value>) {
    let Some(at) = layers.iter().rposition(|l| {
        l.as_str()
            .is_some_and(|l| l == "gzip" || l.starts_with("gzip x"))
    }) else {
        return;
    };
    let times = layers[at].as_str().unwrap()["gzip".len()..]
        .trim_start_matches(" x")
        .parse::<u32>()
        .unwrap_or(1);
    match times {
        1 => {
            layers.remove(at);
        }
        2 => layers[at] = "gzip".into(),
        n => layers[at] = format!("gzip x{}", n - 1).into(),
    }
}

/// Every generated shape, at sizes that fit in one block and span many windows.
#[test]
fn generated_shapes_read_every_way_give_the_same_reports() {
    for shape in SHAPES {
        for (size, seed) in [(48 << 10, 3), (3 << 20, 29)] {
            let (data, _) = rotdiag_gen::generate_vec(&Config::new(shape, size, seed));
            Input::new(format!("{shape} {size} B seed {seed}"), data).check_all();
        }
    }
}

/// A time window: records are filtered by the timestamps of lines that hold no rule literal too.
#[test]
fn a_time_window_read_every_way_gives_the_same_reports() {
    let (data, s) = rotdiag_gen::generate_vec(&Config::new(Format::S3Export, 2 << 20, 5));
    let mid = (s.first_event + s.last_event) / 2;
    let since = rotdiag::time::format_iso(s.first_event + (mid - s.first_event) / 3);
    let until = rotdiag::time::format_iso(mid);
    let mut input = Input::new("window".into(), data);
    input.args = vec!["--since".into(), since, "--until".into(), until];
    input.check("json", &WAYS);
}

/// `aws logs tail --color on` text (timestamps and stream names in colour codes), generated and
/// as a terminal capture in the corpus: a file and a gzipped file strip the colours in the
/// transport layer, a pipe in follow mode as it decodes each window; the offsets and the byte
/// count of the input must be of the same (stripped) text.
#[test]
fn coloured_tail_text_read_every_way_gives_the_same_reports() {
    let (data, _) = rotdiag_gen::generate_vec(&Config::new(Format::Tail, 1 << 20, 13));
    Input::new("coloured tail".into(), coloured(&data)).check_all();
    let capture = crate::corpus::corpus_dir()
        .join("network-acl-blocks-https--tail--follow-colour")
        .join("tail-follow.txt");
    let data = std::fs::read(&capture).expect("the corpus capture");
    Input::new(capture.display().to_string(), data).check_all();
}

/// `text` (`aws logs tail` lines) with each line's timestamp in green and stream name in cyan,
/// as `--color on` writes them.
fn coloured(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() * 2);
    for line in text.split_inclusive(|&b| b == b'\n') {
        let mut fields = line.splitn(3, |&b| b == b' ');
        match (fields.next(), fields.next(), fields.next()) {
            (Some(ts), Some(stream), Some(rest)) => {
                for (colour, field) in [(&b"32"[..], ts), (b"36", stream)] {
                    out.extend_from_slice(b"\x1b[");
                    out.extend_from_slice(colour);
                    out.push(b'm');
                    out.extend_from_slice(field);
                    out.extend_from_slice(b"\x1b[0m ");
                }
                out.extend_from_slice(rest);
            }
            _ => out.extend_from_slice(line),
        }
    }
    out
}

/// A folder of every shape, as plain files and gzipped, with one worker and with four.
#[test]
fn a_folder_of_every_shape_read_every_way_gives_the_same_reports() {
    let (plain, gzipped) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    for (i, shape) in SHAPES.into_iter().enumerate() {
        let (data, _) = rotdiag_gen::generate_vec(&Config::new(shape, 256 << 10, 40 + i as u64));
        let name = format!("{i}-{}", shape.name());
        write(plain.path(), &name, &data);
        write(gzipped.path(), &format!("{name}.gz"), &gzip(&data));
    }
    let run = |w: Way| {
        let dir = match w.hold {
            Hold::File => plain.path(),
            _ => gzipped.path(),
        };
        let folder = dir.to_str().unwrap();
        let out = rotdiag_in(None, &["-j", w.threads, "-f", "json", folder], None);
        Outcome::of(&out, &[(".gz\"", "\""), (folder, "FOLDER")], w.hold)
    };
    let ways = [
        way(Hold::File, "1"),
        way(Hold::File, "4"),
        way(Hold::Gzipped, "1"),
        way(Hold::Gzipped, "4"),
    ];
    let first = run(ways[0]);
    for &w in &ways[1..] {
        first.assert_same(&run(w), "mixed folder", ways[0], w);
    }
}

/// Every corpus case, run as its `expect.toml` says, with one worker and with four, in JSON and
/// in human form (how its inputs are held is the case's).
#[test]
fn the_corpus_on_one_worker_and_on_four_gives_the_same_reports() {
    for case in cases() {
        let exp = load(&case);
        let stdin = exp
            .stdin
            .as_ref()
            .map(|f| std::fs::read(case.join(f)).expect("stdin file"));
        for format in ["json", "human"] {
            let run = |threads: &str| {
                let mut args = vec!["-j", threads, "--format", format, "--color", "never"];
                args.extend(exp.args.iter().map(String::as_str));
                args.extend(exp.inputs.iter().map(String::as_str));
                let stdin = Some(stdin.as_deref().unwrap_or_default());
                Outcome::of(&rotdiag_in(Some(&case), &args, stdin), &[], Hold::File)
            };
            let label = format!("{} ({format})", case.display());
            let (one, four) = (way(Hold::File, "1"), way(Hold::File, "4"));
            run("1").assert_same(&run("4"), &label, one, four);
        }
    }
}

/// The ways each corpus case is read in [`the_corpus_read_every_way_gives_the_same_reports`]:
/// the pipe with one worker and four, against the mapped file and the gzip layer (a third of the
/// runs of [`WAYS`] are left out: the corpus is 236 inputs, and one worker against four on a
/// mapped file is already `the_corpus_on_one_worker_and_on_four_gives_the_same_reports`).
const CORPUS_WAYS: [Way; 4] = [
    way(Hold::File, "1"),
    way(Hold::Pipe, "1"),
    way(Hold::Pipe, "4"),
    way(Hold::Gzipped, "4"),
];

/// Every corpus case made of one input file, read every way in JSON: the same bytes mapped, on
/// a pipe and gzipped (real captures, which the generated shapes above are not: real CLI pages,
/// terminal captures, driver and runtime texts).
#[test]
fn the_corpus_read_every_way_gives_the_same_reports() {
    let mut checked = 0;
    for case in cases() {
        let exp = load(&case);
        let [input] = &exp.inputs[..] else { continue };
        let path = case.join(input);
        if exp.stdin.is_some() || path.is_dir() {
            continue;
        }
        let data = std::fs::read(&path).expect("corpus input");
        let mut input = Input::new(case.display().to_string(), data);
        input.args = exp.args.clone();
        input.check("json", &CORPUS_WAYS);
        checked += 1;
    }
    // Most cases are one file: a corpus read another way must not leave this test empty.
    assert!(checked >= 200, "only {checked} corpus cases of one file");
}

/// JSON written the ways real pages differ from the generator's, to read the hand reader of
/// pages (`format::events_json::scan`) from memory, from a stream in windows and through gzip,
/// where it hands documents to serde_json: compact and tab-indented CRLF pages, messages with
/// every JSON escape (`\uXXXX` in both cases, surrogate pairs, `\/`) and non-ASCII text, and
/// pages the reader must give up on (float timestamps, an event with more keys, stray shell text
/// between pages, a truncated last page).
#[test]
fn json_pages_written_every_way_read_every_way_give_the_same_reports() {
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
        Input::new(format!("pages variant {variant}"), text).check("json", &WAYS);
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
