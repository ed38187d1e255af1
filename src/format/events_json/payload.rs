//! Base64 payloads inside JSON (subscription `awslogs.data`, Kinesis and Firehose records): decoded,
//! un-gzipped (up to three layers) and walked like an input of their own, their records placed at
//! the line of the field that held them.

use std::io::{self, BufRead, BufReader};

use base64::Engine as _;
use flate2::read::MultiGzDecoder;

use super::{MAX_NESTING, Node, Origin, Walker, record::record, walk};
use crate::format::Record;

/// Decodes a base64 `data` field (gzip inside, usually) and walks what it holds; its records go
/// where the container's records go.
pub(super) fn nested(node: &mut Node, data: &str, line: u64, offset: u64) {
    let depth = node.origin.map_or(0, |o| o.depth) + 1;
    if depth > MAX_NESTING {
        node.w.error(
            Some(line),
            None,
            "base64 payloads nested too deeply; skipped".into(),
        );
        return;
    }
    let compact: Vec<u8> = data.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    let bytes = match base64::engine::general_purpose::STANDARD_PAD_INDIFFERENT.decode(&compact) {
        Ok(b) => b,
        Err(e) => {
            node.w.error(
                Some(line),
                None,
                format!("a data field is not base64 ({e}); skipped"),
            );
            return;
        }
    };
    drop(compact);
    let origin = Origin {
        line,
        offset,
        depth,
    };
    let mut reader = match peel_gzip(&bytes) {
        Ok(r) => r,
        Err(e) => {
            node.w.error(
                Some(line),
                None,
                format!("a base64 payload does not decompress ({e}); skipped"),
            );
            return;
        }
    };
    let first = match reader.fill_buf() {
        Ok(h) => h.iter().find(|b| !b.is_ascii_whitespace()).copied(),
        Err(_) => None,
    };
    if matches!(first, Some(b'{') | Some(b'[')) {
        let (errors, suppressed) = {
            let w = &mut *node.w;
            let target = &mut *node.target;
            let mut sink = |r: Record<'static>| {
                let r = w.stamp(r);
                target.put(w, r);
            };
            let mut inner = Walker::new(&mut sink, None);
            walk(&mut reader, &mut inner, Some(origin));
            (inner.errors, inner.suppressed)
        };
        for e in errors {
            node.w.problem(e);
        }
        node.w.suppressed += suppressed;
        return;
    }
    // Firehose "message extraction" delivers the messages themselves, one per line.
    let mut line_buf = Vec::new();
    loop {
        line_buf.clear();
        match reader.read_until(b'\n', &mut line_buf) {
            Ok(0) => break,
            Ok(_) => {
                let text = String::from_utf8_lossy(&line_buf);
                let text = text.trim_end_matches(['\n', '\r']);
                if !text.trim().is_empty() {
                    node.emit(record(line, offset, None, None, None, text.to_owned()));
                }
            }
            Err(e) => {
                node.w.error(
                    Some(line),
                    None,
                    format!("a base64 payload does not decompress ({e})"),
                );
                break;
            }
        }
    }
}

/// Unwraps up to three gzip layers (Firehose objects can be compressed twice).
fn peel_gzip(bytes: &[u8]) -> io::Result<Box<dyn BufRead + '_>> {
    let mut r: Box<dyn BufRead + '_> = Box::new(bytes);
    for _ in 0..3 {
        let head = r.fill_buf()?;
        if head.starts_with(&[0x1f, 0x8b]) {
            r = Box::new(BufReader::new(MultiGzDecoder::new(r)));
        } else {
            break;
        }
    }
    Ok(r)
}
