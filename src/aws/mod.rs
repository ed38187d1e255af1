//! AWS identifiers: Lambda request ids, rotation steps, ARNs and IAM principals.
//!
//! A leaf of the crate (it imports nothing from it): every stage that reads an identifier reads it
//! here, so the format decoders, the Lambda model, the rule engine and the diagnoses agree on what
//! a secret's name is or which function a role session stands for. Before this module there were
//! four ARN parsers, and two of them disagreed on the secret-name suffix.

mod arn;
mod principal;

pub(crate) use arn::{Arn, function_name, same_resource, secret_name};
pub(crate) use principal::Principal;

use std::fmt;

/// A Lambda request id (a UUID), stored as its 128 bits so grouping never allocates.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct RequestId(pub u128);

impl RequestId {
    /// Parses the 36-byte `8-4-4-4-12` hex form at the start of `s`.
    ///
    /// Written by hand, with one test for all 32 digits ([`hex32`]): every START, END, REPORT
    /// and application line carries one, so this runs for most lines of a rotation function's
    /// logs.
    pub(crate) fn parse_prefix(text: &[u8]) -> Option<RequestId> {
        // One copy, so each byte is read once (a mapped file can change under the parser; see
        // `time::parse_iso_prefix`).
        let s: [u8; 36] = *text.first_chunk::<36>()?;
        if s[8] != b'-' || s[13] != b'-' || s[18] != b'-' || s[23] != b'-' {
            return None;
        }
        // The 32 digits without their dashes: 0..8, 9..13, 14..18, 19..23, 24..36.
        let mut digits = [0u8; 32];
        digits[..8].copy_from_slice(&s[..8]);
        digits[8..12].copy_from_slice(&s[9..13]);
        digits[12..16].copy_from_slice(&s[14..18]);
        digits[16..20].copy_from_slice(&s[19..23]);
        digits[20..].copy_from_slice(&s[24..]);
        let value = last_id(&digits)?;
        if text
            .get(36)
            .is_some_and(|&b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return None;
        }
        Some(RequestId(value))
    }

    pub(crate) fn parse(s: &str) -> Option<RequestId> {
        let s = s.trim();
        if s.len() != 36 {
            return None;
        }
        RequestId::parse_prefix(s.as_bytes())
    }
}

/// [`hex32`] of `d`, reused when `d` is the same 32 bytes as the last id parsed on this thread.
///
/// An invocation's START, application lines, END and REPORT all carry its id and follow one
/// another within a batch of records, so about 8 ids in 10 repeat the one before (16 MiB of S3
/// text): comparing 32 bytes (two vector compares) costs a few instructions where [`hex32`]
/// costs about 140. Keyed on the 36 bytes with their dashes, the compare was a call to `bcmp`.
#[inline(always)]
fn last_id(d: &[u8; 32]) -> Option<u128> {
    thread_local! {
        /// The digits of the last id parsed on this thread, and its value; all zeros (not hex
        /// digits, so never equal to digits that parse) before the first.
        static LAST: std::cell::Cell<([u8; 32], u128)> = const {
            std::cell::Cell::new(([0; 32], 0))
        };
    }
    let (digits, value) = LAST.get();
    if digits == *d {
        return Some(value);
    }
    let value = hex32(d)?;
    LAST.set((*d, value));
    Some(value)
}

/// The 32 ASCII hex digits `d` (the first the most significant) as the number they spell;
/// `None` unless all are hex digits.
///
/// A loop over the bytes with no branch in it, which the compiler turns into a few 16-byte
/// vector operations on every target with them (SSE2 on x86-64): about 140 instructions an id,
/// where a digit at a time through a table cost about 290 and four 8-digit SWAR words about 215.
/// Plain safe code, one implementation everywhere: SSE2 intrinsics took it to about 87, for an
/// `unsafe` block and a second implementation for other targets (0.8 % of a run).
#[inline(always)]
fn hex32(d: &[u8; 32]) -> Option<u128> {
    let mut bad = 0u8;
    let mut nibbles = [0u8; 32];
    for (n, &b) in nibbles.iter_mut().zip(d) {
        // Unsigned ranges by wrapping subtraction: `b - '0' <= 9` holds for the ten digits
        // only, `(b | 0x20) - 'a' <= 5` for the twelve letters only.
        let digit = b.wrapping_sub(b'0');
        let letter = (b | 0x20).wrapping_sub(b'a');
        bad |= u8::from((digit > 9) & (letter > 5));
        *n = if digit <= 9 {
            digit
        } else {
            letter.wrapping_add(10)
        };
    }
    if bad != 0 {
        return None;
    }
    // Eight nibbles at a time to a 32-bit number (the first the most significant): bytes to
    // big-endian order, then packed pairwise into bytes, bytes into 16-bit lanes, lanes into 32
    // bits. The compiler packs nibbles pairwise byte by byte otherwise (32 loads and stores).
    let pack = |eight: &[u8]| {
        let v = u64::from_le_bytes(eight.try_into().unwrap()).swap_bytes();
        let v = (v | (v >> 4)) & 0x00ff_00ff_00ff_00ff;
        let v = (v | (v >> 8)) & 0x0000_ffff_0000_ffff;
        u128::from((v | (v >> 16)) & 0xffff_ffff)
    };
    Some(
        nibbles
            .chunks_exact(8)
            .fold(0, |n, eight| (n << 32) | pack(eight)),
    )
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = format!("{:032x}", self.0);
        write!(
            f,
            "{}-{}-{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..32]
        )
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The four steps Secrets Manager invokes a rotation function for, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
// The variants are the steps as Secrets Manager names them (`createSecret`, …).
#[allow(clippy::enum_variant_names)]
pub enum Step {
    CreateSecret,
    SetSecret,
    TestSecret,
    FinishSecret,
}

impl Step {
    pub(crate) const ALL: [Step; 4] = [
        Step::CreateSecret,
        Step::SetSecret,
        Step::TestSecret,
        Step::FinishSecret,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Step::CreateSecret => "createSecret",
            Step::SetSecret => "setSecret",
            Step::TestSecret => "testSecret",
            Step::FinishSecret => "finishSecret",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<Step> {
        Step::ALL.iter().copied().find(|st| st.name() == s)
    }

    /// The step Secrets Manager runs after this one succeeds.
    pub(crate) fn next(self) -> Option<Step> {
        match self {
            Step::CreateSecret => Some(Step::SetSecret),
            Step::SetSecret => Some(Step::TestSecret),
            Step::TestSecret => Some(Step::FinishSecret),
            Step::FinishSecret => None,
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_round_trip_and_reject_non_uuids() {
        let rid = "1f4c2b7e-8d7a-4f6e-9c1a-2b3c4d5e6f70";
        let parsed = RequestId::parse(rid).unwrap();
        assert_eq!(parsed.0, 0x1f4c2b7e_8d7a_4f6e_9c1a_2b3c4d5e6f70);
        assert_eq!(parsed.to_string(), rid);
        assert_eq!(RequestId::parse(&rid.to_uppercase()), Some(parsed));
        assert_eq!(RequestId::parse(&format!("  {rid}\n")), Some(parsed));
        assert!(RequestId::parse(&rid[..35]).is_none());
        assert!(RequestId::parse(&rid.replace('-', "_")).is_none());
        assert!(RequestId::parse(&rid.replace('f', "g")).is_none());
        assert!(RequestId::parse_prefix(format!("{rid}x").as_bytes()).is_none());
        assert!(RequestId::parse_prefix(format!("{rid}-").as_bytes()).is_none());
        assert_eq!(
            RequestId::parse_prefix(format!("{rid}\tmsg").as_bytes()),
            Some(parsed)
        );
    }

    #[test]
    fn request_ids_parse_every_hex_digit_in_place_and_nothing_else() {
        let rid = "0123abcd-ef45-6789-ABCD-EF0123456789";
        assert_eq!(
            RequestId::parse(rid).unwrap().0,
            0x0123abcd_ef45_6789_abcd_ef0123456789
        );
        // Every byte that is not a hex digit, in every digit position, is refused.
        let digits: Vec<usize> = (0..36).filter(|i| ![8, 13, 18, 23].contains(i)).collect();
        for &i in &digits {
            for b in 0..=255u8 {
                let mut s = rid.as_bytes().to_vec();
                s[i] = b;
                let want = b.is_ascii_hexdigit();
                assert_eq!(RequestId::parse_prefix(&s).is_some(), want, "{i} {b:#x}");
            }
        }
        for &i in &[8, 13, 18, 23] {
            let mut s = rid.as_bytes().to_vec();
            s[i] = b'0';
            assert!(RequestId::parse_prefix(&s).is_none());
        }
        // Not ids: Node's init `undefined`, a truncated line, an X-Ray trace id.
        assert!(RequestId::parse_prefix(b"undefined\tERROR").is_none());
        assert!(RequestId::parse_prefix(&rid.as_bytes()[..30]).is_none());
        assert!(RequestId::parse_prefix(b"1-6a9746e0-1f36aa5b0c3d4e5f6a7b8c9d\t").is_none());
        // A shorter or longer first group: the dashes are out of place.
        assert!(RequestId::parse_prefix(b"0123abc-def45-6789-abcd-ef0123456789").is_none());
        assert_eq!(
            RequestId::parse_prefix(format!("{rid}\r\n").as_bytes()),
            RequestId::parse(rid)
        );
        assert_eq!(
            RequestId::parse_prefix(format!("{rid} Version: $LATEST").as_bytes()),
            RequestId::parse(rid)
        );
    }

    /// The last id is reused only for the same bytes: a repeat, a different id, the first again,
    /// the same digits in another case, and a repeat followed by a byte that ends no id.
    #[test]
    fn request_ids_repeated_parse_as_when_first_seen() {
        let (a, b) = (
            "1f4c2b7e-8d7a-4f6e-9c1a-2b3c4d5e6f70",
            "0123abcd-ef45-6789-abcd-ef0123456789",
        );
        let want = |s: &str| u128::from_str_radix(&s.replace('-', ""), 16).ok();
        for s in [a, a, b, a, &a.to_uppercase(), b, b] {
            assert_eq!(RequestId::parse(s).map(|r| r.0), want(s), "{s}");
        }
        assert!(RequestId::parse_prefix(format!("{b}x").as_bytes()).is_none());
        assert!(RequestId::parse_prefix(format!("{b}-").as_bytes()).is_none());
        assert!(RequestId::parse(&b.replace('e', "g")).is_none());
        assert_eq!(RequestId::parse(b).map(|r| r.0), want(b));
    }

    /// The 32-digit reader spells the number `u128::from_str_radix` reads, and refuses exactly
    /// what is not 32 hex digits, on digits, letters of both cases and every other byte.
    #[test]
    fn hex32_reads_what_from_str_radix_reads() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for round in 0..20_000 {
            let mut d = [0u8; 32];
            for b in &mut d {
                let r = next();
                // Mostly hex digits, so that most ids are valid; now and then any byte.
                *b = if round % 4 == 0 && r % 16 == 0 {
                    (r >> 8) as u8
                } else {
                    b"0123456789abcdefABCDEF"[(r >> 8) as usize % 22]
                };
            }
            let want = d
                .iter()
                .all(u8::is_ascii_hexdigit)
                .then(|| u128::from_str_radix(std::str::from_utf8(&d).unwrap(), 16).unwrap());
            assert_eq!(hex32(&d), want, "{d:x?}");
        }
    }

    #[test]
    fn steps_in_order() {
        for s in Step::ALL {
            assert_eq!(Step::parse(s.name()), Some(s));
        }
        assert_eq!(Step::CreateSecret.next(), Some(Step::SetSecret));
        assert_eq!(Step::FinishSecret.next(), None);
        assert_eq!(Step::parse("makeSecret"), None);
    }
}
