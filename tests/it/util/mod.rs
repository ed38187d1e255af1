//! What the integration tests share: running the binary, compression, rendering events into
//! every export shape, a seeded random number generator, and the smallest failing export.

pub mod gz;
pub mod render;
pub mod rng;
pub mod run;
pub mod sample;
