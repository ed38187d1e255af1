//! Counting rotations once each, even when their pieces closed separately (several inputs).

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};

use super::Rotation;
use crate::rules::RuleSet;
use crate::summary::RotationCounts;

/// Counts rotations once each even when their pieces closed separately (several inputs).
/// Rotations are remembered by a 64-bit hash of their token (or secret), so the ledger stays small.
#[derive(Default)]
pub(crate) struct RotationLedger {
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
    pub(crate) fn record(&mut self, rot: &Rotation, rules: &RuleSet) {
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

    pub(crate) fn merge(&mut self, other: RotationLedger) {
        self.seen.extend(other.seen);
        self.succeeded.extend(other.succeeded);
        self.failed.extend(other.failed);
        self.anonymous.rotations += other.anonymous.rotations;
        self.anonymous.failed += other.anonymous.failed;
        self.anonymous.succeeded += other.anonymous.succeeded;
    }

    pub(crate) fn counts(&self) -> RotationCounts {
        let failed = self.failed.difference(&self.succeeded).count() as u64;
        RotationCounts {
            rotations: self.seen.len() as u64 + self.anonymous.rotations,
            failed: failed + self.anonymous.failed,
            succeeded: self.succeeded.len() as u64 + self.anonymous.succeeded,
        }
    }
}
