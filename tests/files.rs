//! Files that change while they are read, what a folder walk picks up, and records longer than
//! CloudWatch allows.

mod common;

use common::*;

use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Many megabytes of healthy-looking S3 export lines (decoded from the map, in parallel).
fn big_log(path: &Path, mib: usize) {
    let mut f = std::io::BufWriter::new(fs::File::create(path).unwrap());
    let line = "2025-04-10T10:00:00.000Z [INFO]\t2025-04-10T10:00:00.000Z\t11111111-2222-4333-8444-555555555555\tprocessing batch item of an unrelated function, nothing to see here\n";
    let mut written = 0;
    while written < mib << 20 {
        f.write_all(line.as_bytes()).unwrap();
        written += line.len();
    }
    f.flush().unwrap();
}

/// A file truncated while rotdiag reads it: the process is not killed by SIGBUS, the file is
/// named as changed, and the other input's diagnosis is printed. When the truncation lands before
/// the file is mapped or after it was read, nothing is to be seen: the test tries again with
/// another delay (a bounded number of times).
#[test]
fn a_file_truncated_while_read_is_named_and_the_others_are_kept() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.log");
    let small = dir.path().join("small.log");
    fs::write(&small, failing_export()).unwrap();
    let (big_s, small_s) = (big.display().to_string(), small.display().to_string());
    let mut delay = 40u64;
    for attempt in 0..16 {
        big_log(&big, 96);
        let started = Instant::now();
        let child = Command::new(env!("CARGO_BIN_EXE_rotdiag"))
            .args(["-f", "json", "-j", "2", "--no-progress", &big_s, &small_s])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        fs::OpenOptions::new()
            .write(true)
            .open(&big)
            .unwrap()
            .set_len(4096)
            .unwrap();
        let truncated_at = started.elapsed();
        let out = child.wait_with_output().unwrap();
        let took = started.elapsed();
        assert!(
            out.status.code().is_some(),
            "attempt {attempt}: killed by a signal: {:?}",
            out.status
        );
        let err = stderr(&out);
        if err.contains(&format!(
            "rotdiag: {big_s}: changed while being read: it shrank"
        )) {
            assert_eq!(out.status.code(), Some(2), "{err}");
            let v = json(&out);
            assert_eq!(causes(&v), ["database-unreachable"], "{err}");
            assert_eq!(v["diagnoses"][0]["evidence"][0]["source"], small_s.as_str());
            let inputs = v["inputs"].as_array().unwrap();
            assert_eq!(inputs[0]["state"], "incomplete");
            assert_eq!(inputs[1]["state"], "read");
            return;
        }
        // Too late (the file was read before it shrank) or too early (it was mapped short).
        if truncated_at >= took.mul_f64(0.8) {
            delay = delay * 2 / 3;
        } else {
            delay += 40 + delay / 2;
        }
        assert!(
            out.status.code() == Some(1) || out.status.code() == Some(2),
            "{err}"
        );
    }
    panic!("the truncation never landed while the file was read");
}

#[test]
fn a_folder_walk_skips_hidden_entries_and_links_and_reads_each_file_once() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("exports");
    fs::create_dir_all(root.join(".git")).unwrap();
    fs::create_dir_all(root.join("task")).unwrap();
    let file = root.join("task/000000");
    fs::write(&file, failing_export()).unwrap();
    fs::write(
        root.join(".git/old.log"),
        failing_export().replace("a1B2c3", "z9Y8x7"),
    )
    .unwrap();
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(&file, root.join("latest.log")).unwrap();
        std::os::unix::fs::symlink(&root, root.join("task/loop")).unwrap();
    }
    let root_s = root.display().to_string();
    let file_s = file.display().to_string();

    // Default: hidden skipped, links not followed, overlapping arguments read once.
    let out = rotdiag(&["-f", "json", &root_s, &file_s, &root_s], None);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let v = json(&out);
    assert_eq!(v["summary"]["inputs"], 1, "{}", v["inputs"]);
    assert_eq!(v["diagnoses"].as_array().unwrap().len(), 1);
    assert_eq!(v["diagnoses"][0]["occurrences"], 1, "read once");

    // --hidden reads .git/ too.
    let out = rotdiag(&["-f", "json", "--hidden", &root_s], None);
    let v = json(&out);
    assert_eq!(v["summary"]["inputs"], 2);
    assert_eq!(v["diagnoses"].as_array().unwrap().len(), 2);

    #[cfg(unix)]
    {
        // -L follows links: latest.log is task/000000 (read once), the loop is reported.
        let out = rotdiag(&["-f", "json", "-L", &root_s], None);
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let v = json(&out);
        assert_eq!(v["summary"]["inputs"], 1, "{}", v["inputs"]);
        assert_eq!(v["diagnoses"][0]["occurrences"], 1);
        assert!(
            stderr(&out).contains("symbolic link loop"),
            "{}",
            stderr(&out)
        );
        // A link named on the command line is followed.
        let link = root.join("latest.log").display().to_string();
        let out = rotdiag(&["-f", "json", &link], None);
        assert_eq!(out.status.code(), Some(1));
    }
}

/// A run of continuation lines longer than any CloudWatch event is cut at 1 MiB, said so, and
/// the records after it are read with the right line numbers, from a file and from stdin alike.
#[test]
fn an_overlong_record_is_cut_and_the_rest_is_read() {
    let mut data = String::from(
        "2025-04-10T09:31:20.000Z [INFO]\t2025-04-10T09:31:20.000Z\t11111111-2222-4333-8444-555555555555\tdump follows\n",
    );
    let filler = "    continuation line of a dump that never ends ........................\n";
    while data.len() < 12 << 20 {
        data.push_str(filler);
    }
    data.push_str(&failing_export());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dump.log");
    fs::write(&path, &data).unwrap();
    let file = path.display().to_string();
    let from_file = rotdiag(&["-f", "json", &file], None);
    let from_stdin = rotdiag(&["-f", "json"], Some(data.as_bytes()));
    let lines = data.lines().count() as u64;
    for out in [&from_file, &from_stdin] {
        assert_eq!(out.status.code(), Some(1), "{}", stderr(out));
        let v = json(out);
        assert_eq!(causes(&v), ["database-unreachable"]);
        let evidence = v["diagnoses"][0]["evidence"].as_array().unwrap();
        // The failing export's ERROR line is the 4th line from the end.
        assert_eq!(evidence[0]["line"], lines - 3, "{evidence:?}");
        assert!(
            stderr(out).contains(
                ":1: 1 record(s) longer than 1024 KiB (CloudWatch's limit for one event) cut there"
            ),
            "{}",
            stderr(out)
        );
    }
}
