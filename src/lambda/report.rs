//! REPORT lines: the numbers and status Lambda prints when an invocation (or its init phase)
//! ends, from `REPORT RequestId: …`, `INIT_REPORT …`, the legacy timeout line, and the
//! `platform.report` records of the JSON log format (rendered back into the text line rules match).

use super::line::skip_ws;

/// How an invocation (or init phase) ended, from `REPORT … Status:` or `platform.report`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    Success,
    Timeout,
    Error,
    Failure,
}

impl Status {
    pub(super) fn parse(s: &str) -> Option<Status> {
        Some(match s.trim() {
            "success" => Status::Success,
            "timeout" => Status::Timeout,
            "error" => Status::Error,
            "failure" => Status::Failure,
            _ => return None,
        })
    }
}

/// Numbers from `REPORT`, `INIT_REPORT`, `platform.report` or the legacy timeout line.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Metrics {
    pub(crate) duration_ms: Option<f64>,
    pub(crate) billed_ms: Option<f64>,
    pub(crate) memory_mb: Option<u32>,
    pub(crate) max_memory_mb: Option<u32>,
    pub(crate) init_ms: Option<f64>,
    pub(crate) status: Option<Status>,
    pub(crate) error_type: Option<String>,
    /// `INIT_REPORT … Phase: init|invoke`.
    pub(crate) phase: Option<String>,
}

/// Parses the TAB (or space) separated `Key: value` fields of REPORT and INIT_REPORT lines, in
/// one pass over the colons (terminal copies turn the TABs into spaces, so fields are found by
/// their keys, not by position).
pub(super) fn parse_report_fields(s: &[u8]) -> Metrics {
    #[derive(Clone, Copy)]
    enum F {
        Duration,
        Billed,
        Init,
        Memory,
        MaxMemory,
        Status,
        ErrorType,
        Phase,
        Ignored,
    }
    // Longer keys first: "Billed Duration" also ends with "Duration".
    const KEYS: [(&[u8], F); 10] = [
        (b"Billed Restore Duration", F::Ignored),
        (b"Restore Duration", F::Ignored),
        (b"Billed Duration", F::Billed),
        (b"Init Duration", F::Init),
        (b"Duration", F::Duration),
        (b"Max Memory Used", F::MaxMemory),
        (b"Memory Size", F::Memory),
        (b"Status", F::Status),
        (b"Error Type", F::ErrorType),
        (b"Phase", F::Phase),
    ];
    if let Some(m) = parse_report_in_order(s) {
        return m;
    }
    let mut m = Metrics::default();
    for c in memchr::memchr_iter(b':', s) {
        let before = &s[..c];
        let Some(&(_, field)) = KEYS.iter().find(|(k, _)| before.ends_with(k)) else {
            continue;
        };
        let v = skip_ws(&s[c + 1..]);
        match field {
            F::Duration => m.duration_ms = m.duration_ms.or(parse_number(v)),
            F::Billed => m.billed_ms = parse_number(v),
            F::Init => m.init_ms = parse_number(v),
            F::Memory => m.memory_mb = parse_number(v).map(|x| x as u32),
            F::MaxMemory => m.max_memory_mb = parse_number(v).map(|x| x as u32),
            F::Status => m.status = Status::parse(&word(v)),
            F::ErrorType => m.error_type = Some(word(v)).filter(|w| !w.is_empty()),
            F::Phase => m.phase = Some(word(v)).filter(|w| !w.is_empty()),
            F::Ignored => {}
        }
    }
    m
}

/// The fast path for a REPORT as the platform writes it: `<rid>\tDuration: N ms\tBilled Duration:
/// N ms\tMemory Size: N MB\tMax Memory Used: N MB[\tInit Duration: N ms]`, then nothing or a
/// status. Anything else (tabs turned to spaces, statuses, XRAY) takes the general path.
fn parse_report_in_order(s: &[u8]) -> Option<Metrics> {
    fn field<'a>(s: &'a [u8], key: &[u8], unit: &[u8]) -> Option<(f64, &'a [u8])> {
        let s = s.strip_prefix(b"\t")?.strip_prefix(key)?;
        let end = s.iter().position(|&b| !(b.is_ascii_digit() || b == b'.'))?;
        let v = parse_number(&s[..end])?;
        Some((v, s[end..].strip_prefix(unit)?))
    }
    let rest = s.get(36..)?;
    let (duration, rest) = field(rest, b"Duration: ", b" ms")?;
    let (billed, rest) = field(rest, b"Billed Duration: ", b" ms")?;
    let (memory, rest) = field(rest, b"Memory Size: ", b" MB")?;
    let (used, rest) = field(rest, b"Max Memory Used: ", b" MB")?;
    let (init, rest) = match field(rest, b"Init Duration: ", b" ms") {
        Some((v, r)) => (Some(v), r),
        None => (None, rest),
    };
    if !rest.iter().all(|b| b.is_ascii_whitespace()) {
        return None;
    }
    Some(Metrics {
        duration_ms: Some(duration),
        billed_ms: Some(billed),
        memory_mb: Some(memory as u32),
        max_memory_mb: Some(used as u32),
        init_ms: init,
        ..Metrics::default()
    })
}

/// The value up to the next separator.
fn word(v: &[u8]) -> String {
    let end = v
        .iter()
        .position(|&b| b == b'\t' || b == b' ' || b == b'\n' || b == b'\r')
        .unwrap_or(v.len());
    String::from_utf8_lossy(&v[..end]).into_owned()
}

/// A decimal number as Lambda prints them (`30000.00`, `128`): digits, an optional fraction.
pub(super) fn parse_number(s: &[u8]) -> Option<f64> {
    let mut int: u64 = 0;
    let mut i = 0;
    while i < s.len() && s[i].is_ascii_digit() && i < 18 {
        int = int * 10 + (s[i] - b'0') as u64;
        i += 1;
    }
    if i == 0 {
        return None;
    }
    let mut value = int as f64;
    if s.get(i) == Some(&b'.') {
        let mut scale = 0.1;
        i += 1;
        while i < s.len() && s[i].is_ascii_digit() {
            value += (s[i] - b'0') as f64 * scale;
            scale /= 10.0;
            i += 1;
        }
    }
    Some(value)
}

pub(super) fn render_report(rid: &str, m: &Metrics) -> String {
    let mut s = format!("REPORT RequestId: {rid}");
    if let Some(d) = m.duration_ms {
        s.push_str(&format!("\tDuration: {d:.2} ms"));
    }
    if let Some(b) = m.billed_ms {
        s.push_str(&format!("\tBilled Duration: {b:.0} ms"));
    }
    if let Some(v) = m.memory_mb {
        s.push_str(&format!("\tMemory Size: {v} MB"));
    }
    if let Some(v) = m.max_memory_mb {
        s.push_str(&format!("\tMax Memory Used: {v} MB"));
    }
    if let Some(v) = m.init_ms {
        s.push_str(&format!("\tInit Duration: {v:.2} ms"));
    }
    if let Some(st) = m.status {
        let w = match st {
            Status::Success => "success",
            Status::Timeout => "timeout",
            Status::Error => "error",
            Status::Failure => "failure",
        };
        s.push_str(&format!("\tStatus: {w}"));
    }
    if let Some(e) = &m.error_type {
        s.push_str(&format!("\tError Type: {e}"));
    }
    s
}
