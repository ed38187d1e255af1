//! `--format json`: one document, stable field names (the contract in the README).

use std::io::{self, Write};

use serde::Serialize;

use super::egress::Shown;
use crate::diagnosis::Diagnosis;
use crate::pipeline::InputReport;
use crate::redact::is_control;

#[derive(Serialize)]
struct Document<'a> {
    version: &'static str,
    inputs: &'a [InputReport],
    summary: Summary,
    diagnoses: &'a [Diagnosis],
}

#[derive(Serialize)]
struct Summary {
    #[serde(flatten)]
    read: super::Read,
    invocations: u64,
    rotations: u64,
    failed_rotations: u64,
    succeeded_rotations: u64,
}

pub fn write(shown: &Shown, out: &mut dyn Write) -> io::Result<()> {
    let run = shown.run();
    let doc = Document {
        version: env!("CARGO_PKG_VERSION"),
        inputs: &run.inputs,
        summary: Summary {
            read: super::Read::of(run),
            invocations: run.invocations,
            rotations: run.counts.rotations,
            failed_rotations: run.counts.failed,
            succeeded_rotations: run.counts.succeeded,
        },
        diagnoses: &run.diagnoses,
    };
    let mut ser = serde_json::Serializer::with_formatter(&mut *out, Escaping::default());
    doc.serialize(&mut ser)?;
    out.write_all(b"\n")
}

/// serde_json's pretty printer, also escaping what it leaves raw but a terminal obeys: DEL, the
/// C1 controls (`U+009B` is CSI) and bidirectional overrides, as `\uXXXX` (C0 controls it
/// escapes already). `jq` and every JSON parser read the escapes back to the same text.
#[derive(Default)]
struct Escaping(serde_json::ser::PrettyFormatter<'static>);

impl serde_json::ser::Formatter for Escaping {
    fn write_string_fragment<W: ?Sized + Write>(&mut self, w: &mut W, s: &str) -> io::Result<()> {
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
        let mut ser = serde_json::Serializer::with_formatter(&mut out, Escaping::default());
        ["a\r\x1b[2J\u{9b}\u{7f}\u{202e}é✓"]
            .serialize(&mut ser)
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(!text.chars().any(is_control), "{text:?}");
        assert!(text.contains(r"a\r\u001b[2J\u009b\u007f\u202eé✓"), "{text}");
        let back: Vec<String> = serde_json::from_str(&text).unwrap();
        assert_eq!(back, ["a\r\x1b[2J\u{9b}\u{7f}\u{202e}é✓"]);
    }
}
