//! What the unit tests of several modules share: the embedded rule set, lines assembled into
//! invocations and evaluated, a decoder's whole output. Compiled for tests only; production code
//! never imports it (and the module-order check in `lib.rs` lets it import anything).

use std::borrow::Cow;
use std::sync::OnceLock;

use crate::engine::{Occurrence, evaluate};
use crate::format::{Record, StructuredDecoder};
use crate::lambda::invocation::{Assembler, Invocation};
use crate::lambda::rotation::Tracker;
use crate::problem::Problem;
use crate::rules::RuleSet;

/// Request ids and the secret and version of the tests' rotations.
pub(crate) const A: &str = "11111111-1111-4111-8111-111111111111";
pub(crate) const B: &str = "22222222-2222-4222-8222-222222222222";
pub(crate) const ARN: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db-a1B2c3";
pub(crate) const TOKEN: &str = "7c9e6679-7425-40de-944b-e07fc1f90ae7";

/// The embedded rules, compiled once.
pub(crate) fn rules() -> &'static RuleSet {
    static RULES: OnceLock<RuleSet> = OnceLock::new();
    RULES.get_or_init(|| crate::rules::load(None).expect("embedded rules"))
}

/// Assembles `(stream, message)` pairs, one record each, numbered from line 1.
pub(crate) fn assemble(lines: &[(Option<&str>, &str)]) -> Vec<Invocation> {
    let rules = rules();
    let mut a = Assembler::new(rules, 0);
    for (i, (stream, msg)) in lines.iter().enumerate() {
        let rec = Record {
            line: i as u64 + 1,
            offset: 0,
            timestamp: None,
            stream: stream.map(Cow::Borrowed),
            group: None,
            message: Cow::Borrowed(msg.as_bytes()),
            stream_key: None,
        };
        a.push(&rec, &mut crate::lambda::analyze(msg.as_bytes(), rules));
    }
    a.finish();
    a.drain_closed().collect()
}

/// Every occurrence the rules find in `lines` (stream, message), rotation by rotation.
pub(crate) fn evaluate_lines(lines: &[(Option<&str>, &str)]) -> Vec<Occurrence> {
    let mut t = Tracker::new();
    for inv in assemble(lines) {
        t.add(inv, rules());
    }
    t.finish(rules());
    t.drain_closed()
        .iter()
        .flat_map(|r| evaluate(r, rules()))
        .collect()
}

/// Everything `decode` makes of `input`: its records and the problems it reports.
pub(crate) fn decode_all(
    decode: StructuredDecoder,
    input: &[u8],
) -> (Vec<Record<'static>>, Vec<Problem>) {
    let mut out = Vec::new();
    let errors = decode(&mut &input[..], &mut |r| out.push(r));
    (out, errors)
}

/// `data`, gzipped.
pub(crate) fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// `data`, gzipped, in standard base64 (a subscription payload's `data`).
pub(crate) fn b64gz(data: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(gzip(data))
}

/// A record's message as text (the tests' inputs are UTF-8).
pub(crate) fn msg(r: &Record) -> String {
    String::from_utf8(r.message.to_vec()).unwrap()
}

/// A subscription payload as a Kinesis record's `Data` holds it (base64 of gzip of a
/// `DATA_MESSAGE`): `(timestamp, message)` events of `stream`.
pub(crate) fn subscription_data(stream: &str, events: &[(i64, &str)]) -> String {
    let events: Vec<_> = events
        .iter()
        .enumerate()
        .map(|(i, (t, m))| serde_json::json!({"id": i.to_string(), "timestamp": t, "message": m}))
        .collect();
    let payload = serde_json::json!({"messageType": "DATA_MESSAGE", "owner": "123456789012",
        "logGroup": "/aws/lambda/Rot", "logStream": stream, "subscriptionFilters": ["f"],
        "logEvents": events});
    b64gz(payload.to_string().as_bytes())
}
