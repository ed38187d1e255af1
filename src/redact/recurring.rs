//! [`redact`] of texts that recur, remembered per thread.
//!
//! Why: the texts of diagnoses recur. Every occurrence of a failure redacts its facts (the same
//! secret ARN, function and host in thousands of failed invocations of one rotation), and every
//! diagnosis redacts its cause, titles, explanation, references and reasons on the way out, which
//! are one rule's text filled with those facts. On 16 MiB of S3-export text the report's 257
//! diagnoses hold 22 distinct explanations in 56 KB and 23 distinct references in 49 KB, and
//! `redact` was 8.8 % of the run's instructions (callgrind), most of it on such texts. Looking a
//! text up costs a hash of it; redacting it costs a walk of the clue automaton and, where a clue
//! is found, the detectors.
//!
//! The answer for a text is the answer [`redact`] gives for it: the memo is keyed by the whole
//! text, so it can only hand back what `redact` made of the same bytes. It is per thread, so
//! threads never wait on each other, and bounded in bytes (texts up to [`LONGEST`] bytes, at most
//! [`BYTES`] of texts and answers, forgotten all at once when full): it lives as long as the
//! thread, and `cat FILE | rotdiag` must stay under 64 MiB whatever the texts are (bounded by
//! entries, 4,096 texts of 2 KiB and their answers would be 16 MiB a thread). Texts that do not
//! recur (evidence lines) are redacted with [`redact`] directly: remembering them would only cost.

use std::borrow::Cow;
use std::cell::RefCell;

use rustc_hash::FxHashMap;

use super::redact;

/// Longest text remembered: longer ones are redacted every time.
const LONGEST: usize = 2048;
/// Bytes of texts and answers remembered per thread before the memo starts over.
const BYTES: usize = 512 << 10;

/// What [`redact`] made of each text remembered (`None` where it changed nothing), and the
/// bytes of texts and answers it holds.
#[derive(Default)]
struct Memo {
    answers: FxHashMap<Box<str>, Option<Box<str>>>,
    bytes: usize,
}

thread_local! {
    static MEMO: RefCell<Memo> = RefCell::new(Memo::default());
}

/// [`redact`] of `s`, remembered on this thread for the next time the same text comes.
pub fn redact_recurring(s: &str) -> Cow<'_, str> {
    if s.len() > LONGEST {
        return redact(s);
    }
    MEMO.with(|memo| {
        let mut memo = memo.borrow_mut();
        if let Some(known) = memo.answers.get(s) {
            return match known {
                None => Cow::Borrowed(s),
                Some(r) => Cow::Owned(String::from(&**r)),
            };
        }
        let answer = redact(s);
        let kept: Option<Box<str>> = match &answer {
            Cow::Borrowed(_) => None,
            Cow::Owned(r) => Some(Box::from(r.as_str())),
        };
        let bytes = s.len() + kept.as_ref().map_or(0, |k| k.len());
        if memo.bytes + bytes > BYTES {
            memo.answers.clear();
            memo.bytes = 0;
        }
        memo.bytes += bytes;
        memo.answers.insert(Box::from(s), kept);
        answer
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether first seen, seen again, or seen after the memo started over, a text gets what
    /// `redact` gives it, borrowed exactly where `redact` borrows.
    #[test]
    fn a_remembered_answer_is_the_answer() {
        let texts = [
            "password=hunter2 host=db",
            "Unable to log into database with previous, current, or pending secret",
            "{'username': 'app', 'password': 'hunter2'}",
            "mysql -uadmin -pS3cr3t! -h db",
            "",
        ];
        let long = format!("token={} {}", "x".repeat(LONGEST), "y");
        // Texts of about 1 KiB, redacted (so text and answer are both kept): enough of them
        // overflow the memo's bytes.
        let mut filler = (0..).map(|i| format!("text {i} secret={i} {}", "z".repeat(1000)));
        let overflow = BYTES / 2000 + 2;
        for round in 0..3 {
            for t in texts.iter().copied().chain([long.as_str()]) {
                let (got, want) = (redact_recurring(t), redact(t));
                assert_eq!(got, want, "round {round}: {t:?}");
                assert_eq!(
                    matches!(got, Cow::Borrowed(_)),
                    matches!(want, Cow::Borrowed(_)),
                    "round {round}: {t:?}"
                );
            }
            // Fill the memo past its bound, so the next round starts over.
            for f in filler.by_ref().take(overflow) {
                assert_eq!(redact_recurring(&f), redact(&f));
                assert!(MEMO.with(|m| m.borrow().bytes) <= BYTES);
            }
            // It started over: what it holds is less than the texts it was given.
            let held = MEMO.with(|m| m.borrow().answers.len());
            assert!(held < overflow, "round {round}: {held} texts held");
        }
        assert_eq!(redact_recurring(texts[0]), "password=*** host=db");
    }
}
