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
    // Inlined into each of its five uses, so that each key and unit is a constant the compiler
    // compares in a few loads rather than through a `memcmp` call (a REPORT line cost about 890
    // instructions in profiles, 150-250 a field).
    //
    // The number is read first and the token's end looked for from where the number ends
    // (nearly always right there): looking for the end first walked each number twice, the
    // first walk about 14 instructions a byte. The value is the one `parse_number` gives of the
    // token alone, which it reads no further than (see `parse_number_prefix`).
    #[inline(always)]
    fn field<'a>(s: &'a [u8], key: &[u8], unit: &[u8]) -> Option<(f64, &'a [u8])> {
        let s = s.strip_prefix(b"\t")?.strip_prefix(key)?;
        let (v, read) = parse_number_prefix(s)?;
        let end = read
            + s[read..]
                .iter()
                .position(|&b| !(b.is_ascii_digit() || b == b'.'))?;
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
    parse_number_prefix(s).map(|(v, _)| v)
}

/// [`parse_number`], and how many bytes of `s` it read. It reads only digits and one point,
/// and stops at the first other byte (or at 18 integer digits): so what it gives of `s` is what
/// it gives of any prefix of `s` that holds the bytes it read and ends at such a byte.
fn parse_number_prefix(s: &[u8]) -> Option<(f64, usize)> {
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
    Some((value, i))
}

/// The REPORT line a `platform.report` record stands for, as the platform prints it in the text
/// log format. Built by hand (no `format!` per field): a JSON-format function writes one per
/// invocation, and formatting each field through `format!` cost 7,000 instructions a line.
pub(super) fn render_report(rid: &str, m: &Metrics) -> String {
    let mut s = String::with_capacity(160);
    s.push_str("REPORT RequestId: ");
    s.push_str(rid);
    if let Some(d) = m.duration_ms {
        s.push_str("\tDuration: ");
        push_fixed(&mut s, d, 2);
        s.push_str(" ms");
    }
    if let Some(b) = m.billed_ms {
        s.push_str("\tBilled Duration: ");
        push_fixed(&mut s, b, 0);
        s.push_str(" ms");
    }
    if let Some(v) = m.memory_mb {
        s.push_str("\tMemory Size: ");
        push_uint(&mut s, u64::from(v));
        s.push_str(" MB");
    }
    if let Some(v) = m.max_memory_mb {
        s.push_str("\tMax Memory Used: ");
        push_uint(&mut s, u64::from(v));
        s.push_str(" MB");
    }
    if let Some(v) = m.init_ms {
        s.push_str("\tInit Duration: ");
        push_fixed(&mut s, v, 2);
        s.push_str(" ms");
    }
    if let Some(st) = m.status {
        s.push_str("\tStatus: ");
        s.push_str(match st {
            Status::Success => "success",
            Status::Timeout => "timeout",
            Status::Error => "error",
            Status::Failure => "failure",
        });
    }
    if let Some(e) = &m.error_type {
        s.push_str("\tError Type: ");
        s.push_str(e);
    }
    s
}

/// Appends `v` with `places` (0 or 2) decimals, exactly as `format!("{v:.places$}")` does.
///
/// `v * 10^places` rounded to an integer is what the exact decimal expansion rounds to unless
/// the product lies near a tie (half-way between two integers), where the rounding error of the
/// multiplication could decide; then, and for anything not a plain non-negative number below
/// 10^10, `format!` decides.
fn push_fixed(out: &mut String, v: f64, places: u32) {
    use std::fmt::Write;
    let scale = if places == 2 { 100.0 } else { 1.0 };
    let scaled = v * scale;
    if places <= 2 && v.is_sign_positive() && scaled < 1e12 {
        let r = scaled.round();
        if (scaled - r).abs() < 0.49 {
            let n = r as u64;
            if places == 0 {
                push_uint(out, n);
            } else {
                push_uint(out, n / 100);
                let f = (n % 100) as u8;
                out.push('.');
                out.push(char::from(b'0' + f / 10));
                out.push(char::from(b'0' + f % 10));
            }
            return;
        }
    }
    let _ = write!(out, "{v:.prec$}", prec = places as usize);
}

/// Appends `n` in decimal.
fn push_uint(out: &mut String, mut n: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // Only ASCII digits were written.
    out.push_str(std::str::from_utf8(&buf[i..]).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `parse_report_in_order` relies on: a number read from the whole rest of a line is
    /// the number read from its token alone (up to the first byte that is neither a digit nor
    /// a point), and the reader stops inside the token.
    #[test]
    fn a_number_reads_the_same_from_its_token_and_from_the_rest_of_the_line() {
        for token in [
            "0",
            "7",
            "631.61",
            "30000.00",
            "1.",
            ".5",
            "1.2.3",
            "00012",
            "..",
            "",
            "1234567890123456789012",
            "12345678901234567.89",
            "3.14159265358979323846",
        ] {
            for after in ["", " ms", "\tX", "a", "-1"] {
                let s = format!("{token}{after}");
                let alone = parse_number_prefix(token.as_bytes()).map(|(v, _)| v.to_bits());
                let whole = parse_number_prefix(s.as_bytes());
                assert_eq!(whole.map(|(v, _)| v.to_bits()), alone, "{s:?}");
                assert!(whole.is_none_or(|(_, read)| read <= token.len()), "{s:?}");
            }
        }
    }

    #[test]
    fn fixed_decimals_are_formatted_as_format_does() {
        let mut values = vec![
            0.0,
            -0.0,
            0.004,
            0.005,
            0.015,
            0.125,
            0.375,
            1.005,
            2.675,
            631.61,
            30000.0,
            30030.17,
            418.021,
            998.15,
            0.5,
            1.5,
            2.5,
            1e11,
            1e12,
            9.99999e15,
            1e300,
            -1.25,
            f64::NAN,
            f64::INFINITY,
            f64::MIN_POSITIVE,
        ];
        // Every value a platform record prints with three decimals, over a range.
        values.extend((0..200_000).map(|i| f64::from(i) / 1000.0));
        values.extend((0..20_000).map(|i| f64::from(i) * 0.005));
        for v in values {
            for places in [0u32, 2] {
                let mut got = String::new();
                push_fixed(&mut got, v, places);
                assert_eq!(got, format!("{v:.prec$}", prec = places as usize), "{v}");
            }
        }
        for n in [0u64, 7, 10, 128, 10240, u64::MAX] {
            let mut got = String::new();
            push_uint(&mut got, n);
            assert_eq!(got, n.to_string());
        }
    }

    #[test]
    fn a_rendered_report_reads_back_as_the_same_numbers() {
        let m = Metrics {
            duration_ms: Some(30000.0),
            billed_ms: Some(30419.0),
            memory_mb: Some(128),
            max_memory_mb: Some(84),
            init_ms: Some(418.021),
            status: Some(Status::Timeout),
            error_type: Some("Sandbox.Timedout".into()),
            phase: None,
        };
        let text = render_report("rid", &m);
        assert_eq!(
            text,
            "REPORT RequestId: rid\tDuration: 30000.00 ms\tBilled Duration: 30419 ms\tMemory Size: 128 MB\tMax Memory Used: 84 MB\tInit Duration: 418.02 ms\tStatus: timeout\tError Type: Sandbox.Timedout"
        );
        assert_eq!(
            render_report("r", &Metrics::default()),
            "REPORT RequestId: r"
        );
    }
}
