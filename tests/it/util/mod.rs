//! What the integration tests share: running the binary, compression, and rendering events into
//! every export shape.

pub mod gz;
pub mod render;
pub mod run;
