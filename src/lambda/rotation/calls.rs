//! CloudTrail API calls: held back, then placed into the rotation they belong to by who made them
//! and when (see the module documentation of [`super`]).

use rustc_hash::FxHashMap as HashMap;

use super::{ADJACENT_MS, Tracker, is_cloudtrail, is_rotation_related};
use crate::aws::{Principal, function_name, same_resource};
use crate::lambda::invocation::Invocation;
use crate::rules::RuleSet;
use crate::time::EpochMs;

/// CloudTrail times are whole seconds: a call at second `t` happened in `[t, t + 1 s)`, and may be
/// logged a little before or after the Lambda lines around it.
const CALL_SLACK_MS: EpochMs = 1000;
/// CloudTrail calls held for placement at most (a trail full of denials of other principals).
const MAX_PENDING_CALLS: usize = 100_000;

impl Tracker {
    /// Holds a CloudTrail call for [`Tracker::place_calls`] when a symptom's pattern reads it (a
    /// refusal, a new version written). The rest of a trail (successful calls, errors no rule
    /// knows, such as the template's expected ResourceNotFoundException on AWSPENDING) says
    /// nothing about a failure.
    pub(super) fn hold_call(&mut self, inv: Invocation, rules: &RuleSet) {
        let read = inv
            .lines
            .iter()
            .any(|l| l.hits.iter().any(|&p| !rules.is_model_pattern(p)));
        if !read || self.calls.len() >= MAX_PENDING_CALLS {
            self.foreign_dropped += 1;
            return;
        }
        self.calls.push(inv);
    }

    /// Places held CloudTrail calls made before `until` (all of them when `None`).
    ///
    /// A denied call joins the open rotation it best fits: one whose Lambda invocation was running
    /// at that second and ran as the same function or role (or names neither), else one with a
    /// CloudTrail event of the same function or role (`RotationFailed` names the function; an
    /// earlier call the principal) within [`ADJACENT_MS`]. Secrets Manager acting itself (invoking
    /// the function) fits any of them. A successful call a rule reads (a new version written
    /// during the rotation) joins the rotation of the secret it names, if it ran then. A denied
    /// call nothing claims stands alone when it is a call rotation makes (the model's
    /// `rotation_related` literals) and a rotation function or Secrets Manager made it; other
    /// principals' denials are no rotation's business and are dropped.
    pub(crate) fn place_calls(&mut self, until: Option<EpochMs>, rules: &RuleSet) {
        if self.calls.is_empty() {
            return;
        }
        let mut ready: Vec<Invocation> = match until {
            None => std::mem::take(&mut self.calls),
            Some(u) => self
                .calls
                .extract_if(.., |i| i.first_ts.is_some_and(|t| t < u))
                .collect(),
        };
        if ready.is_empty() {
            return;
        }
        ready.sort_by_key(|i| (i.first_ts, i.source, i.first_line));
        let event_secret = rules.fact_id("event_secret_arn");
        // The names of the invocations calls are compared with, computed once per batch.
        let mut known = NamesCache::default();
        for call in ready {
            let names = Names::of_call(&call, rules);
            let slot = if call.failed() {
                self.slot_for_call(&call, &names, rules, &mut known)
            } else {
                event_secret
                    .and_then(|f| call.facts.get(f))
                    .and_then(|s| self.slot_for_secret(s, call.first_ts))
            };
            match slot {
                Some(i) => {
                    self.attach(Some(i), call, rules);
                }
                None if call.failed()
                    && names.is_rotation_function(rules)
                    && is_rotation_related(&call, rules) =>
                {
                    self.attach(None, call, rules);
                }
                None => self.foreign_dropped += 1,
            }
        }
    }

    /// The open rotation a denied call belongs to, best fit first (see [`Tracker::place_calls`]).
    fn slot_for_call(
        &self,
        call: &Invocation,
        names: &Names,
        rules: &RuleSet,
        known: &mut NamesCache,
    ) -> Option<usize> {
        let t = call.first_ts;
        let mut best: Option<((u8, std::cmp::Reverse<EpochMs>), usize)> = None;
        for (i, r) in self.open.iter().enumerate() {
            let Some(r) = r else { continue };
            if r.succeeded {
                continue;
            }
            // A rotation whose span (invocations are kept in time order) is far from the call.
            if let (Some(t), Some(first), Some(last)) =
                (t, r.invocations.first().and_then(|i| i.first_ts), r.last_ts)
                && (t < first - ADJACENT_MS || t > last + ADJACENT_MS)
            {
                continue;
            }
            for inv in &r.invocations {
                // Time first (cheap), names only for invocations close enough.
                let fit = if is_cloudtrail(inv) {
                    let near = match (t, inv.first_ts) {
                        (Some(t), Some(u)) => (t - u).abs() <= ADJACENT_MS,
                        _ => true,
                    };
                    (near && (names.service || names.matches(known.of(inv, rules)))).then_some(2)
                } else {
                    let during = match (t, inv.first_ts, inv.last_ts.or(inv.first_ts)) {
                        (Some(t), Some(f), Some(l)) => {
                            t <= l + CALL_SLACK_MS && t + CALL_SLACK_MS >= f
                        }
                        _ => false,
                    };
                    if !during {
                        continue;
                    }
                    let own = known.of(inv, rules);
                    if names.matches(own) {
                        Some(4)
                    } else if own.is_empty() {
                        Some(3)
                    } else {
                        None
                    }
                };
                let Some(fit) = fit else { continue };
                let distance = match (t, inv.first_ts) {
                    (Some(t), Some(u)) => (t - u).abs(),
                    _ => EpochMs::MAX,
                };
                let key = (fit, std::cmp::Reverse(distance));
                if best.as_ref().is_none_or(|(k, _)| key > *k) {
                    best = Some((key, i));
                }
            }
        }
        best.map(|(_, i)| i)
    }

    /// The open rotation of `secret` whose activity spans time `t`.
    fn slot_for_secret(&self, secret: &str, t: Option<EpochMs>) -> Option<usize> {
        self.open.iter().enumerate().find_map(|(i, r)| {
            let r = r.as_ref()?;
            let s = r.secret.as_deref()?;
            if r.succeeded || !same_resource(s, secret) {
                return None;
            }
            let first = r.invocations.iter().filter_map(|i| i.first_ts).min();
            let spans = match (t, first, r.last_ts) {
                (Some(t), Some(f), Some(l)) => t + CALL_SLACK_MS >= f && t <= l + CALL_SLACK_MS,
                _ => false,
            };
            spans.then_some(i)
        })
    }
}

/// Who an invocation or CloudTrail event says it is: function names (a Lambda function's own name,
/// the session name of the role it assumed, the function a CloudTrail event names) and role names.
#[derive(Debug, Default)]
struct Names {
    functions: Vec<String>,
    roles: Vec<String>,
    /// The call was made by Secrets Manager itself (invoking the function), on behalf of whichever
    /// rotation it runs. (Other services acting on their own, AWS Config reading a bucket policy,
    /// are nobody's rotation.)
    service: bool,
}

impl Names {
    /// A CloudTrail event: its principal (`by …`) and the function it names.
    fn of_call(inv: &Invocation, rules: &RuleSet) -> Names {
        let mut n = Names::default();
        if let Some(p) = rules.fact_id("principal").and_then(|f| inv.facts.get(f)) {
            match Principal::parse(p) {
                Principal::Service(s) => {
                    n.service = rules.model.rotation_service.as_deref() == Some(s)
                }
                _ => n.add_principal(p),
            }
        }
        if let Some(f) = inv.facts.get(rules.known.function_arn) {
            n.add_function(f);
        }
        n
    }

    /// A Lambda invocation: its function (JSON platform records, the log group) and the role the
    /// function's own error messages name.
    fn of_invocation(inv: &Invocation, rules: &RuleSet) -> Names {
        let mut n = Names::default();
        if let Some(f) = inv.function.as_deref() {
            n.add_function(f);
        }
        if let Some(g) = inv
            .group
            .as_deref()
            .and_then(|g| g.strip_prefix("/aws/lambda/"))
        {
            n.add_function(g);
        }
        if let Some(f) = inv.facts.get(rules.known.function_arn) {
            n.add_function(f);
        }
        if let Some(r) = rules.fact_id("role_arn").and_then(|f| inv.facts.get(f)) {
            n.add_principal(r);
        }
        n
    }

    /// `arn:aws:sts::<acct>:assumed-role/<role>/<session>` (a Lambda function's session is its
    /// name) or `arn:aws:iam::<acct>:role/<path>/<role>`.
    fn add_principal(&mut self, p: &str) {
        let p = Principal::parse(p);
        if let Some(role) = p.role() {
            self.roles.push(role.to_string());
        }
        if let Some(session) = p.session() {
            self.functions.push(session.to_string());
        }
    }

    /// A function ARN (`…:function:<name>[:qualifier]`) or name.
    fn add_function(&mut self, f: &str) {
        let name = function_name(f);
        if !name.is_empty() && !self.functions.iter().any(|x| x == name) {
            self.functions.push(name.to_string());
        }
    }

    fn is_empty(&self) -> bool {
        self.functions.is_empty() && self.roles.is_empty() && !self.service
    }

    /// Same function or role, or a service acting for the rotation.
    fn matches(&self, other: &Names) -> bool {
        self.service
            || self.functions.iter().any(|f| other.functions.contains(f))
            || self.roles.iter().any(|r| other.roles.contains(r))
    }

    /// Secrets Manager itself, or a principal named like a rotation function or its role (the
    /// model's `rotation_function_names`, as for log groups, see [`is_rotation_related`]).
    fn is_rotation_function(&self, rules: &RuleSet) -> bool {
        self.service
            || self
                .functions
                .iter()
                .chain(&self.roles)
                .any(|n| rules.model.is_rotation_function_name(n))
    }
}

/// [`Names`] of the invocations of open rotations, by where they start in the input (which does not
/// change when a rotation takes in another invocation).
#[derive(Default)]
struct NamesCache(HashMap<(u64, u64, bool), Names>);

impl NamesCache {
    fn of(&mut self, inv: &Invocation, rules: &RuleSet) -> &Names {
        let trail = is_cloudtrail(inv);
        self.0
            .entry((inv.source, inv.first_line, trail))
            .or_insert_with(|| {
                if trail {
                    Names::of_call(inv, rules)
                } else {
                    Names::of_invocation(inv, rules)
                }
            })
    }
}
