//! Where closed rotations go: each rotation, as it closes, with the occurrences the engine found
//! in it, handed to a [`Sink`].
//!
//! Why a sink: a batch run collects every rotation into one report at the end ([`Closed`]), but
//! a live run (`aws logs tail --follow | rotdiag`) must say what failed as soon as a rotation
//! closes, from the same serial fold. The fold therefore does not know what becomes of a closed
//! rotation; it evaluates it and hands it on (the rotation itself too: a sink may keep it whole,
//! as the batch sink does for `--timeline` and `--test`).
//!
//! Why evaluation is here and on the pool: evaluating a failed rotation (the engine's conditions,
//! scoring, CloudTrail correlation) was about a third of the serial stage's instructions on
//! S3-export text, and the serial stage bounds how fast two threads go. The rotations a fold
//! closes at once are evaluated in parallel ([`close`]), and their occurrences rendered there
//! too ([`Rendered`]: facts redacted, texts filled in; that was another fifth of the serial
//! stage); the sink still receives them one at a time, in the order they closed, so what it
//! builds does not depend on the thread count.

use std::sync::mpsc;

use rayon::prelude::*;

use super::Options;
use crate::diagnosis::{Aggregator, Rendered};
use crate::engine;
use crate::lambda::rotation::{Keep, Rotation, RotationLedger};
use crate::pool::discard;
use crate::rules::RuleSet;

/// Receives each rotation when it closes. Called in closing order, on the fold's thread.
pub(crate) trait Sink {
    /// `rotation` closed; `occurrences` are what the engine explains of its failures (none when
    /// it succeeded, or was not a rotation), rendered. Returns the rotation unless it keeps it
    /// (it is dropped off the fold's thread: [`discard`]).
    fn closed(
        &mut self,
        rotation: Rotation,
        occurrences: Vec<Rendered>,
        rules: &RuleSet,
    ) -> Option<Rotation>;
}

/// The batch sink: what closed rotations leave for the report (their diagnoses, their records,
/// and those kept whole for a timeline or a trace).
#[derive(Default)]
pub(super) struct Closed {
    pub(super) agg: Aggregator,
    pub(super) ledger: RotationLedger,
    pub(super) keep: Keep,
    pub(super) kept: Vec<Rotation>,
}

impl Closed {
    pub(super) fn new(opts: &Options) -> Closed {
        Closed {
            keep: opts.keep.clone(),
            ledger: RotationLedger::new(opts.listed),
            ..Closed::default()
        }
    }

    /// Takes in what another input's rotations left (in input order).
    pub(super) fn merge(&mut self, other: Closed) {
        self.agg.merge(other.agg);
        self.ledger.merge(other.ledger);
        self.kept.extend(other.kept);
    }
}

impl Sink for Closed {
    /// Records the rotation (with the cause of its best-scored failure), folds its occurrences
    /// into the diagnoses, and keeps it whole when asked to.
    fn closed(
        &mut self,
        rotation: Rotation,
        found: Vec<Rendered>,
        rules: &RuleSet,
    ) -> Option<Rotation> {
        let best = found
            .iter()
            .map(Rendered::cause)
            .reduce(|a, b| if b.1 > a.1 { b } else { a });
        self.ledger.record(&rotation, rules, best);
        for o in found {
            self.agg.add(o);
        }
        if self.keep.wants(&rotation) {
            self.kept.push(rotation);
            return None;
        }
        Some(rotation)
    }
}

/// Rotations closed together below which evaluating them in parallel costs more than it saves.
const PARALLEL_FROM: usize = 4;

/// Rotations closed together from which, off the pool, the sink takes them as they are
/// evaluated ([`close_alongside`]); and how many a task of the pool evaluates.
const ALONGSIDE_FROM: usize = 1024;
const ALONGSIDE_BATCH: usize = 64;

/// Evaluates closed rotations and renders their occurrences (on the pool when there are several)
/// and hands them to `sink` in the order given; what it gives back is dropped off this thread.
pub(crate) fn close(rotations: Vec<Rotation>, rules: &RuleSet, sink: &mut dyn Sink) {
    discard(close_returning(rotations, rules, sink));
}

/// [`close`], returning the rotations the sink gave back instead of dropping them: the fold of
/// an input takes its assembler's buffers back from them first (`Session::close`), then drops
/// them off its thread ([`discard`]).
pub(crate) fn close_returning(
    rotations: Vec<Rotation>,
    rules: &RuleSet,
    sink: &mut dyn Sink,
) -> Vec<Rotation> {
    if rotations.len() >= ALONGSIDE_FROM
        && rayon::current_thread_index().is_none()
        && rayon::current_num_threads() > 1
    {
        close_alongside(rotations, rules, sink);
        return Vec::new();
    }
    let evaluated: Vec<Vec<Rendered>> = if rotations.len() < PARALLEL_FROM {
        rotations.iter().map(|r| diagnose(r, rules)).collect()
    } else {
        rotations.par_iter().map(|r| diagnose(r, rules)).collect()
    };
    hand_over(rotations, evaluated, rules, sink)
}

/// Hands evaluated rotations to `sink` in order; returns what it gives back.
fn hand_over(
    rotations: Vec<Rotation>,
    evaluated: Vec<Vec<Rendered>>,
    rules: &RuleSet,
    sink: &mut dyn Sink,
) -> Vec<Rotation> {
    rotations
        .into_iter()
        .zip(evaluated)
        .filter_map(|(rot, occurrences)| sink.closed(rot, occurrences, rules))
        .collect()
}

/// [`close`] for many rotations, off the pool (the end of a run, where the run's own tracker
/// closes every rotation still open: 44,919 of them in a folder of 94,187 S3 export objects):
/// the pool evaluates them [`ALONGSIDE_BATCH`] at a time, in order, while this thread hands each
/// batch evaluated to the sink (recording, aggregating, packing texts: about 0.12 s of one
/// thread against 0.5 s of the pool's evaluating, which it waited for, the pool idle
/// meanwhile). In closing order still: the sink gets what it got from [`close`].
fn close_alongside(rotations: Vec<Rotation>, rules: &RuleSet, sink: &mut dyn Sink) {
    let mut rotations = rotations.into_iter();
    rayon::in_place_scope_fifo(|scope| {
        let mut evaluating = Vec::new();
        loop {
            let batch: Vec<Rotation> = rotations.by_ref().take(ALONGSIDE_BATCH).collect();
            if batch.is_empty() {
                break;
            }
            let (tx, rx) = mpsc::channel();
            scope.spawn_fifo(move |_| {
                let found: Vec<Vec<Rendered>> = batch.iter().map(|r| diagnose(r, rules)).collect();
                // The receiver is gone only if the thread taking them stopped (a panic).
                let _ = tx.send((batch, found));
            });
            evaluating.push(rx);
        }
        for rx in evaluating {
            // An error is a task that panicked: the scope panics with it as it ends.
            let Ok((batch, found)) = rx.recv() else { break };
            discard(hand_over(batch, found, rules, sink));
        }
    });
}

/// What the engine explains of a closed rotation's failures, rendered.
fn diagnose(rotation: &Rotation, rules: &RuleSet) -> Vec<Rendered> {
    engine::evaluate(rotation, rules)
        .into_iter()
        .map(|o| Rendered::new(o, rules))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records what it is handed.
    struct Log(Vec<(Option<String>, usize)>);

    impl Sink for Log {
        fn closed(
            &mut self,
            rotation: Rotation,
            occurrences: Vec<Rendered>,
            _: &RuleSet,
        ) -> Option<Rotation> {
            self.0.push((rotation.secret.clone(), occurrences.len()));
            Some(rotation)
        }
    }

    #[test]
    fn rotations_reach_the_sink_in_closing_order_whatever_the_pool_does() {
        let rules = crate::testing::rules();
        // A few (evaluated together), and as many as the end of a run closes (off the pool,
        // with two threads or more: evaluated in batches while the sink takes the ones before).
        for n in [40, ALONGSIDE_FROM + ALONGSIDE_BATCH + 7] {
            let rotations: Vec<Rotation> = (0..n)
                .map(|i| Rotation {
                    secret: Some(format!(
                        "arn:aws:secretsmanager:us-east-1:1:secret:s{i}-AbCdEf"
                    )),
                    ..Rotation::default()
                })
                .collect();
            let want: Vec<Option<String>> = rotations.iter().map(|r| r.secret.clone()).collect();
            let mut log = Log(Vec::new());
            close(rotations, rules, &mut log);
            let got: Vec<Option<String>> = log.0.into_iter().map(|(s, _)| s).collect();
            assert_eq!(got, want, "{n} rotations");
        }
    }
}
