//! Sniffing: which shape is this input in?
//!
//! Detection looks only at content (never at file names), in the order of `log-formats.md` §0:
//! JSON documents first (by their top-level keys), then the line-oriented shapes by voting: each of
//! the first non-blank lines is attributed to the one shape whose prefix it carries, and the shape
//! with most lines wins. Lines no shape claims (tracebacks, blank lines) do not vote, so a pasted
//! snippet with a single `START` line is still recognised. When nothing votes, the input is raw
//! Lambda text, which accepts anything.

use memchr::memmem;

use super::Format;
use super::lines::raw_start;
use crate::time;

/// How many bytes of an input detection looks at.
pub const SNIFF_BYTES: usize = 64 * 1024;

/// Picks the format of an input from its first bytes (BOM and compression already removed).
pub fn detect(sample: &[u8]) -> Format {
    let trimmed = trim_start(sample);
    match trimmed.first() {
        Some(b'{') => {
            if looks_like_events_document(trimmed) {
                return Format::EventsJson;
            }
            // JSON lines: Lambda JSON-format records, one per line.
            return Format::Raw;
        }
        Some(b'[') => {
            let after = trim_start(&trimmed[1..]);
            if matches!(after.first(), Some(b'"') | Some(b'{') | Some(b']')) {
                return Format::EventsJson;
            }
        }
        _ => {}
    }
    vote(sample)
}

fn looks_like_events_document(s: &[u8]) -> bool {
    let head = &s[..s.len().min(SNIFF_BYTES)];
    memmem::find(head, b"\"events\"").is_some()
        && (memmem::find(head, b"\"message\"").is_some()
            || memmem::find(head, b"\"events\": []").is_some()
            || memmem::find(head, b"\"events\":[]").is_some())
}

fn vote(sample: &[u8]) -> Format {
    let mut votes = [0usize; 6];
    let mut counted = 0;
    for line in sample.split(|&b| b == b'\n').take(400) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        if let Some(f) = line_shape(line) {
            votes[f as usize] += 1;
            counted += 1;
            if counted >= 200 {
                break;
            }
        }
    }
    // Ties resolve towards the more specific shape (earlier in this list).
    let order = [
        Format::Tail,
        Format::TailShort,
        Format::Console,
        Format::S3Export,
        Format::Raw,
    ];
    let best = order.iter().copied().max_by_key(|f| {
        (
            votes[*f as usize],
            std::cmp::Reverse(order.iter().position(|o| o == f)),
        )
    });
    match best {
        Some(f) if votes[f as usize] > 0 => f,
        _ => Format::Raw,
    }
}

/// Which shape's record-start prefix `line` carries, if any.
pub fn line_shape(line: &[u8]) -> Option<Format> {
    let lead = line
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    let l = &line[lead..];
    if l.first() == Some(&b'|') {
        return Some(Format::Console);
    }
    if let Some((_, used)) = time::parse_iso_prefix(l) {
        let ts = &l[..used];
        let rest = &l[used..];
        let zone_z = ts.ends_with(b"Z");
        let has_offset = used > 19 && matches!(ts[used - 6], b'+' | b'-');
        let has_fraction = ts.get(19) == Some(&b'.');
        let sep_tab = rest.first() == Some(&b'\t');
        let sep_pipe = rest.starts_with(b" | ") || rest.starts_with(b" |\t");
        if sep_tab || sep_pipe || ts.get(10) == Some(&b' ') || lead > 0 {
            // A Node.js-style raw line is `<ts>\t<request id>\t…`; console copies put a TAB or
            // ` | ` between the timestamp and the message.
            if sep_tab && raw_start(l) {
                return Some(Format::Raw);
            }
            return Some(Format::Console);
        }
        if rest.first() != Some(&b' ') {
            return None;
        }
        if has_offset {
            // `aws logs tail` (detailed / json): `<ts>+00:00 <stream> <message>`.
            return Some(Format::Tail);
        }
        if zone_z {
            if raw_start(l) {
                // `<ts> <request id> Task timed out…` on its own (a raw snippet).
                let after = &rest[1..];
                if crate::lambda::line::RequestId::parse_prefix(after).is_some() {
                    return Some(Format::Raw);
                }
            }
            return Some(Format::S3Export);
        }
        if !has_fraction {
            return Some(Format::TailShort);
        }
        return Some(Format::Console);
    }
    raw_start(l).then_some(Format::Raw)
}

fn trim_start(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|b| b.is_ascii_whitespace()).count();
    &s[n..]
}

#[cfg(test)]
mod tests {
    use super::*;

    const RID: &str = "1f4c2b7e-8d7a-4f6e-9c1a-2b3c4d5e6f70";

    #[test]
    fn each_shape_is_recognised_from_its_first_lines() {
        let cases = [
            (format!("2024-05-01T12:00:00.123Z START RequestId: {RID} Version: $LATEST\n\n2024-05-01T12:00:00.456Z [INFO]\t2024-05-01T12:00:00.456Z\t{RID}\tx\n"), Format::S3Export),
            (format!("2024-05-01T12:00:00.123000+00:00 2024/05/01/[$LATEST]0123 START RequestId: {RID} Version: $LATEST\n"), Format::Tail),
            ("2024-05-01T12:00:00+00:00 2024/05/01/[$LATEST]0123 \n{\n    \"time\": \"x\"\n}\n".to_string(), Format::Tail),
            (format!("2024-05-01T12:00:00 START RequestId: {RID} Version: $LATEST\n2024-05-01T12:00:01 END RequestId: {RID}\n"), Format::TailShort),
            (format!("  | 2024-05-01T12:00:00.123Z | START RequestId: {RID} Version: $LATEST\n"), Format::Console),
            (format!("2024-05-01T12:00:00.123+00:00\tSTART RequestId: {RID} Version: $LATEST\n"), Format::Console),
            (format!("START RequestId: {RID} Version: $LATEST\n[INFO]\t2024-05-01T12:00:00.456Z\t{RID}\tx\n"), Format::Raw),
            ("[ERROR] ValueError: Unable to log into database\nTraceback (most recent call last):\n".to_string(), Format::Raw),
            ("setSecret: Unable to log into database with previous, current, or pending secret".to_string(), Format::Raw),
            ("{\n    \"events\": [\n        {\n            \"logStreamName\": \"s\",\n            \"timestamp\": 1,\n            \"message\": \"m\"\n".to_string(), Format::EventsJson),
            ("[\n    \"START RequestId: x\\n\"\n]".to_string(), Format::EventsJson),
            (format!("{{\"time\":\"2025-05-02T03:15:17.409Z\",\"type\":\"platform.start\",\"record\":{{\"requestId\":\"{RID}\"}}}}\n"), Format::Raw),
            (format!("2024-05-02T03:15:47.439Z {RID} Task timed out after 30.03 seconds\n"), Format::Raw),
        ];
        for (text, want) in cases {
            assert_eq!(detect(text.as_bytes()), want, "{text}");
        }
    }

    #[test]
    fn empty_and_binary_inputs_fall_back_to_raw() {
        assert_eq!(detect(b""), Format::Raw);
        assert_eq!(detect(&[0u8, 159, 146, 150, 1, 2]), Format::Raw);
    }
}
