//! The Lambda model: records -> invocations -> rotations, one concept per module.
//!
//! In the parallel stage, [`analyze`] reads each message:
//!
//! * [`line`](mod@line) classifies it (platform line, application line, unhandled error, timeout line);
//!   a line the model's `unhandled` literals mark (Node's `Invoke Error`, Go's error JSON, a Java
//!   or .NET stack trace: the other runtimes' report of an error that ended the invocation) is an
//!   unhandled error too;
//!   `json` renders a JSON log format record or a CloudTrail event as the text line it stands for;
//!   [`report`] parses REPORT and INIT_REPORT numbers;
//! * the rule literals are matched ([`crate::rules::matcher`]) and [`facts`] read off the line
//!   (a batch of messages, [`analyze_all`], is matched two texts at a time);
//! * the text the serial stage will keep of the line as evidence is copied, so the serial stage
//!   only moves it.
//!
//! The line-oriented strategies skip all of that for a plain START, END or REPORT (two thirds of
//! a rotation function's lines): [`platform`] reads it into a small event instead.
//!
//! In the serial stage, in input order:
//!
//! * [`invocation`] groups lines into invocations by request id, per log stream: a router
//!   (`invocation::assemble`) sends each line to its invocation, whose state each kind of line
//!   changes (`invocation::state`), and keeps what diagnosis needs (matched lines, the last
//!   activity, REPORT numbers, facts);
//! * [`rotation`] groups closed invocations into rotations by secret ARN and version token, infers
//!   the step of invocations that logged nothing, places CloudTrail calls (`rotation::calls`), and
//!   counts rotations (`rotation::ledger`).

pub(crate) mod facts;
mod flat_json;
pub mod invocation;
mod json;
pub mod line;
pub(crate) mod platform;
pub(crate) mod report;
pub mod rotation;

use crate::aws::{RequestId, Step};
use crate::rules::RuleSet;
use crate::rules::matcher::{Hits, Positions};
use facts::Facts;
use line::{Kind, Line, classify};
use report::Status;

/// What the parallel stage learns about one message: its classification, the patterns it
/// matches, the step it names and the facts it states. The serial stage only files these away.
#[derive(Clone, Debug)]
pub struct Analysis {
    pub(crate) line: Line,
    pub hits: Hits,
    pub(crate) step: Option<Step>,
    pub(crate) facts: Facts,
    /// The line's text as the serial stage will keep it ([`invocation::copy_ahead`]): copied
    /// in parallel, not by the serial stage.
    pub(crate) text: invocation::Copied,
    /// The message holds a NUL byte: binary data, not a log line (the serial stage skips it).
    pub(crate) binary: bool,
}

/// What is known of a message's bytes before it is analysed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Bytes {
    /// Nothing: the analysis looks for a NUL byte itself.
    Unchecked,
    /// They lie in a block already searched for a NUL as a whole, which holds none (one search
    /// of a block instead of one per line: 9 M instructions on 16 MiB of S3-export text).
    NulFree,
}

/// Classifies a message, matches it against every rule literal (and the regexes behind the ones
/// found), and reads its step and facts.
pub(crate) fn analyze(message: &[u8], rules: &RuleSet) -> Analysis {
    matched(classify(message), message, Bytes::Unchecked, rules)
}

/// Matches a classified message against every rule literal (and the regexes behind the ones
/// found), and reads its step and facts.
fn matched(line: Line, message: &[u8], bytes: Bytes, rules: &RuleSet) -> Analysis {
    let mut found = Found::default();
    if scanned(&line) {
        let (hits, positions) = (&mut found.hits, Some(&mut found.positions));
        rules
            .matcher
            .scan_with_positions(line.scan_text(message), hits, positions);
    }
    analysis(line, message, bytes, found, rules)
}

/// [`analyze`] of each message (whose bytes are known to be as each says), appended to `out` in order.
///
/// The texts the automaton reads are read two at a time, side by side
/// ([`crate::rules::matcher::Matcher::scan_pair`]: two walks at once take little more time than
/// one, the automaton's table lookups being what a walk waits on), paired by length so that
/// little of the longer is left to walk alone. So each message is classified first, then the
/// texts are scanned in pairs, then each analysis is made from what its scan found.
pub(crate) fn analyze_all(messages: &[(&[u8], Bytes)], rules: &RuleSet, out: &mut Vec<Analysis>) {
    let lines: Vec<Line> = messages.iter().map(|(m, _)| classify(m)).collect();
    let mut found: Vec<Found> = lines.iter().map(|_| Found::default()).collect();
    // The order texts are paired in, one integer per scanned line: its text's length above its
    // index ([`pairing_key`]), sorted by length ([`sort_by_length`]). Sorting (length, index)
    // tuples cost 9.4 M instructions on 16 MiB of S3-export text; and collected from a filter,
    // the list grew by doubling, each step past 16 KiB a copy.
    let mut by_length: Vec<u64> = Vec::with_capacity(lines.len());
    by_length.extend(
        (lines.iter().zip(messages).enumerate())
            .filter(|(_, (line, _))| scanned(line))
            .map(|(i, (line, (m, _)))| pairing_key(line.scan_text(m).len(), i)),
    );
    sort_by_length(&mut by_length);
    let text = |i: usize| lines[i].scan_text(messages[i].0);
    let (pairs, odd) = by_length.as_chunks::<2>();
    for &[a, b] in pairs {
        let (a, b) = (key_index(a), key_index(b));
        let [fa, fb] = found
            .get_disjoint_mut([a, b])
            .expect("each line is paired once");
        rules.matcher.scan_pair(
            [text(a), text(b)],
            [&mut fa.hits, &mut fb.hits],
            [Some(&mut fa.positions), Some(&mut fb.positions)],
        );
    }
    for &a in odd {
        let f = &mut found[key_index(a)];
        let (hits, positions) = (&mut f.hits, Some(&mut f.positions));
        rules
            .matcher
            .scan_with_positions(text(key_index(a)), hits, positions);
    }
    out.reserve(lines.len());
    let each = lines.into_iter().zip(found).zip(messages);
    out.extend(each.map(|((line, found), &(m, bytes))| analysis(line, m, bytes, found, rules)));
}

/// A line's place in the pairing order of [`analyze_all`]: its text's length (capped: past 4 GiB
/// the order only pairs less well) in the high half, its index in the low half, so that keys are
/// distinct and sort by length. A batch holds far fewer than 2^32 messages (a block of text, a
/// run of events).
fn pairing_key(len: usize, index: usize) -> u64 {
    debug_assert!(u32::try_from(index).is_ok(), "batch of {index} messages");
    let len = u64::try_from(len)
        .unwrap_or(u64::MAX)
        .min(u64::from(u32::MAX));
    (len << 32) | (index as u64 & u64::from(u32::MAX))
}

/// The index a [`pairing_key`] was made from.
fn key_index(key: u64) -> usize {
    (key & u64::from(u32::MAX)) as usize
}

/// Sorts [`pairing_key`]s made in index order as `sort_unstable` would (by length, then index):
/// a radix sort of the length half, a byte a pass from the lowest, each pass stable, and only
/// as many passes as the longest length has bytes (two for lines under 64 KiB). A batch's
/// keys are a thousand or so: `sort_unstable` took 136,000 instructions a batch (4.5 M on
/// 16 MiB of S3-export text), each pass here reads and writes each key once.
fn sort_by_length(keys: &mut Vec<u64>) {
    debug_assert!(
        keys.is_sorted_by_key(|&k| key_index(k)),
        "keys in index order"
    );
    let longest = keys.iter().map(|&k| k >> 32).max().unwrap_or(0);
    let mut other = vec![0u64; keys.len()];
    let mut shift = 32;
    while shift < 64 && longest >> (shift - 32) != 0 {
        let digit = |k: u64| ((k >> shift) & 0xff) as usize;
        let mut next = [0usize; 256];
        for &k in keys.iter() {
            next[digit(k)] += 1;
        }
        let mut at = 0;
        for slot in &mut next {
            (*slot, at) = (at, at + *slot);
        }
        for &k in keys.iter() {
            let d = digit(k);
            other[next[d]] = k;
            next[d] += 1;
        }
        std::mem::swap(keys, &mut other);
        shift += 8;
    }
}

/// Whether the automaton reads a line. START/END carry nothing rules look for, and a REPORT
/// only when it has a status: skipping them halves the bytes the automaton scans in a rotation
/// function's logs. INIT_START (one per cold start) names the runtime's region, which fixes need.
///
/// The success status of a REPORT rendered from a JSON `platform.report` record is no status:
/// the text log format prints none for a successful invocation, and the rendered line is that
/// line and `\tStatus: success` ([`rendered_success`]).
fn scanned(line: &Line) -> bool {
    match line.kind {
        Kind::Start | Kind::End => false,
        Kind::Report => line
            .metrics
            .as_ref()
            .is_some_and(|m| report_scanned(m, || rendered_success(line))),
        _ => true,
    }
}

/// Whether the automaton reads a REPORT with these numbers: when it has an error type or a
/// status, but not the success status of a REPORT rendered from a JSON `platform.report` record
/// with a plain UUID request id (`rendered_plain`, asked only then). The one test for both the
/// record path ([`scanned`]) and the lean event path (`json::lean_record`), which must agree.
fn report_scanned(m: &report::Metrics, rendered_plain: impl FnOnce() -> bool) -> bool {
    m.error_type.is_some()
        || match m.status {
            None => false,
            Some(Status::Success) => !rendered_plain(),
            Some(_) => true,
        }
}

/// Is the line the REPORT of a successful invocation rendered from a JSON `platform.report`
/// record (`json`) that names its request id as a plain UUID? Its text is then
/// `REPORT RequestId: <uuid>`, numbered fields and `\tStatus: success`, in which no rule
/// literal can occur, whatever the numbers and the id (checked against the rule set by
/// `no_rule_literal_occurs_in_a_rendered_successful_report`): a third of the JSON records of a
/// function that logs in JSON, each a scan of about 170 bytes for nothing.
fn rendered_success(line: &Line) -> bool {
    let Some(rest) = (line.text.as_deref()).and_then(|t| t.strip_prefix(b"REPORT RequestId: "))
    else {
        return false;
    };
    RequestId::parse_prefix(rest).is_some() && rest.get(36).is_none_or(|&b| b == b'\t')
}

/// What the automaton found in a line: the patterns it matches and where positional facts are.
#[derive(Default)]
struct Found {
    hits: Hits,
    positions: Positions,
}

/// The analysis of a line from what the automaton found in it: its step and facts.
fn analysis(
    mut line: Line,
    message: &[u8],
    bytes: Bytes,
    found: Found,
    rules: &RuleSet,
) -> Analysis {
    let Found { hits, positions } = found;
    let (step, facts) = if hits.is_empty() && positions.is_empty() {
        (None, Facts::default())
    } else {
        let text = line.scan_text(message);
        (
            rules.model.step_of(&hits),
            facts::extract(rules, text, &hits, &positions),
        )
    };
    // Most lines scanned match nothing: no search of an empty list (a call each).
    if !hits.is_empty() && rules.model.unhandled.is_some_and(|p| hits.contains(&p)) {
        line.unhandled();
    }
    let text = invocation::copy_ahead(&line, message, &hits, rules);
    Analysis {
        line,
        hits,
        step,
        facts,
        text,
        binary: match bytes {
            Bytes::Unchecked => memchr::memchr(0, message).is_some(),
            Bytes::NulFree => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::rules;

    /// Analyses of a batch read in pairs (by length, not by position) are the analyses of each
    /// message read alone, in the batch's order.
    #[test]
    fn a_batch_read_in_pairs_gives_each_message_its_own_analysis() {
        let messages: [&[u8]; 9] = [
            b"START RequestId: 0d4d5e4c-8f7a-4e8e-9b1a-3d1f2a3b4c5d Version: $LATEST",
            b"[ERROR]\t2025-03-28T13:36:46.074Z\t0d4d5e4c-8f7a-4e8e-9b1a-3d1f2a3b4c5d\tsetSecret: Unable to log into database with previous, current, or pending secret of secret arn arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf",
            b"",
            b"[INFO]\t2025-03-28T13:36:46.074Z\t0d4d5e4c-8f7a-4e8e-9b1a-3d1f2a3b4c5d\tcreateSecret: Successfully put secret for ARN arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf and version 6a7b",
            b"END RequestId: 0d4d5e4c-8f7a-4e8e-9b1a-3d1f2a3b4c5d",
            b"Task timed out after 30.03 seconds",
            b"[ERROR] KeyError: 'password'",
            b"{\"timestamp\":\"2025-03-28T13:36:46.074Z\",\"level\":\"ERROR\",\"message\":\"An error occurred (AccessDeniedException) when calling the GetSecretValue operation\",\"requestId\":\"0d4d5e4c-8f7a-4e8e-9b1a-3d1f2a3b4c5d\"}",
            b"password key is missing from secret JSON",
        ];
        let rules = rules();
        for n in 0..=messages.len() {
            let batch: Vec<(&[u8], Bytes)> = messages[..n]
                .iter()
                .map(|m| (*m, Bytes::Unchecked))
                .collect();
            let mut paired = Vec::new();
            analyze_all(&batch, rules, &mut paired);
            let alone: Vec<Analysis> = messages[..n].iter().map(|m| analyze(m, rules)).collect();
            assert_eq!(format!("{paired:?}"), format!("{alone:?}"), "the first {n}");
        }
        let mut hits = Vec::new();
        analyze_all(&[(messages[1], Bytes::Unchecked)], rules, &mut hits);
        assert!(
            !hits[0].hits.is_empty(),
            "the batch finds what rules look for"
        );
    }

    /// A piece of a rendered REPORT: a byte, or a run of one or more bytes of a class.
    #[derive(Clone, Copy)]
    enum Piece {
        Byte(u8),
        Run(fn(u8) -> bool),
    }

    /// The REPORT `report::render_report` writes for a successful invocation with the fields
    /// `present` (a bit each: duration, billed duration, memory size, max memory used, init
    /// duration) and a request id that is a plain UUID, as pieces: numbers are runs of digits,
    /// points and minus signs, the id a run of hex digits and dashes.
    fn rendered_success_report(present: u32) -> Vec<Piece> {
        let number = Piece::Run(|b| b.is_ascii_digit() || b == b'.' || b == b'-');
        let id = Piece::Run(|b| b.is_ascii_hexdigit() || b == b'-');
        let text = |s: &str| s.bytes().map(Piece::Byte).collect::<Vec<_>>();
        let mut pieces = text("REPORT RequestId: ");
        pieces.push(id);
        let fields = [
            ("\tDuration: ", " ms"),
            ("\tBilled Duration: ", " ms"),
            ("\tMemory Size: ", " MB"),
            ("\tMax Memory Used: ", " MB"),
            ("\tInit Duration: ", " ms"),
        ];
        for (i, (key, unit)) in fields.into_iter().enumerate() {
            if present & (1 << i) != 0 {
                pieces.extend(text(key));
                pieces.push(number);
                pieces.extend(text(unit));
            }
        }
        pieces.extend(text("\tStatus: success"));
        pieces
    }

    /// Can `literal` occur in some text the pieces describe? Runs the literal through the
    /// pieces as an automaton, starting anywhere: a state is the next piece to match, or a run
    /// being matched (which may go on or be left for the next piece).
    fn may_occur(literal: &[u8], pieces: &[Piece]) -> bool {
        #[derive(Clone, Copy, PartialEq)]
        enum At {
            Before(usize),
            InRun(usize),
        }
        let step = |at: At, b: u8, next: &mut Vec<At>| {
            let before = match at {
                At::InRun(i) => {
                    if matches!(pieces[i], Piece::Run(class) if class(b)) {
                        next.push(At::InRun(i));
                    }
                    i + 1
                }
                At::Before(i) => i,
            };
            match pieces.get(before) {
                Some(Piece::Byte(c)) if *c == b => next.push(At::Before(before + 1)),
                Some(Piece::Run(class)) if class(b) => next.push(At::InRun(before)),
                _ => {}
            }
        };
        let mut states: Vec<At> = (0..pieces.len()).map(At::Before).collect();
        for &b in literal {
            let mut next = Vec::new();
            for &at in &states {
                step(at, b, &mut next);
            }
            next.dedup();
            if next.is_empty() {
                return false;
            }
            states = next;
        }
        true
    }

    /// [`scanned`] skips a successful REPORT rendered from JSON: sound only while no rule
    /// literal can occur in one, whatever its numbers and request id. A literal that could
    /// (one a rule takes from such a line) fails this test, and `scanned` must read them again.
    #[test]
    fn no_rule_literal_occurs_in_a_rendered_successful_report() {
        let literals = rules().matcher.literals();
        assert!(literals.len() > 100);
        for present in 0..32 {
            let pieces = rendered_success_report(present);
            for literal in literals {
                assert!(
                    !may_occur(literal.as_bytes(), &pieces),
                    "{literal:?} can occur in a rendered successful REPORT ({present:05b})"
                );
            }
        }
        // The check finds what can occur.
        let all = rendered_success_report(31);
        for can in [
            "Status: success",
            "Billed Duration: 12.5 ms\tMemory",
            "0c-4a",
        ] {
            assert!(may_occur(can.as_bytes(), &all), "{can}");
        }
        for cannot in ["Status: timeout", "Duration: 1x", "RequestId:  0"] {
            assert!(!may_occur(cannot.as_bytes(), &all), "{cannot}");
        }
    }

    /// Which REPORTs the automaton reads: a successful one rendered from JSON with a plain
    /// request id is not read (as the text format's, which prints no status); any other status,
    /// an error type, an odd request id, or a text line that prints `Status: success` is.
    #[test]
    fn successful_json_reports_are_not_scanned() {
        const RID: &str = "2bf79a9d-b83f-468a-9d92-c499184fbd0b";
        let json = |rid: &str, status: &str, extra: &str| {
            format!(
                r#"{{"time":"2025-03-28T13:36:57.077Z","type":"platform.report","record":{{"requestId":"{rid}","metrics":{{"durationMs":87.56,"billedDurationMs":88,"memorySizeMB":128,"maxMemoryUsedMB":80}},"status":"{status}"{extra}}}}}"#
            )
        };
        let read = |m: &str| scanned(&classify(m.as_bytes()));
        assert!(!read(&json(RID, "success", "")));
        assert!(read(&json(RID, "timeout", "")));
        assert!(read(&json(
            RID,
            "success",
            r#","errorType":"Runtime.ExitError""#
        )));
        assert!(read(&json(" Unable to log into database ", "success", "")));
        assert!(read(&json(&format!("{RID}x"), "success", "")));
        let text = format!(
            "REPORT RequestId: {RID}\tDuration: 1.00 ms\tBilled Duration: 1 ms\tMemory Size: 128 MB\tMax Memory Used: 80 MB\tStatus: success"
        );
        assert!(read(&text));
        // What is not read matches nothing when it is.
        let m = json(RID, "success", "");
        let mut hits = Hits::new();
        let line = classify(m.as_bytes());
        rules()
            .matcher
            .scan(line.scan_text(m.as_bytes()), &mut hits);
        assert!(hits.is_empty(), "{hits:?}");
    }

    /// The radix sort orders keys as `sort_unstable` does: lengths of one to four bytes, ties,
    /// an empty batch.
    #[test]
    fn keys_sort_by_length_as_sort_unstable_sorts_them() {
        let lengths = [
            vec![],
            vec![5],
            vec![3, 3, 3, 0, 0],
            vec![
                70,
                12,
                70,
                300,
                0,
                255,
                256,
                65_535,
                65_536,
                1 << 24,
                usize::MAX,
                12,
            ],
            (0..2000).map(|i| (i * 7919) % 1000).collect(),
            (0..500).map(|i| (i * 104_729) % 70_000).collect(),
        ];
        for lens in lengths {
            let mut keys: Vec<u64> = (lens.iter().enumerate())
                .map(|(i, &l)| pairing_key(l, i))
                .collect();
            let mut expected = keys.clone();
            expected.sort_unstable();
            sort_by_length(&mut keys);
            assert_eq!(keys, expected, "{lens:?}");
        }
    }

    #[test]
    fn pairing_keys_sort_by_length_then_index_and_give_the_index_back() {
        let mut keys = vec![
            pairing_key(70, 0),
            pairing_key(12, 1),
            pairing_key(70, 2),
            pairing_key(usize::MAX, 3),
            pairing_key(0, 4),
        ];
        keys.sort_unstable();
        let order: Vec<usize> = keys.into_iter().map(key_index).collect();
        assert_eq!(order, [4, 1, 0, 2, 3]);
    }
}
