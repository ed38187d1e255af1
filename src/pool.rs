//! What the run drops on its thread pool rather than where it is.
//!
//! Why a module of its own: both the fold of an input (`pipeline`) and the aggregation of
//! diagnoses (`diagnosis`) free what they are done with off their thread, with one rule for when
//! not to ([`discard`]); below both, so that each uses the one rule.

/// Things to drop from which [`discard`] drops them on the pool.
const SPAWN_DISCARD_FROM: usize = 32;

/// Drops what a fold is done with on the pool, not on the fold's thread: freeing a closed
/// rotation's invocations (their kept lines, facts, metrics) was a tenth of the serial stage's
/// instructions on S3-export text. Nothing observable depends on when they are freed.
///
/// With one thread (`-j 1`, or a one-core machine) they are dropped here: the pool's only worker
/// is the one running the fold, so a job spawned for it would wait until the fold is done, and
/// everything closed would be held to the end of the input (a 1 GiB mapped file peaked at
/// 2.7 GB of RSS, 1.6 GB of it spent rotations, and spent 3.2 s in the kernel faulting it in).
///
/// A few are dropped here too (fewer than [`SPAWN_DISCARD_FROM`]: the end of each small input
/// of a folder): a job spawned for them cost more than dropping them, and woke a sleeping worker
/// to run it, which then spun idle before it slept again.
pub(crate) fn discard<T: Send + 'static>(spent: Vec<T>) {
    if spent.is_empty() {
        return;
    }
    if spent.len() < SPAWN_DISCARD_FROM || rayon::current_num_threads() <= 1 {
        drop(spent);
    } else {
        rayon::spawn(move || drop(spent));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sets its flag when dropped.
    struct Flag(std::sync::Arc<std::sync::atomic::AtomicBool>);

    impl Drop for Flag {
        fn drop(&mut self) {
            self.0.store(true, std::sync::atomic::Ordering::SeqCst);
        }
    }

    /// On a pool of one thread, busy with the fold, a spent value is freed before `discard`
    /// returns: a job spawned for it could only run once the fold is over, so a whole run's
    /// closed rotations would be held until the end.
    #[test]
    fn with_one_thread_what_is_spent_is_freed_at_once() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let freed = pool.install(|| {
            let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            discard(vec![Flag(flag.clone())]);
            flag.load(std::sync::atomic::Ordering::SeqCst)
        });
        assert!(freed);
    }
}
