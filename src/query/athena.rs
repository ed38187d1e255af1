//! Athena over CloudWatch Logs S3 export folders: list the export objects (one per log stream and
//! chunk) that hold a failure signal, so only those are copied down and diagnosed.
//!
//! An export task writes `<prefix>/<taskId>/<stream>/000000.gz` (further chunks `000001.gz`, …)
//! and a `<prefix>/aws-logs-write-test` probe; each event is `<YYYY-MM-DDTHH:MM:SS.mmmZ> <message>`
//! with the message verbatim, so a message's own newlines make continuation lines without a
//! timestamp (a traceback) and Lambda's trailing newline an empty line after each event
//! (`format::lines`, `s3-export`). AWS documents the task and its layout in "Exporting log data to
//! Amazon S3" (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/S3Export.html>) and
//! `CreateExportTask`.
//!
//! So the table is one string column per physical line ([`table_ddl`]): a Hive text table
//! (`STORED AS TEXTFILE`, which reads `.gz` by its extension) whose `LOCATION` is the export
//! prefix; Athena reads every object under it ("Athena reads all data stored in the Amazon S3
//! folder that you specify", `tables-location-format`), the write probe included (it holds no
//! signal). A signal is a substring of one message, and a message's first line, or one of its
//! continuation lines, holds it; no signal spans lines. [`objects_query`] groups the lines holding
//! one by Athena's `"$path"` pseudo-column (the object's `s3://` URL, `select.html` "Getting the
//! file locations for source data in Amazon S3").
//!
//! The SQL keeps to what Trino (Athena engine v3), Spark SQL and DuckDB share, so the checks in
//! `scripts/query-check/` can run the same text locally: `LIKE … ESCAPE '!'`
//! ([`super::escape`] says why not `\`), `regexp_like`, `substr`, `CASE`. Athena's query string
//! limit is 262,144 characters (`StartQueryExecution` `QueryString`); the query is far below it.

use super::escape::{LIKE_ESCAPE, like_contains, sql_string};
use super::{Error, Signals};

/// The table name both statements use unless told otherwise.
pub const DEFAULT_TABLE: &str = "rotdiag_export_lines";
/// `StartQueryExecution`'s `QueryString` limit (botocore's `athena/2017-05-18` model).
pub const MAX_QUERY_CHARS: usize = 262_144;
/// What the DDL says when no `--location` is given.
pub const PLACEHOLDER_LOCATION: &str = "s3://YOUR-BUCKET/exportedlogs/";

/// Checks a table name: Athena table names are lowercase letters, digits and underscores.
pub fn table_name(name: &str) -> Result<String, Error> {
    let ok = !name.is_empty()
        && name.len() <= 255
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !name.as_bytes()[0].is_ascii_digit();
    if ok {
        Ok(name.to_string())
    } else {
        Err(Error::Value {
            what: format!("table name {name:?}"),
            reason: "use lowercase letters, digits and underscores, not starting with a digit"
                .into(),
        })
    }
}

/// Checks and normalises an export prefix: `s3://bucket/prefix/` with the trailing slash Athena
/// asks for.
pub fn location(url: &str) -> Result<String, Error> {
    let bad = |reason: &str| Error::Value {
        what: format!("location {url:?}"),
        reason: reason.to_string(),
    };
    let rest = url
        .strip_prefix("s3://")
        .ok_or_else(|| bad("must start with s3:// (the export task's bucket and prefix)"))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(bad("has no bucket"));
    }
    if rest.contains("//") || rest.contains('*') || rest.chars().any(char::is_control) {
        return Err(bad(
            "must be a folder, without `//`, wildcards or control characters",
        ));
    }
    let mut out = url.to_string();
    if !out.ends_with('/') {
        out.push('/');
    }
    Ok(out)
}

/// The table over an export prefix: one row per line of every object under it.
pub fn table_ddl(table: &str, location: &str) -> String {
    format!(
        "CREATE EXTERNAL TABLE IF NOT EXISTS {table} (\n  line string\n)\n\
         ROW FORMAT DELIMITED\n  LINES TERMINATED BY '\\n'\n\
         STORED AS TEXTFILE\n\
         LOCATION {}",
        sql_string(location)
    )
}

/// The export objects holding a failure signal, with how many lines hold one and the first and
/// last such line's timestamp (continuation lines have none).
pub fn objects_query(signals: &Signals, table: &str) -> String {
    let escape = sql_string(&LIKE_ESCAPE.to_string());
    let conditions = signals
        .literals()
        .map(|l| {
            format!(
                "line LIKE {} ESCAPE {escape}",
                sql_string(&like_contains(l))
            )
        })
        .collect::<Vec<_>>()
        .join("\n   OR ");
    let stamped = "CASE WHEN regexp_like(line, '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}[.][0-9]{3}Z') THEN substr(line, 1, 24) END";
    format!(
        "SELECT \"$path\" AS object,\n\
         \x20      count(*) AS signal_lines,\n\
         \x20      min({stamped}) AS first_signal,\n\
         \x20      max({stamped}) AS last_signal\n\
         FROM {table}\n\
         WHERE {conditions}\n\
         GROUP BY \"$path\"\n\
         ORDER BY object"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signals() -> Signals {
        Signals::from_rules(&crate::rules::load(None).expect("embedded rules"))
    }

    #[test]
    fn names_and_locations_are_checked() {
        assert!(table_name("rotdiag_export_lines").is_ok());
        assert!(table_name("Bad").is_err());
        assert!(table_name("x; DROP TABLE y").is_err());
        assert_eq!(
            location("s3://b/exportedlogs").unwrap(),
            "s3://b/exportedlogs/"
        );
        assert!(location("b/exportedlogs").is_err());
        assert!(location("s3://").is_err());
        assert!(location("s3://b//x/").is_err());
        assert!(location("s3://b/x'y/").is_ok());
        assert!(table_ddl("t", "s3://b/x'y/").contains("LOCATION 's3://b/x''y/'"));
    }

    #[test]
    fn the_query_holds_every_signal_once_and_fits() {
        let s = signals();
        let q = objects_query(&s, DEFAULT_TABLE);
        assert!(q.len() < MAX_QUERY_CHARS);
        assert_eq!(q.matches(" LIKE ").count(), s.len());
    }
}
