//! Running the `rotdiag` binary and reading what it printed.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

/// Runs rotdiag with `args` and `stdin` (nothing when `None`), without `NO_COLOR`.
pub fn rotdiag(args: &[&str], stdin: Option<&[u8]>) -> Output {
    rotdiag_in(None, args, stdin)
}

/// [`rotdiag`] in the folder `dir` (the current folder when `None`).
pub fn rotdiag_in(dir: Option<&Path>, args: &[&str], stdin: Option<&[u8]>) -> Output {
    rotdiag_env(dir, &[], args, stdin)
}

/// [`rotdiag_in`] with environment variables set (`COLUMNS`, …).
pub fn rotdiag_env(
    dir: Option<&Path>,
    env: &[(&str, &str)],
    args: &[&str],
    stdin: Option<&[u8]>,
) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rotdiag"));
    if let Some(d) = dir {
        cmd.current_dir(d);
    }
    cmd.env_remove("COLUMNS");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .args(args)
        .env_remove("NO_COLOR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rotdiag");
    let mut pipe = child.stdin.take().unwrap();
    let data = stdin.map(<[u8]>::to_vec).unwrap_or_default();
    // Written from another thread: rotdiag may print before it has read everything.
    let w = std::thread::spawn(move || {
        let _ = pipe.write_all(&data);
    });
    let out = child.wait_with_output().expect("rotdiag output");
    w.join().unwrap();
    out
}

/// The JSON report on stdout.
pub fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

/// The causes of the report's diagnoses, best first.
pub fn causes(v: &Value) -> Vec<String> {
    v["diagnoses"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["cause"].as_str().unwrap().to_string())
        .collect()
}

/// An input's format as a person reads it: its `--input-format` value, then its transport
/// layers in parentheses (`s3-export (gzip)`).
pub fn shown_format(input: &Value) -> String {
    let format = input["format"].as_str().unwrap_or("").to_string();
    let layers: Vec<&str> = input["transport"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if layers.is_empty() {
        format
    } else {
        format!("{format} ({})", layers.join(", "))
    }
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Writes `data` to `dir/name` (creating folders) and returns the path.
pub fn write(dir: &Path, name: &str, data: &[u8]) -> String {
    let p = dir.join(name);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(&p, data).unwrap();
    p.display().to_string()
}
