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
    pub(crate) fn parse_prefix(s: &[u8]) -> Option<RequestId> {
        if s.len() < 36 {
            return None;
        }
        if s[8] != b'-' || s[13] != b'-' || s[18] != b'-' || s[23] != b'-' {
            return None;
        }
        // Hex digits through a table; 0xff marks anything else.
        const HEX: [u8; 256] = {
            let mut t = [0xffu8; 256];
            let mut i = 0;
            while i < 10 {
                t[b'0' as usize + i] = i as u8;
                i += 1;
            }
            let mut i = 0;
            while i < 6 {
                t[b'a' as usize + i] = 10 + i as u8;
                t[b'A' as usize + i] = 10 + i as u8;
                i += 1;
            }
            t
        };
        // Positions of the 32 hex digits in `8-4-4-4-12`.
        const DIGITS: [usize; 32] = [
            0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 14, 15, 16, 17, 19, 20, 21, 22, 24, 25, 26, 27,
            28, 29, 30, 31, 32, 33, 34, 35,
        ];
        let (mut hi, mut lo, mut bad) = (0u64, 0u64, 0u8);
        for &i in &DIGITS[..16] {
            let d = HEX[s[i] as usize];
            bad |= d;
            hi = (hi << 4) | (d & 0x0f) as u64;
        }
        for &i in &DIGITS[16..] {
            let d = HEX[s[i] as usize];
            bad |= d;
            lo = (lo << 4) | (d & 0x0f) as u64;
        }
        if bad & 0xf0 != 0 {
            return None;
        }
        let v = ((hi as u128) << 64) | lo as u128;
        if s.len() > 36 && (s[36].is_ascii_alphanumeric() || s[36] == b'-') {
            return None;
        }
        Some(RequestId(v))
    }

    pub(crate) fn parse(s: &str) -> Option<RequestId> {
        let s = s.trim();
        if s.len() != 36 {
            return None;
        }
        RequestId::parse_prefix(s.as_bytes())
    }
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
    fn steps_in_order() {
        for s in Step::ALL {
            assert_eq!(Step::parse(s.name()), Some(s));
        }
        assert_eq!(Step::CreateSecret.next(), Some(Step::SetSecret));
        assert_eq!(Step::FinishSecret.next(), None);
        assert_eq!(Step::parse("makeSecret"), None);
    }
}
