//! How far an input was read: what the exit status is made of.

use serde::{Deserialize, Serialize};

/// How far an input was read. The exit status is 2 when any input is [`InputState::Unread`] or
/// [`InputState::Incomplete`] (unless `--skip-unreadable`): a run must never look healthy
/// because its input was not read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InputState {
    /// Read to its end (bad records in it are reported, and skipped).
    #[default]
    Read,
    /// Nothing in it: 0 bytes, or only blank lines (`aws logs tail` with nothing in the window).
    Empty,
    /// Read in part: a read error, compressed data cut short, or the file shrank while it was read.
    Incomplete,
    /// Not read on purpose: a symbolic link loop met in a folder walk.
    Skipped,
    /// Not read at all: missing, unreadable, not a log (no record in non-empty input), or a
    /// container rotdiag does not open.
    Unread,
}

impl InputState {
    /// Does this input make the run's exit status 2?
    pub fn is_failure(self) -> bool {
        matches!(self, InputState::Incomplete | InputState::Unread)
    }

    /// Was any of it read?
    pub fn was_read(self) -> bool {
        !matches!(self, InputState::Unread | InputState::Skipped)
    }

    /// The worse of two states (an input with a read error and then no records is unread).
    pub(crate) fn worst(self, other: InputState) -> InputState {
        self.max(other)
    }
}
