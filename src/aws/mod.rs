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
    /// logs (a digit at a time through a table cost about 290 instructions an id in profiles,
    /// four checked `hex8` calls about 240, four inlined ones about 215).
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
        let words = [
            word(0),
            low(9) | (word(14) << 32),
            low(19) | (word(24) << 32),
            word(28),
        ];
        let value = hex32(words)?;
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

/// The 32 ASCII hex digits in `words` (four words of eight, each as read from memory: its first
/// digit in its lowest byte) as the 128-bit number they spell; `None` unless all are hex digits.
///
/// On x86-64, with SSE2 (part of the architecture: no detection needed), sixteen digits at a time:
/// the four 8-digit SWAR words below cost about 215 instructions an id in profiles, which a
/// platform or application line pays once each (about 106,000 ids on the 16 MiB bench file).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn hex32(words: [u64; 4]) -> Option<u128> {
    // SAFETY: SSE2 is part of x86-64 (every x86-64 processor has it, and the target enables
    // it), which is all `hex32_sse2` requires.
    unsafe { hex32_sse2(words) }
}

/// [`hex32`] with SSE2's intrinsics, which can only be called from a function that names the
/// feature.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
fn hex32_sse2(words: [u64; 4]) -> Option<u128> {
    use std::arch::x86_64::{
        __m128i, _mm_add_epi8, _mm_and_si128, _mm_andnot_si128, _mm_cmpeq_epi8, _mm_cvtsi128_si64,
        _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_packus_epi16, _mm_set_epi64x,
        _mm_set1_epi8, _mm_set1_epi16, _mm_slli_epi16, _mm_srli_epi16, _mm_sub_epi8,
        _mm_unpackhi_epi64,
    };
    // Sixteen digits (bytes in memory order) as their nibble values, and whether each byte was
    // a hex digit (0xff) or not (0). Unsigned ranges by wrapping subtraction and a minimum:
    // `b - '0' <= 9` holds for the ten digits only, `(b | 0x20) - 'a' <= 5` for the twelve
    // letters only (bytes of 0x80 and up included: they wrap far above both bounds).
    let nibbles = |v: __m128i| -> (__m128i, __m128i) {
        let d = _mm_sub_epi8(v, _mm_set1_epi8(b'0' as i8));
        let is_digit = _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(9)), d);
        let l = _mm_sub_epi8(
            _mm_or_si128(v, _mm_set1_epi8(0x20)),
            _mm_set1_epi8(b'a' as i8),
        );
        let is_letter = _mm_cmpeq_epi8(_mm_min_epu8(l, _mm_set1_epi8(5)), l);
        let letter_value = _mm_add_epi8(l, _mm_set1_epi8(10));
        let value = _mm_or_si128(
            _mm_and_si128(is_digit, d),
            _mm_andnot_si128(is_digit, letter_value),
        );
        (value, _mm_or_si128(is_digit, is_letter))
    };
    // Two nibbles to a byte: in each 16-bit lane the first digit is the low byte (the high
    // nibble of the result), the second the high byte.
    let pairs = |n: __m128i| {
        let first = _mm_and_si128(n, _mm_set1_epi16(0x00ff));
        _mm_or_si128(_mm_slli_epi16(first, 4), _mm_srli_epi16(n, 8))
    };
    let [a, b, c, d] = words.map(|w| w as i64);
    let (n0, ok0) = nibbles(_mm_set_epi64x(b, a));
    let (n1, ok1) = nibbles(_mm_set_epi64x(d, c));
    if _mm_movemask_epi8(_mm_and_si128(ok0, ok1)) != 0xffff {
        return None;
    }
    // Sixteen bytes, the first the most significant: big-endian.
    let bytes = _mm_packus_epi16(pairs(n0), pairs(n1));
    let hi = (_mm_cvtsi128_si64(bytes) as u64).swap_bytes();
    let lo = (_mm_cvtsi128_si64(_mm_unpackhi_epi64(bytes, bytes)) as u64).swap_bytes();
    Some((u128::from(hi) << 64) | u128::from(lo))
}

/// [`hex32`] elsewhere: a word at a time ([`hex8`]).
#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
fn hex32(words: [u64; 4]) -> Option<u128> {
    let (a, ok_a) = hex8(words[0]);
    let (b, ok_b) = hex8(words[1]);
    let (c, ok_c) = hex8(words[2]);
    let (d, ok_d) = hex8(words[3]);
    if !(ok_a & ok_b & ok_c & ok_d) {
        return None;
    }
    let hi = (u64::from(a) << 32) | u64::from(b);
    let lo = (u64::from(c) << 32) | u64::from(d);
    Some((u128::from(hi) << 64) | u128::from(lo))
}

/// Eight ASCII hex digits (the first in the lowest byte of `x`, as read from memory) as the
/// number they spell, and whether all eight are hex digits (the number means nothing if not).
/// Inlined, and checked by the caller once for all four words: a call and a branch per word
/// were a third of an id's instructions.
#[cfg_attr(target_arch = "x86_64", cfg(test))]
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

    /// The 32-digit reader spells the same number as the 8-digit one, and refuses what it
    /// refuses, on words of digits, letters of both cases and every other byte.
    #[test]
    fn hex32_reads_as_hex8_reads() {
        let alphabet: Vec<u8> = (0..=255u8).collect();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for round in 0..20_000 {
            let mut words = [0u64; 4];
            for w in &mut words {
                let mut bytes = [0u8; 8];
                for b in &mut bytes {
                    let r = next();
                    // Mostly hex digits, so that most words are valid; now and then any byte.
                    *b = if round % 4 == 0 && r % 16 == 0 {
                        alphabet[(r >> 8) as usize % 256]
                    } else {
                        b"0123456789abcdefABCDEF"[(r >> 8) as usize % 22]
                    };
                }
                *w = u64::from_le_bytes(bytes);
            }
            let each = words.map(hex8);
            let want = each.iter().all(|(_, ok)| *ok).then(|| {
                each.iter()
                    .fold(0u128, |v, (d, _)| (v << 32) | u128::from(*d))
            });
            assert_eq!(hex32(words), want, "{words:x?}");
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
