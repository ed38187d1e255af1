//! Sniffing: which shape is this input in?
//!
//! Detection looks only at content (never at file names), in the order of `docs/log-formats.md`
//! ("Detection"): JSON documents first, by the keys of their first document (subscription payloads
//! and their base64 envelopes, CloudTrail containers, `filter-log-events` / `get-log-events`, Logs
//! Insights); then the CLI's other outputs, which have unmistakable first lines (YAML `events:`,
//! the table's `FilterLogEvents` title, Insights `RESULTS⇥@…`, a CSV header); then the
//! line-oriented shapes by voting: each of the first non-blank lines is attributed to the one shape
//! whose prefix it carries, and the shape with most lines wins. Lines no shape claims (tracebacks,
//! blank lines) do not vote, so a pasted snippet with a single `START` line is still recognised.
//! When nothing votes, the input is raw Lambda text, which accepts anything.
//!
//! Every JSON shape is decoded by the same walker (which recognises each document by its keys), so
//! the JSON name detection reports only says what the input is; it cannot make decoding fail.

use memchr::memmem;

use super::lines::{raw_start, split_lines};
use super::{Format, csv, events_text, insights, table, yaml};
use crate::input::SNIFF_BYTES;
use crate::time;

/// Picks the format of an input from its first bytes (BOM and compression already removed).
pub fn detect(sample: &[u8]) -> Format {
    // `--output text` rows that end with their timestamp (`<message>⇥<epoch ms>`) may start with
    // anything, a JSON log record included.
    if events_text::looks_like_trailing_rows(sample) {
        return Format::EventsText;
    }
    let trimmed = trim_start(sample);
    match trimmed.first() {
        Some(b'{') => return json_shape(trimmed),
        Some(b'[') => {
            let after = trim_start(&trimmed[1..]);
            if matches!(
                after.first(),
                Some(b'"') | Some(b'{') | Some(b']') | Some(b'[')
            ) {
                return Format::EventsJson;
            }
        }
        _ => {}
    }
    if yaml::looks_like_yaml(sample) {
        return Format::EventsYaml;
    }
    if table::looks_like_table(sample) {
        return Format::EventsTable;
    }
    if insights::looks_like_text(sample) {
        return Format::InsightsText;
    }
    let first_lines = split_lines(sample)
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .take(3);
    for line in first_lines {
        if memchr::memchr(b',', line).is_some()
            && memmem::find(line, b"message").is_some()
            && csv::is_header(line)
        {
            return Format::Csv;
        }
    }
    vote(sample)
}

/// Which JSON shape a document starting at `s` is, from the keys in its first bytes. Keys are
/// matched with their quotes, so JSON escaped inside a message string (`\"eventName\"`) never
/// matches.
fn json_shape(s: &[u8]) -> Format {
    let head = &s[..s.len().min(SNIFF_BYTES)];
    let has = |k: &str| memmem::find(head, k.as_bytes()).is_some();
    if (has("\"messageType\"") && has("\"logEvents\"")) || has("\"awslogs\"") {
        return Format::Subscription;
    }
    if has("\"Records\"")
        && (has("\"kinesis\"") || has("\"SequenceNumber\"") || has("\"PartitionKey\""))
    {
        return Format::Subscription;
    }
    if has("\"records\"")
        && has("\"data\"")
        && (has("\"recordId\"") || has("\"requestId\"") || has("\"invocationId\""))
    {
        return Format::Subscription;
    }
    if has("\"Records\"") && has("\"eventSource\"") {
        return Format::CloudTrail;
    }
    if has("\"CloudTrailEvent\"") || (has("\"detail-type\"") && has("\"detail\"")) {
        return Format::CloudTrail;
    }
    if has("\"eventVersion\"") || (has("\"eventSource\"") && has("\"eventName\"")) {
        return Format::CloudTrail;
    }
    if looks_like_events_document(head) {
        return Format::EventsJson;
    }
    if has("\"results\"") && (has("\"field\"") || has("\"status\"")) {
        return Format::InsightsJson;
    }
    // One CloudWatch event object per line (`jq -c '.events[]'`).
    if has("\"message\"")
        && (has("\"ingestionTime\"") || has("\"logStreamName\"") || has("\"eventId\""))
    {
        return Format::EventsJson;
    }
    // `--query 'events[].message' --output text` of a function with the JSON log format: the CLI
    // joins the messages with TABs, and only those that end in `\n` end a line.
    if tab_joined(head) {
        return Format::EventsJson;
    }
    // JSON lines: Lambda JSON-format records, one per line.
    Format::Raw
}

/// Are JSON documents joined by TABs here: a line that starts with a TAB and a `{`, or a TAB
/// right after a top-level `}` (outside any string)? JSON lines never have either.
fn tab_joined(head: &[u8]) -> bool {
    split_lines(head).any(|line| {
        if line.starts_with(b"\t{") {
            return true;
        }
        let mut depth = 0u32;
        let mut in_string = false;
        let mut escaped = false;
        for (i, &b) in line.iter().enumerate() {
            match b {
                _ if escaped => escaped = false,
                b'\\' if in_string => escaped = true,
                b'"' => in_string = !in_string,
                _ if in_string => {}
                b'{' | b'[' => depth += 1,
                b'}' | b']' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 && line[i + 1..].starts_with(b"\t{") {
                        return true;
                    }
                }
                _ => {}
            }
        }
        false
    })
}

fn looks_like_events_document(s: &[u8]) -> bool {
    memmem::find(s, b"\"events\"").is_some()
        && (memmem::find(s, b"\"message\"").is_some()
            || memmem::find(s, b"\"events\": []").is_some()
            || memmem::find(s, b"\"events\":[]").is_some())
}

/// Lines that vote at most.
const MAX_VOTES: usize = 200;

/// Has `f` won the vote already: more votes than any other shape would have if every one of the
/// `left` votes still to come went to it? Then the lines after cannot change the result (most
/// inputs are of one shape throughout, so this halves the lines voting).
fn decided(votes: &[usize], f: Format, left: usize) -> bool {
    let lead = votes[f as usize];
    votes
        .iter()
        .enumerate()
        .all(|(g, &v)| g == f as usize || v + left < lead)
}

fn vote(sample: &[u8]) -> Format {
    let mut votes = [0usize; Format::ALL.len()];
    let mut counted = 0;
    // The lines the vote reads: the sample's, 400 at most. Once the leader is ahead by more than
    // the lines left, it has won: an S3 export object of 11 KiB (70 lines) is decided after 36
    // of them rather than read to its end (detection was a tenth of the instructions of a run
    // over a folder of such objects, one per log stream).
    let lines = (memchr::memchr_iter(b'\n', sample).count() + 1).min(400);
    for (seen, line) in split_lines(sample).take(400).enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            continue;
        }
        if let Some(f) = line_shape(line) {
            votes[f as usize] += 1;
            counted += 1;
            let left = (MAX_VOTES - counted).min(lines - seen - 1);
            if counted >= MAX_VOTES || decided(&votes, f, left) {
                break;
            }
        }
    }
    // Ties resolve towards the more specific shape (earlier in this list).
    let order = [
        Format::EventsText,
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
pub(crate) fn line_shape(line: &[u8]) -> Option<Format> {
    if events_text::is_row_start(line) {
        return Some(Format::EventsText);
    }
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
                if crate::aws::RequestId::parse_prefix(after).is_some() {
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
    fn structured_shapes_are_recognised_by_their_keys_and_first_lines() {
        let stream = "2024/05/01/[$LATEST]0123456789abcdef0123456789abcdef";
        let cases: Vec<(String, Format)> = vec![
            (r#"{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"g","logStream":"s","logEvents":[]}"#.into(), Format::Subscription),
            (r#"{"awslogs":{"data":"H4sIAAAAAAAAAHWPwQqCQBCGX0Xm7EFtK"}}"#.into(), Format::Subscription),
            (r#"{"Records":[{"kinesis":{"partitionKey":"p","kinesisSchemaVersion":"1.0","data":"H4sI","sequenceNumber":"1"},"eventSource":"aws:kinesis","eventVersion":"1.0"}]}"#.into(), Format::Subscription),
            (r#"{"Records":[{"SequenceNumber":"1","Data":"H4sI","PartitionKey":"p"}],"NextShardIterator":"x"}"#.into(), Format::Subscription),
            (r#"{"invocationId":"i","records":[{"recordId":"r","data":"H4sI"}]}"#.into(), Format::Subscription),
            ("{\n  \"Records\": [\n    {\n      \"eventVersion\": \"1.08\",\n      \"eventSource\": \"secretsmanager.amazonaws.com\"".into(), Format::CloudTrail),
            (r#"{"version":"0","id":"x","detail-type":"AWS Service Event via CloudTrail","source":"aws.secretsmanager","detail":{}}"#.into(), Format::CloudTrail),
            (r#"{"eventVersion":"1.08","eventSource":"secretsmanager.amazonaws.com","eventName":"RotationFailed"}"#.into(), Format::CloudTrail),
            (r#"{"Events":[{"EventId":"1","CloudTrailEvent":"{}"}]}"#.into(), Format::CloudTrail),
            ("{\n    \"results\": [\n        [\n            {\n                \"field\": \"@timestamp\",".into(), Format::InsightsJson),
            (r#"{"logStreamName":"s","timestamp":1,"message":"m","ingestionTime":2,"eventId":"3"}"#.into(), Format::EventsJson),
            // An events document whose messages hold CloudTrail JSON (escaped) stays events-json.
            (r#"{"events":[{"logStreamName":"s","timestamp":1,"message":"{\"eventVersion\":\"1.08\",\"eventSource\":\"kms.amazonaws.com\",\"eventName\":\"Decrypt\"}"}]}"#.into(), Format::EventsJson),
            (r#"[[{"field":"@message","value":"x"}]]"#.into(), Format::EventsJson),
            (format!("events:\n- eventId: '1'\n  logStreamName: {stream}\n"), Format::EventsYaml),
            ("NextToken: eyJ4IjoxfQ==\nevents:\n- eventId: '1'\n".into(), Format::EventsYaml),
            (format!("- events:\n  - eventId: '1'\n    logStreamName: {stream}\n"), Format::EventsYaml),
            ("-----\n|   FilterLogEvents   |\n+-----+\n".into(), Format::EventsTable),
            ("Complete\nRESULTS\t@timestamp\t2024-05-01 12:00:01.000\n".into(), Format::InsightsText),
            (format!("EVENTS\t1\t1714564800050\t{stream}\tINIT_START x\n\t1714564800000\n"), Format::EventsText),
            ("b/1\tf/2\nEVENTS\t1714564800050\tSTART RequestId: x\n\t1714564800000\n".into(), Format::EventsText),
            (format!("1714564800123\t{stream}\tSTART RequestId: x\n\n1714564800456\t{stream}\tEND\n"), Format::EventsText),
            ("timestamp,message\n1761073090118,\"START RequestId: x\n\"\n".into(), Format::Csv),
            ("/aws/lambda/x: \n\ntimestamp,message\n1761073090118,x\n".into(), Format::Csv),
            ("@timestamp,@message,@logStream,@log\n2024-05-01 12:00:01.000,x,s,1:/g\n".into(), Format::Csv),
        ];
        for (text, want) in cases {
            assert_eq!(detect(text.as_bytes()), want, "{text}");
        }
    }

    /// What the real AWS CLIs print for the other `--query`, `--output` and service forms
    /// (corpus/shapes-real-cli/).
    #[test]
    fn query_and_service_outputs_of_the_cli() {
        let stream = "2025/04/10/[$LATEST]3db9c7b88382e6481e072f78fa8c352e";
        let cases: Vec<(String, Format)> = vec![
            (format!("- - 1744277457694\n  - {stream}\n  - 'START RequestId: x'\n"), Format::EventsYaml),
            ("- m: 'END RequestId: x'\n  t: 1744277458748\n".into(), Format::EventsYaml),
            ("- \"INIT_START Runtime Version: python:3.12.v48\\tRuntime\"\n".into(), Format::EventsYaml),
            ("results:\n- - field: '@ptr'\n    value: '69'\n".into(), Format::EventsYaml),
            ("MillisBehindLatest: 0\nNextShardIterator: 'x'\nRecords:\n- Data: H4sI\n".into(), Format::EventsYaml),
            ("-----\n|  GetQueryResults  |\n+----+\n".into(), Format::EventsTable),
            ("-----\n|  GetRecords  |\n+----+\n".into(), Format::EventsTable),
            ("0\tcm90YXRp\nMDA=\n\nRECORDS\t1744286400\tH4sIAMCy\tpk\t1\n".into(), Format::EventsText),
            ("START RequestId: x Version: $LATEST\n\t1744277458114\n[INFO]\tx\n\t1744277458143\n".into(), Format::EventsText),
            ("{\"time\":\"2025-04-10T10:00:03.120Z\",\"type\":\"platform.start\"}\t1744279203120\n{\"time\":\"x\"}\t1744279203121\n".into(), Format::EventsText),
            ("{\"time\":\"2025-04-10T10:00:03.120Z\",\"type\":\"platform.start\"}\t{\"timestamp\": \"x\", \"level\": \"INFO\"}\n".into(), Format::EventsJson),
            ("{\"timestamp\": \"x\", \"level\": \"INFO\", \"message\": \"a}\\tb\"}\n\t{\"time\":\"y\",\"type\":\"platform.report\"}\n".into(), Format::EventsJson),
            // Lambda JSON lines stay raw (a TAB inside a string is escaped, never literal).
            ("{\"timestamp\": \"x\", \"level\": \"INFO\", \"message\": \"}\\t{\"}\n{\"time\":\"y\",\"type\":\"platform.report\"}\n".into(), Format::Raw),
            // A pasted list in prose is not YAML.
            ("- START RequestId: x\n".into(), Format::Raw),
            ("- 2025-04-10 09:31 the rotation failed\n".into(), Format::Raw),
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
