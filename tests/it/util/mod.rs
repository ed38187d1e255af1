//! What the integration tests share: running the binary (or the pipeline in process),
//! a process fed live through a pipe kept open, compression, rendering events into every export shape, the message catalog and the runtimes'
//! log shapes, a seeded random number generator, and the smallest failing export.

pub mod catalog;
pub mod gz;
pub mod live;
pub mod render;
pub mod rng;
pub mod run;
pub mod sample;
