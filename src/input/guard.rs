//! Mapped files that change while they are read.
//!
//! A regular file is memory-mapped and decoded in place (in parallel blocks, JSON parsed straight
//! from the map): that is where rotdiag's throughput comes from. But when another process
//! truncates the file while it is mapped (log rotation, `aws logs tail > f.log` run again in
//! another terminal), touching a page past the new end raises `SIGBUS`, whose default action
//! kills the process with nothing printed, losing every other input's results.
//!
//! The options were:
//! * read with `pread` into reused buffers instead of mapping: safe by construction, but every
//!   byte is copied once more, and JSON, parsed from the mapped slice three times faster than
//!   through a reader (benches/HISTORY.md), would need the whole file in memory or the slow parser;
//! * keep the map and make the fault harmless: what this module does.
//!
//! [`Guard`] registers a mapped range in a fixed table; one `SIGBUS` handler (installed once,
//! chaining to the handler it replaces, which for Rust programs is the standard library's stack
//! overflow detector) looks the faulting address up, maps anonymous zero pages over the rest of
//! that range with `MAP_FIXED`, marks the range changed, and returns, so the faulting read
//! resumes and reads zeros. The handler only loads atomics and calls `mmap`, a system call safe
//! to make in a handler. The pipeline then sees NUL bytes where the lost data was (skipped as
//! binary), and, when the input is done, [`Guard::changed`] and the file's size tell it to report
//! the input as changed while read, naming it, while every other input's results are kept. A
//! fault outside every registered range is passed on: a real bug still crashes.
//!
//! The cost is one table entry per mapped file; nothing is added per byte. Measured on the
//! 256 MiB `s3-export` file of `cargo run --release --example gen -- --shape s3-export --size
//! 256MiB --seed 1`, `-j1 -f json`, `perf stat -e task-clock`, three runs each, alternating:
//! 1.81-1.93 s before this module and the rest of its change, 1.93-2.08 s after (the difference
//! is the redaction of the report's 3572 diagnoses at the egress). The rejected design, reading
//! the same file through `read` into buffers (what stdin does), took 5.0 s against 3.5 s mapped
//! (hyperfine, 5 runs, wall clock on a loaded two-core machine).

#[cfg(unix)]
mod imp {
    use std::sync::Once;
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

    const SLOTS: usize = 256;

    struct Slot {
        used: AtomicBool,
        start: AtomicUsize,
        len: AtomicUsize,
        changed: AtomicBool,
    }

    #[allow(clippy::declare_interior_mutable_const)]
    const EMPTY: Slot = Slot {
        used: AtomicBool::new(false),
        start: AtomicUsize::new(0),
        len: AtomicUsize::new(0),
        changed: AtomicBool::new(false),
    };

    static TABLE: [Slot; SLOTS] = [EMPTY; SLOTS];
    static PAGE: AtomicUsize = AtomicUsize::new(4096);
    static INSTALL: Once = Once::new();
    /// The handler ours replaced, set once before ours is installed.
    static mut PREVIOUS: Option<libc::sigaction> = None;

    /// A mapped range watched for truncation; unregistered when dropped.
    pub struct Guard {
        slot: usize,
    }

    impl Guard {
        /// Watches `[ptr, ptr + len)`; `None` when the table is full (the caller then reads
        /// the file without mapping it).
        pub(crate) fn new(ptr: *const u8, len: usize) -> Option<Guard> {
            INSTALL.call_once(install);
            let slot = TABLE.iter().position(|s| {
                s.used
                    .compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
            })?;
            let s = &TABLE[slot];
            s.changed.store(false, Ordering::Relaxed);
            s.start.store(ptr as usize, Ordering::Relaxed);
            s.len.store(len, Ordering::Release);
            Some(Guard { slot })
        }

        /// Did a read fault past the end of the file (it shrank under the map)?
        pub(crate) fn changed(&self) -> bool {
            TABLE[self.slot].changed.load(Ordering::Acquire)
        }
    }

    impl Drop for Guard {
        fn drop(&mut self) {
            let s = &TABLE[self.slot];
            s.len.store(0, Ordering::Release);
            s.start.store(0, Ordering::Relaxed);
            s.used.store(false, Ordering::Release);
        }
    }

    fn install() {
        // SAFETY: sysconf and sigaction with valid arguments; PREVIOUS is written once, here,
        // before the handler that reads it can run.
        unsafe {
            let page = libc::sysconf(libc::_SC_PAGESIZE);
            if page > 0 {
                PAGE.store(page as usize, Ordering::Relaxed);
            }
            let mut new: libc::sigaction = std::mem::zeroed();
            new.sa_sigaction = on_sigbus as *const () as usize;
            new.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            libc::sigemptyset(&mut new.sa_mask);
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(libc::SIGBUS, &new, &mut old) == 0 {
                PREVIOUS = Some(old);
            }
        }
    }

    extern "C" fn on_sigbus(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
        // SAFETY: the kernel passes a valid siginfo for an SA_SIGINFO handler.
        let addr = unsafe { (*info).si_addr() } as usize;
        let page = PAGE.load(Ordering::Relaxed);
        for s in &TABLE {
            let len = s.len.load(Ordering::Acquire);
            let start = s.start.load(Ordering::Relaxed);
            if len == 0 || addr < start || addr >= start + len {
                continue;
            }
            let from = addr & !(page - 1);
            let end = (start + len + page - 1) & !(page - 1);
            // SAFETY: [from, end) lies inside a live read-only mapping this process made (the
            // Guard is dropped before the map); replacing its pages with zero pages changes
            // only what the reads of that file see.
            let r = unsafe {
                libc::mmap(
                    from as *mut libc::c_void,
                    end - from,
                    libc::PROT_READ,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                    -1,
                    0,
                )
            };
            if r != libc::MAP_FAILED {
                s.changed.store(true, Ordering::Release);
                return;
            }
        }
        // Not a mapped input: what the previous handler (or the default action) would do.
        // SAFETY: PREVIOUS was set before this handler was installed and is never written again.
        let previous = unsafe { *std::ptr::addr_of!(PREVIOUS) };
        match previous {
            Some(old) if old.sa_sigaction != libc::SIG_DFL && old.sa_sigaction != libc::SIG_IGN => {
                if old.sa_flags & libc::SA_SIGINFO != 0 {
                    let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                        // SAFETY: an SA_SIGINFO handler has this signature.
                        unsafe { std::mem::transmute(old.sa_sigaction) };
                    f(sig, info, ctx);
                } else {
                    let f: extern "C" fn(libc::c_int) =
                        // SAFETY: a plain handler has this signature.
                        unsafe { std::mem::transmute(old.sa_sigaction) };
                    f(sig);
                }
            }
            _ => {
                // SAFETY: restoring the default action; returning re-runs the faulting
                // instruction, which then terminates the process as it would have.
                unsafe {
                    let mut dfl: libc::sigaction = std::mem::zeroed();
                    dfl.sa_sigaction = libc::SIG_DFL;
                    libc::sigaction(libc::SIGBUS, &dfl, std::ptr::null_mut());
                }
            }
        }
    }
}

#[cfg(not(unix))]
mod imp {
    /// Without `SIGBUS` there is nothing to guard against.
    pub struct Guard;

    impl Guard {
        pub(crate) fn new(_ptr: *const u8, _len: usize) -> Option<Guard> {
            Some(Guard)
        }
        pub(crate) fn changed(&self) -> bool {
            false
        }
    }
}

pub use imp::Guard;
