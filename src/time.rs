//! Timestamps: every shape CloudWatch tooling prints, normalised to epoch milliseconds (UTC).
//!
//! Logs arrive with timestamps in half a dozen dialects (S3 export `…T…\.mmmZ`, `aws logs tail`
//! `…\.ffffff+00:00` or zone-less `…T…:SS`, Logs Insights `YYYY-MM-DD HH:MM:SS.mmm`, CloudTrail whole
//! seconds, API epoch milliseconds). This parser is on the hot path (one call per record), so it is
//! written by hand over bytes: no allocation, no UTF-8 validation, no regex.

/// Milliseconds since the Unix epoch, UTC.
pub type EpochMs = i64;

/// Parses an ISO-8601-like timestamp at the start of `s`.
///
/// Returns the instant and the number of bytes consumed. Accepts `T` or a single space between date
/// and time, any number of fractional digits (truncated to milliseconds), and `Z`, `+hh:mm`, `-hh:mm`,
/// `+hhmm` or no zone (read as UTC, which is what `aws logs tail --format short` prints).
pub(crate) fn parse_iso_prefix(s: &[u8]) -> Option<(EpochMs, usize)> {
    if let Some(head) = s.first_chunk::<24>()
        && let Some(parsed) = parse_millis_prefix(head)
    {
        return Some(parsed);
    }
    parse_iso_general(s)
}

/// The fast path of [`parse_iso_prefix`], for the shape nearly every line of an S3 export and
/// of the Python runtime starts with: `YYYY-MM-DDTHH:MM:SS.mmm` and then `Z` or no zone (any
/// other byte). `None` means "not this exact shape" (more fraction digits, a numeric offset, no
/// timestamp at all), and the general parser decides.
///
/// Written by hand because it runs once or twice per line (the general parser cost about 140
/// instructions a call in profiles): it reads the first 24 bytes once, from a copy, and checks
/// them at fixed places; and consecutive lines nearly always share their minute, so the instant
/// of `YYYY-MM-DDTHH:MM` is kept per thread ([`MINUTE`]) and only the seconds are parsed when
/// it repeats.
#[inline]
pub(crate) fn parse_millis_prefix(head: &[u8; 24]) -> Option<(EpochMs, usize)> {
    let h = *head;
    if h[16] != b':' || !(h[19] == b'.' || h[19] == b',') {
        return None;
    }
    let used = match h[23] {
        b'Z' => 24,
        b'0'..=b'9' | b'+' | b'-' => return None,
        _ => 23,
    };
    let (second, millis) = seconds_millis(u64::from_le_bytes(h[16..].try_into().unwrap()))?;
    if second > 60 {
        return None;
    }
    let key = u128::from_le_bytes(h[..16].try_into().unwrap());
    let (last_key, last_minute) = MINUTE.get();
    let minute_ms = if key == last_key && last_minute != EpochMs::MIN {
        last_minute
    } else {
        let m = minute_of(&h)?;
        MINUTE.set((key, m));
        m
    };
    Some((minute_ms + i64::from(second * 1000 + millis), used))
}

/// The seconds and milliseconds of `:SS.mmm?` (bytes 16..24 of the fast shape, as one
/// little-endian word), the five digits checked at once: `None` unless all are digits.
///
/// A digit XOR `'0'` is 0..=9; any other byte has a high nibble or reaches one when 6 is added.
/// About 15 instructions fewer than a branch per digit, on every record of an S3 export.
fn seconds_millis(t: u64) -> Option<(u32, u32)> {
    const DIGITS: u64 = 0x00ff_ffff_00ff_ff00; // bytes 1, 2, 4, 5, 6
    let v = (t ^ 0x3030_3030_3030_3030) & DIGITS;
    // No carry crosses bytes unless a byte already has its high nibble set (and fails).
    if (v | (v + 0x0006_0606_0006_0600)) & 0x00f0_f0f0_00f0_f000 != 0 {
        return None;
    }
    let d = |k: u32| (v >> (8 * k)) as u32 & 0xff;
    Some((d(1) * 10 + d(2), d(4) * 100 + d(5) * 10 + d(6)))
}

thread_local! {
    /// The last `YYYY-MM-DDTHH:MM` [`parse_millis_prefix`] read on this thread (its 16 bytes),
    /// and its instant; `EpochMs::MIN` before the first.
    static MINUTE: std::cell::Cell<(u128, EpochMs)> = const {
        std::cell::Cell::new((0, EpochMs::MIN))
    };
}

/// The instant of the `YYYY-MM-DDTHH:MM` that starts `h`, checked as the general parser checks it.
fn minute_of(h: &[u8; 24]) -> Option<EpochMs> {
    if h[4] != b'-' || h[7] != b'-' || !(h[10] == b'T' || h[10] == b' ') || h[13] != b':' {
        return None;
    }
    let d = |i: usize| -> Option<u32> {
        let v = h[i].wrapping_sub(b'0');
        (v < 10).then_some(u32::from(v))
    };
    let two = |i: usize| Some(d(i)? * 10 + d(i + 1)?);
    let year = two(0)? * 100 + two(2)?;
    let (month, day) = (two(5)?, two(8)?);
    let (hour, minute) = (two(11)?, two(14)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    let days = days_from_civil(i64::from(year), month, day);
    Some((days * 86_400 + i64::from(hour * 3600 + minute * 60)) * 1000)
}

/// [`parse_iso_prefix`] for every dialect, a byte at a time.
fn parse_iso_general(s: &[u8]) -> Option<(EpochMs, usize)> {
    if s.len() < 19 {
        return None;
    }
    let year = digits(&s[0..4])? as i64;
    if s[4] != b'-' || s[7] != b'-' || !(s[10] == b'T' || s[10] == b' ') {
        return None;
    }
    if s[13] != b':' || s[16] != b':' {
        return None;
    }
    let month = digits(&s[5..7])?;
    let day = digits(&s[8..10])?;
    let hour = digits(&s[11..13])?;
    let minute = digits(&s[14..16])?;
    let second = digits(&s[17..19])?;
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut i = 19;
    let mut millis = 0i64;
    if i < s.len() && (s[i] == b'.' || s[i] == b',') {
        i += 1;
        let start = i;
        let mut scale = 100;
        // Each byte is read once: a mapped file truncated while it is read can change under
        // the parser (its pages turn to zeros), and a second read must not see another byte.
        while let Some(d) = s.get(i).copied().filter(u8::is_ascii_digit) {
            if scale > 0 {
                millis += i64::from(d - b'0') * scale;
                scale /= 10;
            }
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    let mut offset_minutes = 0i64;
    if i < s.len() {
        match s[i] {
            b'Z' => i += 1,
            b'+' | b'-' => {
                let sign = if s[i] == b'-' { -1 } else { 1 };
                let rest = &s[i + 1..];
                if rest.len() >= 5 && rest[2] == b':' {
                    let h = digits(&rest[0..2])? as i64;
                    let m = digits(&rest[3..5])? as i64;
                    offset_minutes = sign * (h * 60 + m);
                    i += 6;
                } else if rest.len() >= 4 && rest[..4].iter().all(u8::is_ascii_digit) {
                    let h = digits(&rest[0..2])? as i64;
                    let m = digits(&rest[2..4])? as i64;
                    offset_minutes = sign * (h * 60 + m);
                    i += 5;
                }
            }
            _ => {}
        }
    }
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour as i64 * 3600 + minute as i64 * 60 + second as i64;
    Some((secs * 1000 + millis - offset_minutes * 60_000, i))
}

/// Parses a whole field that is either an ISO-8601 timestamp or epoch milliseconds/seconds.
pub fn parse_any(s: &str) -> Option<EpochMs> {
    let t = s.trim();
    if let Some((ms, used)) = parse_iso_prefix(t.as_bytes())
        && used == t.len()
    {
        return Some(ms);
    }
    parse_epoch(t)
}

/// Epoch milliseconds (13 digits) or seconds (10 digits, optional fraction), as the APIs print them.
pub(crate) fn parse_epoch(t: &str) -> Option<EpochMs> {
    if t.is_empty() {
        return None;
    }
    let (int, frac) = match t.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (t, None),
    };
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) || int.len() > 16 {
        return None;
    }
    let value: i64 = int.parse().ok()?;
    if int.len() >= 12 {
        Some(value)
    } else if int.len() >= 9 {
        let mut ms = value * 1000;
        if let Some(f) = frac {
            let f3: String = f.chars().chain("000".chars()).take(3).collect();
            ms += f3.parse::<i64>().ok()?;
        }
        Some(ms)
    } else {
        None
    }
}

/// The calendar date and time of an instant, UTC (proleptic Gregorian).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Civil {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub milli: u32,
}

impl Civil {
    pub fn of(ms: EpochMs) -> Civil {
        let secs = ms.div_euclid(1000);
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400) as u32;
        let (year, month, day) = civil_from_days(days);
        Civil {
            year,
            month,
            day,
            hour: rem / 3600,
            minute: rem % 3600 / 60,
            second: rem % 60,
            milli: ms.rem_euclid(1000) as u32,
        }
    }
}

/// Appends an instant as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn push_iso(out: &mut String, ms: EpochMs) {
    use std::fmt::Write as _;
    let c = Civil::of(ms);
    let _ = write!(
        out,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second, c.milli
    );
}

/// Formats an instant as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn format_iso(ms: EpochMs) -> String {
    let mut s = String::with_capacity(24);
    push_iso(&mut s, ms);
    s
}

fn digits(b: &[u8]) -> Option<u32> {
    let mut v = 0u32;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (c - b'0') as u32;
    }
    Some(v)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The `--since` / `--until` filter: records outside `[since, until)` are left out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Window {
    pub since: Option<EpochMs>,
    pub until: Option<EpochMs>,
}

impl Window {
    /// True when the window lets every record through.
    pub(crate) fn is_open(&self) -> bool {
        self.since.is_none() && self.until.is_none()
    }

    pub(crate) fn contains(&self, ts: EpochMs) -> bool {
        self.since.is_none_or(|s| ts >= s) && self.until.is_none_or(|u| ts < u)
    }
}

/// Parses a `--since` / `--until` value: an ISO-8601 instant (`2024-05-01T12:00:00Z`, with or
/// without zone and seconds, `T` or space), a date (`2024-05-01`, midnight UTC), epoch seconds or
/// milliseconds, or a duration before `now` as `aws logs tail --since` takes it (`90m`, `6h`,
/// `2d`, `1w`, `1h30m`).
pub(crate) fn parse_bound(s: &str, now: EpochMs) -> Result<EpochMs, String> {
    let t = s.trim();
    if let Some(ms) = parse_any(t) {
        return Ok(ms);
    }
    let b = t.as_bytes();
    // Minutes without seconds: `2024-05-01 12:00`, `2024-05-01T12:00Z`.
    if b.len() >= 16 && b[4] == b'-' && b[13] == b':' && b.get(16) != Some(&b':') {
        let with_seconds = format!("{}:00{}", &t[..16], &t[16..]);
        if let Some(ms) = parse_any(&with_seconds) {
            return Ok(ms);
        }
    }
    if b.len() == 10 && b[4] == b'-' && b[7] == b'-' {
        let midnight = format!("{t}T00:00:00Z");
        if let Some(ms) = parse_any(&midnight) {
            return Ok(ms);
        }
    }
    match humantime::parse_duration(t) {
        Ok(d) => Ok(now - d.as_millis().min(i64::MAX as u128) as i64),
        Err(_) => Err(format!(
            "`{s}` is neither a time (2024-05-01T12:00:00Z, 2024-05-01, epoch seconds) nor a duration (90m, 6h, 2d, 1w)"
        )),
    }
}

/// The current time.
pub(crate) fn now() -> EpochMs {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as EpochMs)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iso(s: &str) -> EpochMs {
        let (ms, used) = parse_iso_prefix(s.as_bytes()).expect(s);
        assert_eq!(used, s.len(), "{s}");
        ms
    }

    #[test]
    fn civil_time_and_iso_text_agree() {
        let c = Civil::of(1_744_277_482_851);
        assert_eq!(
            (c.year, c.month, c.day, c.hour, c.minute, c.second, c.milli),
            (2025, 4, 10, 9, 31, 22, 851)
        );
        assert_eq!(format_iso(1_744_277_482_851), "2025-04-10T09:31:22.851Z");
        assert_eq!(format_iso(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_iso(-1), "1969-12-31T23:59:59.999Z");
        // Leap day, and a round trip through the parser.
        let t = iso("2024-02-29T23:59:59.999Z");
        assert_eq!(format_iso(t), "2024-02-29T23:59:59.999Z");
        let mut s = String::from("at ");
        push_iso(&mut s, t + 1);
        assert_eq!(s, "at 2024-03-01T00:00:00.000Z");
    }

    /// The fast path reads only `YYYY-MM-DDTHH:MM:SS.mmm` then `Z` or no zone; whatever it
    /// returns, the general parser returns too, and everything else is left to it.
    #[test]
    fn the_fast_path_agrees_with_the_general_parser() {
        let cases = [
            "2024-05-01T12:00:00.456Z START RequestId: x",
            "2024-05-01T12:00:00.456Z\tx",
            "2024-05-01 12:00:00.456Z",
            "2024-05-01T12:00:00,456Z trailing",
            "2024-05-01T12:00:00.456 no zone",
            "2024-05-01T12:00:00.456\tno zone",
            "2024-05-01T12:00:00.456\r\n",
            "2024-05-01T12:00:00.4567Z more digits",
            "2024-05-01T12:00:00.456789+00:00 tail",
            "2024-05-01T12:00:00.456-0500 offset",
            "2024-05-01T12:00:00.456+",
            "2024-05-01T12:00:00Z and more text",
            "2024-13-01T12:00:00.456Z bad month",
            "2024-05-00T12:00:00.456Z bad day",
            "2024-05-01T24:00:00.456Z bad hour",
            "2024-05-01T12:60:00.456Z bad minute",
            "2016-12-31T23:59:60.000Z leap second",
            "2024-05-01T12:00:00.4x6Z",
            "2024/05/01 12:00:00.456 Go log",
            "20a4-05-01T12:00:00.456Z",
            "2024-05-01T12:00:00.45",
            "0000-01-01T00:00:00.000Z",
            "9999-12-31T23:59:59.999Z",
        ];
        for c in cases {
            let b = c.as_bytes();
            let general = parse_iso_general(b);
            assert_eq!(parse_iso_prefix(b), general, "{c}");
            if let Some(head) = b.first_chunk::<24>()
                && let Some(fast) = parse_millis_prefix(head)
            {
                assert_eq!(Some(fast), general, "{c}");
            }
        }
        // The minute kept from the line before is used only for the same minute.
        for c in [
            "2024-05-01T12:00:59.999Z",
            "2024-05-01T12:01:00.000Z",
            "2024-05-01T12:00:00.000Z",
            "2024-05-01 12:00:00.000Z",
            "2024-05-01T12:00:00.000Z",
            "2025-05-01T12:00:00.000Z",
        ] {
            assert_eq!(
                parse_iso_prefix(c.as_bytes()),
                parse_iso_general(c.as_bytes()),
                "{c}"
            );
        }
        // Every byte in every place of the fast shape: the two parsers agree.
        let base = *b"2024-02-29T23:59:59.999Z";
        for i in 0..24 {
            for v in 0..=255u8 {
                let mut b = base;
                b[i] = v;
                assert_eq!(parse_iso_prefix(&b), parse_iso_general(&b), "{i} {v:#x}");
            }
        }
    }

    #[test]
    fn every_cloudwatch_dialect_lands_on_the_same_instant() {
        let want = 1_714_564_800_456;
        assert_eq!(iso("2024-05-01T12:00:00.456Z"), want);
        assert_eq!(iso("2024-05-01T12:00:00.456000+00:00"), want);
        assert_eq!(iso("2024-05-01 12:00:00.456"), want);
        assert_eq!(iso("2024-05-01T14:00:00.456+02:00"), want);
        assert_eq!(iso("2024-05-01T07:00:00.456-0500"), want);
        assert_eq!(parse_any("1714564800456"), Some(want));
        assert_eq!(parse_any("1714564800.456"), Some(want));
        assert_eq!(iso("2024-05-01T12:00:00"), want - 456);
        assert_eq!(iso("2024-05-01T12:00:00+00:00"), want - 456);
    }

    #[test]
    fn prefix_parse_stops_at_the_message() {
        let line = b"2024-05-01T12:00:00.456Z START RequestId: x";
        assert_eq!(parse_iso_prefix(line), Some((1_714_564_800_456, 24)));
    }

    #[test]
    fn rejects_what_is_not_a_timestamp() {
        for bad in [
            "2024-13-01T00:00:00Z",
            "START RequestId: 1f4c2b7e",
            "2024-05-01X12:00:00Z",
            "2024-05-01T12:00:00.Z",
            "",
        ] {
            assert_eq!(parse_iso_prefix(bad.as_bytes()).map(|x| x.0), None, "{bad}");
        }
        assert_eq!(parse_any("12345"), None);
    }

    #[test]
    fn formatting_round_trips() {
        for ms in [0, 1_714_564_800_456, 951_782_400_000, -86_400_000] {
            assert_eq!(iso(&format_iso(ms)), ms);
        }
        assert_eq!(format_iso(1_714_564_800_456), "2024-05-01T12:00:00.456Z");
    }

    #[test]
    fn since_and_until_take_instants_dates_and_durations() {
        let now = parse_any("2024-05-03T00:00:00Z").unwrap();
        let at = |s| parse_bound(s, now).unwrap();
        assert_eq!(
            at("2024-05-01T12:00:00Z"),
            parse_any("2024-05-01T12:00:00Z").unwrap()
        );
        assert_eq!(
            at("2024-05-01 12:00:00"),
            parse_any("2024-05-01T12:00:00Z").unwrap()
        );
        assert_eq!(at("2024-05-01"), parse_any("2024-05-01T00:00:00Z").unwrap());
        assert_eq!(
            at("2024-05-01 12:30"),
            parse_any("2024-05-01T12:30:00Z").unwrap()
        );
        assert_eq!(
            at("2024-05-01T12:30+02:00"),
            parse_any("2024-05-01T10:30:00Z").unwrap()
        );
        assert_eq!(at("1714564800"), parse_any("2024-05-01T12:00:00Z").unwrap());
        assert_eq!(at("2d"), parse_any("2024-05-01T00:00:00Z").unwrap());
        assert_eq!(at("6h"), parse_any("2024-05-02T18:00:00Z").unwrap());
        assert_eq!(at("1h30m"), parse_any("2024-05-02T22:30:00Z").unwrap());
        assert_eq!(at("1w"), parse_any("2024-04-26T00:00:00Z").unwrap());
        let e = parse_bound("yesterday", now).unwrap_err();
        assert!(e.contains("`yesterday`"), "{e}");
    }

    #[test]
    fn a_window_is_half_open() {
        let w = Window {
            since: Some(10),
            until: Some(20),
        };
        assert!(!w.contains(9) && w.contains(10) && w.contains(19) && !w.contains(20));
        assert!(Window::default().is_open() && Window::default().contains(i64::MIN));
    }
}
