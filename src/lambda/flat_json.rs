//! A hand-written reader for the JSON log format records the Lambda runtime writes, which are
//! flat: a few string and number members, one or two nested objects (`record`, `metrics`).
//!
//! Why by hand: one record in eight of a rotation function's logs is such a record, and reading
//! them with `serde_json` into the record struct was the largest single cost of classification
//! (about 8 % of all the instructions of a run on S3-export text, measured with callgrind): the
//! derived deserializer matches every key against a dozen field names through a visitor and
//! validates twice. This reader walks the bytes once and knows the few keys by their length and
//! bytes.
//!
//! It gives up (returns `None`, and the caller parses with `serde_json`, as before) on anything
//! but the simple case, so that whenever it answers, the answer is the one `serde_json` would
//! have given: a backslash anywhere in the record (escapes), invalid UTF-8, a control byte
//! anywhere (a tab or newline between tokens included: the runtime writes records on one line
//! without them), a key given twice (serde rejects the record), a member of an unexpected type, a
//! `stackTrace`, a number that is not one. Numbers are converted by `serde_json` itself (its
//! float parsing is not always the standard library's, to the last bit). The unit tests check
//! it against `serde_json` on every shape the runtime writes and on their mutations.

use std::borrow::Cow;

use super::json::{JsonRecord, PlatformMetrics, PlatformRecord, RawJson};

/// Reads `m` (a whole message starting with `{`) as a Lambda JSON record, or `None` when only
/// `serde_json` can tell.
#[cfg(test)]
pub(super) fn parse(m: &[u8]) -> Option<JsonRecord<'_>> {
    let mut rec = JsonRecord::default();
    read(m, &mut rec)?;
    Some(rec)
}

/// Reads `m` (a whole message starting with `{`) into `rec` (a default one), or `None` when only
/// `serde_json` can tell (`rec` is then partly filled). Filled in place: the record is a few
/// hundred bytes, and moving it out through the nested `Option`s was four copies a line.
pub(super) fn read<'a>(m: &'a [u8], rec: &mut JsonRecord<'a>) -> Option<()> {
    // One pass that the compiler vectorises: no escape and no control byte anywhere (JSON's
    // whitespace between tokens included: the runtime writes none), so strings are plain slices.
    if m.iter()
        .fold(false, |bad, &b| bad | (b < 0x20) | (b == b'\\'))
    {
        return None;
    }
    let text = std::str::from_utf8(m).ok()?;
    let mut r = Reader {
        s: text,
        at: 0,
        depth: 0,
    };
    let mut seen = Seen::default();
    r.object(|r, key| top_member(r, key, rec, &mut seen))?;
    r.ws();
    (r.at == r.s.len()).then_some(())
}

/// Keys met in one object: a key given twice makes serde reject the record.
#[derive(Default)]
struct Seen(u32);

impl Seen {
    /// Marks field `bit`; `None` when it was already there.
    fn first(&mut self, bit: u32) -> Option<()> {
        let had = self.0 & (1 << bit) != 0;
        self.0 |= 1 << bit;
        (!had).then_some(())
    }
}

fn top_member<'a>(
    r: &mut Reader<'a>,
    key: &'a str,
    rec: &mut JsonRecord<'a>,
    seen: &mut Seen,
) -> Option<()> {
    let slot = match key {
        "time" => (0, &mut rec.time),
        "type" => (1, &mut rec.kind),
        "timestamp" => (2, &mut rec.timestamp),
        "level" => (3, &mut rec.level),
        "log_level" => (4, &mut rec.log_level),
        "requestId" | "AWSRequestId" | "aws_request_id" => (5, &mut rec.request_id),
        "errorType" => (6, &mut rec.error_type),
        "errorMessage" => (7, &mut rec.error_message),
        "record" => {
            seen.first(8)?;
            if r.null() {
                return Some(());
            }
            let p = rec.record.insert(PlatformRecord::default());
            let mut seen = Seen::default();
            return r.object(|r, key| record_member(r, key, p, &mut seen));
        }
        "message" => {
            seen.first(9)?;
            // A string (rendered unquoted) or any other value (rendered as its JSON text),
            // taken as serde takes a `RawValue`: the value's own bytes.
            rec.message = r.nullable(|r| {
                let start = r.at;
                r.skip_value()?;
                Some(RawJson(&r.s[start..r.at]))
            })?;
            return Some(());
        }
        // Any JSON value: left to serde.
        "stackTrace" => return None,
        _ => return r.skip_value(),
    };
    let (bit, field) = slot;
    seen.first(bit)?;
    *field = r.nullable(|r| r.string().map(Cow::Borrowed))?;
    Some(())
}

fn record_member<'a>(
    r: &mut Reader<'a>,
    key: &'a str,
    p: &mut PlatformRecord<'a>,
    seen: &mut Seen,
) -> Option<()> {
    let slot = match key {
        "requestId" => (0, &mut p.request_id),
        "version" => (1, &mut p.version),
        "status" => (2, &mut p.status),
        "errorType" => (3, &mut p.error_type),
        "phase" => (4, &mut p.phase),
        "functionArn" => (5, &mut p.function_arn),
        "functionName" => (6, &mut p.function_name),
        "runtimeVersion" => (7, &mut p.runtime_version),
        "runtimeVersionArn" => (8, &mut p.runtime_version_arn),
        "metrics" => {
            seen.first(9)?;
            if r.null() {
                return Some(());
            }
            let m = p.metrics.insert(PlatformMetrics::default());
            let mut seen = Seen::default();
            return r.object(|r, key| metrics_member(r, key, m, &mut seen));
        }
        _ => return r.skip_value(),
    };
    let (bit, field) = slot;
    seen.first(bit)?;
    *field = r.nullable(|r| r.string().map(Cow::Borrowed))?;
    Some(())
}

fn metrics_member(
    r: &mut Reader,
    key: &str,
    m: &mut PlatformMetrics,
    seen: &mut Seen,
) -> Option<()> {
    match key {
        "durationMs" => float(r, seen, 0, &mut m.duration_ms),
        "billedDurationMs" => float(r, seen, 1, &mut m.billed_ms),
        "initDurationMs" => float(r, seen, 2, &mut m.init_ms),
        "memorySizeMB" => int(r, seen, 3, &mut m.memory_mb),
        "maxMemoryUsedMB" => int(r, seen, 4, &mut m.max_memory_mb),
        _ => r.skip_value(),
    }
}

fn float(r: &mut Reader, seen: &mut Seen, bit: u32, out: &mut Option<f64>) -> Option<()> {
    seen.first(bit)?;
    *out = r.nullable(|r| {
        let n = r.number()?;
        short_decimal(n.as_bytes()).or_else(|| serde_json::from_str(n).ok())
    })?;
    Some(())
}

fn int(r: &mut Reader, seen: &mut Seen, bit: u32, out: &mut Option<u32>) -> Option<()> {
    seen.first(bit)?;
    *out = r.nullable(|r| {
        let n = r.number()?;
        small_uint(n.as_bytes()).or_else(|| serde_json::from_str(n).ok())
    })?;
    Some(())
}

/// A number token as [`read`] takes a `float` member's value, when `short_decimal` reads it
/// (plain unsigned decimals in JSON's grammar: no leading zero before a digit); `None` for any
/// other token, which only the general reader can tell. For readers of a fixed layout
/// (`json::runtime_report`), which must read a number as [`read`] does: one pass over the
/// token, where checking it as a JSON number first (`reference_float`, now the tests') cost 335 instructions
/// a number.
pub(super) fn plain_float(token: &[u8]) -> Option<f64> {
    if token.len() > 1 && token[0] == b'0' && token[1].is_ascii_digit() {
        return None;
    }
    short_decimal(token)
}

/// [`plain_float`] for an `int` member (`small_uint`'s shape, which has no leading zero).
pub(super) fn plain_uint(token: &[u8]) -> Option<u32> {
    small_uint(token)
}

/// [`plain_float`] as [`read`] reaches it: the token checked as one JSON number, then read.
#[cfg(test)]
pub(super) fn reference_float(token: &[u8]) -> Option<f64> {
    short_decimal(whole_number(token)?.as_bytes())
}

/// [`plain_uint`] as [`read`] reaches it.
#[cfg(test)]
pub(super) fn reference_uint(token: &[u8]) -> Option<u32> {
    small_uint(whole_number(token)?.as_bytes())
}

/// `token` when all of it is one JSON number token.
#[cfg(test)]
fn whole_number(token: &[u8]) -> Option<&str> {
    let s = std::str::from_utf8(token).ok()?;
    let mut r = Reader { s, at: 0, depth: 0 };
    let n = r.number()?;
    (r.at == s.len()).then_some(n)
}

/// A number token of digits and an optional fraction, at most 15 digits in all, without a sign
/// or exponent (every duration the runtime writes): the digits as an integer (exact in an
/// `f64`, under 2^53) divided by a power of ten (exact up to 10^22): one correctly rounded
/// operation, so the nearest `f64`, which is what `serde_json` (with `float_roundtrip`) reads.
/// Its parser cost 340 instructions a number.
fn short_decimal(b: &[u8]) -> Option<f64> {
    const POW10: [f64; 16] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
    ];
    let all_digits = |d: &[u8]| !d.is_empty() && d.iter().all(u8::is_ascii_digit);
    let (int, frac) = match memchr::memchr(b'.', b) {
        Some(dot) if all_digits(&b[dot + 1..]) => (&b[..dot], &b[dot + 1..]),
        Some(_) => return None,
        None => (b, &b""[..]),
    };
    if !all_digits(int) || int.len() + frac.len() > 15 {
        return None;
    }
    let sig = int
        .iter()
        .chain(frac)
        .fold(0u64, |v, d| v * 10 + u64::from(d - b'0'));
    Some(sig as f64 / POW10[frac.len()])
}

/// A number token of at most nine digits without a sign, fraction, exponent or leading zero:
/// the value `serde_json` reads as a `u32` (memory sizes), without its parser.
fn small_uint(b: &[u8]) -> Option<u32> {
    let plain = (1..=9).contains(&b.len())
        && b.iter().all(u8::is_ascii_digit)
        && (b[0] != b'0' || b.len() == 1);
    plain.then(|| b.iter().fold(0, |v, d| v * 10 + u32::from(d - b'0')))
}

/// A cursor over a record without backslashes, in valid UTF-8.
struct Reader<'a> {
    s: &'a str,
    at: usize,
    /// Nesting of the values being skipped: deep nesting is never a runtime's record, and
    /// following it would recurse as deep as the input goes (serde stops at 128 with an error).
    depth: u32,
}

/// How deep skipped values may nest before the reader gives up and leaves the record to serde.
const MAX_DEPTH: u32 = 16;

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.at).copied()
    }

    /// Skips JSON whitespace.
    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    /// Consumes `b` after whitespace.
    fn eat(&mut self, b: u8) -> Option<()> {
        self.ws();
        (self.peek() == Some(b)).then(|| self.at += 1)
    }

    /// An object, each member handed to `member` with the cursor on its value.
    fn object(&mut self, mut member: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<()> {
        self.eat(b'{')?;
        self.ws();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Some(());
        }
        loop {
            self.ws();
            let key = self.string()?;
            self.eat(b':')?;
            self.ws();
            member(self, key)?;
            self.ws();
            match self.peek()? {
                b',' => self.at += 1,
                b'}' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// Consumes `null` after whitespace, if it is there.
    fn null(&mut self) -> bool {
        self.ws();
        let null = self.s.as_bytes()[self.at..].starts_with(b"null");
        if null {
            self.at += 4;
        }
        null
    }

    /// `null` (`None`), or what `value` reads.
    fn nullable<T>(&mut self, value: impl FnOnce(&mut Self) -> Option<T>) -> Option<Option<T>> {
        if self.null() {
            return Some(None);
        }
        value(self).map(Some)
    }

    /// A string (there is no backslash nor control byte in the record).
    fn string(&mut self) -> Option<&'a str> {
        if self.peek() != Some(b'"') {
            return None;
        }
        let start = self.at + 1;
        let len = memchr::memchr(b'"', &self.s.as_bytes()[start..])?;
        let body = &self.s[start..start + len];
        self.at = start + len + 1;
        Some(body)
    }

    /// A number token, checked against JSON's grammar.
    fn number(&mut self) -> Option<&'a str> {
        let b = self.s.as_bytes();
        let start = self.at;
        let mut i = start;
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        match b.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => i = digits(b, i),
            _ => return None,
        }
        if b.get(i) == Some(&b'.') {
            let j = digits(b, i + 1);
            if j == i + 1 {
                return None;
            }
            i = j;
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            let j = digits(b, i);
            if j == i {
                return None;
            }
            i = j;
        }
        self.at = i;
        Some(&self.s[start..i])
    }

    /// Skips any value (a member serde ignores, which it still checks).
    fn skip_value(&mut self) -> Option<()> {
        self.ws();
        match self.peek()? {
            b'"' => self.string().map(drop),
            b'{' | b'[' => self.nested(),
            b't' => self.word(b"true"),
            b'f' => self.word(b"false"),
            b'n' => self.word(b"null"),
            _ => self.number().map(drop),
        }
    }

    /// An object or array, within [`MAX_DEPTH`].
    fn nested(&mut self) -> Option<()> {
        if self.depth == MAX_DEPTH {
            return None;
        }
        self.depth += 1;
        let skipped = if self.peek() == Some(b'{') {
            self.object(|r, _| r.skip_value())
        } else {
            self.array()
        };
        self.depth -= 1;
        skipped
    }

    fn array(&mut self) -> Option<()> {
        self.eat(b'[')?;
        self.ws();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Some(());
        }
        loop {
            self.skip_value()?;
            self.ws();
            match self.peek()? {
                b',' => self.at += 1,
                b']' => {
                    self.at += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    fn word(&mut self, w: &[u8]) -> Option<()> {
        self.s.as_bytes()[self.at..]
            .starts_with(w)
            .then(|| self.at += w.len())
    }
}

fn digits(b: &[u8], mut i: usize) -> usize {
    while b.get(i).is_some_and(u8::is_ascii_digit) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What both readers make of a record, as comparable text.
    fn summary(r: &JsonRecord) -> String {
        let p = r.record.as_ref().map(|p| {
            let m = p.metrics.as_ref().map(|m| {
                format!(
                    "{:?} {:?} {:?} {:?} {:?}",
                    m.duration_ms.map(f64::to_bits),
                    m.billed_ms.map(f64::to_bits),
                    m.init_ms.map(f64::to_bits),
                    m.memory_mb,
                    m.max_memory_mb
                )
            });
            format!(
                "{:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {m:?}",
                p.request_id,
                p.version,
                p.status,
                p.error_type,
                p.phase,
                p.function_arn,
                p.function_name,
                p.runtime_version,
                p.runtime_version_arn
            )
        });
        format!(
            "{:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {p:?} {}",
            r.time,
            r.kind,
            r.timestamp,
            r.level,
            r.log_level,
            r.message.map(|m| m.0),
            r.request_id,
            r.error_type,
            r.error_message,
            r.stack_trace.is_some()
        )
    }

    /// Records as the runtime writes them (platform and application, both loggers).
    const RECORDS: &[&str] = &[
        r#"{"time":"2025-03-28T13:36:57.077Z","type":"platform.report","record":{"requestId":"2bf79a9d-b83f-468a-9d92-c499184fbd0b","metrics":{"durationMs":87.56,"billedDurationMs":88,"memorySizeMB":128,"maxMemoryUsedMB":80,"initDurationMs":435.50},"status":"success"}}"#,
        r#"{"time":"2025-03-28T13:36:56.990Z","type":"platform.start","record":{"requestId":"2bf79a9d-b83f-468a-9d92-c499184fbd0b","functionArn":"arn:aws:lambda:us-east-1:296002542013:function:cart-service","version":"$LATEST"}}"#,
        r#"{"time":"2025-03-28T13:36:56.544Z","type":"platform.initStart","record":{"initializationType":"on-demand","phase":"init","runtimeVersion":"python:3.13.v23","runtimeVersionArn":"arn:aws:lambda:us-east-1::runtime:62ce","functionName":"cart-service","functionVersion":"$LATEST","instanceId":"x","instanceMaxMemory":134217728}}"#,
        r#"{"time":"2025-05-02T03:15:47.409Z","type":"platform.runtimeDone","record":{"requestId":"r","status":"timeout","metrics":{"durationMs":30000.0,"producedBytes":0},"spans":[{"name":"responseLatency","start":"2025-05-02T03:15:17.409Z","durationMs":1.5}],"tracing":{"spanId":"a","type":"X-Amzn-Trace-Id","value":"Root=1"}}}"#,
        r#"{"time":"2025-05-02T03:15:47.409Z","type":"platform.initReport","record":{"initializationType":"on-demand","phase":"invoke","status":"error","errorType":"Runtime.Unknown","metrics":{"durationMs":998.15}}}"#,
        r#"{"timestamp": "2025-03-28T13:36:56Z", "level": "INFO", "message": "GET /carts/945102 from 10.0.1.89", "logger": "root", "requestId": "2bf79a9d-b83f-468a-9d92-c499184fbd0b"}"#,
        r#"{"timestamp":"2025-04-10T09:31:22Z","log_level":"ERROR","errorMessage":"Unable to log into database","errorType":"ValueError","requestId":"r"}"#,
        r#"{"timestamp":"2025-04-10T09:31:22Z","level":"INFO","message":{"event":"x","n":[1,2.5e3,-0.25,true,false,null]},"requestId":"r"}"#,
        r#"{"timestamp":"2025-04-10T09:31:22Z","level":"WARN","message":null,"AWSRequestId":"r","extra":{}}"#,
        r#" {"a":[], "b":{}, "record":null, "time":null}"#,
        r#"{}"#,
    ];

    /// Where both must say the same or the hand-written reader must give up: mutations of the
    /// records above.
    fn mutations(rec: &str) -> Vec<String> {
        let mut out = vec![rec.to_string(), format!("{rec} "), format!("{rec}x")];
        // Truncated records (cut at a character boundary).
        for cut in [1, rec.len() / 3, rec.len() / 2, rec.len() - 1] {
            if rec.is_char_boundary(cut) {
                out.push(rec[..cut].to_string());
            }
        }
        for (from, to) in [
            ("\"requestId\"", "\"requestId\":\"dup\",\"requestId\""),
            ("\"time\"", "\"AWSRequestId\":\"a\",\"time\""),
            ("87.56", "87.5.6"),
            ("87.56", "\"87.56\""),
            ("128", "128.0"),
            ("128", "-1"),
            ("128", "4294967296"),
            ("128", "4294967295"),
            ("128", "999999999"),
            ("128", "1000000000"),
            ("128", "0"),
            ("128", "-0"),
            ("80", "8e1"),
            ("435.50", "1e400"),
            ("435.50", "0.1000000000000000055511151231257827"),
            ("\"status\":\"success\"", "\"status\":7"),
            ("\"level\": \"INFO\"", "\"level\": true"),
            ("GET", "G\tET"),
            ("GET", "G\\\"ET"),
            ("}}", "}"),
            ("}}", "},}"),
            (",", ",,"),
            (":", " : "),
            ("[1,", "[1 ,"),
            ("true", "tru"),
            ("null", "nul"),
            (
                "\"version\":\"$LATEST\"",
                "\"version\":\"$LATEST\",\"stackTrace\":[\"a\"]",
            ),
            ("-0.25", "-.25"),
            ("-0.25", "01"),
            ("2.5e3", "2.5e"),
            // Durations read as digits / 10^k, and the ones left to serde.
            ("87.56", "87.560000000000001"),
            ("87.56", "123456789012345"),
            ("87.56", "12345678901234.5"),
            ("87.56", "1234567890123456"),
            ("87.56", "0.000000000000001"),
            ("87.56", "9007199254740993"),
            ("87.56", "-87.56"),
            ("87.56", "8756e-2"),
            ("435.50", "435.5"),
            ("435.50", "0.1"),
            ("30000.0", "30000"),
            ("\"status\":\"success\"", "\"status\":\"succ\\u00e9s\""),
            ("GET", "caf\u{e9} \u{2713} GET"),
            (
                "\"logger\": \"root\"",
                "\"logger\": {\"a\": [1, {\"b\": null}]}",
            ),
        ] {
            if rec.contains(from) {
                out.push(rec.replacen(from, to, 1));
            }
        }
        out
    }

    #[test]
    fn agrees_with_serde_or_gives_up() {
        let mut answered = 0;
        for rec in RECORDS {
            for m in mutations(rec) {
                let m = m.trim_start();
                let serde = serde_json::from_str::<JsonRecord>(m).ok();
                match parse(m.as_bytes()) {
                    None => {}
                    Some(fast) => {
                        answered += 1;
                        let serde = serde.unwrap_or_else(|| panic!("serde rejects {m}"));
                        assert_eq!(summary(&fast), summary(&serde), "{m}");
                    }
                }
            }
        }
        assert!(answered > 20, "{answered}");
    }

    #[test]
    fn short_decimals_read_as_serde_reads_them() {
        for n in [
            "0",
            "7",
            "88",
            "87.56",
            "435.50",
            "0.1",
            "0.3",
            "30000.0",
            "1.005",
            "2.675",
            "123456789012345",
            "12345678901234.5",
            "0.123456789012345",
            "999999999999999",
            "1234567890123456",
            "0.1234567890123456",
            "9007199254740993",
            "1e3",
            "-1.5",
            "1.",
            ".5",
            "1.2.3",
            "",
        ] {
            let serde = serde_json::from_str::<f64>(n).ok();
            match short_decimal(n.as_bytes()) {
                Some(v) => assert_eq!(Some(v.to_bits()), serde.map(f64::to_bits), "{n}"),
                None => assert!(
                    n.len() > 15 || n.contains(['e', '-']) || serde.is_none(),
                    "{n}"
                ),
            }
        }
    }

    #[test]
    fn every_runtime_record_is_read_by_hand() {
        for rec in RECORDS {
            assert!(parse(rec.trim_start().as_bytes()).is_some(), "{rec}");
        }
    }

    #[test]
    fn gives_up_where_serde_decides() {
        for m in [
            r#"{"message":"a\"b"}"#,
            r#"{"time":"a","time":"b"}"#,
            r#"{"stackTrace":["x"]}"#,
            "{\"message\":\"\u{1}\"}",
            "{\"message\":\"a\tb\"}",
            r#"{"a":1} {"b":2}"#,
            r#"{"record":{"metrics":{"memorySizeMB":1.5}}}"#,
        ] {
            assert!(parse(m.as_bytes()).is_none(), "{m}");
        }
        assert!(parse(b"{\"message\":\"\xff\"}").is_none());
        // Deep nesting is left to serde (which stops it) instead of recursing with the input.
        let deep = format!(
            "{{\"x\":{}{}}}",
            "{\"a\":".repeat(100_000),
            "}".repeat(100_000)
        );
        assert!(parse(deep.as_bytes()).is_none());
        let shallow = format!("{{\"x\":{}1{}}}", "[".repeat(8), "]".repeat(8));
        assert!(parse(shallow.as_bytes()).is_some());
    }
}
