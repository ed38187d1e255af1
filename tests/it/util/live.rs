//! A rotdiag process fed through a pipe kept open, as `aws logs tail --follow | rotdiag` feeds
//! it: write lines, wait for what it prints, send it a signal, collect what it printed last.

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// How long to wait for output before failing the test: only so a broken build does not hang,
/// never a claim about speed.
pub const PATIENCE: Duration = Duration::from_secs(120);

pub struct Live {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    stderr: std::thread::JoinHandle<String>,
    /// Everything printed on stdout so far.
    pub out: String,
}

impl Live {
    /// Starts rotdiag with `args`, stdin a pipe left open.
    pub fn spawn(args: &[&str]) -> Live {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rotdiag"))
            .args(args)
            .env_remove("NO_COLOR")
            .env_remove("COLUMNS")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn rotdiag");
        let stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let stderr = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        });
        Live {
            stdin: child.stdin.take(),
            child,
            lines,
            stderr,
            out: String::new(),
        }
    }

    /// Writes `data` to rotdiag's stdin, which stays open.
    pub fn write(&mut self, data: &[u8]) {
        let pipe = self.stdin.as_mut().expect("stdin open");
        pipe.write_all(data).expect("write to rotdiag");
        pipe.flush().unwrap();
    }

    /// Waits until a line holding `needle` is printed; returns the time it took.
    pub fn wait_for(&mut self, needle: &str) -> Duration {
        let start = Instant::now();
        loop {
            let left = PATIENCE.saturating_sub(start.elapsed());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let found = line.contains(needle);
                    self.out.push_str(&line);
                    self.out.push('\n');
                    if found {
                        return start.elapsed();
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "no line with {needle:?} after {PATIENCE:?}; printed:\n{}",
                        self.out
                    )
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!(
                        "rotdiag ended before printing {needle:?}; printed:\n{}",
                        self.out
                    )
                }
            }
        }
    }

    /// Closes rotdiag's stdin: the input ends.
    pub fn close(&mut self) {
        drop(self.stdin.take());
    }

    /// Is stdin still open (nothing closed it)?
    pub fn stdin_open(&self) -> bool {
        self.stdin.is_some()
    }

    /// Sends `signal` (`INT`, `TERM`) to rotdiag.
    pub fn signal(&self, signal: &str) {
        let sig = match signal {
            "INT" => libc::SIGINT,
            "TERM" => libc::SIGTERM,
            other => panic!("no signal {other} here"),
        };
        let pid = libc::pid_t::try_from(self.child.id()).expect("a pid");
        // SAFETY: kill(2) takes plain integers; the child is ours and not yet waited for, so its
        // pid names no other process.
        let rc = unsafe { libc::kill(pid, sig) };
        assert_eq!(
            rc,
            0,
            "kill SIG{signal}: {}",
            std::io::Error::last_os_error()
        );
    }

    /// Waits for rotdiag to end (after a signal), its stdin still open; returns its exit
    /// status, all it printed on stdout, and its stderr.
    pub fn finish(mut self) -> (Option<i32>, String, String) {
        let start = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().expect("wait rotdiag") {
                break s;
            }
            if start.elapsed() > PATIENCE {
                let _ = self.child.kill();
                panic!("rotdiag did not end; printed:\n{}", self.out);
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        drop(self.stdin.take());
        while let Ok(line) = self.lines.recv_timeout(PATIENCE) {
            self.out.push_str(&line);
            self.out.push('\n');
        }
        let stderr = self.stderr.join().unwrap();
        (status.code(), self.out, stderr)
    }
}
