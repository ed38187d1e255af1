//! Helpers shared by the integration tests of the trust work (exit statuses, files, redaction):
//! running the binary, reading its report, and the smallest failing export.
//!
//! Each test binary uses some of them.
#![allow(dead_code)]

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

pub const RID: &str = "4d5e6f7a-8b9c-4d0e-9f1a-2b3c4d5e6f7a";
pub const ARN: &str =
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/app/postgres-a1B2c3";

/// An S3-export rendering of a setSecret login failure after 15 s (database unreachable).
pub fn failing_export() -> String {
    format!(
        "2025-04-10T09:31:22.507Z START RequestId: {RID} Version: $LATEST\n\
         2025-04-10T09:31:22.851Z [ERROR]\t2025-04-10T09:31:22.851Z\t{RID}\tsetSecret: Unable to log into database with previous, current, or pending secret of secret arn {ARN}\n\
         2025-04-10T09:31:37.852Z [ERROR] ValueError: Unable to log into database with previous, current, or pending secret of secret arn {ARN}\n\
         2025-04-10T09:31:37.870Z END RequestId: {RID}\n\
         2025-04-10T09:31:37.870Z REPORT RequestId: {RID}\tDuration: 15362.41 ms\tBilled Duration: 15363 ms\tMemory Size: 128 MB\tMax Memory Used: 86 MB\t\n"
    )
}

/// Runs rotdiag with `args`, feeding `stdin` (or nothing) on standard input.
pub fn rotdiag(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rotdiag"))
        .args(args)
        .env_remove("NO_COLOR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    let data = stdin.map(<[u8]>::to_vec).unwrap_or_default();
    let w = std::thread::spawn(move || {
        let _ = pipe.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    w.join().unwrap();
    out
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stdout)))
}

/// The causes of a JSON report's diagnoses, in rank order.
pub fn causes(v: &Value) -> Vec<String> {
    v["diagnoses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["cause"].as_str().unwrap().to_string())
        .collect()
}

/// Writes `data` to `dir/name`; returns the path as text.
pub fn write(dir: &Path, name: &str, data: &[u8]) -> String {
    let p = dir.join(name);
    fs::write(&p, data).unwrap();
    p.display().to_string()
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}
