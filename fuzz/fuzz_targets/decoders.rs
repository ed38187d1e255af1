//! Fuzzes format detection, the transport layers and every decoder, and classifies what they
//! decode (which renders JSON log records and CloudTrail events).
//!
//! Run (stable toolchain): `RUSTC_BOOTSTRAP=1 cargo fuzz run decoders -- -max_total_time=600`
//! from the repository root. Crashing inputs go to `fuzz/artifacts/decoders/`; keep each one as a
//! regression case in `tests/it/robustness.rs`.

#![no_main]

use std::io::Read;

use libfuzzer_sys::fuzz_target;
use rotdiag::format::{Decoder, Format, Record, detect};
use rotdiag::input::{Opened, transport};
use rotdiag::lambda::line::classify;

fn decode_all(format: Format, data: &[u8]) {
    match format.decoder() {
        Decoder::Lines(lines) => {
            let mut out: Vec<Record> = Vec::new();
            lines.decode(data, 1, 0, &mut out);
            let mut pos = 0;
            while let Some(b) = lines.boundary(data, pos) {
                assert!(b >= pos && b <= data.len());
                pos = b + 1;
            }
            for r in &out {
                let _ = classify(&r.message);
            }
        }
        Decoder::Structured(decode) => {
            let mut n = 0u64;
            let errors = decode(&mut &data[..], &mut |r| {
                n += 1;
                let _ = classify(&r.message);
            });
            if let Some(from_memory) = format.memory_decoder() {
                // A mapped file takes this path: the same records when the input is well formed.
                // (After a syntax error both resume at the next document, but serde_json's
                // reader and slice parsers place some faults a byte apart, so they may resume
                // at different ones.)
                // (The stream path takes a document cut right after a number for the clean end
                // of the input, where the slice parser reports it: errors may differ.)
                let mut m = 0u64;
                let _ = from_memory(data, &mut |_| m += 1);
                if errors.is_empty() {
                    assert_eq!(n, m, "{format}: decoded from memory, another record count");
                }
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let detected = detect::detect(data);
    for f in Format::ALL {
        decode_all(f, data);
    }
    // Through the transport layers (gzip, UTF-16, BOM, ANSI), as the pipeline reads streams.
    if let Ok((Opened::Stream(mut r), sample, _)) =
        transport::stream(Box::new(std::io::Cursor::new(data.to_vec())))
    {
        let f = detect::detect(&sample);
        let mut decoded = Vec::new();
        let _ = r.by_ref().take(8 << 20).read_to_end(&mut decoded);
        decode_all(f, &decoded);
    }
    let _ = detected;
});
