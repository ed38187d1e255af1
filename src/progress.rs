//! Progress on long batch runs: a bar on stderr, only when stderr is a terminal and only once the
//! run has lasted a second, so short runs and pipes never see it.
//!
//! Progress counts bytes as they sit on disk (a `.gz` file advances by its compressed bytes), so
//! the bar's total is the sum of the input files' sizes. Standard input has no total: the bar is a
//! spinner with the bytes read and the rate.

use std::io::{self, IsTerminal, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How long a run goes before its progress is shown.
const SHOW_AFTER: Duration = Duration::from_secs(1);

/// A cheap, shareable handle; the default does nothing.
#[derive(Clone, Default)]
pub(crate) struct Progress(Option<Arc<Inner>>);

struct Inner {
    bar: ProgressBar,
    started: Instant,
    shown: AtomicBool,
    files: u64,
    files_done: AtomicU64,
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Progress(on)"
        } else {
            "Progress(off)"
        })
    }
}

impl Progress {
    /// Would [`Progress::new`] draw a bar (it needs the run's totals before the first input is
    /// read)?
    pub(crate) fn shown(enabled: bool) -> bool {
        enabled && io::stderr().is_terminal()
    }

    /// A progress bar for a run over `files` inputs of `total` bytes (`None`: unknown, as for
    /// stdin), drawn on stderr if `enabled` and stderr is a terminal.
    pub(crate) fn new(enabled: bool, files: u64, total: Option<u64>) -> Progress {
        if !Progress::shown(enabled) {
            return Progress(None);
        }
        let bar = match total {
            Some(t) => ProgressBar::with_draw_target(Some(t), ProgressDrawTarget::hidden())
                .with_style(
                    ProgressStyle::with_template(
                        "{spinner} {elapsed} [{bar:30}] {bytes}/{total_bytes} {binary_bytes_per_sec} {msg} (eta {eta})",
                    )
                    .expect("valid template")
                    .progress_chars("=> "),
                ),
            None => ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden()).with_style(
                ProgressStyle::with_template("{spinner} {elapsed} {bytes} {binary_bytes_per_sec} {msg}")
                    .expect("valid template"),
            ),
        };
        Progress(Some(Arc::new(Inner {
            bar,
            started: Instant::now(),
            shown: AtomicBool::new(false),
            files,
            files_done: AtomicU64::new(0),
        })))
    }

    /// `bytes` more of the input were read.
    pub(crate) fn advance(&self, bytes: u64) {
        if let Some(p) = &self.0 {
            p.bar.inc(bytes);
            p.show_if_long();
        }
    }

    /// One more input is finished.
    pub(crate) fn file_done(&self) {
        if let Some(p) = &self.0 {
            let done = p.files_done.fetch_add(1, Ordering::Relaxed) + 1;
            if p.files > 1 {
                p.bar.set_message(format!("{done}/{} files", p.files));
            }
            p.show_if_long();
        }
    }

    /// Removes the bar before the report is printed.
    pub(crate) fn finish(&self) {
        if let Some(p) = &self.0 {
            p.bar.finish_and_clear();
        }
    }

    /// Wraps a reader so that what it reads advances the progress.
    pub(crate) fn reader<R: Read>(&self, inner: R) -> ProgressReader<R> {
        ProgressReader {
            inner,
            progress: self.clone(),
        }
    }
}

impl Inner {
    fn show_if_long(&self) {
        if !self.shown.load(Ordering::Relaxed) && self.started.elapsed() >= SHOW_AFTER {
            self.shown.store(true, Ordering::Relaxed);
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
            self.bar.enable_steady_tick(Duration::from_millis(200));
        }
    }
}

/// A reader that reports what it reads to a [`Progress`].
pub(crate) struct ProgressReader<R> {
    inner: R,
    progress: Progress,
}

impl<R: Read> Read for ProgressReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.advance(n as u64);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disabled_progress_is_inert() {
        let p = Progress::new(false, 3, Some(10));
        assert!(p.0.is_none());
        p.advance(5);
        p.file_done();
        p.finish();
        let mut r = p.reader(&b"abc"[..]);
        let mut s = String::new();
        r.read_to_string(&mut s).unwrap();
        assert_eq!(s, "abc");
    }
}
