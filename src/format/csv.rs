//! CSV downloads from the CloudWatch console (`docs/log-formats.md`, "Logs Insights and console
//! CSV"): Logs Insights "Export
//! results" (a header of field names: `@timestamp`, `@message`, optional `@logStream`, `@log`) and
//! the log-events "Download" (`timestamp,message` with epoch milliseconds).
//!
//! RFC 4180 (quoted fields span lines, quotes doubled) is read with the `csv` crate. Columns are
//! found by name in the header, which may follow a line or two of text a user added; without a
//! header the columns are `timestamp,message`. Timestamps are epoch milliseconds, ISO-8601, or
//! Insights' `YYYY-MM-DD HH:MM:SS.mmm` (UTC). Insights lists newest first by default, so records are
//! put in time order.

use std::borrow::Cow;
use std::cell::Cell;
use std::io::{self, Read};
use std::rc::Rc;

use super::insights::log_group;
use super::{REORDER_WINDOW, Record, reorder};
use crate::problem::{Kind, Problem};
use crate::time;

/// A field that runs on longer than this is not a log message (an unbalanced quote); stop there
/// rather than read the rest of the input into memory.
const MAX_RECORD: u64 = 64 << 20;

/// Counts bytes handed to the CSV reader since the last record, and refuses to go on past
/// [`MAX_RECORD`].
struct Guard<'r> {
    inner: &'r mut dyn Read,
    since: Rc<Cell<u64>>,
}

impl Read for Guard<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.since.get() > MAX_RECORD {
            return Err(io::Error::other(
                "a CSV field runs on for more than 64 MiB (unbalanced quote?)",
            ));
        }
        let n = self.inner.read(buf)?;
        self.since.set(self.since.get() + n as u64);
        Ok(n)
    }
}

/// Column positions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Columns {
    timestamp: Option<usize>,
    message: usize,
    stream: Option<usize>,
    group: Option<usize>,
}

impl Columns {
    fn from_header(fields: &::csv::ByteRecord) -> Option<Columns> {
        let mut c = Columns {
            timestamp: None,
            message: usize::MAX,
            stream: None,
            group: None,
        };
        for (i, f) in fields.iter().enumerate() {
            let name = String::from_utf8_lossy(f).trim().to_ascii_lowercase();
            match name.as_str() {
                "@timestamp" | "timestamp" => c.timestamp = Some(i),
                "@message" | "message" => c.message = i,
                "@logstream" | "logstreamname" | "logstream" | "log stream" => c.stream = Some(i),
                "@log" | "loggroup" | "loggroupname" | "log group" => c.group = Some(i),
                _ => {}
            }
        }
        (c.message != usize::MAX).then_some(c)
    }
}

/// Is this line a CSV header rotdiag reads?
pub(crate) fn is_header(line: &[u8]) -> bool {
    may_name_timestamp(line) && reads_as_header(line)
}

/// Could a field of `line` be `timestamp` or `@timestamp`, as a header rotdiag reads needs
/// ([`Columns::from_header`])? A necessary condition, looked at before a CSV reader is built:
/// building one costs about 270,000 instructions, and the Lambda JSON log lines of a text export
/// (`{"timestamp": …, "message": …}`) pass the cheaper tests before this one on every object of
/// an archive.
///
/// Such a field holds no quote, so every quote in it is quoting (and a quoted part may stop and
/// start anywhere: `"time"stamp` reads as `timestamp`), and it holds no comma, so it starts at the
/// line's start or after a comma. With the quotes taken out, the name (in any case) is therefore
/// preceded by nothing but whitespace and an `@` since the line's start or a comma. Whitespace is
/// any byte that can be part of some (ASCII whitespace, vertical tab, any non-ASCII byte), so
/// nothing a header could be is turned away.
fn may_name_timestamp(line: &[u8]) -> bool {
    const NAME: &[u8] = b"timestamp";
    let unquoted: Vec<u8> = line.iter().copied().filter(|&b| b != b'"').collect();
    let lead = |b: &u8| b.is_ascii_whitespace() || *b == 0x0b || *b >= 0x80 || *b == b'@';
    unquoted.windows(NAME.len()).enumerate().any(|(at, w)| {
        w.eq_ignore_ascii_case(NAME)
            && unquoted[..at]
                .iter()
                .rposition(|b| !lead(b))
                .is_none_or(|i| unquoted[i] == b',')
    })
}

/// Does the CSV reader read `line` as a header rotdiag reads?
fn reads_as_header(line: &[u8]) -> bool {
    let mut r = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(line);
    let mut rec = ::csv::ByteRecord::new();
    matches!(r.read_byte_record(&mut rec), Ok(true))
        && rec.len() >= 2
        && Columns::from_header(&rec).is_some_and(|c| c.timestamp.is_some())
}

/// Decodes a console CSV download, calling `sink` once per row (in time order).
pub(crate) fn decode(input: &mut dyn Read, sink: &mut dyn FnMut(Record<'static>)) -> Vec<Problem> {
    let since = Rc::new(Cell::new(0));
    let guard = Guard {
        inner: input,
        since: since.clone(),
    };
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(guard);
    let mut errors = Vec::new();
    let mut rec = ::csv::ByteRecord::new();
    let mut columns: Option<Columns> = None;
    let mut seen = 0u32;
    let mut rows: Vec<Record<'static>> = Vec::new();
    loop {
        match reader.read_byte_record(&mut rec) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let pos = e.position().cloned();
                let kind = match e.kind() {
                    ::csv::ErrorKind::Io(io) if io.kind() == io::ErrorKind::UnexpectedEof => {
                        Kind::Truncated
                    }
                    _ => Kind::Decode(format!("{e}; everything before this point was read")),
                };
                errors.push(Problem::at(
                    pos.as_ref().map(|p| p.line()),
                    pos.as_ref().map(|p| p.byte()),
                    kind,
                ));
                break;
            }
        }
        since.set(0);
        seen += 1;
        let line = rec.position().map_or(0, |p| p.line());
        let offset = rec.position().map_or(0, |p| p.byte());
        if columns.is_none() {
            if let Some(c) = Columns::from_header(&rec) {
                columns = Some(c);
                continue;
            }
            if seen <= 5 && !first_is_timestamp(&rec) {
                // Text before the header (a title line a user added).
                continue;
            }
            columns = Some(Columns {
                timestamp: Some(0),
                message: 1,
                stream: None,
                group: None,
            });
        }
        let Some(c) = columns else { continue };
        let field = |i: Option<usize>| i.and_then(|i| rec.get(i));
        let Some(message) = rec.get(c.message) else {
            continue;
        };
        let text = |b: &[u8]| String::from_utf8_lossy(b).trim().to_owned();
        let timestamp = field(c.timestamp).and_then(|t| time::parse_any(&text(t)));
        rows.push(Record {
            line,
            offset,
            timestamp,
            stream: field(c.stream)
                .map(text)
                .filter(|s| !s.is_empty())
                .map(Cow::Owned),
            group: field(c.group)
                .map(|g| log_group(&text(g)).to_owned())
                .filter(|s| !s.is_empty())
                .map(Cow::Owned),
            message: Cow::Owned(message.to_vec()),
            stream_key: None,
        });
        if rows.len() >= REORDER_WINDOW {
            reorder(&mut rows);
            rows.drain(..).for_each(&mut *sink);
        }
    }
    reorder(&mut rows);
    rows.drain(..).for_each(sink);
    errors
}

fn first_is_timestamp(rec: &::csv::ByteRecord) -> bool {
    rec.get(0)
        .and_then(|f| std::str::from_utf8(f).ok())
        .and_then(time::parse_any)
        .is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::decode_all;

    fn run(input: &str) -> (Vec<Record<'static>>, Vec<Problem>) {
        decode_all(decode, input.as_bytes())
    }

    /// The test before the CSV reader turns away no line the reader takes for a header: every
    /// arrangement of up to four pieces (the name whole in two cases and in halves, an `@`, quotes, commas, ASCII and
    /// Unicode whitespace, JSON punctuation) before a `message` column, read both ways.
    #[test]
    fn no_header_is_turned_away_before_the_reader_reads_it() {
        let pieces = [
            "time",
            "stamp",
            "@TimeStamp",
            ",",
            "\"",
            " ",
            "\u{a0}",
            "@",
            "{",
        ];
        let (mut headers, mut tried) = (0, 0);
        let mut pick = [0usize; 4];
        'all: loop {
            for len in 1..=pick.len() {
                let mut line: String = pick[..len].iter().map(|&p| pieces[p]).collect();
                line.push_str(",message");
                tried += 1;
                if reads_as_header(line.as_bytes()) {
                    headers += 1;
                    assert!(may_name_timestamp(line.as_bytes()), "{line:?}");
                }
            }
            for p in pick.iter_mut() {
                *p += 1;
                if *p < pieces.len() {
                    continue 'all;
                }
                *p = 0;
            }
            break;
        }
        assert!(headers > 100 && tried > 4000, "{headers} of {tried}");
        // What an export's JSON log lines hold is turned away without a reader.
        let json = br#"2025-04-05T11:26:25.301Z {"timestamp": "2025-04-05T11:26:25Z", "level": "INFO", "message": "x"}"#;
        assert!(!may_name_timestamp(json) && !is_header(json));
        for header in [
            "timestamp,message",
            "\"@timestamp\",@message",
            " Timestamp ,message",
        ] {
            assert!(is_header(header.as_bytes()), "{header}");
        }
    }

    #[test]
    fn log_events_download_with_quoted_multiline_messages() {
        let text = "/aws/lambda/autoninja-supervisor-production: \n\ntimestamp,message\n\
            1761073090118,\"INIT_START Runtime Version: python:3.12.v89\tRuntime Version ARN: arn\n\"\n\
            1761073090653,\"[INFO]\t2025-10-21T18:58:10.653Z\tfcb560f5-8304-4333-a094-74147cedb3c8\t{\"\"timestamp\"\": \"\"x\"\"}\n\"\n";
        let (r, e) = run(text);
        assert!(e.is_empty(), "{e:?}");
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].timestamp, Some(1_761_073_090_118));
        assert_eq!(
            &r[0].message[..],
            b"INIT_START Runtime Version: python:3.12.v89\tRuntime Version ARN: arn\n"
        );
        assert!(r[1].message.ends_with(b"{\"timestamp\": \"x\"}\n"));
        assert_eq!(r[1].line, 6);
    }

    #[test]
    fn insights_export_newest_first_is_put_in_order() {
        let text = "@timestamp,@message,@logStream,@log\n\
            2024-05-01 12:00:01.000,\"[ERROR] boom\nTraceback (most recent call last):\",2024/05/01/[$LATEST]0123,111122223333:/aws/lambda/Rot\n\
            2024-05-01 12:00:00.456,\"[INFO]\tcreateSecret: ok\n\",2024/05/01/[$LATEST]0123,111122223333:/aws/lambda/Rot\n";
        let (r, e) = run(text);
        assert!(e.is_empty());
        assert_eq!(r.len(), 2);
        assert!(r[0].message.starts_with(b"[INFO]"));
        assert_eq!(r[0].group.as_deref(), Some("/aws/lambda/Rot"));
        assert_eq!(r[0].stream.as_deref(), Some("2024/05/01/[$LATEST]0123"));
        assert_eq!(r[1].timestamp, time::parse_any("2024-05-01T12:00:01Z"));
    }

    #[test]
    fn header_detection() {
        assert!(is_header(b"timestamp,message"));
        assert!(is_header(b"\"@timestamp\",\"@message\",\"@logStream\""));
        assert!(!is_header(b"message"));
        assert!(!is_header(b"2024-05-01T12:00:00.123Z START RequestId: x"));
    }

    #[test]
    fn unbalanced_quote_and_ragged_rows() {
        let (r, _) =
            run("timestamp,message\n1761073090118\n1761073090119,\"open quote never closed\n");
        assert!(r.len() <= 1);
        let (r, _) = run("1761073090118,START RequestId: x\n");
        assert_eq!(r.len(), 1);
    }
}
