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
//!   inferred as the one after the previous invocation's, when that one succeeded; failing that,
//!   one of the same log group (when inputs tell it: S3 export objects of one export task) that
//!   it could follow by time.
//!
//! A rotation closes when it succeeds (finishSecret), when it has been idle for
//! [`ROTATION_IDLE_MS`] of event time, or at the end of the input. Closed rotations that did not
//! succeed are handed to the rule engine.
//!
//! CloudTrail events arrive as one-line invocations ([`is_cloudtrail`]). Secrets Manager's own
//! rotation events (`RotationStarted`, `RotationFailed`, …) name the secret and the version and join
//! like any invocation. API calls do not say which rotation they belong to (a denied
//! `GetSecretValue` may name the master secret, a KMS `Decrypt` or an ENI creation names no
//! rotation at all), so they are held back and placed by who made them and when
//! ([`Tracker::place_calls`]): into the rotation whose Lambda invocation was running at that
//! second, or whose other CloudTrail events name the same function or role. A denied call nothing
//! claims is kept on its own only when it is a call rotation makes (`rotation_related` in
//! `rules/model.toml`) and comes from a rotation function or from Secrets Manager; the rest (other
//! principals' denials, successful calls no rule reads) are dropped. That placement is [`calls`];
//! [`ledger`] counts rotations once however many inputs held a piece of one, and records each
//! compactly for the reports; [`keep`] says which to keep whole (a timeline, a rule test).

mod calls;
mod keep;
mod ledger;

pub use keep::{Keep, Selector};
pub use ledger::{Listed, RotationList};
pub(crate) use ledger::{ListedRotation, RotationLedger};
pub(crate) use ledger::{RotationStatus, RotationView, StepOutcome};

use rustc_hash::FxHashMap as HashMap;
use std::sync::Arc;

use super::invocation::{Invocation, Outcome};
use super::line::Kind;
use crate::aws::Step;
use crate::rules::RuleSet;
use crate::time::EpochMs;

/// A rotation idle this long (event time) is over: Secrets Manager retries within minutes.
pub(crate) const ROTATION_IDLE_MS: EpochMs = 2 * 60 * 60 * 1000;
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
    pub(crate) secret: Option<String>,
    pub(crate) token: Option<String>,
    pub(crate) invocations: Vec<Invocation>,
    pub succeeded: bool,
    pub(crate) last_ts: Option<EpochMs>,
}

impl Rotation {
    /// Did any invocation of this rotation fail?
    pub(crate) fn failed(&self) -> bool {
        !self.succeeded && self.invocations.iter().any(Invocation::failed)
    }

    /// Is this a Secrets Manager rotation (as opposed to invocations of some other function)?
    /// Yes when a line shows it, and also when the function printed nothing that says otherwise
    /// (only platform lines and neutral ones, like botocore's credential lookup): that is a
    /// rotation function hanging before its first template line, the troubleshooting guide's
    /// first symptom.
    pub(crate) fn is_rotation(&self, rules: &RuleSet) -> bool {
        self.secret.is_some()
            || self.token.is_some()
            || self
                .invocations
                .iter()
                .any(|i| is_rotation_related(i, rules))
            || self.invocations.iter().all(|i| i.foreign == 0)
    }
}

/// Is this "invocation" a CloudTrail event (one `Kind::CloudTrail` line, no Lambda request)?
pub(crate) fn is_cloudtrail(inv: &Invocation) -> bool {
    inv.lines
        .first()
        .is_some_and(|l| l.kind == Kind::CloudTrail)
}

/// Does this invocation show it belongs to a rotation function?
pub(crate) fn is_rotation_related(inv: &Invocation, rules: &RuleSet) -> bool {
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
            .is_some_and(|f| rules.model.is_rotation_function_name(f))
}

/// Assembles rotations from closed invocations.
#[derive(Default)]
pub struct Tracker {
    open: Vec<Option<Rotation>>,
    by_token: HashMap<String, usize>,
    by_secret: HashMap<String, usize>,
    by_stream: HashMap<(u64, Option<Arc<str>>), usize>,
    /// Invocations that name no secret or token and follow nothing in their own stream: they are
    /// placed by time once the invocations around them are known.
    unattributed: Vec<Invocation>,
    closed: Vec<Rotation>,
    /// CloudTrail API calls waiting to be placed by principal and time ([`Tracker::place_calls`]).
    calls: Vec<Invocation>,
    /// Invocations of other functions, and CloudTrail calls of no rotation, dropped.
    pub(crate) foreign_dropped: u64,
    /// The complete invocations of other functions dropped since [`Tracker::drain_spent`]: the
    /// caller frees them where it likes (off the serial fold's thread); a tracker no one drains
    /// frees them when it is dropped.
    spent: Vec<Invocation>,
    /// The log group of each input known to hold one (an S3 export object's export task), by
    /// source id: an invocation placed by time joins no rotation of another log group.
    groups: HashMap<u64, u32>,
    /// Tests: never look rotations up by time ([`Near`]), to compare with trying every one.
    #[cfg(test)]
    try_every_rotation: bool,
}

impl Tracker {
    pub fn new() -> Tracker {
        Tracker::default()
    }

    /// Says that input `source` (a source id) holds log group `group` (any number naming it), for
    /// placing invocations by time across inputs: one function's invocation never continues
    /// another function's rotation (an archive of many log groups rotates many secrets at the
    /// same minutes). Inputs are told as the run takes them, before their invocations.
    pub(crate) fn set_group(&mut self, source: u64, group: u32) {
        self.groups.insert(source, group);
    }

    /// Could `inv` be in `rot` by log group: unless an invocation of each is known to be in a
    /// different one.
    fn same_group(&self, rot: &Rotation, inv: &Invocation) -> bool {
        let Some(g) = self.groups.get(&inv.source) else {
            return true;
        };
        rot.invocations
            .iter()
            .all(|i| self.groups.get(&i.source).is_none_or(|h| h == g))
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
            if is_cloudtrail(&inv) {
                self.hold_call(inv, rules);
                return;
            }
            // Another function's invocation joins no rotation. A complete one is dropped here
            // (a failed one: the assembler drops the healthy ones itself); a pasted fragment
            // stands alone.
            if inv.of_another_function(rules) {
                self.foreign_dropped += 1;
                self.spent.push(inv);
                return;
            }
            if inv.foreign > 0 && inv.step.is_none() {
                self.attach(None, inv, rules);
                return;
            }
            let stream_key = (inv.source, inv.stream.clone());
            slot = self.by_stream.get(&stream_key).copied().filter(|&i| {
                let r = self.open[i].as_ref().unwrap();
                let last = preceding(r, &inv);
                follows(r, last, &inv, ADJACENT_MS) && continues(last, &inv)
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
            && !is_cloudtrail(&inv)
            && let Some(prev) = rot.invocations[..at]
                .iter()
                .rev()
                .find(|i| !is_cloudtrail(i))
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
        // Many to place (the end of a run over an archive of one object per log stream, where
        // every rotation was open at the end of some object): rotations are looked up by time
        // rather than every open one tried for each invocation.
        let mut near = (ready.len() >= Near::FROM && !self.tries_every_rotation())
            .then(|| Near::of(&self.open, &self.groups));
        let mut slots = Vec::new();
        for inv in ready {
            slots.clear();
            let group = self.groups.get(&inv.source).copied();
            match (&near, inv.first_ts) {
                (Some(near), Some(f)) => near.around(f, group, &mut slots),
                _ => slots.extend(0..self.open.len()),
            }
            let best = self.best_before(&inv, &slots);
            let end = (!is_cloudtrail(&inv)).then(|| inv.last_ts.or(inv.first_ts));
            let idx = self.attach(best, inv, rules);
            if let (Some(near), Some(end)) = (&mut near, end) {
                near.add(idx, end, group);
            }
        }
    }

    fn tries_every_rotation(&self) -> bool {
        #[cfg(test)]
        return self.try_every_rotation;
        #[cfg(not(test))]
        false
    }

    /// Of the open rotations in `slots`, the one `inv` continues (see [`Tracker::resolve`]).
    ///
    /// The invocation each candidate's would follow is found once: at the end of a run over an
    /// S3 export every invocation placed by time has about 190 candidates (rotations of its log
    /// group active in the two minutes before it), and finding it three times each was most of
    /// that serial stage.
    fn best_before(&self, inv: &Invocation, slots: &[usize]) -> Option<usize> {
        let best = slots
            .iter()
            .filter_map(|&i| self.open.get(i)?.as_ref().map(|r| (i, r)))
            .filter(|(_, r)| !r.succeeded)
            .map(|(i, r)| (i, r, preceding(r, inv)))
            .filter(|&(_, r, last)| {
                follows(r, last, inv, CROSS_STREAM_MS)
                    && continues(last, inv)
                    && self.same_group(r, inv)
            })
            .max_by_key(|&(i, _, last)| {
                (
                    last.is_some_and(|l| l.source == inv.source),
                    last.is_some_and(|l| l.stream == inv.stream),
                    last.and_then(|p| p.last_ts.or(p.first_ts)),
                    std::cmp::Reverse(i),
                )
            })
            .map(|(i, ..)| i);
        // Without timestamps, only the same stream can vouch for the order.
        best.filter(|&i| {
            inv.first_ts.is_some()
                || self.open[i]
                    .as_ref()
                    .unwrap()
                    .invocations
                    .last()
                    .is_some_and(|l| l.source == inv.source && l.stream == inv.stream)
        })
    }

    fn close(&mut self, idx: usize) {
        if let Some(r) = self.open[idx].take() {
            if let Some(t) = &r.token
                && self.by_token.get(t) == Some(&idx)
            {
                self.by_token.remove(t);
            }
            // Every secret the rotation's invocations named points here (the master secret, a
            // second ARN form), not only `r.secret`, and every stream they came from: a stale
            // entry would outlive the slot. Only names of this rotation can point here (entries
            // are made as invocations join it, and move with it), so those are looked up rather
            // than every entry visited: an archive of one object per log stream has a hundred
            // thousand streams, and as many rotations close.
            let secrets = r
                .invocations
                .iter()
                .flat_map(|i| i.facts.iter().map(|(_, v)| v));
            for s in r.secret.as_deref().into_iter().chain(secrets) {
                if self.by_secret.get(s) == Some(&idx) {
                    self.by_secret.remove(s);
                }
            }
            for i in &r.invocations {
                let key = (i.source, i.stream.clone());
                if self.by_stream.get(&key) == Some(&idx) {
                    self.by_stream.remove(&key);
                }
            }
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
        // Calls that could still belong to a rotation about to close are placed first.
        self.place_calls(Some(now - ROTATION_IDLE_MS + CROSS_STREAM_MS), rules);
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
        self.compact();
    }

    /// Drops the empty slots of closed rotations once they outnumber the open ones, keeping the
    /// open ones in order (slot order breaks ties when invocations are placed) and the name
    /// indices pointing at them. A long-lived rotation at the end of the slab would otherwise
    /// keep every slot before it.
    fn compact(&mut self) {
        let live = self.open.iter().filter(|r| r.is_some()).count();
        if self.open.len() - live <= live.max(16) {
            return;
        }
        let mut moved_to = Vec::with_capacity(self.open.len());
        let mut next = 0;
        for r in &self.open {
            moved_to.push(if r.is_some() { next } else { usize::MAX });
            next += usize::from(r.is_some());
        }
        self.open.retain(Option::is_some);
        let remap = |i: &mut usize| *i = moved_to.get(*i).copied().unwrap_or(usize::MAX);
        self.by_token.values_mut().for_each(remap);
        self.by_secret.values_mut().for_each(remap);
        self.by_stream.values_mut().for_each(remap);
    }

    /// Places every unattributed invocation and closes every open rotation.
    pub fn finish(&mut self, rules: &RuleSet) {
        self.resolve(None, rules);
        self.place_calls(None, rules);
        // Everything closes: no name needs to point anywhere any more.
        self.by_token.clear();
        self.by_secret.clear();
        self.by_stream.clear();
        for i in 0..self.open.len() {
            self.close(i);
        }
        self.open.clear();
    }

    /// Places every invocation that names no rotation now, by what arrived before it (follow
    /// mode: in a live stream nothing that would come before it is still to arrive).
    pub(crate) fn place_waiting(&mut self, rules: &RuleSet) {
        self.resolve(None, rules);
    }

    /// The rotations still open (follow mode looks at their failures before they close).
    pub(crate) fn open_rotations(&self) -> impl Iterator<Item = &Rotation> {
        self.open.iter().flatten()
    }

    /// Takes the rotations closed so far.
    pub fn drain_closed(&mut self) -> Vec<Rotation> {
        std::mem::take(&mut self.closed)
    }

    /// Takes the invocations dropped as other functions' since the last call.
    pub(crate) fn drain_spent(&mut self) -> Vec<Invocation> {
        let capacity = self.spent.len();
        std::mem::replace(&mut self.spent, Vec::with_capacity(capacity))
    }

    /// Takes every open rotation and unattributed invocation without closing anything (to
    /// continue assembly across inputs).
    pub(crate) fn take_open(&mut self) -> (Vec<Rotation>, Vec<Invocation>) {
        self.by_token.clear();
        self.by_secret.clear();
        self.by_stream.clear();
        let open = self.open.drain(..).flatten().collect();
        let mut rest = std::mem::take(&mut self.unattributed);
        // CloudTrail calls go back through `add`, which holds them again.
        rest.append(&mut self.calls);
        (open, rest)
    }

    /// Merges a rotation carried over from another input. A rotation that names its secret or
    /// token joins the open rotation with the same names, as a unit (so invocations placed by
    /// time in their own input stay with it); one that names neither gives its invocations back
    /// to be placed by time among all inputs.
    pub(crate) fn absorb(&mut self, rot: Rotation, rules: &RuleSet) {
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

/// The open rotations an invocation that started at a given time could follow, by time: a
/// superset of those [`follows`] accepts, found without trying every open rotation.
///
/// `follows` takes an invocation with a start time `f` only after an invocation of the rotation
/// that last did something at `l` with `f - CROSS_STREAM_MS <= l <= f + 1000`, or after one with
/// no time at all (then only in its own stream), or into a rotation with no invocation yet. So
/// each invocation of an open rotation is filed by when it last did something, and the rotations
/// with an invocation of no time (or none) are always candidates. Entries are never removed: a
/// slot closed since (or reused) is only a candidate too many, which the full test rejects.
///
/// Invocations are filed by their log group too (when their input's is known): an invocation
/// of group `g` joins only a rotation whose invocations are all of `g` or of no known group
/// ([`Tracker::same_group`]), so only those filed under `g` or under no group can be the one it
/// follows. An input's group is told once and never changes, so an entry filed under no group
/// is still looked at when its group became known since. Why: at the end of a run over an S3
/// export of 36 log groups, every invocation placed by time had the open rotations of every
/// group around its start tried, on the one thread that closes the run (`follows` was most of
/// that serial stage).
struct Near {
    by_end: HashMap<Option<u32>, std::collections::BTreeSet<(EpochMs, usize)>>,
    always: Vec<usize>,
}

impl Near {
    /// Invocations to place at once from which the index pays for its building.
    const FROM: usize = 64;

    /// The index of the `open` rotations, `groups` saying the log group of an input.
    fn of(open: &[Option<Rotation>], groups: &HashMap<u64, u32>) -> Near {
        let mut near = Near {
            by_end: HashMap::default(),
            always: Vec::new(),
        };
        for (slot, rot) in open.iter().enumerate() {
            let Some(rot) = rot else { continue };
            if rot.invocations.is_empty() {
                near.always.push(slot);
            }
            for inv in rot.invocations.iter().filter(|i| !is_cloudtrail(i)) {
                let group = groups.get(&inv.source).copied();
                near.add(slot, inv.last_ts.or(inv.first_ts), group);
            }
        }
        near
    }

    /// Files an invocation of `slot` that ended at `end`, of log `group`.
    fn add(&mut self, slot: usize, end: Option<EpochMs>, group: Option<u32>) {
        match end {
            Some(t) => {
                self.by_end.entry(group).or_default().insert((t, slot));
            }
            None => self.always.push(slot),
        }
    }

    /// The candidate slots for an invocation of log `group` that started at `f`, in slot order.
    fn around(&self, f: EpochMs, group: Option<u32>, out: &mut Vec<usize>) {
        let from = (f.saturating_sub(CROSS_STREAM_MS), 0);
        let to = (f.saturating_add(1000), usize::MAX);
        let mut filed = |g: Option<u32>| {
            if let Some(by_end) = self.by_end.get(&g) {
                out.extend(by_end.range(from..=to).map(|&(_, slot)| slot));
            }
        };
        match group {
            Some(_) => {
                filed(group);
                filed(None);
            }
            None => self.by_end.keys().for_each(|&g| filed(g)),
        }
        out.extend_from_slice(&self.always);
        out.sort_unstable();
        out.dedup();
    }
}

/// Could `inv` be the next invocation of its rotation after `last` (the one it would follow:
/// [`preceding`]), by its step? After a step succeeded Secrets Manager invokes the next one;
/// after a failure it retries (from createSecret, or the same step). An invocation whose step is
/// unknown fits anywhere.
fn continues(last: Option<&Invocation>, inv: &Invocation) -> bool {
    let (Some(step), Some(last)) = (inv.step, last) else {
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

/// Did `inv` start shortly (within `window`) after `prev`, the invocation of `rot` it would
/// follow ([`preceding`], found once by the caller, which also ranks by it)? Secrets Manager
/// invokes the next step as soon as a step succeeds, so after a success the window is
/// [`NEXT_STEP_MS`]; retries after a failure come later.
fn follows(rot: &Rotation, prev: Option<&Invocation>, inv: &Invocation, window: EpochMs) -> bool {
    let Some(prev) = prev else {
        // It started before anything in the rotation: it does not follow it.
        return rot.invocations.is_empty();
    };
    let window = match prev.outcome() {
        Outcome::Succeeded => window.min(NEXT_STEP_MS),
        _ => window,
    };
    match (prev.last_ts.or(prev.first_ts), inv.first_ts) {
        (Some(l), Some(f)) => f >= l - 1000 && f - l <= window,
        // Without both times only the order of one stream vouches that one came right after the
        // other. Across inputs nothing does: a line with no time from another file (the
        // `aws-logs-write-test` object beside an S3 export) would otherwise take in every
        // invocation placed after it, and change what the other files diagnose.
        _ => prev.source == inv.source && prev.stream == inv.stream,
    }
}

/// The invocation of `rot` that `inv` would come after: the last one that started before it (the
/// last one when times are unknown); CloudTrail events are not invocations of the function. Judging by it, not by the rotation's latest activity, places
/// an invocation the same way whenever it is placed, before or after later steps arrived.
fn preceding<'a>(rot: &'a Rotation, inv: &Invocation) -> Option<&'a Invocation> {
    match inv.first_ts {
        // The time first: telling a CloudTrail event reads its first line, elsewhere in memory.
        Some(f) => rot
            .invocations
            .iter()
            .rev()
            .find(|i| i.first_ts.is_none_or(|t| t <= f) && !is_cloudtrail(i)),
        None => rot.invocations.iter().rev().find(|i| !is_cloudtrail(i)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::RotationCounts;
    use crate::testing::{A, ARN, B, TOKEN, assemble, rules};

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

    /// An S3 export synced whole brings the `aws-logs-write-test` object: one line with no time,
    /// no stream, no request id. It must not take in the hung invocations of the other files
    /// (which name no secret either), nor change how many rotations they make.
    #[test]
    fn an_untimed_line_of_another_input_takes_in_no_invocation() {
        let hang = |rid: &str, at: &str| {
            invocation(
                rid,
                &[format!(
                    "[INFO]\t{at}\t{rid}\tFound credentials in environment variables."
                )],
                true,
            )
        };
        let mut lines = hang(A, "2025-05-02T03:15:17.446Z");
        lines.extend(hang(B, "2025-05-02T03:19:59.790Z"));
        let stream = Some("2025/05/02/[$LATEST]b0877cf52ad0b2b4bdc03edafeb3e7c0");
        let refs: Vec<(Option<&str>, &str)> = lines.iter().map(|l| (stream, l.as_str())).collect();
        let mut hangs = assemble(&refs);
        for h in &mut hangs {
            h.source = 1;
        }
        let probe = assemble(&[(None, "Permission Check Successful")]);
        assert_eq!((probe.len(), probe[0].source), (1, 0));
        let run = |with_probe: bool| {
            let mut t = Tracker::new();
            let probe = probe.iter().filter(|_| with_probe).cloned();
            for inv in probe.chain(hangs.iter().cloned()) {
                t.add(inv, rules());
            }
            t.finish(rules());
            let rotations = t.drain_closed();
            let mut ledger = RotationLedger::default();
            rotations
                .iter()
                .for_each(|r| ledger.record(r, rules(), None));
            let mixed = rotations
                .iter()
                .filter(|r| r.invocations.iter().any(|i| i.source == 0))
                .map(|r| r.invocations.len())
                .collect::<Vec<_>>();
            (ledger.finish(rules()).counts(), mixed)
        };
        let (with, mixed) = run(true);
        let (without, _) = run(false);
        assert_eq!(with, without);
        assert!(without.rotations >= 1 && without.failed == without.rotations);
        assert_eq!(mixed, [1], "the probe line stands alone");
    }

    #[test]
    fn a_closed_rotation_leaves_no_name_pointing_at_it() {
        // An invocation that joins a rotation by its token but names another secret must not
        // leave that secret pointing at the rotation's slot once it closes.
        let other = "arn:aws:secretsmanager:us-east-1:123456789012:secret:other-Zz9Yy8";
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
        lines.extend(invocation(B, &[info(B, &format!("finishSecret: Successfully set AWSCURRENT stage to version {TOKEN} for secret {other}."))], false));
        lines.extend(invocation(C, &[info(C, &format!("setSecret: Unable to log into database with previous, current, or pending secret of secret arn {other}"))], false));
        let lines: Vec<(Option<&str>, &str)> = lines.iter().map(|l| (None, l.as_str())).collect();
        let (closed, rest) = track(&lines);
        assert_eq!(closed.len(), 1);
        assert!(closed[0].succeeded);
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].secret.as_deref(), Some(other));
    }

    #[test]
    fn closed_slots_before_an_open_rotation_are_reclaimed_in_order() {
        let mut t = Tracker::new();
        for i in 0..100 {
            let secret = format!("s{i}");
            t.open.push(Some(Rotation {
                secret: Some(secret.clone()),
                ..Rotation::default()
            }));
            t.by_secret.insert(secret, i);
        }
        for i in (0..99).filter(|&i| i != 50) {
            t.close(i);
        }
        assert_eq!(
            t.open.len(),
            100,
            "the open rotation at the end holds every slot"
        );
        t.compact();
        assert_eq!(t.open.len(), 2);
        assert_eq!((t.by_secret["s50"], t.by_secret["s99"]), (0, 1));
        assert_eq!(t.open[1].as_ref().unwrap().secret.as_deref(), Some("s99"));
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
            ledger.record(r, rules(), None);
        }
        let list = ledger.finish(rules());
        assert_eq!(list.len(), 1);
        let r = list.iter().next().unwrap();
        assert_eq!(r.status, RotationStatus::Succeeded);
        assert_eq!(r.token.map(|t| t.to_string()).as_deref(), Some(TOKEN));
        assert_eq!(r.secret, Some(ARN));
        assert_eq!(r.steps.len(), 2);
        assert_eq!(
            list.counts(),
            RotationCounts {
                rotations: 1,
                failed: 0,
                succeeded: 1
            }
        );
    }

    #[test]
    fn a_ledger_listing_only_unsucceeded_rotations_keeps_their_times_and_order() {
        // Each invocation tracked on its own, so that the ledger merges pieces of one token.
        let piece = |rid: &str, minute: u32, body: &[String]| {
            let mut lines = vec![format!(
                "[INFO]\t2025-03-11T14:{minute:02}:07.402Z\t{rid}\tFound credentials in environment variables."
            )];
            lines.extend(body.iter().cloned());
            let lines = invocation(rid, &lines, false);
            let refs: Vec<(Option<&str>, &str)> =
                lines.iter().map(|l| (None, l.as_str())).collect();
            let (closed, rest) = track(&refs);
            closed.into_iter().chain(rest).collect::<Vec<_>>()
        };
        let other = "8a1f2b3c-7425-40de-944b-e07fc1f90ae7";
        // TOKEN: started at 14:00, finished at 14:05 (succeeded); `other`: failed at 14:10.
        let mut rotations = piece(
            A,
            0,
            &[info(
                A,
                &format!(
                    "createSecret: Successfully put secret for ARN {ARN} and version {TOKEN}."
                ),
            )],
        );
        rotations.extend(piece(
            D,
            5,
            &[info(D, &format!("finishSecret: Successfully set AWSCURRENT stage to version {TOKEN} for secret {ARN}."))],
        ));
        rotations.extend(piece(
            C,
            10,
            &[
                info(C, &format!("createSecret: Successfully put secret for ARN {ARN} and version {other}.")),
                "[ERROR] ValueError: Unable to log into database\nTraceback (most recent call last):".to_string(),
            ],
        ));
        let listed = |listed: Listed| {
            let mut ledger = RotationLedger::new(listed);
            for r in &rotations {
                ledger.record(r, rules(), None);
            }
            ledger.finish(rules())
        };
        let (all, some) = (listed(Listed::All), listed(Listed::Unsucceeded));
        assert_eq!(all.counts(), some.counts());
        assert_eq!(all.len(), 2);
        let statuses: Vec<RotationStatus> = all.iter().map(|r| r.status).collect();
        assert_eq!(
            statuses,
            [RotationStatus::Succeeded, RotationStatus::Failed]
        );
        for (a, s) in all.iter().zip(some.iter()) {
            assert_eq!((a.token, a.secret, a.status), (s.token, s.secret, s.status));
            assert_eq!((a.start(), a.last_start()), (s.start(), s.last_start()));
            if a.status == RotationStatus::Succeeded {
                assert!(a.start() < a.last_start(), "{a:?}");
                assert!(a.steps.len() == 2 && s.steps.is_empty(), "{a:?}");
            } else {
                assert!(!a.steps.is_empty());
                assert_eq!(a.steps, s.steps);
            }
        }
    }

    /// Many invocations placed by time at once (an archive of one object per log stream): the
    /// rotations looked up by time are those trying every open rotation finds.
    #[test]
    fn placing_many_invocations_by_time_finds_what_trying_every_rotation_finds() {
        let rid = |n: usize, k: usize| format!("{n:08x}-7425-40de-944b-{k:012x}");
        let at = |secs: usize| {
            format!(
                "2025-03-11T{:02}:{:02}:{:02}.000Z",
                secs / 3600,
                secs / 60 % 60,
                secs % 60
            )
        };
        let mut lines: Vec<(String, String)> = Vec::new();
        for n in 0..150 {
            let (a, b) = (rid(n, 1), rid(n, 2));
            let t0 = n * 37;
            let arn = format!("arn:aws:secretsmanager:us-east-1:123456789012:secret:s{n}-AbCdEf");
            let token = format!("{n:08x}-1111-4111-8111-111111111111");
            let stream = |k: usize| format!("2025/03/11/[$LATEST]{n:028x}{k:04x}");
            // createSecret names the secret and the token; setSecret, in another stream (a new
            // execution environment), logs nothing that names them.
            for l in invocation(
                &a,
                &[format!(
                    "[INFO]\t{}\t{a}\tcreateSecret: Successfully put secret for ARN {arn} and version {token}.",
                    at(t0)
                )],
                false,
            ) {
                lines.push((stream(1), l));
            }
            for l in invocation(
                &b,
                &[format!(
                    "[INFO]\t{}\t{b}\tFound credentials in environment variables.",
                    at(t0 + 3)
                )],
                n % 3 == 0,
            ) {
                lines.push((stream(2), l));
            }
        }
        let refs: Vec<(Option<&str>, &str)> = lines
            .iter()
            .map(|(s, l)| (Some(s.as_str()), l.as_str()))
            .collect();
        let rotations = |try_every_rotation: bool| {
            let mut t = Tracker::new();
            t.try_every_rotation = try_every_rotation;
            for inv in assemble(&refs) {
                t.add(inv, rules());
            }
            t.finish(rules());
            t.drain_closed()
                .into_iter()
                .map(|r| {
                    let ids: Vec<String> = r
                        .invocations
                        .iter()
                        .map(|i| i.request_id.map(|r| r.to_string()).unwrap_or_default())
                        .collect();
                    (r.secret, r.token, ids)
                })
                .collect::<Vec<_>>()
        };
        let looked_up = rotations(false);
        assert_eq!(looked_up, rotations(true));
        assert_eq!(looked_up.len(), 150);
        assert!(
            looked_up.iter().all(|(_, _, ids)| ids.len() == 2),
            "{looked_up:?}"
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
