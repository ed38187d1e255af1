//! Grouping invocations into rotations.
//!
//! Secrets Manager rotates a secret by invoking the function four times (createSecret, setSecret,
//! testSecret, finishSecret) with the same `ClientRequestToken`, the id of the new version. The
//! templates print the secret ARN on almost every line and the token on some, so:
//!
//! * an invocation that names a token joins the rotation of that token;
//! * one that names only the secret joins the latest open rotation of that secret;
//! * one that names neither (a step that hung before logging anything, in a warm environment)
//!   joins the rotation last active in the same log stream, if that was recent, and its step is
//!   inferred as the one after the previous invocation's, when that one succeeded.
//!
//! A rotation closes when it succeeds (finishSecret), when it has been idle for
//! [`ROTATION_IDLE_MS`] of event time, or at the end of the input. Closed rotations that did not
//! succeed are handed to the rule engine.

use std::collections::HashSet;

use rustc_hash::FxHashMap as HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use super::Step;
use super::invocation::{Invocation, Outcome};
use crate::rules::RuleSet;
use crate::time::EpochMs;

/// A rotation idle this long (event time) is over: Secrets Manager retries within minutes.
pub const ROTATION_IDLE_MS: EpochMs = 2 * 60 * 60 * 1000;
/// An invocation with no secret or token joins its stream's last rotation only if it started this
/// soon after that rotation's last activity.
const ADJACENT_MS: EpochMs = 15 * 60 * 1000;
/// Across streams (a new execution environment) the next step must start this soon after.
const CROSS_STREAM_MS: EpochMs = 2 * 60 * 1000;
/// After a step succeeds, the next one starts within seconds.
const NEXT_STEP_MS: EpochMs = 30 * 1000;
/// Invocations per rotation before it is diagnosed in parts (a rotation retried forever).
const MAX_INVOCATIONS: usize = 48;

/// One rotation attempt of one secret (or, when the logs name no secret, the invocations that
/// belong together by stream and time).
#[derive(Clone, Debug, Default)]
pub struct Rotation {
    pub secret: Option<String>,
    pub token: Option<String>,
    pub invocations: Vec<Invocation>,
    pub succeeded: bool,
    pub last_ts: Option<EpochMs>,
}

impl Rotation {
    /// Did any invocation of this rotation fail?
    pub fn failed(&self) -> bool {
        !self.succeeded && self.invocations.iter().any(Invocation::failed)
    }

    /// Is this a Secrets Manager rotation (as opposed to invocations of some other function)?
    /// Yes when a line shows it, and also when the function printed nothing that says otherwise
    /// (only platform lines and neutral ones, like botocore's credential lookup): that is a
    /// rotation function hanging before its first template line, the troubleshooting guide's
    /// first symptom.
    pub fn is_rotation(&self, rules: &RuleSet) -> bool {
        self.secret.is_some()
            || self.token.is_some()
            || self
                .invocations
                .iter()
                .any(|i| is_rotation_related(i, rules))
            || self.invocations.iter().all(|i| i.foreign == 0)
    }
}

/// Does this invocation show it belongs to a rotation function?
pub fn is_rotation_related(inv: &Invocation, rules: &RuleSet) -> bool {
    inv.step.is_some()
        || inv.facts.contains(rules.known.secret_arn)
        || rules
            .model
            .rotation_related
            .is_some_and(|p| inv.seen.contains(p))
        || inv
            .function
            .as_deref()
            .or(inv.group.as_deref())
            .is_some_and(|f| f.to_ascii_lowercase().contains("rotat"))
}

/// Counts of what was seen, for the report summary.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RotationCounts {
    pub rotations: u64,
    pub failed: u64,
    pub succeeded: u64,
}

/// Assembles rotations from closed invocations.
#[derive(Default)]
pub struct Tracker {
    open: Vec<Option<Rotation>>,
    by_token: HashMap<String, usize>,
    by_secret: HashMap<String, usize>,
    by_stream: HashMap<(u32, Option<Arc<str>>), usize>,
    /// Invocations that name no secret or token and follow nothing in their own stream: they are
    /// placed by time once the invocations around them are known.
    unattributed: Vec<Invocation>,
    closed: Vec<Rotation>,
    /// Invocations of other functions, dropped on arrival.
    pub foreign_dropped: u64,
}

impl Tracker {
    pub fn new() -> Tracker {
        Tracker::default()
    }

    /// Adds a closed invocation.
    pub fn add(&mut self, inv: Invocation, rules: &RuleSet) {
        let secret = inv.facts.get(rules.known.secret_arn);
        let token = inv.facts.get(rules.known.token);
        let mut slot = None;
        if let Some(t) = &token {
            slot = self.by_token.get(*t).copied();
        }
        if slot.is_none()
            && let Some(s) = &secret
        {
            slot = self.by_secret.get(*s).copied().filter(|&i| {
                let r = self.open[i].as_ref().unwrap();
                // A rotation of the same secret with another token is another rotation.
                match (r.token.as_deref(), token) {
                    (Some(a), Some(b)) => a == b,
                    _ => true,
                }
            });
        }
        if slot.is_none() && secret.is_none() && token.is_none() {
            if inv.foreign > 0 && inv.step.is_none() {
                // Another function's invocation joins no rotation. A complete one is dropped
                // here (nothing about it can be diagnosed); a pasted fragment stands alone.
                if inv.is_fragment() {
                    self.attach(None, inv, rules);
                } else {
                    self.foreign_dropped += 1;
                }
                return;
            }
            let stream_key = (inv.source, inv.stream.clone());
            slot = self.by_stream.get(&stream_key).copied().filter(|&i| {
                let r = self.open[i].as_ref().unwrap();
                follows(r, &inv, ADJACENT_MS) && continues(r, &inv)
            });
            if slot.is_none() {
                self.unattributed.push(inv);
                return;
            }
        }
        self.attach(slot, inv, rules);
    }

    /// Puts `inv` into rotation `slot` (or a new one), keeping the rotation in time order.
    /// Returns the slot used (closed again if the invocation completed the rotation).
    fn attach(&mut self, slot: Option<usize>, mut inv: Invocation, rules: &RuleSet) -> usize {
        let mut slot = slot.filter(|&i| self.open.get(i).is_some_and(Option::is_some));
        if let Some(i) = slot
            && self.open[i].as_ref().unwrap().invocations.len() >= MAX_INVOCATIONS
        {
            // A rotation retried this often is diagnosed in parts: close this part, go on in a
            // new one under the same names (the ledger still counts the rotation once).
            let (secret, token) = {
                let r = self.open[i].as_ref().unwrap();
                (r.secret.clone(), r.token.clone())
            };
            self.close(i);
            self.open.push(Some(Rotation {
                secret: secret.clone(),
                token: token.clone(),
                ..Rotation::default()
            }));
            let n = self.open.len() - 1;
            if let Some(s) = secret {
                self.by_secret.insert(s, n);
            }
            if let Some(t) = token {
                self.by_token.insert(t, n);
            }
            slot = Some(n);
        }
        let idx = match slot {
            Some(i) => i,
            None => {
                self.open.push(Some(Rotation::default()));
                self.open.len() - 1
            }
        };
        let rot = self.open[idx].as_mut().unwrap();
        if let Some(s) = inv.facts.get(rules.known.secret_arn) {
            if rot.secret.is_none() {
                rot.secret = Some(s.to_owned());
            }
            if self.by_secret.get(s) != Some(&idx) {
                self.by_secret.insert(s.to_owned(), idx);
            }
        }
        if rot.token.is_none()
            && let Some(t) = inv.facts.get(rules.known.token)
        {
            rot.token = Some(t.to_owned());
            self.by_token.insert(t.to_owned(), idx);
        }
        // Invocations arrive roughly in order; keep the rotation sorted by start time.
        let at = match inv.first_ts {
            Some(f) => rot
                .invocations
                .iter()
                .position(|i| i.first_ts.is_some_and(|t| t > f))
                .unwrap_or(rot.invocations.len()),
            None => rot.invocations.len(),
        };
        // Infer the step of an invocation that logged nothing telling: the step after the
        // previous invocation's, when that one succeeded.
        if inv.step.is_none()
            && at > 0
            && let Some(prev) = rot.invocations.get(at - 1)
            && prev.outcome() == Outcome::Succeeded
            && let Some(next) = prev.step.and_then(Step::next)
        {
            inv.step = Some(next);
            inv.step_inferred = true;
        }
        if let Some(t) = inv.last_ts.or(inv.first_ts) {
            rot.last_ts = Some(rot.last_ts.map_or(t, |l| l.max(t)));
        }
        let succeeded = rules
            .model
            .rotation_succeeded
            .is_some_and(|p| inv.seen.contains(p));
        let stream_key = (inv.source, inv.stream.clone());
        rot.invocations.insert(at, inv);
        self.by_stream.insert(stream_key, idx);
        if succeeded {
            rot.succeeded = true;
            self.close(idx);
        }
        idx
    }

    /// Places unattributed invocations that started before `until` (all of them when `None`):
    /// into the open rotation whose last activity ended just before they started (Secrets
    /// Manager invokes the next step within seconds, often in a new execution environment, i.e.
    /// another stream), preferring the same input and stream; otherwise into a rotation of their own.
    fn resolve(&mut self, until: Option<EpochMs>, rules: &RuleSet) {
        if self.unattributed.is_empty() {
            return;
        }
        let mut waiting = Vec::new();
        let mut ready = Vec::new();
        for inv in std::mem::take(&mut self.unattributed) {
            let settled = match (until, inv.last_ts.or(inv.first_ts)) {
                (None, _) | (_, None) => true,
                (Some(u), Some(t)) => t < u,
            };
            if settled {
                ready.push(inv);
            } else {
                waiting.push(inv);
            }
        }
        self.unattributed = waiting;
        ready.sort_by_key(|i| (i.first_ts, i.source, i.first_line));
        for inv in ready {
            let best = self
                .open
                .iter()
                .enumerate()
                .filter_map(|(i, r)| r.as_ref().map(|r| (i, r)))
                .filter(|(_, r)| {
                    !r.succeeded && follows(r, &inv, CROSS_STREAM_MS) && continues(r, &inv)
                })
                .max_by_key(|(i, r)| {
                    let last = r.invocations.last();
                    (
                        last.is_some_and(|l| l.source == inv.source),
                        last.is_some_and(|l| l.stream == inv.stream),
                        r.last_ts,
                        std::cmp::Reverse(*i),
                    )
                })
                .map(|(i, _)| i);
            // Without timestamps, only the same stream can vouch for the order.
            let best = best.filter(|&i| {
                inv.first_ts.is_some()
                    || self.open[i]
                        .as_ref()
                        .unwrap()
                        .invocations
                        .last()
                        .is_some_and(|l| l.source == inv.source && l.stream == inv.stream)
            });
            self.attach(best, inv, rules);
        }
    }

    fn close(&mut self, idx: usize) {
        if let Some(r) = self.open[idx].take() {
            if let Some(t) = &r.token
                && self.by_token.get(t) == Some(&idx)
            {
                self.by_token.remove(t);
            }
            if let Some(s) = &r.secret
                && self.by_secret.get(s) == Some(&idx)
            {
                self.by_secret.remove(s);
            }
            self.by_stream.retain(|_, v| *v != idx);
            self.closed.push(r);
        }
        // Reclaim trailing empty slots so the slab does not grow with the input.
        while matches!(self.open.last(), Some(None)) {
            self.open.pop();
        }
    }

    /// Places unattributed invocations older than a few minutes and closes rotations idle for
    /// longer than [`ROTATION_IDLE_MS`] before `now` (event time).
    pub fn sweep(&mut self, now: EpochMs, rules: &RuleSet) {
        self.resolve(Some(now - CROSS_STREAM_MS), rules);
        let idle: Vec<usize> = self
            .open
            .iter()
            .enumerate()
            .filter_map(|(i, r)| {
                let r = r.as_ref()?;
                r.last_ts.filter(|&l| now - l > ROTATION_IDLE_MS).map(|_| i)
            })
            .collect();
        for i in idle {
            self.close(i);
        }
        if self.open.iter().all(Option::is_none) {
            self.open.clear();
        }
    }

    /// Places every unattributed invocation and closes every open rotation.
    pub fn finish(&mut self, rules: &RuleSet) {
        self.resolve(None, rules);
        for i in 0..self.open.len() {
            self.close(i);
        }
        self.open.clear();
    }

    /// Takes the rotations closed so far.
    pub fn drain_closed(&mut self) -> Vec<Rotation> {
        std::mem::take(&mut self.closed)
    }

    /// Takes every open rotation and unattributed invocation without closing anything (to
    /// continue assembly across inputs).
    pub fn take_open(&mut self) -> (Vec<Rotation>, Vec<Invocation>) {
        self.by_token.clear();
        self.by_secret.clear();
        self.by_stream.clear();
        let open = self.open.drain(..).flatten().collect();
        (open, std::mem::take(&mut self.unattributed))
    }

    /// Merges a rotation carried over from another input. A rotation that names its secret or
    /// token joins the open rotation with the same names, as a unit (so invocations placed by
    /// time in their own input stay with it); one that names neither gives its invocations back
    /// to be placed by time among all inputs.
    pub fn absorb(&mut self, rot: Rotation, rules: &RuleSet) {
        if rot.secret.is_none() && rot.token.is_none() {
            self.unattributed.extend(rot.invocations);
            return;
        }
        let mut slot = rot
            .token
            .as_ref()
            .and_then(|t| self.by_token.get(t).copied());
        if slot.is_none()
            && let Some(s) = &rot.secret
        {
            slot = self.by_secret.get(s).copied().filter(|&i| {
                match (&self.open[i].as_ref().unwrap().token, &rot.token) {
                    (Some(a), Some(b)) => a == b,
                    _ => true,
                }
            });
        }
        for inv in rot.invocations {
            slot = Some(self.attach(slot, inv, rules));
        }
    }
}

/// Could `inv` be the next invocation of `rot`, by its step? After a step succeeded Secrets
/// Manager invokes the next one; after a failure it retries (from createSecret, or the same step).
/// An invocation whose step is unknown fits anywhere.
fn continues(rot: &Rotation, inv: &Invocation) -> bool {
    let (Some(step), Some(last)) = (inv.step, rot.invocations.last()) else {
        return true;
    };
    let Some(prev) = last.step else {
        return true;
    };
    match last.outcome() {
        Outcome::Succeeded => prev.next() == Some(step) || prev == step,
        Outcome::Failed => step == Step::CreateSecret || step == prev,
        Outcome::Unknown => true,
    }
}

/// Did `inv` start shortly after `rot`'s last activity (within `window`)? Secrets Manager
/// invokes the next step as soon as a step succeeds, so after a success the window is
/// [`NEXT_STEP_MS`]; retries after a failure come later.
fn follows(rot: &Rotation, inv: &Invocation, window: EpochMs) -> bool {
    let window = match rot.invocations.last().map(Invocation::outcome) {
        Some(Outcome::Succeeded) => window.min(NEXT_STEP_MS),
        _ => window,
    };
    match (rot.last_ts, inv.first_ts) {
        (Some(l), Some(f)) => f >= l - 1000 && f - l <= window,
        _ => true,
    }
}

/// Counts rotations once each even when their pieces closed separately (several inputs).
/// Rotations are remembered by a 64-bit hash of their token (or secret), so the ledger stays small.
#[derive(Default)]
pub struct RotationLedger {
    seen: HashSet<u64>,
    succeeded: HashSet<u64>,
    failed: HashSet<u64>,
    anonymous: RotationCounts,
}

fn key_hash(s: &str) -> u64 {
    let mut h = DefaultHasher::new();
    s.hash(&mut h);
    h.finish()
}

impl RotationLedger {
    pub fn record(&mut self, rot: &Rotation, rules: &RuleSet) {
        if !rot.is_rotation(rules) {
            return;
        }
        let failed = rot.failed();
        match rot.token.as_deref().or(rot.secret.as_deref()).map(key_hash) {
            Some(key) => {
                self.seen.insert(key);
                if rot.succeeded {
                    self.succeeded.insert(key);
                } else if failed {
                    self.failed.insert(key);
                }
            }
            None => {
                self.anonymous.rotations += 1;
                if rot.succeeded {
                    self.anonymous.succeeded += 1;
                } else if failed {
                    self.anonymous.failed += 1;
                }
            }
        }
    }

    pub fn merge(&mut self, other: RotationLedger) {
        self.seen.extend(other.seen);
        self.succeeded.extend(other.succeeded);
        self.failed.extend(other.failed);
        self.anonymous.rotations += other.anonymous.rotations;
        self.anonymous.failed += other.anonymous.failed;
        self.anonymous.succeeded += other.anonymous.succeeded;
    }

    pub fn counts(&self) -> RotationCounts {
        let failed = self.failed.difference(&self.succeeded).count() as u64;
        RotationCounts {
            rotations: self.seen.len() as u64 + self.anonymous.rotations,
            failed: failed + self.anonymous.failed,
            succeeded: self.succeeded.len() as u64 + self.anonymous.succeeded,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lambda::invocation::tests::{A, ARN, B, TOKEN, assemble, rules};

    const C: &str = "33333333-3333-4333-8333-333333333333";
    const D: &str = "44444444-4444-4444-8444-444444444444";

    fn track(lines: &[(Option<&str>, &str)]) -> (Vec<Rotation>, Vec<Rotation>) {
        let mut t = Tracker::new();
        for inv in assemble(lines) {
            t.add(inv, rules());
        }
        let closed = t.drain_closed();
        t.finish(rules());
        (closed, t.drain_closed())
    }

    fn invocation(rid: &str, body: &[String], timeout: bool) -> Vec<String> {
        let mut v = vec![format!("START RequestId: {rid} Version: $LATEST")];
        v.extend(body.iter().cloned());
        v.push(format!("END RequestId: {rid}"));
        v.push(if timeout {
            format!("REPORT RequestId: {rid}\tDuration: 30000.00 ms\tBilled Duration: 30000 ms\tMemory Size: 128 MB\tMax Memory Used: 80 MB\tStatus: timeout")
        } else {
            format!("REPORT RequestId: {rid}\tDuration: 300.00 ms\tBilled Duration: 300 ms\tMemory Size: 128 MB\tMax Memory Used: 80 MB")
        });
        v
    }

    fn info(rid: &str, msg: &str) -> String {
        format!("[INFO]\t2025-03-11T14:02:07.402Z\t{rid}\t{msg}")
    }

    #[test]
    fn a_successful_rotation_closes_as_soon_as_finish_succeeds() {
        let mut lines = Vec::new();
        lines.extend(invocation(
            A,
            &[info(
                A,
                &format!(
                    "createSecret: Successfully put secret for ARN {ARN} and version {TOKEN}."
                ),
            )],
            false,
        ));
        lines.extend(invocation(B, &[info(B, &format!("setSecret: Successfully set password for user app in PostgreSQL DB for secret arn {ARN}."))], false));
        lines.extend(invocation(C, &[info(C, &format!("testSecret: Successfully signed into PostgreSQL DB with AWSPENDING secret in {ARN}."))], false));
        lines.extend(invocation(D, &[info(D, &format!("finishSecret: Successfully set AWSCURRENT stage to version {TOKEN} for secret {ARN}."))], false));
        let refs: Vec<(Option<&str>, &str)> = lines.iter().map(|l| (None, l.as_str())).collect();
        let (closed, rest) = track(&refs);
        assert_eq!(closed.len(), 1);
        assert!(rest.is_empty());
        let r = &closed[0];
        assert!(r.succeeded && !r.failed());
        assert_eq!(r.invocations.len(), 4);
        assert_eq!(r.token.as_deref(), Some(TOKEN));
        let steps: Vec<_> = r.invocations.iter().map(|i| i.step.unwrap()).collect();
        assert_eq!(steps, Step::ALL);
    }

    #[test]
    fn a_silent_hung_step_joins_its_stream_rotation_with_an_inferred_step() {
        let s = Some("2025/03/11/[$LATEST]5f0d2c9a");
        let mut lines = Vec::new();
        lines.extend(invocation(
            A,
            &[info(
                A,
                &format!(
                    "createSecret: Successfully put secret for ARN {ARN} and version {TOKEN}."
                ),
            )],
            false,
        ));
        lines.extend(invocation(B, &[], true));
        let refs: Vec<(Option<&str>, &str)> = lines.iter().map(|l| (s, l.as_str())).collect();
        let (closed, rest) = track(&refs);
        assert!(closed.is_empty());
        assert_eq!(rest.len(), 1);
        let r = &rest[0];
        assert!(r.failed());
        assert_eq!(r.secret.as_deref(), Some(ARN));
        let hung = &r.invocations[1];
        assert_eq!(
            (hung.step, hung.step_inferred),
            (Some(Step::SetSecret), true)
        );
    }

    #[test]
    fn different_tokens_of_one_secret_are_different_rotations() {
        let other = "9b2d4f6a-0000-4000-8000-000000000000";
        let mut lines = Vec::new();
        lines.extend(invocation(
            A,
            &[info(
                A,
                &format!(
                    "createSecret: Successfully put secret for ARN {ARN} and version {TOKEN}."
                ),
            )],
            false,
        ));
        lines.extend(invocation(
            B,
            &[info(
                B,
                &format!(
                    "createSecret: Successfully put secret for ARN {ARN} and version {other}."
                ),
            )],
            false,
        ));
        let refs: Vec<(Option<&str>, &str)> = lines.iter().map(|l| (None, l.as_str())).collect();
        let (_, rest) = track(&refs);
        assert_eq!(rest.len(), 2);
    }

    #[test]
    fn ledger_counts_pieces_of_one_rotation_once() {
        let mut lines = Vec::new();
        lines.extend(invocation(
            A,
            &[info(
                A,
                &format!(
                    "createSecret: Successfully put secret for ARN {ARN} and version {TOKEN}."
                ),
            )],
            false,
        ));
        let refs: Vec<(Option<&str>, &str)> = lines.iter().map(|l| (None, l.as_str())).collect();
        let (_, first) = track(&refs);
        let mut lines = Vec::new();
        lines.extend(invocation(D, &[info(D, &format!("finishSecret: Successfully set AWSCURRENT stage to version {TOKEN} for secret {ARN}."))], false));
        let refs: Vec<(Option<&str>, &str)> = lines.iter().map(|l| (None, l.as_str())).collect();
        let (second, _) = track(&refs);
        let mut ledger = RotationLedger::default();
        for r in first.iter().chain(&second) {
            ledger.record(r, rules());
        }
        assert_eq!(
            ledger.counts(),
            RotationCounts {
                rotations: 1,
                failed: 0,
                succeeded: 1
            }
        );
    }

    #[test]
    fn other_functions_invocations_join_no_rotation() {
        // A complete invocation of an API handler: dropped on arrival.
        let lines = invocation(
            A,
            &["[ERROR] KeyError: 'body'\nTraceback (most recent call last):".to_string()],
            false,
        );
        let refs: Vec<(Option<&str>, &str)> = lines.iter().map(|l| (None, l.as_str())).collect();
        let mut t = Tracker::new();
        for inv in assemble(&refs) {
            t.add(inv, rules());
        }
        t.finish(rules());
        assert!(t.drain_closed().is_empty());
        assert_eq!(t.foreign_dropped, 1);
        // A pasted fragment of the same: kept, on its own, and not a rotation.
        let (_, rest) = track(&[(
            None,
            "[ERROR] KeyError: 'body'\nTraceback (most recent call last):",
        )]);
        assert_eq!(rest.len(), 1);
        assert!(rest[0].failed());
        assert!(!rest[0].is_rotation(rules()));
    }
}
