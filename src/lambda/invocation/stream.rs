//! The state of one log stream: the invocation its lines without a request id belong to, the
//! invocations that ended and close at its next START, its init-phase output, its runtime version.

use std::sync::Arc;

use super::{Invocation, STREAM_IDLE_MS};
use crate::aws::RequestId;
use crate::lambda::facts::Facts;
use crate::time::EpochMs;

/// The same as [`STREAM_IDLE_MS`] for inputs without timestamps, in records.
const STREAM_IDLE_RECORDS: u64 = 1 << 20;

pub(super) struct StreamState {
    pub(super) name: Option<Arc<str>>,
    /// The invocation lines without a request id belong to.
    pub(super) current: Option<RequestId>,
    /// Invocations that ended (END/REPORT) and close at this stream's next START.
    pub(super) ended: Vec<RequestId>,
    /// Init-phase output waiting for the stream's next invocation.
    pub(super) pending: Option<Invocation>,
    pub(super) runtime_version: Option<Arc<str>>,
    /// What the environment's `INIT_START` line states (its runtime's region), for every
    /// invocation the stream starts.
    pub(super) init_facts: Option<Arc<Facts>>,
    /// When the stream was last written to: the assembler's record count, and the latest event
    /// time (for [`StreamState::forgettable`]).
    last_record: u64,
    last_ts: Option<EpochMs>,
}

impl StreamState {
    pub(super) fn new(name: Option<Arc<str>>) -> StreamState {
        StreamState {
            name,
            current: None,
            ended: Vec::new(),
            pending: None,
            runtime_version: None,
            init_facts: None,
            last_record: 0,
            last_ts: None,
        }
    }

    pub(super) fn touch(&mut self, record: u64, ts: Option<EpochMs>) {
        self.last_record = record;
        if let Some(t) = ts {
            self.last_ts = Some(self.last_ts.map_or(t, |l| l.max(t)));
        }
    }

    /// Can the state go? When it holds nothing in progress, and either remembers nothing (a
    /// fresh state would behave the same) or has been silent past [`STREAM_IDLE_MS`] (its
    /// runtime version, from the environment's `INIT_START`, is the only thing lost).
    pub(super) fn forgettable(&self, records: u64, now: Option<EpochMs>) -> bool {
        if self.current.is_some() || !self.ended.is_empty() || self.pending.is_some() {
            return false;
        }
        if self.runtime_version.is_none() && self.init_facts.is_none() {
            return true;
        }
        match (self.last_ts, now) {
            (Some(l), Some(n)) => n - l > STREAM_IDLE_MS,
            _ => records - self.last_record > STREAM_IDLE_RECORDS,
        }
    }
}
