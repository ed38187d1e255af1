//! `--format json`: one document, stable field names (the contract is
//! `schema/report.schema.json`, its version [`SCHEMA_VERSION`]).
//!
//! Beside the diagnoses, the document carries every rotation (`rotations`) and the summary per
//! secret (`secrets`) so scripts need not rebuild them, and what a merge of partial reports needs
//! to give what one run over all the inputs would have (README, "JSON report"): each diagnosis'
//! `subject` (with `cause`, the key diagnoses are merged by) and `representative` (the unrounded
//! confidence and place that choose which occurrence is shown), the inputs in order, the
//! rotations by token (every one with `--all-rotations`), and the `settings` the results depend
//! on (the rule set's fingerprint, `--since`, `--until`, `--input-format`): `rotdiag merge`
//! (`crate::merge`) reads them back.

use std::io::{self, Write};

use rayon::prelude::*;
use serde::Serialize;

use super::egress::Shown;
use super::secrets::summarize;
use super::{Layout, Page, SCHEMA_VERSION};
use crate::lambda::rotation::{RotationList, RotationStatus, RotationView};
use crate::redact::is_control;
use crate::summary::Totals;
use crate::time::format_iso;

/// The document's `summary` object (and the ndjson summary record's).
#[derive(Serialize)]
pub(crate) struct Counts {
    #[serde(flatten)]
    read: Totals,
    invocations: u64,
    rotations: u64,
    failed_rotations: u64,
    succeeded_rotations: u64,
    diagnoses: usize,
    secrets: usize,
}

impl Counts {
    /// The counts of `shown`, with `diagnoses` diagnoses and `secrets` secrets.
    pub(crate) fn of(shown: &Shown, diagnoses: usize, secrets: usize) -> Counts {
        let run = shown.run();
        let summary = &run.summary;
        Counts {
            read: summary.totals(),
            invocations: summary.invocations,
            rotations: summary.rotations.rotations,
            failed_rotations: summary.rotations.failed,
            succeeded_rotations: summary.rotations.succeeded,
            diagnoses,
            secrets,
        }
    }
}

/// One rotation, as the reports show it.
#[derive(Serialize)]
pub(crate) struct RotationOut<'a> {
    secret: Option<&'a str>,
    token: Option<String>,
    function: Option<&'a str>,
    status: &'static str,
    cause: Option<&'a str>,
    start: Option<String>,
    steps: Vec<StepOut>,
}

#[derive(Serialize)]
struct StepOut {
    step: Option<&'static str>,
    inferred: bool,
    request_id: Option<String>,
    start: Option<String>,
    duration_ms: Option<f64>,
    outcome: &'static str,
}

impl<'a> RotationOut<'a> {
    pub(crate) fn of(r: &RotationView<'a>) -> RotationOut<'a> {
        RotationOut {
            secret: r.secret,
            token: r.token.map(|t| t.to_string()),
            function: r.function,
            status: r.status.name(),
            cause: r.cause,
            start: r.start().map(format_iso),
            steps: r
                .steps
                .iter()
                .map(|s| StepOut {
                    step: s.step().map(|s| s.name()),
                    inferred: s.inferred(),
                    request_id: s.request_id().map(|r| r.to_string()),
                    start: s.start().map(format_iso),
                    duration_ms: s.duration_ms(),
                    outcome: s.outcome().name(),
                })
                .collect(),
        }
    }
}

/// The rotations a report lists: those that did not succeed, or all of them.
#[derive(Clone, Copy)]
pub(crate) struct Rotations<'a> {
    list: &'a RotationList,
    all: bool,
}

impl<'a> Rotations<'a> {
    pub(crate) fn of(run: &'a super::Run, layout: &Layout) -> Rotations<'a> {
        Rotations {
            list: &run.rotations,
            all: layout.all_rotations,
        }
    }

    pub(crate) fn iter(self) -> impl Iterator<Item = RotationView<'a>> {
        self.list
            .iter()
            .filter(move |r| self.all || r.status != RotationStatus::Succeeded)
    }
}

/// The document, written field by field in the order of the schema, pretty, as one serde
/// serialization of it would be ([`Fields`]: `{`, each field on a line of its own indented two
/// spaces, `}`).
///
/// Why not one serialization: for a folder of 94,187 S3 export objects the document is 120 MB
/// (an entry per input, 14,230 diagnoses, 17,809 rotations), and serializing it was most of what
/// is left on one thread after the scan. The long arrays are rendered on the pool a window at a
/// time ([`Fields::array`]), each element pretty on its own and indented to its depth, and
/// written in order; the short fields are serialized one at a time the same way
/// ([`Fields::field`]).
///
/// The summary per secret ([`summarize`], one thread's walk over every rotation) is made on the
/// pool while the inputs are rendered and written: the `summary` after them is the first field
/// that needs it, and made before them it paused the pool (about 45 ms of a folder of 94,187
/// S3 export objects).
pub(crate) fn write(page: Page, out: &mut dyn Write) -> io::Result<()> {
    let run = page.shown.run();
    let rotations = Chunked(Rotations::of(run, page.layout).iter());
    let inputs = std::iter::once(&run.summary.inputs[..]);
    let mut doc = Fields {
        out,
        before_key: b"{\n",
    };
    let mut secrets = Vec::new();
    rayon::in_place_scope(|s| {
        s.spawn(|_| secrets = summarize(page.shown, &page.diagnoses));
        doc.field("schema_version", &SCHEMA_VERSION)?;
        doc.field("version", env!("CARGO_PKG_VERSION"))?;
        doc.field("settings", &run.summary.settings)?;
        doc.array("inputs", inputs, INPUTS_AT_ONCE, pretty)
    })?;
    let counts = Counts::of(page.shown, page.diagnoses.len(), secrets.len());
    doc.field("summary", &counts)?;
    doc.array(
        "diagnoses",
        page.diagnoses.chunks(),
        DIAGNOSES_AT_ONCE,
        pretty,
    )?;
    doc.array(
        "secrets",
        std::iter::once(&secrets[..]),
        SECRETS_AT_ONCE,
        pretty,
    )?;
    doc.array("rotations", rotations, ROTATIONS_AT_ONCE, one_line)?;
    if let Some(t) = &run.timeline {
        doc.field("timeline", t)?;
    }
    if let Some(t) = &run.trace {
        doc.field("trace", t)?;
    }
    doc.out.write_all(b"\n}\n")
}

/// Elements of an array handed to a thread of the pool at once.
const INPUTS_AT_ONCE: usize = 64;
const DIAGNOSES_AT_ONCE: usize = 8;
const ROTATIONS_AT_ONCE: usize = 32;
/// A summary per secret: the rotations of each, listed (a folder of 94,223 S3 export objects
/// has 2,004 secrets, 1.6 MB of text; written as one field, on the report's thread with the
/// pool idle, it was the largest piece of the report left there).
const SECRETS_AT_ONCE: usize = 16;
/// Pieces of `*_AT_ONCE` elements rendered before they are written (about 0.5 MB of text).
const PIECES: usize = 16;
/// Rotation views gathered from the list at a time, to be rendered on the pool.
const ARRAY_CHUNK: usize = 4096;

/// The document's object as it is written: `{` and each field on a line of its own, indented
/// two spaces.
struct Fields<'w> {
    out: &'w mut dyn Write,
    /// What goes before the next key: `{` and a line break before the first, a comma after.
    before_key: &'static [u8],
}

impl Fields<'_> {
    /// `"name": `, after `{` or the field before.
    fn key(&mut self, name: &str) -> io::Result<()> {
        let sep = std::mem::replace(&mut self.before_key, b",\n");
        self.out.write_all(sep)?;
        write!(self.out, "  \"{name}\": ")
    }

    /// A field, its value pretty at the document's first depth.
    fn field<T: Serialize + ?Sized>(&mut self, name: &str, value: &T) -> io::Result<()> {
        self.key(name)?;
        let mut text = Vec::new();
        pretty(value, &mut text, &mut Vec::new(), 1)?;
        self.out.write_all(&text)
    }

    /// A field whose value is an array (its elements at depth 2), as serde_json writes it pretty:
    /// `[]` when empty, else each element on a line of its own and `]` on the next. The elements
    /// come in chunks, each rendered on the pool `at_once` elements to a thread, then written
    /// in order.
    fn array<T: Sync, C: AsRef<[T]> + Send>(
        &mut self,
        name: &str,
        chunks: impl Iterator<Item = C>,
        at_once: usize,
        render: Render<T>,
    ) -> io::Result<()> {
        self.key(name)?;
        self.out.write_all(b"[")?;
        let mut parts_written = 0usize;
        rayon::in_place_scope(|scope| {
            for chunk in chunks {
                // A window of the chunk at a time: what is rendered but not written yet stays
                // at about half a megabyte (a chunk of 2,048 diagnoses is 9 MB of text).
                for window in chunk.as_ref().chunks(at_once * PIECES) {
                    let parts = render_window(window, at_once, render)?;
                    for part in parts.iter().filter(|p| !p.is_empty()) {
                        // The first element follows `[` with no comma.
                        let skip = usize::from(parts_written == 0);
                        self.out.write_all(&part[skip..])?;
                        parts_written += 1;
                    }
                }
                drop_aside(scope, chunk);
            }
            io::Result::Ok(())
        })?;
        if parts_written > 0 {
            self.out.write_all(b"\n  ")?;
        }
        self.out.write_all(b"]")
    }
}

/// The elements of `window` rendered on the pool, `at_once` to a part, the parts in order.
fn render_window<T: Sync>(
    window: &[T],
    at_once: usize,
    render: Render<T>,
) -> io::Result<Vec<Vec<u8>>> {
    window
        .par_chunks(at_once)
        .map(|items| {
            let (mut text, mut scratch) = (Vec::new(), Vec::new());
            for item in items {
                text.extend_from_slice(b",\n    ");
                render(item, &mut text, &mut scratch, 2)?;
            }
            Ok(text)
        })
        .collect()
}

/// Frees a chunk that was written on the pool while the next one is made: freeing a chunk of
/// 2,048 diagnoses took the report's thread about 3.5 M instructions with the pool idle (50 M
/// for the 14,230 of a folder of 94,223 S3 export objects). With one thread it is freed here:
/// the pool's one worker renders the next chunk, and chunks waiting to be freed would pile up.
fn drop_aside<'s, C: Send + 's>(scope: &rayon::Scope<'s>, chunk: C) {
    if rayon::current_num_threads() > 1 {
        scope.spawn(move |_| drop(chunk));
    }
}

/// `value` pretty, as it would be `depth` levels down in a pretty document: pretty on its own,
/// every line after the first indented two spaces a level (a JSON string holds no raw line
/// break, so every one is the formatter's). `scratch` is reused between calls.
fn pretty<T: Serialize + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
    scratch: &mut Vec<u8>,
    depth: usize,
) -> io::Result<()> {
    scratch.clear();
    value.serialize(&mut serde_json::Serializer::with_formatter(
        &mut *scratch,
        Pretty::default(),
    ))?;
    let mut lines = scratch.split(|&b| b == b'\n');
    out.extend_from_slice(lines.next().unwrap_or_default());
    for line in lines {
        out.push(b'\n');
        out.extend(std::iter::repeat_n(b' ', 2 * depth));
        out.extend_from_slice(line);
    }
    Ok(())
}

/// A rotation, compact on a line of its own inside the pretty document (a month of logs holds
/// 150,000 of them).
fn one_line(
    view: &RotationView<'_>,
    out: &mut Vec<u8>,
    _: &mut Vec<u8>,
    _: usize,
) -> io::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(out, Compact::default());
    RotationOut::of(view).serialize(&mut ser)?;
    Ok(())
}

/// How [`Fields::array`] renders an element: into `out` (with `scratch` to reuse), at a depth.
type Render<T> = fn(&T, &mut Vec<u8>, &mut Vec<u8>, usize) -> io::Result<()>;

/// An iterator's items gathered [`ARRAY_CHUNK`] at a time (to render them on the pool).
struct Chunked<I>(I);

impl<I: Iterator> Iterator for Chunked<I> {
    type Item = Vec<I::Item>;

    fn next(&mut self) -> Option<Vec<I::Item>> {
        let chunk: Vec<I::Item> = self.0.by_ref().take(ARRAY_CHUNK).collect();
        (!chunk.is_empty()).then_some(chunk)
    }
}

/// serde_json's formatter `F`, also escaping what it leaves raw but a terminal obeys: DEL, the
/// C1 controls (`U+009B` is CSI) and bidirectional overrides, as `\uXXXX` (C0 controls it
/// escapes already). `jq` and every JSON parser read the escapes back to the same text.
#[derive(Default)]
pub(crate) struct Escaping<F>(F);

/// The JSON document's formatter: pretty, escaping what a terminal obeys.
pub(crate) type Pretty = Escaping<serde_json::ser::PrettyFormatter<'static>>;
/// ndjson's: one line per record, escaping the same.
pub(crate) type Compact = Escaping<serde_json::ser::CompactFormatter>;

impl<F: serde_json::ser::Formatter> serde_json::ser::Formatter for Escaping<F> {
    fn write_string_fragment<W: ?Sized + Write>(&mut self, w: &mut W, s: &str) -> io::Result<()> {
        // Printable ASCII holds no control character: written whole. The check is one pass the
        // compiler vectorises; walking the characters of every string of a report of thousands
        // of diagnoses was most of the time spent writing it.
        if s.bytes()
            .fold(true, |ok, b| ok & (b' '..=b'~').contains(&b))
        {
            return w.write_all(s.as_bytes());
        }
        let mut start = 0;
        for (i, c) in s.char_indices() {
            if is_control(c) {
                w.write_all(&s.as_bytes()[start..i])?;
                write!(w, "\\u{:04x}", c as u32)?;
                start = i + c.len_utf8();
            }
        }
        w.write_all(&s.as_bytes()[start..])
    }
    fn begin_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_array(w)
    }
    fn end_array<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array(w)
    }
    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_array_value(w, first)
    }
    fn end_array_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_array_value(w)
    }
    fn begin_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object(w)
    }
    fn end_object<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object(w)
    }
    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        self.0.begin_object_key(w, first)
    }
    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.begin_object_value(w)
    }
    fn end_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        self.0.end_object_value(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_a_terminal_obeys_are_escaped() {
        let mut out = Vec::new();
        let mut ser = serde_json::Serializer::with_formatter(&mut out, Pretty::default());
        ["a\r\x1b[2J\u{9b}\u{7f}\u{202e}é✓"]
            .serialize(&mut ser)
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(!text.chars().any(is_control), "{text:?}");
        assert!(text.contains(r"a\r\u001b[2J\u009b\u007f\u202eé✓"), "{text}");
        let back: Vec<String> = serde_json::from_str(&text).unwrap();
        assert_eq!(back, ["a\r\x1b[2J\u{9b}\u{7f}\u{202e}é✓"]);
    }

    #[test]
    fn printable_ascii_is_written_whole_and_its_edges_are_not() {
        let mut out = Vec::new();
        let mut ser = serde_json::Serializer::with_formatter(&mut out, Compact::default());
        [" plain ~ASCII}", "tilde~\u{7f}", "\u{1f}x"]
            .serialize(&mut ser)
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text, r#"[" plain ~ASCII}","tilde~\u007f","\u001fx"]"#);
    }
}
