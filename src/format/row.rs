//! A row of values without names: what a JMESPath `--query` leaves of a log event.
//!
//! `--query 'events[].[timestamp,logStreamName,message]'` turns each event into a list, and
//! `--query 'events[*].{t:timestamp,m:message}'` into an object whose keys the user chose; every
//! `--output` then prints those values without saying which is which (`--output text` and `table`
//! even sort an object's values by key). So the cells are told apart by what they hold, the same
//! way in every output:
//!
//! * the timestamp is the first cell that is an epoch-millisecond number (12 or 13 digits, as
//!   `timestamp` and `ingestionTime` are);
//! * the log stream is the first cell shaped like a Lambda stream name (`2025/04/10/[$LATEST]…`);
//! * the message is the last other text cell that is not a bare number (an `eventId` is one);
//! * `null` (`None` in text, an empty cell in a table) is no value: `get-log-events` events have no
//!   `logStreamName`.
//!
//! A row with no message cell is no record.

use crate::time::EpochMs;

/// One cell of a row, as an output shows it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Cell<'a> {
    /// A JSON or YAML number.
    Number(f64),
    /// Text (in `--output text` and `table`, numbers too arrive as text).
    Text(&'a str),
    /// `null`, `None`, or an empty table cell.
    Null,
}

/// What a row holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Row {
    pub(crate) timestamp: Option<EpochMs>,
    pub(crate) stream: Option<String>,
    pub(crate) message: String,
}

/// Reads the cells of one row (in the order the output gives them).
pub(crate) fn read<'a>(cells: impl IntoIterator<Item = Cell<'a>>) -> Option<Row> {
    let mut timestamp = None;
    let mut stream = None;
    let mut message: Option<&str> = None;
    let mut number_text: Option<&str> = None;
    for cell in cells {
        match cell {
            Cell::Null => {}
            Cell::Number(n) => {
                if timestamp.is_none() {
                    timestamp = epoch_ms_number(n);
                }
            }
            Cell::Text(t) if t.is_empty() || is_null_text(t) => {}
            Cell::Text(t) => match epoch_ms_text(t) {
                Some(ms) => {
                    timestamp.get_or_insert(ms);
                }
                None if stream.is_none() && is_lambda_stream(t) => stream = Some(t.to_owned()),
                None if t.bytes().all(|b| b.is_ascii_digit()) => number_text = Some(t),
                None => message = Some(t),
            },
        }
    }
    let message = message.or(number_text)?;
    Some(Row {
        timestamp,
        stream,
        message: message.to_owned(),
    })
}

/// An epoch-millisecond value: 12 or 13 digits (2001-09-09 to 2286-11-20).
fn epoch_ms_number(n: f64) -> Option<EpochMs> {
    (n.fract() == 0.0 && (1e11..1e13).contains(&n)).then_some(n as EpochMs)
}

/// An epoch-millisecond number printed as text.
pub(crate) fn epoch_ms_text(t: &str) -> Option<EpochMs> {
    ((12..=13).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_digit()))
        .then(|| t.parse().ok())
        .flatten()
}

/// How `--output text` prints a JSON `null` (Python's `None`).
pub(crate) fn is_null_text(t: &str) -> bool {
    t == "None"
}

/// A Lambda log stream name: `YYYY/MM/DD/[<version>]<id>`.
pub(crate) fn is_lambda_stream(t: &str) -> bool {
    let b = t.as_bytes();
    b.len() > 12
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'/'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'/'
        && b[8..10].iter().all(u8::is_ascii_digit)
        && b[10] == b'/'
        && b[11] == b'['
        && !b.contains(&b' ')
        && !b.contains(&b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREAM: &str = "2025/04/10/[$LATEST]3db9c7b88382e6481e072f78fa8c352e";

    #[test]
    fn timestamp_stream_and_message_in_any_order() {
        let want = Row {
            timestamp: Some(1_744_277_457_694),
            stream: Some(STREAM.into()),
            message: "START RequestId: x".into(),
        };
        let cells = [
            Cell::Number(1_744_277_457_694.0),
            Cell::Text(STREAM),
            Cell::Text("START RequestId: x"),
        ];
        assert_eq!(read(cells), Some(want.clone()));
        let mut reversed = cells;
        reversed.reverse();
        assert_eq!(read(reversed), Some(want.clone()));
        // Text outputs print numbers as text.
        let text = [
            Cell::Text("START RequestId: x"),
            Cell::Text(STREAM),
            Cell::Text("1744277457694"),
        ];
        assert_eq!(read(text), Some(want));
    }

    #[test]
    fn null_streams_event_ids_and_ingestion_times() {
        // get-log-events: no logStreamName.
        let r = read([
            Cell::Number(1_744_277_457_694.0),
            Cell::Null,
            Cell::Text("m"),
        ])
        .unwrap();
        assert_eq!(
            (r.timestamp, r.stream, r.message.as_str()),
            (Some(1_744_277_457_694), None, "m")
        );
        let r = read([
            Cell::Text("1744277457694"),
            Cell::Text("None"),
            Cell::Text("m"),
        ])
        .unwrap();
        assert_eq!(r.stream, None);
        // eventId (a long digit string) and ingestionTime (a second epoch-ms number) are not the
        // message, and the first number is the timestamp.
        let r = read([
            Cell::Text("36099496740107299306754800775406914332227387994676756031"),
            Cell::Number(1_744_277_457_694.0),
            Cell::Number(1_744_277_457_900.0),
            Cell::Text("m"),
        ])
        .unwrap();
        assert_eq!(
            (r.timestamp, r.message.as_str()),
            (Some(1_744_277_457_694), "m")
        );
    }

    #[test]
    fn a_row_without_a_message_is_none() {
        assert_eq!(read([Cell::Number(1_744_277_457_694.0), Cell::Null]), None);
        assert_eq!(read([]), None);
        // Only digits: kept as the message rather than lost.
        assert_eq!(read([Cell::Text("42")]).unwrap().message, "42");
    }

    #[test]
    fn stream_names() {
        assert!(is_lambda_stream(STREAM));
        assert!(is_lambda_stream("2025/04/10/[3]abc"));
        assert!(!is_lambda_stream("2025/04/10 [$LATEST]x"));
        assert!(!is_lambda_stream("START RequestId: x"));
        assert!(!is_lambda_stream("2025/04/10/[x] y"));
    }
}
