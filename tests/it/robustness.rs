//! Robustness: no input makes detection or a decoder panic, hang or allocate without bound, and
//! the edge cases of `docs/log-formats.md` ("Edge cases") diagnose.
//!
//! * `random_and_mutated_inputs_never_panic`: a deterministic property test (a seeded generator,
//!   so every CI run sees the same inputs) that feeds real corpus files, renderings of every shape,
//!   and their mutations (bit flips, truncations, splices, insertions, random bytes, huge lines,
//!   deep nesting, compression bombs) to `detect` and to every decoder, and classifies what comes
//!   out. It runs in a few seconds; the cargo-fuzz target `fuzz/fuzz_targets/decoders.rs` does the
//!   same without a time limit.
//! * `fuzz_regressions`: inputs that once crashed a decoder.
//! * the `edge_*` tests: BOM, CRLF, UTF-16, NBSP-indented tracebacks, truncated last lines, messages
//!   with TABs and embedded newlines, non-UTF-8 bytes, through the binary.

use std::io::Read;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use rotdiag::format::{Decoder, Format, Record, detect};
use rotdiag::input::{Opened, transport};
use rotdiag::lambda::line::classify;
use serde_json::Value;

use crate::util::gz::{b64, gzip};
use crate::util::render::{Event, Shape, Tail, render_one};
use crate::util::rng::Rng;
use crate::util::run::{json, rotdiag};

/// Every decoder once (the JSON shapes share one).
fn one_format_per_decoder() -> Vec<Format> {
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for f in Format::ALL {
        let key = match f.decoder() {
            Decoder::Lines(l) => format!("lines {}", l.format()),
            Decoder::Structured(d) => format!("structured {:p}", d as *const ()),
        };
        if !seen.contains(&key) {
            seen.push(key);
            out.push(f);
        }
    }
    out
}

/// What decoding one input produced.
#[derive(Default)]
struct Outcome {
    records: usize,
    message_bytes: usize,
}

/// Runs detection, every decoder and classification over `data`.
fn exercise(data: &[u8]) -> Outcome {
    let mut out = Outcome::default();
    let _ = detect::detect(&data[..data.len().min(rotdiag::input::SNIFF_BYTES)]);
    for f in one_format_per_decoder() {
        match f.decoder() {
            Decoder::Lines(lines) => {
                let mut recs: Vec<Record> = Vec::new();
                let n = lines.decode(data, 1, 0, &mut recs);
                assert!(n as usize <= data.len() + 1);
                let mut pos = 0;
                while let Some(b) = lines.boundary(data, pos) {
                    assert!(b >= pos && b < data.len());
                    pos = b + 1;
                }
                for r in &recs {
                    let _ = classify(&r.message);
                    out.message_bytes += r.message.len();
                }
                out.records += recs.len();
            }
            Decoder::Structured(decode) => {
                let mut got = Vec::new();
                let errors = decode(&mut &data[..], &mut |r| {
                    let _ = classify(&r.message);
                    got.push(r);
                });
                assert!(errors.len() <= 32, "{f}: {} errors", errors.len());
                if let Some(from_memory) = f.memory_decoder() {
                    // A mapped file is decoded from memory: the same records and errors for
                    // well-formed input. After a syntax error both resume at the next
                    // document, but serde_json's reader and slice parsers place some faults a
                    // byte apart, so they may resume at different ones (the fuzz target found
                    // such inputs; the ones kept in tests/fuzz-regressions/ must still agree).
                    let mut mem = Vec::new();
                    let mem_errors = from_memory(data, &mut |r| mem.push(r));
                    if errors.is_empty() {
                        assert_eq!(got, mem, "{f}: records differ when decoded from memory");
                        assert_eq!(errors, mem_errors, "{f}: errors differ from memory");
                    }
                }
                out.records += got.len();
                out.message_bytes += got.iter().map(|r| r.message.len()).sum::<usize>();
            }
        }
    }
    // Through the transport layers, as the pipeline reads a stream.
    if let Ok((Opened::Stream(mut r), sample, _)) =
        transport::stream(Box::new(std::io::Cursor::new(data.to_vec())))
    {
        let _ = detect::detect(&sample);
        let mut decoded = Vec::new();
        let _ = r.by_ref().take(16 << 20).read_to_end(&mut decoded);
        let _ = detect::detect(&decoded[..decoded.len().min(rotdiag::input::SNIFF_BYTES)]);
    }
    out
}

fn corpus_files() -> Vec<Vec<u8>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let mut files = Vec::new();
    let mut stack = vec![root];
    while let Some(d) = stack.pop() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&d)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_none_or(|e| e != "toml" && e != "md") {
                let data = std::fs::read(&p).unwrap();
                if data.starts_with(&[0x1f, 0x8b]) {
                    let mut plain = Vec::new();
                    let _ = flate2::read::MultiGzDecoder::new(&data[..])
                        .take(1 << 20)
                        .read_to_end(&mut plain);
                    files.push(plain);
                }
                files.push(data);
            }
        }
    }
    files
}

/// Inputs crafted to hurt: deep nesting, bombs, huge lines, unterminated tokens.
fn hostile() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = vec![
        b"[".repeat(100_000),
        b"{\"events\":".repeat(20_000),
        "{\"events\":[".repeat(200).into_bytes(),
        b"- ".repeat(50_000),
        [&b"events:\n- message: \""[..], &b"x".repeat(256 << 10)].concat(),
        [&b"timestamp,message\n1,\""[..], &b"y".repeat(256 << 10)].concat(),
        b"EVENTS\t".repeat(30_000),
        b"||".repeat(50_000),
        b"RESULTS\t@timestamp\t".repeat(10_000),
        b"2024-05-01T12:00:00.000Z ".repeat(10_000),
        vec![b'\n'; 100_000],
        vec![b'a'; 1 << 20],
    ];
    // A gzip bomb inside base64 inside a subscription envelope (4 MiB of spaces → ~4 KiB).
    let bomb = gzip(&vec![b' '; 4 << 20]);
    v.push(format!("{{\"awslogs\":{{\"data\":\"{}\"}}}}", b64(&bomb)).into_bytes());
    // A payload whose events hold payloads, deeper than the decoder follows.
    let mut nested = serde_json::json!({"messageType": "DATA_MESSAGE", "logGroup": "g", "logStream": "s",
        "logEvents": [{"id": "1", "timestamp": 1, "message": "START RequestId: x"}]});
    for _ in 0..6 {
        nested =
            serde_json::json!({"awslogs": {"data": b64(&gzip(nested.to_string().as_bytes()))}});
    }
    v.push(nested.to_string().into_bytes());
    // Base64 that is not gzip, not JSON, not even base64.
    v.push(b"{\"records\":[{\"data\":\"////\"},{\"data\":\"%%%\"},{\"data\":\"H4sI\"}],\"requestId\":\"x\"}".to_vec());
    // CloudTrail with odd values everywhere.
    v.push(br#"{"Records":[{"eventSource":"secretsmanager.amazonaws.com","eventName":"RotationFailed","requestID":"Rotation-","errorMessage":7,"additionalEventData":{"SecretId":[]}},{"eventSource":"x.amazonaws.com","eventName":"12345678v"}]}"#.to_vec());
    v.push(br#"{"Events":[{"CloudTrailEvent":"{not json"},{"CloudTrailEvent":5}]}"#.to_vec());
    v
}

/// Small renderings of every shape, as seeds for mutation.
fn seeds() -> Vec<Vec<u8>> {
    let rid = "1f4c2b7e-8d7a-4f6e-9c1a-2b3c4d5e6f70";
    let stream = "2024/05/01/[$LATEST]0123456789abcdef0123456789abcdef";
    let payload = format!(
        r#"{{"messageType":"DATA_MESSAGE","owner":"1","logGroup":"/aws/lambda/f","logStream":"{stream}","subscriptionFilters":[],"logEvents":[{{"id":"1","timestamp":1714564800123,"message":"START RequestId: {rid} Version: $LATEST\n"}}]}}"#
    );
    vec![
        format!("2024-05-01T12:00:00.123Z START RequestId: {rid} Version: $LATEST\n\n").into_bytes(),
        format!("2024-05-01T12:00:00.123000+00:00 {stream} START RequestId: {rid} Version: $LATEST\n2024-05-01T12:00:01+00:00 {stream} \n{{\n    \"time\": \"x\"\n}}\n").into_bytes(),
        format!("EVENTS\t1\t1714564800173\t{stream}\tSTART RequestId: {rid}\n\t1714564800123\n").into_bytes(),
        format!("events:\n- eventId: '1'\n  logStreamName: {stream}\n  message: \"START\\tx\\n\"\n  timestamp: 1714564800123\n").into_bytes(),
        format!("----\n|  FilterLogEvents |\n||  eventId | message | timestamp ||\n||  1 |  START RequestId: {rid} |  1714564800123  ||\n").into_bytes(),
        payload.clone().into_bytes(),
        format!("{{\"awslogs\":{{\"data\":\"{}\"}}}}", b64(&gzip(payload.as_bytes()))).into_bytes(),
        format!("Complete\nRESULTS\t@timestamp\t2024-05-01 12:00:00.123\nRESULTS\t@message\tSTART RequestId: {rid}\n").into_bytes(),
        b"@timestamp,@message\n2024-05-01 12:00:00.123,\"START\nx\"\n".to_vec(),
        br#"{"Records":[{"eventSource":"secretsmanager.amazonaws.com","eventName":"RotationFailed","eventTime":"2024-05-01T12:00:00Z","additionalEventData":{"SecretId":"arn:aws:secretsmanager:us-east-1:1:secret:s"}}]}"#.to_vec(),
        br#"{"results":[[{"field":"@timestamp","value":"2024-05-01 12:00:00.123"},{"field":"@message","value":"x"}]],"status":"Complete"}"#.to_vec(),
        format!("{{\"time\":\"2024-05-01T12:00:01.500Z\",\"type\":\"platform.report\",\"record\":{{\"requestId\":\"{rid}\",\"metrics\":{{\"durationMs\":1.0}},\"status\":\"timeout\"}}}}\n").into_bytes(),
    ]
}

fn mutate(rng: &mut Rng, pool: &[Vec<u8>]) -> Vec<u8> {
    let mut d = pool[rng.below(pool.len())].clone();
    if d.len() > 64 << 10 {
        let start = rng.below(d.len() - (64 << 10));
        d = d[start..start + (64 << 10)].to_vec();
    }
    for _ in 0..1 + rng.below(4) {
        match rng.below(7) {
            0 if !d.is_empty() => {
                // bit flips
                for _ in 0..1 + rng.below(8) {
                    let i = rng.below(d.len());
                    d[i] ^= 1 << rng.below(8);
                }
            }
            1 => d.truncate(rng.below(d.len() + 1)),
            2 => {
                // splice with another input
                let other = &pool[rng.below(pool.len())];
                let at = rng.below(d.len() + 1);
                let from = rng.below(other.len() + 1);
                let to = (from + rng.below(4096)).min(other.len());
                d.splice(at..at, other[from..to].iter().copied());
            }
            3 => {
                let at = rng.below(d.len() + 1);
                let n = 1 + rng.below(64);
                let junk = rng.bytes(n);
                d.splice(at..at, junk);
            }
            4 if !d.is_empty() => {
                // delete a range
                let a = rng.below(d.len());
                let b = (a + rng.below(256)).min(d.len());
                d.drain(a..b);
            }
            5 => {
                // interesting bytes
                let tokens: [&[u8]; 12] = [
                    b"\n",
                    b"\r\n",
                    b"\t",
                    b"\"",
                    b"\\",
                    b"{",
                    b"}",
                    b"[",
                    b"]",
                    b"\xc2\xa0",
                    b"\xff",
                    b"\x1b[32m",
                ];
                let at = rng.below(d.len() + 1);
                let t = tokens[rng.below(tokens.len())];
                d.splice(at..at, t.iter().copied());
            }
            _ => {
                // duplicate a chunk
                if !d.is_empty() {
                    let a = rng.below(d.len());
                    let b = (a + rng.below(512)).min(d.len());
                    let chunk = d[a..b].to_vec();
                    d.splice(b..b, chunk);
                }
            }
        }
    }
    d
}

#[test]
fn random_and_mutated_inputs_never_panic() {
    let started = Instant::now();
    let mut pool = corpus_files();
    pool.extend(seeds());
    let mut inputs: Vec<(String, Vec<u8>)> = Vec::new();
    for (i, h) in hostile().into_iter().enumerate() {
        inputs.push((format!("hostile #{i}"), h));
    }
    for (i, s) in seeds().into_iter().enumerate() {
        inputs.push((format!("seed #{i}"), s));
    }
    let mut rng = Rng(0x5EED_1234_ABCD_0001);
    for i in 0..400 {
        let input = if i % 10 == 0 {
            let n = rng.below(2048);
            rng.bytes(n)
        } else {
            mutate(&mut rng, &pool)
        };
        inputs.push((format!("mutation #{i}"), input));
    }
    for (name, data) in &inputs {
        let t = Instant::now();
        let result = catch_unwind(AssertUnwindSafe(|| exercise(data)));
        match result {
            Ok(out) => {
                // Bounded: records and message bytes are bounded by what the input holds
                // (decompressed payloads aside, whose size the hostile inputs bound).
                assert!(
                    out.records <= 14 * (data.len() + 1) + 1_000_000,
                    "{name}: {} records from {} bytes",
                    out.records,
                    data.len()
                );
            }
            Err(_) => {
                let path = std::env::temp_dir().join(format!(
                    "rotdiag-robustness-{}.bin",
                    name.replace([' ', '#'], "")
                ));
                std::fs::write(&path, data).unwrap();
                panic!("{name} panicked; input saved to {}", path.display());
            }
        }
        if std::env::var_os("ROTDIAG_SLOW").is_some() && t.elapsed() > Duration::from_millis(300) {
            eprintln!("{name}: {:?} ({} bytes)", t.elapsed(), data.len());
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "{name}: took {:?}",
            t.elapsed()
        );
    }
    eprintln!(
        "{} inputs through detection and {} decoders in {:?}",
        inputs.len(),
        Format::ALL.len(),
        started.elapsed()
    );
}

/// Inputs that once crashed detection or a decoder: the ones listed here, and every file in
/// `tests/fuzz-regressions/` (crashing inputs the fuzz target wrote to `fuzz/artifacts/`, kept
/// under a name that says what they broke).
#[test]
fn fuzz_regressions() {
    let cases: &[&[u8]] = &[
        b"",
        // A `tail --format json` header (`<ts> <stream> `) as the last line, no newline: the
        // message pointed past the end of the input (property test and fuzz target).
        b"2024-05-01T12:00:00+00:00 2024/05/01/[$LATEST]0123 ",
        b"x\n2024-05-01T12:00:00+00:00 s",
    ];
    for c in cases {
        exercise(c);
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty());
    for f in files {
        let data = std::fs::read(&f).unwrap();
        if catch_unwind(AssertUnwindSafe(|| exercise(&data))).is_err() {
            panic!("{} crashes again", f.display());
        }
        // Inputs where the memory and stream JSON paths once disagreed: they must agree now.
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with("json-") {
            let f = Format::EventsJson;
            let (Decoder::Structured(decode), Some(from_memory)) =
                (f.decoder(), f.memory_decoder())
            else {
                panic!("events-json has no memory decoder");
            };
            let (mut stream, mut memory) = (Vec::new(), Vec::new());
            let stream_errors = decode(&mut &data[..], &mut |r| stream.push(r));
            let memory_errors = from_memory(&data, &mut |r| memory.push(r));
            assert_eq!(stream, memory, "{name}: records differ from memory again");
            assert_eq!(
                stream_errors, memory_errors,
                "{name}: errors differ from memory again"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The edge cases of docs/log-formats.md ("Edge cases"), end to end.

const RID: &str = "4d5e6f7a-8b9c-4d0e-9f1a-2b3c4d5e6f7a";
const ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/app/postgres-a1B2c3";
const STREAM: &str = "2025/04/10/[$LATEST]5f0d2c9a8b7e4c3fa1d2e3f4a5b6c7d8";

/// The events of a setSecret login failure after 15 s; the traceback is indented with NO-BREAK
/// SPACEs like the Python runtime's, REPORT carries TABs.
fn failing_events() -> Vec<Event> {
    let ms = |ts: &str| rotdiag::time::parse_any(ts).unwrap();
    vec![
        Event::new(
            ms("2025-04-10T09:31:22.507Z"),
            STREAM,
            format!("START RequestId: {RID} Version: $LATEST\n"),
        ),
        Event::new(
            ms("2025-04-10T09:31:22.851Z"),
            STREAM,
            format!(
                "[ERROR]\t2025-04-10T09:31:22.851Z\t{RID}\tsetSecret: Unable to log into database with previous, current, or pending secret of secret arn {ARN}\n"
            ),
        ),
        Event::new(
            ms("2025-04-10T09:31:37.852Z"),
            STREAM,
            format!(
                "[ERROR] ValueError: Unable to log into database with previous, current, or pending secret of secret arn {ARN}\nTraceback (most recent call last):\n\u{a0}\u{a0}File \"/var/task/lambda_function.py\", line 77, in lambda_handler\n\u{a0}\u{a0}\u{a0}\u{a0}set_secret(service_client, arn, token)"
            ),
        ),
        Event::new(
            ms("2025-04-10T09:31:37.870Z"),
            STREAM,
            format!("END RequestId: {RID}\n"),
        ),
        Event::new(
            ms("2025-04-10T09:31:37.870Z"),
            STREAM,
            format!(
                "REPORT RequestId: {RID}\tDuration: 15362.41 ms\tBilled Duration: 15363 ms\tMemory Size: 128 MB\tMax Memory Used: 86 MB\t\n"
            ),
        ),
    ]
}

fn rendered(shape: Shape) -> String {
    String::from_utf8(render_one(shape, &failing_events())).unwrap()
}

/// Runs rotdiag on `data` twice in one run: as a file (mapped) and on stdin (streamed).
fn rotdiag_on(data: &[u8]) -> (Output, Value) {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("input.log");
    std::fs::write(&p, data).unwrap();
    let out = rotdiag(&["-f", "json", p.to_str().unwrap(), "-"], Some(data));
    let v = json(&out);
    (out, v)
}

/// Both the file and stdin copies must diagnose the login failure, in the expected shape.
fn assert_diagnosed(label: &str, data: &[u8], format: &str) -> Value {
    let (out, v) = rotdiag_on(data);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{label}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let d = v["diagnoses"].as_array().unwrap();
    assert_eq!(d.len(), 1, "{label}: {d:?}");
    assert_eq!(d[0]["secret"], ARN, "{label}");
    assert_eq!(d[0]["step"], "setSecret", "{label}");
    assert_eq!(
        d[0]["occurrences"], 2,
        "{label}: file and stdin are two occurrences"
    );
    for input in v["inputs"].as_array().unwrap() {
        let f = input["format"].as_str().unwrap();
        assert!(
            f.starts_with(format),
            "{label}: detected {f}, want {format}"
        );
        assert!(
            input["errors"].as_array().unwrap().is_empty(),
            "{label}: {input}"
        );
    }
    v
}

fn shapes() -> Vec<(&'static str, String, &'static str)> {
    vec![
        (
            "s3-export",
            rendered(Shape::S3Export { gz: false }),
            "s3-export",
        ),
        ("tail", rendered(Shape::Tail(Tail::Detailed)), "tail"),
        (
            "events-json",
            rendered(Shape::FilterLogEvents),
            "events-json",
        ),
        (
            "events-text",
            rendered(Shape::FilterLogEventsText),
            "events-text",
        ),
    ]
}

#[test]
fn edge_byte_order_mark() {
    for (label, text, format) in shapes() {
        let mut data = b"\xEF\xBB\xBF".to_vec();
        data.extend_from_slice(text.as_bytes());
        assert_diagnosed(&format!("BOM {label}"), &data, format);
    }
}

#[test]
fn edge_crlf_line_endings() {
    for (label, text, format) in shapes() {
        let data = text.replace('\n', "\r\n");
        let v = assert_diagnosed(&format!("CRLF {label}"), data.as_bytes(), format);
        for e in v["diagnoses"][0]["evidence"].as_array().unwrap() {
            let t = e["text"].as_str().unwrap();
            // Line-oriented shapes keep the CR inside multi-line messages (the decoder borrows the
            // message from the input); no line of evidence may end with one.
            assert!(!t.ends_with('\r'), "{label}: {e}");
            if !matches!(label, "s3-export" | "tail") {
                assert!(!t.contains('\r'), "{label}: {e}");
            }
        }
    }
}

#[test]
fn edge_utf16_both_byte_orders() {
    for (label, text, format) in shapes() {
        let mut le = vec![0xff, 0xfe];
        le.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        assert_diagnosed(&format!("UTF-16LE {label}"), &le, format);
        let mut be = vec![0xfe, 0xff];
        be.extend(text.encode_utf16().flat_map(u16::to_be_bytes));
        assert_diagnosed(&format!("UTF-16BE {label}"), &be, format);
    }
}

#[test]
fn edge_nbsp_indented_traceback_stays_in_its_record() {
    for format in [Format::S3Export, Format::Tail] {
        let text = if format == Format::S3Export {
            rendered(Shape::S3Export { gz: false })
        } else {
            rendered(Shape::Tail(Tail::Detailed))
        };
        let Decoder::Lines(d) = format.decoder() else {
            panic!()
        };
        let mut recs = Vec::new();
        d.decode(text.as_bytes(), 1, 0, &mut recs);
        assert_eq!(recs.len(), 5, "{format}");
        let tb = String::from_utf8_lossy(&recs[2].message);
        assert!(
            tb.ends_with("\u{a0}\u{a0}\u{a0}\u{a0}set_secret(service_client, arn, token)"),
            "{tb}"
        );
    }
}

#[test]
fn edge_truncated_last_line() {
    for (label, text, format) in shapes() {
        // Cut in the middle of the last event (REPORT): the failure before it still diagnoses
        // (the duration is gone, so the cause may differ; the failure and its secret may not).
        let cut = text.rfind("Billed Duration").unwrap();
        let (out, v) = rotdiag_on(&text.as_bytes()[..cut]);
        assert_eq!(out.status.code(), Some(1), "{label}");
        let d = &v["diagnoses"][0];
        assert_eq!(d["secret"], ARN, "{label}");
        assert!(
            v["inputs"][0]["format"]
                .as_str()
                .unwrap()
                .starts_with(format)
        );
    }
}

#[test]
fn edge_tabs_and_newlines_inside_messages_survive_every_container() {
    let message =
        "[ERROR]\t2025-04-10T09:31:22.851Z\tid\tline one\tcol\nline two\n\u{a0}\u{a0}indented\t";
    let ms = 1_744_277_482_851i64;
    let event = [Event::new(ms, STREAM, message)];
    let docs: Vec<(&str, Vec<u8>)> = [
        ("events-json", Shape::FilterLogEvents),
        ("events-text", Shape::FilterLogEventsText),
        ("events-yaml", Shape::Yaml),
        ("csv", Shape::ConsoleCsv),
        ("insights-text", Shape::InsightsText),
    ]
    .into_iter()
    .map(|(name, shape)| (name, render_one(shape, &event)))
    .collect();
    for (name, doc) in docs {
        let f: Format = name.parse().unwrap();
        assert_eq!(detect::detect(&doc), f, "{name}");
        let Decoder::Structured(decode) = f.decoder() else {
            panic!()
        };
        let mut got = Vec::new();
        let errors = decode(&mut &doc[..], &mut |r| got.push(r));
        assert!(errors.is_empty(), "{name}: {errors:?}");
        assert_eq!(got.len(), 1, "{name}");
        let m = String::from_utf8(got[0].message.to_vec()).unwrap();
        // Text outputs lose nothing but what they cannot hold: trailing whitespace of the last
        // field (`--output text`) is kept, as the CLI prints it.
        assert_eq!(m, message, "{name}");
        assert_eq!(got[0].timestamp, Some(ms), "{name}");
    }
}

#[test]
fn edge_non_utf8_bytes() {
    for (label, text, format) in shapes() {
        // cp1252 "é" (0xE9) and a lone continuation byte inside the failing line.
        let mut data = text.into_bytes();
        let at = data.windows(5).position(|w| w == b"Unabl").unwrap();
        data.splice(at..at, [0xE9, 0x80, b' ']);
        assert_diagnosed(&format!("non-UTF-8 {label}"), &data, format);
    }
}
