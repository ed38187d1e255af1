//! START, END and REPORT lines as small events.
//!
//! These three platform lines are two thirds of the lines of a rotation function's log (67 % of
//! the 16 MiB S3-export bench file), and most of them say only "this request id started / ended
//! / ended with these numbers". Through the record path each costs a [`Record`] (104 bytes), an
//! [`Analysis`](super::Analysis) (160 bytes, classification, the copy-ahead test) and the
//! assembler's general router. The line-oriented strategies (`pipeline::blocks`) instead turn
//! the plain ones into a [`PlatformEvent`] (no text copy, no hits, no facts), which
//! [`super::invocation::Assembler::push_platform`] applies with the same state changes `push`
//! makes for such a line.
//!
//! Only lines whose analysis is certain to be empty become events: a START or END with a
//! request id, and a REPORT with one and without `Status:` or `Error Type:` (the REPORTs
//! `lambda::matched` does not scan for rule literals). Everything else, including a platform
//! line that names no request id or a REPORT with a status, keeps the record path. The line is
//! read by [`line::platform_line`], the same function [`line::classify`] uses, so an event says
//! what the line's classification would.

use std::borrow::Cow;

use super::line::{self, Kind};
use super::report::Metrics;
use crate::aws::RequestId;
use crate::format::Record;
use crate::time::EpochMs;

/// Which platform line an event is (`End` by default: what is left of an event whose numbers
/// were taken out of it).
#[derive(Debug, Default)]
pub(crate) enum PlatformKind<'a> {
    /// START; a JSON `platform.start` names its function (`functionArn` or `functionName`).
    Start(Option<&'a str>),
    #[default]
    End,
    /// A REPORT without a status: its numbers (boxed once here, on the pool, and moved into the
    /// invocation by the fold).
    Report(Box<Metrics>),
}

/// A START, END or REPORT line that matched nothing: what invocation assembly needs of it.
#[derive(Debug)]
pub(crate) struct PlatformEvent<'a> {
    pub(crate) kind: PlatformKind<'a>,
    pub(crate) request_id: RequestId,
    /// Its line number (in its block until the serial stage numbers it in the input).
    pub(crate) line: u64,
    /// The record's timestamp (a text platform line prints none of its own; a JSON record's
    /// `time` stands in when the record has none).
    pub(crate) timestamp: Option<EpochMs>,
    /// The log stream, for shapes that name one on every line (`aws logs tail`).
    pub(crate) stream: Option<&'a str>,
    /// The message, borrowed from the block: a REPORT is kept as evidence when its invocation
    /// failed, which only the fold knows.
    pub(crate) message: &'a [u8],
}

impl<'a> PlatformEvent<'a> {
    /// The record as an event, when it is a plain START, END or REPORT, or a JSON
    /// `platform.start` or unscanned `platform.report` record, whose message and stream name are
    /// slices of the input (so the event borrows them rather than copying); `None` for any other
    /// record, which takes the record path. The caller has made sure the message holds no NUL
    /// byte (a binary record is counted, not assembled) and was not cut.
    pub(crate) fn of(record: &Record<'a>) -> Option<PlatformEvent<'a>> {
        let Cow::Borrowed(message) = record.message else {
            return None;
        };
        // Half of the records are not platform lines: turned away by their first byte, before
        // any trimming. A platform line indented by blanks (rare) takes the record path, where
        // `classify` reads it the same. A JSON record must begin as the runtime writes a
        // platform record (`{"time":`): application records (`{"timestamp":`) are not read
        // twice.
        let json = match message.first() {
            Some(b'S' | b'E' | b'R') => false,
            Some(b'{') if message.starts_with(b"{\"time\":") => true,
            _ => return None,
        };
        let stream = match &record.stream {
            None => None,
            Some(Cow::Borrowed(s)) => Some(*s),
            Some(Cow::Owned(_)) => return None,
        };
        if record.group.is_some() {
            return None;
        }
        let (kind, request_id, timestamp) = if json {
            json_record(message, record.timestamp)?
        } else {
            let (kind, rid) = text_line(message)?;
            (kind, rid, record.timestamp)
        };
        Some(PlatformEvent {
            kind,
            request_id,
            line: record.line,
            timestamp,
            stream,
            message,
        })
    }
}

/// A text START, END or REPORT line as an event's kind and request id, read as
/// [`line::classify`] reads it.
fn text_line(message: &[u8]) -> Option<(PlatformKind<'_>, RequestId)> {
    let p = line::platform_line(message)?;
    let kind = match (p.kind, p.metrics) {
        (Kind::Start, _) => PlatformKind::Start(None),
        (Kind::End, _) => PlatformKind::End,
        (Kind::Report, Some(m)) if m.status.is_none() && m.error_type.is_none() => {
            PlatformKind::Report(m)
        }
        _ => return None,
    };
    Some((kind, p.request_id?))
}

/// A JSON `platform.start` or unscanned `platform.report` record as an event's kind, request id
/// and timestamp (the record's own, else the record's `time`, as the record path takes them).
fn json_record(
    message: &[u8],
    own: Option<EpochMs>,
) -> Option<(PlatformKind<'_>, RequestId, Option<EpochMs>)> {
    let r = line::json_platform_line(message)?;
    let timestamp = own.or_else(|| r.timestamp());
    let kind = match r.report {
        None => PlatformKind::Start(r.function),
        Some(m) => PlatformKind::Report(m),
    };
    Some((kind, r.request_id, timestamp))
}

#[cfg(test)]
mod tests {
    use super::*;

    const RID: &str = "1f4c2b7e-8d7a-4f6e-9c1a-2b3c4d5e6f70";
    const REPORT: &str =
        "Duration: 12.00 ms\tBilled Duration: 12 ms\tMemory Size: 128 MB\tMax Memory Used: 80 MB";

    fn record(message: &str) -> Record<'_> {
        Record {
            line: 7,
            offset: 0,
            timestamp: Some(1_714_564_800_456),
            stream: None,
            group: None,
            message: Cow::Borrowed(message.as_bytes()),
            stream_key: None,
        }
    }

    fn event(message: &str) -> Option<PlatformEvent<'_>> {
        PlatformEvent::of(&record(message))
    }

    fn rid() -> RequestId {
        RequestId::parse(RID).unwrap()
    }

    /// The kind of event `message` makes, if any.
    fn kind(message: &str) -> Option<PlatformKind<'_>> {
        event(message).map(|e| e.kind)
    }

    #[test]
    fn plain_platform_lines_are_events() {
        let start = format!("START RequestId: {RID} Version: $LATEST");
        let e = event(&start).unwrap();
        assert!(matches!(e.kind, PlatformKind::Start(None)));
        assert_eq!(
            (e.request_id, e.line, e.timestamp, e.message),
            (rid(), 7, Some(1_714_564_800_456), start.as_bytes())
        );
        let (end, report) = (
            format!("END RequestId: {RID}"),
            format!("REPORT RequestId: {RID}\t{REPORT}\tInit Duration: 418.02 ms\t"),
        );
        let end = kind(&end);
        assert!(matches!(end, Some(PlatformKind::End)));
        let report = kind(&report);
        let Some(PlatformKind::Report(m)) = report else {
            panic!("{report:?}")
        };
        assert_eq!(
            (m.duration_ms, m.init_ms, m.max_memory_mb),
            (Some(12.0), Some(418.02), Some(80))
        );
    }

    #[test]
    fn crlf_spaces_and_continuations_read_as_classify_reads_them() {
        for m in [
            format!("START RequestId: {RID} Version: $LATEST\r\n"),
            format!("END RequestId:   {RID}\r"),
            format!(
                "REPORT RequestId: {RID}  Duration: 58.70 ms       Billed Duration: 927 ms Memory Size: 1024 MB    Max Memory Used: 91 MB\r\n"
            ),
            format!(
                "REPORT RequestId: {RID}\t{REPORT}\nXRAY TraceId: 1-6a9746e0-1f36\tSegmentId: 2e91\tSampled: true"
            ),
        ] {
            let e = event(&m).unwrap_or_else(|| panic!("{m:?}"));
            let l = line::classify(m.as_bytes());
            assert_eq!(Some(e.request_id), l.request_id, "{m:?}");
            match e.kind {
                PlatformKind::Start(_) => assert_eq!(l.kind, Kind::Start),
                PlatformKind::End => assert_eq!(l.kind, Kind::End),
                PlatformKind::Report(m) => assert_eq!(Some(m), l.metrics),
            }
        }
    }

    #[test]
    fn lookalikes_and_reports_with_a_status_keep_the_record_path() {
        for m in [
            // A user's print line that quotes a platform line.
            format!("[INFO]\t2024-05-01T12:00:00.456Z\t{RID}\tSTART RequestId: {RID}"),
            format!("retrying after START RequestId: {RID}"),
            format!("RequestId: {RID} Error: Runtime exited with error: signal: killed"),
            // Statuses and error types are what rules look for.
            format!("REPORT RequestId: {RID}\t{REPORT}\tStatus: timeout"),
            format!(
                "REPORT RequestId: {RID}\t{REPORT}\tStatus: error\tError Type: Runtime.ExitError"
            ),
            // Truncated: no request id to route by.
            "START RequestId: 1f4c2b7e-8d7a".to_string(),
            "END RequestId:".to_string(),
            "REPORT RequestId".to_string(),
            format!("STARTRequestId: {RID}"),
            // Indented: `classify` reads it, not the event path.
            format!("  END RequestId: {RID}"),
            format!("START RequestId: {RID}x"),
        ] {
            assert!(event(&m).is_none(), "{m:?}");
        }
    }

    /// A JSON `platform.start` or `platform.report` record, as the runtime writes it.
    fn json(kind: &str, record: &str) -> String {
        format!(
            r#"{{"time":"2025-03-28T13:36:56.990Z","type":"platform.{kind}","record":{{"requestId":"{RID}",{record}}}}}"#
        )
    }

    const ARN: &str =
        r#""functionArn":"arn:aws:lambda:us-east-1:1:function:rot","version":"$LATEST""#;
    const METRICS: &str = r#""metrics":{"durationMs":87.56,"billedDurationMs":88,"memorySizeMB":128,"maxMemoryUsedMB":80}"#;

    /// JSON `platform.start` records and the `platform.report` records the automaton does not
    /// read are events saying what `classify` reads of them, the record's `time` standing in
    /// for a timestamp of its own.
    #[test]
    fn json_starts_and_unscanned_reports_are_events_read_as_classify_reads_them() {
        for m in [
            json("start", ARN),
            json("start", r#""version":"$LATEST","functionName":"rot""#),
            json(
                "start",
                r#""functionArn":"arn:aws:lambda:us-east-1:1:function:röt""#,
            ),
            format!("{}\r\n", json("start", ARN)),
            json("report", &format!(r#"{METRICS},"status":"success""#)),
            json("report", METRICS),
        ] {
            let mut r = record(&m);
            let l = line::classify(m.as_bytes());
            for own in [Some(1_714_564_800_456), None] {
                r.timestamp = own;
                let e = PlatformEvent::of(&r).unwrap_or_else(|| panic!("{m:?}"));
                assert_eq!(Some(e.request_id), l.request_id, "{m:?}");
                assert_eq!(e.timestamp, own.or(l.timestamp), "{m:?}");
                match e.kind {
                    PlatformKind::Start(f) => {
                        assert_eq!((l.kind, f), (Kind::Start, l.function.as_deref()), "{m:?}");
                    }
                    PlatformKind::Report(metrics) => assert_eq!(Some(metrics), l.metrics),
                    PlatformKind::End => panic!("{m:?}"),
                }
            }
        }
    }

    /// What the automaton reads, and what is not a start or a report, keeps the record path.
    #[test]
    fn other_json_records_keep_the_record_path() {
        for m in [
            json("report", &format!(r#"{METRICS},"status":"timeout""#)),
            json(
                "report",
                &format!(r#"{METRICS},"status":"success","errorType":"Runtime.ExitError""#),
            ),
            json("runtimeDone", &format!(r#"{METRICS},"status":"success""#)),
            json("initStart", r#""runtimeVersion":"python:3.12.v38""#),
            json("end", ARN),
            // An escape: `flat_json` leaves the record to `serde_json`.
            json("start", r#""functionArn":"arn:aws:lambda:us-east-1:1:function:r\u00f6t""#),
            json("start", r#""eventSource":"secretsmanager.amazonaws.com","eventName":"x""#),
            r#"{"timestamp":"2025-03-28T13:36:56.990Z","level":"INFO","message":"START","requestId":"1f4c2b7e-8d7a-4f6e-9c1a-2b3c4d5e6f70"}"#.to_string(),
            r#"{"time":"2025-03-28T13:36:56.990Z","type":"platform.start","record":{"requestId":"1f4c2b7e"}}"#.to_string(),
            format!(" {}", json("start", ARN)),
        ] {
            assert!(event(&m).is_none(), "{m:?}");
        }
        // A success whose request id is not a plain UUID is read (`lambda::rendered_success`).
        let odd = json("report", &format!(r#"{METRICS},"status":"success""#))
            .replace(RID, &format!(" {RID}"));
        assert!(line::classify(odd.as_bytes()).request_id.is_some());
        assert!(event(&odd).is_none());
    }

    /// Small next to the `Record` (104 bytes) and `Analysis` (160) it replaces.
    #[test]
    fn an_event_is_small() {
        assert!(
            size_of::<PlatformEvent>() <= 96,
            "{}",
            size_of::<PlatformEvent>()
        );
    }

    #[test]
    fn records_it_cannot_borrow_keep_the_record_path() {
        let m = format!("START RequestId: {RID}");
        let mut r = record(&m);
        r.message = Cow::Owned(m.clone().into_bytes());
        assert!(PlatformEvent::of(&r).is_none());
        let mut r = record(&m);
        r.stream = Some(Cow::Owned("2025/01/01/[$LATEST]ab".into()));
        assert!(PlatformEvent::of(&r).is_none());
        r.stream = Some(Cow::Borrowed("2025/01/01/[$LATEST]ab"));
        assert_eq!(
            PlatformEvent::of(&r).unwrap().stream,
            Some("2025/01/01/[$LATEST]ab")
        );
        r.group = Some(Cow::Borrowed("/aws/lambda/rot"));
        assert!(PlatformEvent::of(&r).is_none());
    }
}
