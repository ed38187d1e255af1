//! CloudWatch Logs Insights: find the invocations worth diagnosing without downloading them, then
//! fetch the whole events of just those.
//!
//! Two steps, because an Insights query returns at most 10,000 rows:
//!
//! 1. [`find_query`] searches every event for a failure signal ([`super::Signals`]) and returns one
//!    row per log group, stream and request id: how many signal lines, the first and last time,
//!    the REPORT duration (`@duration`) when the failure was a timeout or a crash. A row stands for
//!    a failed invocation, not for its lines, so 10,000 rows are 10,000 failures; more than that
//!    means the time range must be split ([`split`], `--split`).
//! 2. [`parse_found`] reads those results (`aws logs get-query-results` JSON) and
//!    [`events_queries`] builds queries for the events of the streams that failed, within a
//!    window around each failure ([`windows`]): from the
//!    invocation's start (the last signal minus `@duration`, or [`CONTEXT_BEFORE_MS`] before the
//!    first signal, whichever is earlier) to [`CONTEXT_AFTER_MS`] after the last one, so the
//!    invocation's own lines and the earlier steps of its rotation come along (an unhandled
//!    Python error carries no request id, so filtering by request id alone would lose it). Their
//!    results carry `@timestamp`, `@message`, `@logStream` and `@log`: rotdiag reads them as
//!    `insights-json`.
//!
//! The limits, from the CloudWatch Logs API reference (`StartQuery`, `GetQueryResults`) and the
//! Logs Insights query syntax pages:
//!
//! * a query string is at most [`MAX_QUERY_CHARS`] characters (`queryString`: "Maximum length of
//!   10000", <https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_StartQuery.html>;
//!   the same bound is in the API model botocore ships, `logs/2014-03-28/service-2.json`, shape
//!   `QueryString`);
//! * one query names at most [`MAX_LOG_GROUPS`] log groups (`logGroupNames`: "You can include up
//!   to 50 log groups"; older API versions said 20);
//! * a query returns at most 10,000 rows unless `limit` says otherwise ("If you omit limit, the
//!   query will return as many as 10,000 log events", `CWL_QuerySyntax-Limit`; the newest pages
//!   allow `limit` up to 100,000): the queries ask for [`MAX_ROWS`];
//! * `start-query` takes its time range in epoch seconds, both ends inclusive.
//!
//! The query language is used conservatively: `fields`, `filter` with `like /regex/`, `=`, `in`,
//! `and`/`or` and `toMillis(@timestamp)` (the datetime functions of `CWL_QuerySyntax-operations-functions`:
//! "converts the timestamp found in the named field into a number representing the milliseconds"),
//! `stats … by` with `count`, `min`, `max`, then `sort` and `limit`. The regex is an alternation of
//! escaped literals ([`super::escape::regex_literal`]), which means the same in every regex dialect.
//! Step 2 selects each window by its own condition (`@logStream = "…" and toMillis(@timestamp)
//! >= … and … <= …`), `or`-ed, so a query returns only its windows' events whatever time range
//! the `start-query` call spans.

use std::collections::BTreeMap;

use super::escape::{insights_string, regex_alternation, shell_word};
use super::{Error, Signals, distinct};
use crate::time::{self, EpochMs};

/// `StartQuery`'s `queryString` limit, in characters.
pub const MAX_QUERY_CHARS: usize = 10_000;
/// `StartQuery`'s `logGroupNames` limit.
pub const MAX_LOG_GROUPS: usize = 50;
/// Rows a query returns (Insights' default and documented limit).
pub const MAX_ROWS: usize = 10_000;
/// Lambda's maximum function timeout: an invocation started at most this long before its last
/// line, so a window reaching this far back holds its START (and the rotation's earlier steps,
/// which ran just before it).
pub const CONTEXT_BEFORE_MS: i64 = 15 * 60 * 1000;
/// After the last signal: the END/REPORT lines that follow a failure.
pub const CONTEXT_AFTER_MS: i64 = 60 * 1000;
/// Longest time range one events query covers; windows further apart go to separate queries.
pub const MAX_SPAN_MS: i64 = 6 * 3600 * 1000;
/// Windows per events query unless told otherwise: each window is a few minutes of one stream, so
/// a query stays well below [`MAX_ROWS`] for rotation functions (which log a few lines per
/// invocation); `--windows-per-query` lowers it for busy streams.
pub const DEFAULT_WINDOWS_PER_QUERY: usize = 10;

/// The query of step 1: one row per log group, stream and request id holding a failure signal.
pub fn find_query(signals: &Signals) -> String {
    format!(
        "fields @timestamp, @log, @logStream, @requestId, @duration\n\
         | filter @message like /{}/\n\
         | stats count(*) as signal_lines, min(@timestamp) as first_signal, max(@timestamp) as last_signal, max(@duration) as duration_ms by @log, @logStream, @requestId\n\
         | sort first_signal asc\n\
         | limit {MAX_ROWS}",
        regex_alternation(signals.literals())
    )
}

/// One row of step 1's results.
#[derive(Clone, Debug, PartialEq)]
pub struct FoundRow {
    /// The log group (`@log` without its `account:` prefix).
    pub log_group: String,
    pub stream: String,
    pub request_id: Option<String>,
    pub signals: u64,
    pub first: EpochMs,
    pub last: EpochMs,
    pub duration_ms: Option<f64>,
}

/// What `get-query-results` said besides the rows.
#[derive(Clone, Debug, PartialEq)]
pub struct FoundResults {
    pub rows: Vec<FoundRow>,
    /// `status` (`Complete`, `Running`, …), when the file has one.
    pub status: Option<String>,
}

impl FoundResults {
    /// As many rows as a query returns: the results are probably cut, split the time range.
    pub fn truncated(&self) -> bool {
        self.rows.len() >= MAX_ROWS
    }
}

#[derive(serde::Deserialize)]
struct ResultsDoc {
    #[serde(default)]
    results: Option<Vec<Vec<ResultField>>>,
    #[serde(default)]
    status: Option<String>,
}

#[derive(serde::Deserialize)]
struct ResultField {
    field: String,
    #[serde(default)]
    value: Option<serde_json::Value>,
}

/// Reads step 1's results, as `aws logs get-query-results --query-id … > results.json` writes
/// them (several documents in one file are read one after the other).
pub fn parse_found(text: &str, source: &str) -> Result<FoundResults, Error> {
    let err = |reason: String| Error::Results {
        source: source.to_string(),
        reason,
    };
    let mut out = FoundResults {
        rows: Vec::new(),
        status: None,
    };
    let mut docs = serde_json::Deserializer::from_str(text).into_iter::<ResultsDoc>();
    let mut any = false;
    loop {
        let offset = docs.byte_offset();
        let Some(doc) = docs.next() else { break };
        let doc = doc.map_err(|e| {
            err(format!(
                "line {}: not `aws logs get-query-results` JSON: {e}",
                e.line()
            ))
        })?;
        any = true;
        if doc.status.is_some() {
            out.status = doc.status;
        }
        let Some(rows) = doc.results else {
            return Err(err(format!(
                "byte {offset}: no `results` array (is this `aws logs get-query-results` output?)"
            )));
        };
        for (i, row) in rows.iter().enumerate() {
            out.rows
                .push(found_row(row).map_err(|reason| err(format!("results[{i}]: {reason}")))?);
        }
    }
    if !any {
        return Err(err("empty: no results document".into()));
    }
    Ok(out)
}

fn found_row(fields: &[ResultField]) -> Result<FoundRow, String> {
    let get = |name: &str| -> Option<String> {
        let v = fields.iter().find(|f| f.field == name)?.value.as_ref()?;
        match v {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Null => None,
            other => Some(other.to_string()),
        }
    };
    let need = |name: &str| {
        get(name)
            .ok_or_else(|| format!("no `{name}` field: was it made by `rotdiag query insights`?"))
    };
    let instant = |name: &str| -> Result<EpochMs, String> {
        let v = need(name)?;
        time::parse_any(&v).ok_or_else(|| format!("`{name}` is not a time: {v:?}"))
    };
    let log = need("@log")?;
    let log_group = log_group_of(&log).to_string();
    let stream = need("@logStream")?;
    let signals = need("signal_lines")?;
    Ok(FoundRow {
        log_group,
        stream,
        request_id: get("@requestId").filter(|s| !s.is_empty()),
        signals: signals
            .parse::<f64>()
            .map_err(|_| format!("`signal_lines` is not a number: {signals:?}"))?
            as u64,
        first: instant("first_signal")?,
        last: instant("last_signal")?,
        duration_ms: get("duration_ms").and_then(|d| d.parse().ok()),
    })
}

/// `@log` is `<account-id>:<log-group-name>`; the name is what `--log-group-names` takes.
pub fn log_group_of(log: &str) -> &str {
    match log.split_once(':') {
        Some((acct, rest)) if !acct.is_empty() && acct.bytes().all(|b| b.is_ascii_digit()) => rest,
        _ => log,
    }
}

/// Where to fetch events: one stream of one log group, from `start` to `end` (inclusive, ms).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    pub log_group: String,
    pub stream: String,
    pub start: EpochMs,
    pub end: EpochMs,
}

/// The windows around step 1's rows, merged per stream where they overlap.
pub fn windows(rows: &[FoundRow], before_ms: i64, after_ms: i64) -> Vec<Window> {
    let mut per_stream: BTreeMap<(&str, &str), Vec<(EpochMs, EpochMs)>> = BTreeMap::new();
    for r in rows {
        let started = r
            .duration_ms
            .map_or(r.first, |d| r.first.min(r.last - d.ceil() as i64));
        per_stream
            .entry((&r.log_group, &r.stream))
            .or_default()
            .push((started - before_ms, r.last + after_ms));
    }
    let mut out = Vec::new();
    for ((group, stream), mut spans) in per_stream {
        spans.sort_unstable();
        let mut cur: Option<(EpochMs, EpochMs)> = None;
        for (s, e) in spans {
            cur = match cur {
                Some((cs, ce)) if s <= ce => Some((cs, ce.max(e))),
                Some(done) => {
                    out.push(window(group, stream, done));
                    Some((s, e))
                }
                None => Some((s, e)),
            };
        }
        if let Some(done) = cur {
            out.push(window(group, stream, done));
        }
    }
    out.sort_by(|a, b| (a.start, &a.log_group, &a.stream).cmp(&(b.start, &b.log_group, &b.stream)));
    out
}

fn window(group: &str, stream: &str, (start, end): (EpochMs, EpochMs)) -> Window {
    Window {
        log_group: group.to_string(),
        stream: stream.to_string(),
        start,
        end,
    }
}

/// One `start-query` call: its log groups, time range and query string.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartQuery {
    pub log_groups: Vec<String>,
    /// Epoch milliseconds; the command rounds outwards to whole seconds.
    pub start: EpochMs,
    pub end: EpochMs,
    pub query: String,
}

impl StartQuery {
    /// The AWS CLI command: one line (the query's line breaks become spaces, which Insights reads
    /// alike), POSIX shell quoting.
    pub fn command(&self) -> String {
        let mut s = String::from("aws logs start-query --log-group-names");
        for g in &self.log_groups {
            s.push(' ');
            s.push_str(&shell_word(g));
        }
        s.push_str(&format!(
            " --start-time {} --end-time {} --query-string {}",
            self.start.div_euclid(1000),
            (self.end + 999).div_euclid(1000),
            shell_word(&self.query.replace('\n', " "))
        ));
        s
    }
}

/// The condition selecting one window's events.
fn window_condition(w: &Window) -> String {
    format!(
        "(@logStream = {} and toMillis(@timestamp) >= {} and toMillis(@timestamp) <= {})",
        insights_string(&w.stream),
        w.start,
        w.end
    )
}

/// The query returning the events of `windows` (each a stream and a time range).
fn events_query(windows: &[&Window]) -> String {
    let conditions = windows
        .iter()
        .map(|w| window_condition(w))
        .collect::<Vec<_>>()
        .join(" or ");
    format!(
        "fields @timestamp, @message, @logStream, @log\n\
         | filter {conditions}\n\
         | sort @timestamp asc\n\
         | limit {MAX_ROWS}"
    )
}

/// The queries of step 2: windows packed into as few `start-query` calls as the limits allow
/// (query length, log groups per query, `max_windows` windows, [`MAX_SPAN_MS`]). Each window is
/// its own condition (stream and `toMillis(@timestamp)` range), so a call returns the events of
/// its windows only; its time range is their union.
pub fn events_queries(windows: &[Window], max_windows: usize) -> Result<Vec<StartQuery>, Error> {
    let mut out = Vec::new();
    let mut batch: Vec<&Window> = Vec::new();
    for w in windows {
        let mut next = batch.clone();
        next.push(w);
        if !batch.is_empty() && (batch.len() >= max_windows.max(1) || !fits(&next)) {
            out.push(events_call(&batch));
            batch.clear();
        }
        batch.push(w);
        if !fits(&batch) {
            return Err(Error::Value {
                what: format!("log stream {}", w.stream),
                reason: format!("its name does not fit in a {MAX_QUERY_CHARS}-character query"),
            });
        }
    }
    if !batch.is_empty() {
        out.push(events_call(&batch));
    }
    Ok(out)
}

fn fits(batch: &[&Window]) -> bool {
    let start = batch.iter().map(|w| w.start).min().unwrap_or(0);
    let end = batch.iter().map(|w| w.end).max().unwrap_or(0);
    let groups = distinct(batch.iter().map(|w| w.log_group.as_str()));
    (end - start <= MAX_SPAN_MS || batch.len() == 1)
        && groups.len() <= MAX_LOG_GROUPS
        && events_query(batch).chars().count() <= MAX_QUERY_CHARS
}

fn events_call(batch: &[&Window]) -> StartQuery {
    StartQuery {
        log_groups: distinct(batch.iter().map(|w| w.log_group.as_str())),
        start: batch.iter().map(|w| w.start).min().unwrap_or(0),
        end: batch.iter().map(|w| w.end).max().unwrap_or(0),
        query: events_query(batch),
    }
}

/// Request ids (8-4-4-4-12 hex digits) in any text: one per line, a CSV column, a report.
pub fn request_ids(text: &str, source: &str) -> Result<Vec<String>, Error> {
    let re = regex::Regex::new(
        r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b",
    )
    .expect("request id regex");
    let lower: Vec<String> = re
        .find_iter(text)
        .map(|m| m.as_str().to_ascii_lowercase())
        .collect();
    let ids = distinct(lower.iter().map(String::as_str));
    if ids.is_empty() {
        return Err(Error::NoRequestIds {
            source: source.to_string(),
        });
    }
    Ok(ids)
}

/// Queries for the events that name `ids`: the request id Insights discovered (`@requestId`), or
/// the id in the message (START, END, REPORT, logger lines, the timeout line, JSON records).
/// Lines that carry no id (a Python unhandled error's record) are not among them: step 2 from
/// step 1's results ([`events_queries`]) fetches those too.
pub fn request_id_queries(ids: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    let mut batch: Vec<&str> = Vec::new();
    for id in ids {
        batch.push(id);
        if batch.len() > 1 && request_id_query(&batch).chars().count() > MAX_QUERY_CHARS {
            batch.pop();
            out.push(request_id_query(&batch));
            batch = vec![id];
        }
    }
    if !batch.is_empty() {
        out.push(request_id_query(&batch));
    }
    out
}

fn request_id_query(ids: &[&str]) -> String {
    let list = ids
        .iter()
        .map(|s| insights_string(s))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "fields @timestamp, @message, @logStream, @log\n\
         | filter @requestId in [{list}] or @message like /{}/\n\
         | sort @timestamp asc\n\
         | limit {MAX_ROWS}",
        regex_alternation(ids.iter().copied())
    )
}

/// `[since, until]` cut into consecutive slices of `every` (the last one shorter): one query
/// each, so that no result reaches [`MAX_ROWS`].
pub fn split(since: EpochMs, until: EpochMs, every: Option<i64>) -> Vec<(EpochMs, EpochMs)> {
    let step = every.filter(|e| *e > 0).unwrap_or(until - since).max(1);
    let mut out = Vec::new();
    let mut s = since;
    while s < until {
        let e = (s + step).min(until);
        out.push((s, e));
        s = e;
    }
    out
}

/// Step 1 as `start-query` calls: one per time slice and per [`MAX_LOG_GROUPS`] log groups.
pub fn find_calls(
    signals: &Signals,
    log_groups: &[String],
    slices: &[(EpochMs, EpochMs)],
) -> Vec<StartQuery> {
    let query = find_query(signals);
    let mut out = Vec::new();
    for &(start, end) in slices {
        for groups in log_groups.chunks(MAX_LOG_GROUPS) {
            out.push(StartQuery {
                log_groups: groups.to_vec(),
                start,
                end,
                query: query.clone(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signals() -> Signals {
        Signals::from_rules(&crate::rules::load(None).expect("embedded rules"))
    }

    #[test]
    fn the_find_query_fits_the_limit() {
        let q = find_query(&signals());
        assert!(q.chars().count() <= MAX_QUERY_CHARS, "{} chars", q.len());
    }

    const RESULTS: &str = r#"{
        "results": [
            [{"field":"@log","value":"123456789012:/aws/lambda/Rot"},
             {"field":"@logStream","value":"2025/10/29/[$LATEST]aa"},
             {"field":"@requestId","value":"14a1696e-eac3-4571-955e-9fa3f565a0e0"},
             {"field":"signal_lines","value":"2"},
             {"field":"first_signal","value":"2025-10-29 06:58:41.218"},
             {"field":"last_signal","value":"2025-10-29 06:59:11.218"},
             {"field":"duration_ms","value":"30000.0"}],
            [{"field":"@log","value":"123456789012:/aws/lambda/Rot"},
             {"field":"@logStream","value":"2025/10/29/[$LATEST]aa"},
             {"field":"signal_lines","value":"1"},
             {"field":"first_signal","value":"2025-10-29 07:03:00.000"},
             {"field":"last_signal","value":"2025-10-29 07:03:00.000"}]
        ],
        "statistics": {"recordsMatched": 3.0},
        "status": "Complete"
    }"#;

    #[test]
    fn results_become_merged_windows_and_one_call() {
        let found = parse_found(RESULTS, "r.json").unwrap();
        assert_eq!(found.status.as_deref(), Some("Complete"));
        assert_eq!(found.rows.len(), 2);
        assert_eq!(found.rows[0].log_group, "/aws/lambda/Rot");
        assert_eq!(found.rows[1].request_id, None);
        let w = windows(&found.rows, CONTEXT_BEFORE_MS, CONTEXT_AFTER_MS);
        // The second failure starts within the first one's window: one window.
        assert_eq!(w.len(), 1);
        let t = |s: &str| time::parse_any(s).unwrap();
        assert_eq!(w[0].start, t("2025-10-29 06:58:41.218") - CONTEXT_BEFORE_MS);
        assert_eq!(w[0].end, t("2025-10-29 07:03:00.000") + CONTEXT_AFTER_MS);
        let calls = events_queries(&w, DEFAULT_WINDOWS_PER_QUERY).unwrap();
        assert_eq!(calls.len(), 1);
        assert!(calls[0].query.contains(&format!(
            "(@logStream = \"2025/10/29/[$LATEST]aa\" and toMillis(@timestamp) >= {} and toMillis(@timestamp) <= {})",
            w[0].start, w[0].end
        )));
        let cmd = calls[0].command();
        assert!(
            cmd.starts_with("aws logs start-query --log-group-names /aws/lambda/Rot --start-time ")
        );
        assert!(
            cmd.contains("--query-string 'fields @timestamp, @message, @logStream, @log | filter")
        );
        assert!(!cmd.contains('\n'));
    }

    #[test]
    fn bad_results_name_the_file() {
        let e = parse_found(
            "{\"results\": [[{\"field\":\"@log\",\"value\":\"x\"}]]}",
            "r.json",
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("r.json: results[0]: no `@logStream`"),
            "{e}"
        );
        let e = parse_found("{\"queries\": []}", "q.json").unwrap_err();
        assert!(e.to_string().contains("no `results` array"), "{e}");
        let e = parse_found("{\"results\": [", "t.json").unwrap_err();
        assert!(e.to_string().starts_with("t.json: line 1:"), "{e}");
        assert!(parse_found("", "e.json").is_err());
    }

    #[test]
    fn many_streams_are_packed_within_the_limits() {
        let w: Vec<Window> = (0..400)
            .map(|i| Window {
                log_group: format!("/aws/lambda/Rot{}", i % 60),
                stream: format!("2025/10/29/[$LATEST]{i:032x}"),
                start: 1_000_000 + i * 1000,
                end: 1_000_500 + i * 1000,
            })
            .collect();
        let calls = events_queries(&w, 1000).unwrap();
        assert!(calls.len() > 1);
        let mut seen = 0;
        for c in &calls {
            assert!(c.query.chars().count() <= MAX_QUERY_CHARS);
            assert!(c.log_groups.len() <= MAX_LOG_GROUPS);
            seen += c.query.matches("[$LATEST]").count();
            assert!(c.query.matches(" or ").count() < 1000);
        }
        assert_eq!(seen, 400);
    }

    #[test]
    fn request_ids_are_found_deduplicated_and_batched() {
        let text =
            "14A1696E-eac3-4571-955e-9fa3f565a0e0\nx 14a1696e-eac3-4571-955e-9fa3f565a0e0 y\n";
        assert_eq!(
            request_ids(text, "ids").unwrap(),
            vec!["14a1696e-eac3-4571-955e-9fa3f565a0e0"]
        );
        assert!(request_ids("none here", "ids").is_err());
        let many: Vec<String> = (0..500)
            .map(|i| format!("{i:08x}-0000-4000-8000-000000000000"))
            .collect();
        let qs = request_id_queries(&many);
        assert!(qs.len() > 1);
        assert!(qs.iter().all(|q| q.chars().count() <= MAX_QUERY_CHARS));
        assert_eq!(
            qs.iter()
                .map(|q| q.matches("-0000-4000-8000-000000000000\"").count())
                .sum::<usize>(),
            500
        );
    }

    #[test]
    fn splitting_covers_the_range() {
        assert_eq!(split(0, 10, Some(4)), vec![(0, 4), (4, 8), (8, 10)]);
        assert_eq!(split(0, 10, None), vec![(0, 10)]);
        let calls = find_calls(
            &signals(),
            &(0..120).map(|i| format!("/g/{i}")).collect::<Vec<_>>(),
            &[(0, 1), (1, 2)],
        );
        assert_eq!(calls.len(), 6);
    }
}
