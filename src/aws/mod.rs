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
    /// Written by hand, eight digits at a time (SWAR): every START, END, REPORT and application
    /// line carries one, so this runs for most lines of a rotation function's logs, and a digit
    /// at a time through a table cost about 290 instructions an id in profiles (now about 240).
    pub(crate) fn parse_prefix(text: &[u8]) -> Option<RequestId> {
        let s: &[u8; 36] = text.get(..36)?.try_into().ok()?;
        if s[8] != b'-' || s[13] != b'-' || s[18] != b'-' || s[23] != b'-' {
            return None;
        }
        // The 32 digits without their dashes, read once each (a mapped file can change under the
        // parser; see `time::parse_iso_prefix`).
        let mut d = [0u8; 32];
        d[0..8].copy_from_slice(&s[0..8]);
        d[8..12].copy_from_slice(&s[9..13]);
        d[12..16].copy_from_slice(&s[14..18]);
        d[16..20].copy_from_slice(&s[19..23]);
        d[20..32].copy_from_slice(&s[24..36]);
        let word = |i: usize| u64::from_le_bytes(d[i..i + 8].try_into().unwrap());
        let hi = (u64::from(hex8(word(0))?) << 32) | u64::from(hex8(word(8))?);
        let lo = (u64::from(hex8(word(16))?) << 32) | u64::from(hex8(word(24))?);
        if text
            .get(36)
            .is_some_and(|&b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return None;
        }
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
/// number they spell, or `None` when one of them is not a hex digit.
fn hex8(x: u64) -> Option<u32> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    if x & HIGH != 0 {
        return None;
    }
    // With every byte below 0x80, adding `0x80 - k` to a byte sets its high bit exactly when the
    // byte is >= k, and carries into no other byte.
    let at_least = |v: u64, k: u8| v.wrapping_add(ONES * u64::from(0x80 - k)) & HIGH;
    let digit = at_least(x, b'0') & !at_least(x, b'9' + 1);
    let lower = x | (ONES * 0x20);
    let letter = at_least(lower, b'a') & !at_least(lower, b'f' + 1);
    if digit | letter != HIGH {
        return None;
    }
    // A digit's value is its low nibble; a letter's, its low nibble + 9.
    let v = (x & (ONES * 0x0f)) + (letter >> 7) * 9;
    // The first digit is the most significant: bytes to big-endian order, then nibbles packed
    // pairwise into bytes, bytes into 16-bit lanes, lanes into 32 bits.
    let v = v.swap_bytes();
    let v = (v | (v >> 4)) & 0x00ff_00ff_00ff_00ff;
    let v = (v | (v >> 8)) & 0x0000_ffff_0000_ffff;
    Some(((v | (v >> 16)) & 0xffff_ffff) as u32)
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
