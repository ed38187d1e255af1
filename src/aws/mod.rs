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
    /// Written by hand, eight digits at a time (SWAR), with one test for all 32 digits: every
    /// START, END, REPORT and application line carries one, so this runs for most lines of a
    /// rotation function's logs (a digit at a time through a table cost about 290 instructions an
    /// id in profiles, four checked `hex8` calls about 240).
    pub(crate) fn parse_prefix(text: &[u8]) -> Option<RequestId> {
        // One copy, so each byte is read once (a mapped file can change under the parser; see
        // `time::parse_iso_prefix`).
        let s: [u8; 36] = *text.first_chunk::<36>()?;
        if s[8] != b'-' || s[13] != b'-' || s[18] != b'-' || s[23] != b'-' {
            return None;
        }
        let word = |i: usize| u64::from_le_bytes(s[i..i + 8].try_into().unwrap());
        let low = |i: usize| word(i) & 0xffff_ffff;
        // The 32 digits without their dashes, as four words of eight: 0..8, 9..13 with 14..18,
        // 19..23 with 24..28, 28..36.
        let (a, ok_a) = hex8(word(0));
        let (b, ok_b) = hex8(low(9) | (word(14) << 32));
        let (c, ok_c) = hex8(low(19) | (word(24) << 32));
        let (d, ok_d) = hex8(word(28));
        if !(ok_a & ok_b & ok_c & ok_d) {
            return None;
        }
        if text
            .get(36)
            .is_some_and(|&b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return None;
        }
        let hi = (u64::from(a) << 32) | u64::from(b);
        let lo = (u64::from(c) << 32) | u64::from(d);
        Some(RequestId((u128::from(hi) << 64) | u128::from(lo)))
    }

    pub(crate) fn parse(s: &str) -> Option<RequestId> {
        let s = s.trim();
        if s.len() != 36 {
            return None;
        }
        RequestId::parse_prefix(s.as_bytes())
    }
}

/// Eight ASCII hex digits (the first in the lowest byte of `x`, as read from memory) as the
/// number they spell, and whether all eight are hex digits (the number means nothing if not).
/// Inlined, and checked by the caller once for all four words: a call and a branch per word
/// were a third of an id's instructions.
#[inline(always)]
fn hex8(x: u64) -> (u32, bool) {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let ascii = x & HIGH == 0;
    // With every byte below 0x80, adding `0x80 - k` to a byte sets its high bit exactly when the
    // byte is >= k, and carries into no other byte (with a byte of 0x80 or more the result is
    // wrong, and `ascii` refuses it).
    let at_least = |v: u64, k: u8| v.wrapping_add(ONES * u64::from(0x80 - k)) & HIGH;
    let x7 = x & !HIGH;
    let digit = at_least(x7, b'0') & !at_least(x7, b'9' + 1);
    let lower = x7 | (ONES * 0x20);
    let letter = at_least(lower, b'a') & !at_least(lower, b'f' + 1);
    let ok = ascii & (digit | letter == HIGH);
    // A digit's value is its low nibble; a letter's, its low nibble + 9.
    let v = (x & (ONES * 0x0f)) + (letter >> 7) * 9;
    // The first digit is the most significant: bytes to big-endian order, then nibbles packed
    // pairwise into bytes, bytes into 16-bit lanes, lanes into 32 bits.
    let v = v.swap_bytes();
    let v = (v | (v >> 4)) & 0x00ff_00ff_00ff_00ff;
    let v = (v | (v >> 8)) & 0x0000_ffff_0000_ffff;
    (((v | (v >> 16)) & 0xffff_ffff) as u32, ok)
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
