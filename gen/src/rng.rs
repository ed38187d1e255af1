//! A seeded PCG32 generator (O'Neill 2014, XSH-RR 64/32) and the integer-only draws the
//! generator needs.
//!
//! Why not the `rand` crate: the corpus must be byte-identical for a given seed *forever*, so a
//! benchmark result can be compared with one taken months earlier. `rand`'s range and float
//! sampling algorithms have changed between its releases (same seed, other numbers), and floats
//! would bring `ln`/`exp` whose last bits may differ between platforms. Twenty lines of PCG with
//! integer-only draws pin the stream in this file.

pub struct Rng {
    state: u64,
    inc: u64,
}

const MULT: u64 = 6_364_136_223_846_793_005;

impl Rng {
    /// A generator for `seed`; `stream` picks one of 2^63 independent sequences.
    pub fn new(seed: u64, stream: u64) -> Rng {
        let mut r = Rng {
            state: 0,
            inc: (stream << 1) | 1,
        };
        r.next_u32();
        r.state = r.state.wrapping_add(seed);
        r.next_u32();
        r
    }

    pub fn next_u32(&mut self) -> u32 {
        let old = self.state;
        self.state = old.wrapping_mul(MULT).wrapping_add(self.inc);
        let xorshifted = (((old >> 18) ^ old) >> 27) as u32;
        xorshifted.rotate_right((old >> 59) as u32)
    }

    pub fn next_u64(&mut self) -> u64 {
        ((self.next_u32() as u64) << 32) | self.next_u32() as u64
    }

    /// Uniform in `0..n` (unbiased, by rejection). `n` must be > 0.
    pub fn below(&mut self, n: u32) -> u32 {
        debug_assert!(n > 0);
        let threshold = n.wrapping_neg() % n;
        loop {
            let r = self.next_u32();
            if r >= threshold {
                return r % n;
            }
        }
    }

    /// Uniform in `lo..hi` (`hi` exclusive, `hi > lo`).
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        debug_assert!(hi > lo);
        let span = (hi - lo) as u64;
        if span <= u32::MAX as u64 {
            lo + self.below(span as u32) as i64
        } else {
            lo + (self.next_u64() % span) as i64
        }
    }

    /// True with probability `per_mille / 1000`.
    pub fn chance(&mut self, per_mille: u32) -> bool {
        self.below(1000) < per_mille
    }

    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u32) as usize]
    }

    /// An index drawn with the given weights (at least one must be > 0).
    pub fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u32 = weights.iter().sum();
        let mut x = self.below(total);
        for (i, &w) in weights.iter().enumerate() {
            if x < w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }

    /// A random (version 4) UUID, lower-case, as Lambda request ids and rotation tokens are.
    pub fn uuid(&mut self) -> String {
        let a = self.next_u64();
        let b = self.next_u64();
        let b = (b & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0x0fff,
            b >> 48,
            b & 0xffff_ffff_ffff
        )
    }

    pub fn hex(&mut self, n: usize) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        (0..n)
            .map(|_| HEX[self.below(16) as usize] as char)
            .collect()
    }

    pub fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| (b'0' + self.below(10) as u8) as char)
            .collect()
    }

    pub fn alnum(&mut self, n: usize) -> String {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        (0..n)
            .map(|_| A[self.below(A.len() as u32) as usize] as char)
            .collect()
    }

    pub fn lower(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| (b'a' + self.below(26) as u8) as char)
            .collect()
    }
}

/// Checks the generator against the PCG reference output (`pcg32_srandom(42, 54)`), so a
/// change that would alter every corpus cannot go unnoticed. Called before every generation.
pub fn check_reference() {
    let mut r = Rng::new(42, 54);
    let got: [u32; 6] = std::array::from_fn(|_| r.next_u32());
    assert_eq!(
        got,
        [
            0xa15c02b7, 0x7b47f409, 0xba1d3330, 0x83d2f293, 0xbfa4784b, 0xcbed606e
        ],
        "PCG32 no longer matches its reference output"
    );
}
