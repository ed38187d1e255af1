//! Exit statuses, as grep and ripgrep use them: 0 when every input was read and no failure was
//! found, 1 when a failure was diagnosed, 2 when any input could not be read in full or held no
//! log record (even if others were diagnosed), unless `--skip-unreadable`.
//!
//! One test per input the issue listed as "read as healthy": archives (tar, tar.gz, zip, read
//! now), UTF-16 without a byte-order mark (read now), gzip nested deeper than before (read) and
//! beyond the limit (2), wholly invalid JSON, a wrong `--input-format`, a missing path, an empty
//! input (0, with a note), and a report cut short by a closed stdout.

use std::io::{Read, Write};
use std::process::{Command, Output, Stdio};

use crate::util::gz::gzip;
use crate::util::run::*;
use crate::util::sample::failing_export;

fn tar(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, *data).unwrap();
    }
    b.into_inner().unwrap()
}

fn zip(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, data) in files {
        w.start_file(*name, zip::write::SimpleFileOptions::default())
            .unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// An S3 export folder as an archive holds: the failing stream, gzipped, and a healthy text file.
fn export_members() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "exportedlogs/2f3a/2025-04-10-[$LATEST]5f0d2c9a/000000.gz",
            gzip(failing_export().as_bytes()),
        ),
        ("README.txt", b"exported by ops\n".to_vec()),
        (".DS_Store", b"\0\0\0\x01Bud1".to_vec()),
    ]
}

fn assert_archive_diagnosed(out: &Output, archive: &str, container: &str) {
    assert_eq!(out.status.code(), Some(1), "{}", stderr(out));
    let v = json(out);
    assert_eq!(causes(&v), ["database-unreachable"]);
    let inputs = v["inputs"].as_array().unwrap();
    // Hidden members are skipped; the others are inputs of their own.
    assert_eq!(inputs.len(), 2, "{inputs:?}");
    let member = &inputs[0];
    assert_eq!(
        member["source"],
        format!("{archive}:exportedlogs/2f3a/2025-04-10-[$LATEST]5f0d2c9a/000000.gz")
    );
    let format = &crate::util::run::shown_format(member);
    assert!(format.starts_with("s3-export (gzip, in "), "{format}");
    assert!(format.contains(container), "{format}");
    let evidence = &v["diagnoses"][0]["evidence"][0]["source"];
    assert_eq!(evidence, &member["source"]);
}

#[test]
fn tar_tar_gz_and_zip_archives_are_read_member_by_member() {
    let dir = tempfile::tempdir().unwrap();
    let members = export_members();
    let files: Vec<(&str, &[u8])> = members.iter().map(|(n, d)| (*n, d.as_slice())).collect();
    let plain = tar(&files);
    for (name, data, container) in [
        ("exports.tar", plain.clone(), "in tar"),
        ("exports.tar.gz", gzip(&plain), "in tar (gzip)"),
        ("exports.zip", zip(&files), "in zip"),
    ] {
        let path = write(dir.path(), name, &data);
        let out = rotdiag(&["-f", "json", &path], None);
        assert_archive_diagnosed(&out, &path, container);
        // From stdin (zip then read from its local headers).
        let out = rotdiag(&["-f", "json"], Some(&data));
        assert_archive_diagnosed(&out, "<stdin>", container);
    }
}

#[test]
fn a_corrupt_archive_keeps_what_was_read_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let export = gzip(failing_export().as_bytes());
    let mut data = tar(&[("a/000000.gz", &export), ("b/000000.gz", &export)]);
    // Damage the second member's header.
    let second = 512 + export.len().div_ceil(512) * 512;
    data[second + 148] ^= 0x55;
    let path = write(dir.path(), "cut.tar", &data);
    let out = rotdiag(&["-f", "json", &path], None);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert_eq!(causes(&json(&out)), ["database-unreachable"]);
    let err = stderr(&out);
    assert!(
        err.contains(&format!("rotdiag: {path}: tar archive is corrupt")),
        "{err}"
    );
}

#[test]
fn utf16_without_a_byte_order_mark_is_read() {
    let text = failing_export();
    let le: Vec<u8> = text.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
    let be: Vec<u8> = text.encode_utf16().flat_map(|u| u.to_be_bytes()).collect();
    let dir = tempfile::tempdir().unwrap();
    for (name, data) in [("le.log", le), ("be.log", be)] {
        let path = write(dir.path(), name, &data);
        for args in [vec!["-f", "json", path.as_str()], vec!["-f", "json"]] {
            let out = rotdiag(&args, Some(&data));
            assert_eq!(out.status.code(), Some(1), "{name}: {}", stderr(&out));
            let v = json(&out);
            assert_eq!(causes(&v), ["database-unreachable"], "{name}");
            let input = &v["inputs"][0];
            assert_eq!(input["format"], "s3-export", "{name}");
            assert_eq!(input["transport"][0], "utf-16", "{name}");
        }
    }
}

#[test]
fn gzip_nested_deeper_is_read_and_beyond_the_limit_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = failing_export().into_bytes();
    for depth in 1..=9 {
        data = gzip(&data);
        let path = write(dir.path(), &format!("x{depth}.gz"), &data);
        let out = rotdiag(&["-f", "json", &path], None);
        if depth <= 8 {
            assert_eq!(
                out.status.code(),
                Some(1),
                "depth {depth}: {}",
                stderr(&out)
            );
            assert_eq!(causes(&json(&out)), ["database-unreachable"]);
        } else {
            assert_eq!(out.status.code(), Some(2), "depth {depth}");
            assert!(
                stderr(&out).contains(&format!(
                    "rotdiag: {path}: cannot read: gzip nested more than 8 layers deep"
                )),
                "{}",
                stderr(&out)
            );
        }
    }
}

#[test]
fn a_wholly_invalid_json_file_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "events.json",
        b"{\"events\": [{\"timestamp\": 1744277482507, \"message\": oops}, {]}\n",
    );
    let out = rotdiag(&[&path], None);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("rotdiag: {path}:1: invalid JSON")),
        "{err}"
    );
    assert!(
        err.contains(&format!("rotdiag: {path}: no log records")),
        "{err}"
    );
}

#[test]
fn a_wrong_input_format_exits_2() {
    let out = rotdiag(
        &["-f", "json", "--input-format", "events-json"],
        Some(failing_export().as_bytes()),
    );
    assert_eq!(out.status.code(), Some(2));
    let v = json(&out);
    assert_eq!(v["inputs"][0]["state"], "unread");
    assert!(
        stderr(&out).contains("is --input-format events-json right for it?"),
        "{}",
        stderr(&out)
    );
    // A line shape that matches no line: every line is a continuation of nothing.
    let out = rotdiag(
        &["--input-format", "csv"],
        Some(b"\x00\x01\x02 not a csv\n"),
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn a_missing_path_is_not_an_input_of_data() {
    let out = rotdiag(&["-f", "json", "/no/such/export"], None);
    assert_eq!(out.status.code(), Some(2));
    let v = json(&out);
    assert_eq!(v["summary"]["inputs"], 0);
    assert_eq!(v["summary"]["unread"], 1);
    assert!(stderr(&out).contains("rotdiag: /no/such/export: no such file or directory"));
    let human = rotdiag(&["/no/such/export"], None);
    let text = String::from_utf8_lossy(&human.stdout);
    assert!(
        text.contains("0 inputs (0 B), 0 records, 1 unreadable"),
        "{text}"
    );
}

#[test]
fn an_empty_input_is_read_fine_with_a_note() {
    let out = rotdiag(&[], Some(b""));
    assert_eq!(out.status.code(), Some(0));
    assert!(
        stderr(&out).contains("rotdiag: <stdin>: empty input (0 bytes)"),
        "{}",
        stderr(&out)
    );
    let dir = tempfile::tempdir().unwrap();
    let blank = write(dir.path(), "blank.log", b"\n\n  \n");
    let out = rotdiag(&["-f", "json", &blank], None);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(json(&out)["inputs"][0]["state"], "empty");
}

#[test]
fn binary_data_alone_exits_2() {
    let data: Vec<u8> = (0..=255u8).cycle().take(100_000).collect();
    let out = rotdiag(&[], Some(&data));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("only binary data"),
        "{}",
        stderr(&out)
    );
}

/// Starts rotdiag on a failing export given on stdin; returns it and its stdout.
fn started_on_a_failure() -> (std::process::Child, std::process::ChildStdout) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rotdiag"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    (child, stdout)
}

fn feed(child: &mut std::process::Child) {
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(failing_export().as_bytes()).unwrap();
}

#[test]
fn a_closed_stdout_keeps_the_status() {
    // `rotdiag … | head -0`: the reader is gone before the report is written.
    let (mut child, stdout) = started_on_a_failure();
    drop(stdout);
    feed(&mut child);
    assert_eq!(child.wait().unwrap().code(), Some(1));
    // `| head -1`: a little read, then the pipe closed.
    let (mut child, mut stdout) = started_on_a_failure();
    feed(&mut child);
    let mut first = [0u8; 16];
    stdout.read_exact(&mut first).unwrap();
    drop(stdout);
    assert_eq!(child.wait().unwrap().code(), Some(1));
}
