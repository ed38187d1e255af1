//! A reorder buffer over the parallel scan: results of inputs scanned in any order, folded in
//! input order as soon as the next one is in.
//!
//! Why: the run carries rotations across inputs (a rotation's steps are in several log streams,
//! i.e. several S3 export objects), and what the cross-input fold builds depends on the order it
//! takes inputs in, so that order must be the input order whatever the thread count. Collecting
//! every input's outcome and folding them after the last one is read made that fold a serial
//! tail (and held every outcome of an archive of 100,000 objects in memory at once). Here the
//! thread that hands in the next outcome due folds it, and any following ones already waiting,
//! while the other threads go on scanning; an outcome waits only for the ones before it.
//!
//! No thread blocks on the fold: a thread that finds another one folding leaves its outcome in
//! the buffer, and the folding thread takes it before it lets go (it checks again after
//! unlocking, so an outcome handed in at that moment is not left behind). With one thread the
//! scan goes in input order and each outcome is folded as soon as it is made.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};

/// Folds items `0, 1, 2, …` into a state `S` in index order, whatever order they arrive in.
pub(super) struct InOrder<T, S, F> {
    waiting: Mutex<Waiting<T>>,
    state: Mutex<S>,
    fold: F,
}

/// Items handed in before their turn, and the index of the next one due.
struct Waiting<T> {
    next: usize,
    items: BTreeMap<usize, T>,
}

impl<T, S, F: Fn(&mut S, T)> InOrder<T, S, F> {
    pub(super) fn new(state: S, fold: F) -> Self {
        InOrder {
            waiting: Mutex::new(Waiting {
                next: 0,
                items: BTreeMap::new(),
            }),
            state: Mutex::new(state),
            fold,
        }
    }

    /// Hands in item `index` (each index once). Folds it, and the items after it that are
    /// already in, if it is due and no other thread is folding (that thread then folds them).
    pub(super) fn put(&self, index: usize, item: T) {
        lock(&self.waiting).items.insert(index, item);
        loop {
            let mut state = match self.state.try_lock() {
                Ok(s) => s,
                Err(TryLockError::WouldBlock) => return,
                Err(TryLockError::Poisoned(p)) => p.into_inner(),
            };
            while let Some(item) = self.take_due() {
                (self.fold)(&mut state, item);
            }
            drop(state);
            // An item handed in while this thread held the state found it locked and left:
            // fold it now rather than leave it behind.
            let waiting = lock(&self.waiting);
            if !waiting.items.contains_key(&waiting.next) {
                return;
            }
        }
    }

    fn take_due(&self) -> Option<T> {
        let mut w = lock(&self.waiting);
        let next = w.next;
        let item = w.items.remove(&next)?;
        w.next += 1;
        Some(item)
    }

    /// The state once every item was handed in; `None` if some index was never handed in (the
    /// items after it are then not folded).
    pub(super) fn finish(self) -> Option<S> {
        let waiting = self
            .waiting
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        waiting.items.is_empty().then(|| {
            self.state
                .into_inner()
                .unwrap_or_else(PoisonError::into_inner)
        })
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rayon::prelude::*;

    fn push(v: &mut Vec<usize>, i: usize) {
        v.push(i);
    }

    #[test]
    fn items_are_folded_in_index_order_whatever_order_they_arrive_in() {
        let order = [3, 0, 4, 1, 2, 7, 5, 6];
        let ordered = InOrder::new(Vec::new(), push);
        let mut folded = Vec::new();
        for &i in &order {
            ordered.put(i, i);
            folded.push(lock(&ordered.state).len());
        }
        // Nothing folds before 0 is in; 0 and 1 fold alone, 2 brings 3 and 4 with it, ...
        assert_eq!(folded, [0, 1, 1, 2, 5, 5, 6, 8]);
        assert_eq!(ordered.finish().unwrap(), (0..8).collect::<Vec<_>>());
    }

    #[test]
    fn a_missing_index_leaves_the_fold_unfinished() {
        let ordered = InOrder::new(Vec::new(), push);
        ordered.put(0, 0);
        ordered.put(2, 2);
        assert_eq!(ordered.finish(), None);
        assert_eq!(InOrder::new(vec![9], push).finish(), Some(vec![9]));
    }

    #[test]
    fn items_handed_in_while_another_thread_folds_are_not_left_behind() {
        for threads in [1, 2, 4, 8] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let ordered = InOrder::new(Vec::new(), |v: &mut Vec<usize>, i: usize| {
                // A slow fold, so that others hand in items meanwhile.
                if i.is_multiple_of(97) {
                    std::thread::sleep(std::time::Duration::from_millis(2));
                }
                v.push(i);
            });
            pool.install(|| {
                (0..2000usize)
                    .into_par_iter()
                    .rev()
                    .for_each(|i| ordered.put(i, i))
            });
            let got = ordered.finish().expect("every item folded");
            assert_eq!(got, (0..2000).collect::<Vec<_>>(), "{threads} threads");
        }
    }
}
