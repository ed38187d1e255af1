//! `rotdiag query insights|athena`: the printed queries follow the rule set, keep to the target
//! languages' grammar and limits, and select what rotdiag diagnoses.
//!
//! Self-contained (its own helpers), so it can move into the single `tests/it/` binary as a
//! module. The engines themselves (sqlglot's Athena/Trino parser, DuckDB and Spark running the
//! Athena SQL) are checked by `scripts/query-check/run.sh`; no Logs Insights parser exists outside
//! AWS, so [`insights_grammar`] checks the documented grammar here.

use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use regex::Regex;
use rotdiag::rules::{Condition, RuleSet};
use serde_json::Value;

fn rotdiag(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rotdiag"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn rules() -> RuleSet {
    rotdiag::rules::load(None).expect("embedded rules")
}

/// The failure literals, computed from the rule set here (not by the code under test): the
/// literals of the patterns symptom triggers require, and the model's error markers. rotdiag's own
/// CloudTrail renderings (`CloudTrail …`) never occur in raw logs and are checked apart.
fn failure_literals(rules: &RuleSet) -> Vec<String> {
    fn walk(c: &Condition, out: &mut Vec<u16>) {
        match c {
            Condition::Has(ids, _) => out.extend(ids),
            Condition::AfterNone { after, .. } => out.push(*after),
            Condition::All(cs) | Condition::Any(cs) => cs.iter().for_each(|c| walk(c, out)),
            _ => {}
        }
    }
    let mut ids = Vec::new();
    for s in &rules.symptoms {
        walk(&s.trigger, &mut ids);
    }
    ids.extend(rules.model.error_marker);
    let mut lits: Vec<String> = ids
        .iter()
        .flat_map(|&i| rules.patterns[i as usize].literals.iter().cloned())
        .filter(|l| !l.starts_with("CloudTrail "))
        .collect();
    lits.sort();
    lits.dedup();
    lits
}

/// The regex of the query's `filter @message like /…/`, as a Rust regex (an alternation of
/// escaped literals means the same in Insights' dialect and Rust's).
fn filter_regex(query: &str) -> Regex {
    let start = query.find("like /").expect("a like /…/ filter") + "like /".len();
    let body = &query[start..];
    let end = closing_slash(body).expect("the regex is closed");
    Regex::new(&body[..end]).expect("the regex compiles")
}

/// Index of the `/` that closes a regex literal (one not escaped by an odd run of backslashes).
fn closing_slash(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'/' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// Checks a Logs Insights query against the documented grammar (CWL_QuerySyntax): commands
/// separated by `|`, each a known command; strings, regex literals (`/…/`), brackets and
/// parentheses closed; `limit` within Insights' result limit; at most 10,000 characters
/// (StartQuery's `queryString`). Returns the commands.
fn insights_grammar(query: &str) -> Result<Vec<String>, String> {
    const COMMANDS: &[&str] = &[
        "fields", "filter", "stats", "sort", "limit", "parse", "display", "dedup",
    ];
    let n = query.chars().count();
    if n > 10_000 {
        return Err(format!("{n} characters, over the 10,000 of queryString"));
    }
    let mut commands = vec![String::new()];
    let mut depth: Vec<char> = Vec::new();
    let mut chars = query.chars().peekable();
    let mut prev_word = String::new();
    let mut word = String::new();
    while let Some(c) = chars.next() {
        let cur = commands.last_mut().unwrap();
        cur.push(c);
        match c {
            '"' | '\'' | '`' => loop {
                let Some(d) = chars.next() else {
                    return Err(format!("unclosed {c} string"));
                };
                cur.push(d);
                if d == '\\' {
                    cur.extend(chars.next());
                } else if d == c {
                    break;
                }
            },
            '/' if matches!(prev_word.as_str(), "like" | "=~") && word.is_empty() => loop {
                let Some(d) = chars.next() else {
                    return Err("unclosed /regex/".into());
                };
                cur.push(d);
                if d == '\\' {
                    cur.extend(chars.next());
                } else if d == '/' {
                    break;
                } else if d == '\n' {
                    return Err("line break inside a /regex/".into());
                }
            },
            '(' | '[' => depth.push(c),
            ')' | ']' => {
                let open = if c == ')' { '(' } else { '[' };
                if depth.pop() != Some(open) {
                    return Err(format!("unbalanced {c}"));
                }
            }
            '|' if depth.is_empty() => {
                cur.pop();
                commands.push(String::new());
            }
            _ => {}
        }
        if c.is_alphanumeric() || c == '@' || c == '_' || c == '=' || c == '~' {
            word.push(c);
        } else if !word.is_empty() {
            prev_word = std::mem::take(&mut word);
        }
    }
    if let Some(open) = depth.pop() {
        return Err(format!("unclosed {open}"));
    }
    let commands: Vec<String> = commands.iter().map(|c| c.trim().to_string()).collect();
    for c in &commands {
        let name = c.split_whitespace().next().unwrap_or("");
        if !COMMANDS.contains(&name) {
            return Err(format!("unknown command {name:?} in {c:?}"));
        }
        if name == "limit" {
            let v: usize = c["limit".len()..]
                .trim()
                .parse()
                .map_err(|_| format!("bad limit {c:?}"))?;
            if v == 0 || v > 10_000 {
                return Err(format!("limit {v} outside 1..=10000"));
            }
        }
    }
    Ok(commands)
}

#[test]
fn the_grammar_checker_rejects_what_insights_would() {
    assert!(insights_grammar("fields @message | filter @message like /a|b/ | limit 5").is_ok());
    for (bad, why) in [
        (
            "fields @message | filter @message like /a\\/",
            "unclosed /regex/",
        ),
        ("fields @message | where x = 1", "unknown command"),
        ("filter @message like \"abc", "unclosed \" string"),
        ("filter (@message like /x/", "unclosed ("),
        ("fields a | limit 10001", "outside"),
    ] {
        let e = insights_grammar(bad).unwrap_err();
        assert!(e.contains(why), "{bad}: {e}");
    }
    let long = format!("filter @message like /{}/", "a".repeat(10_000));
    assert!(insights_grammar(&long).unwrap_err().contains("10,000"));
}

#[test]
fn insights_query_keeps_to_the_grammar_and_holds_every_failure_literal() {
    let q = stdout(&rotdiag(&["query", "insights"]));
    let commands = insights_grammar(q.trim_end()).unwrap_or_else(|e| panic!("{e}\n{q}"));
    let names: Vec<&str> = commands
        .iter()
        .map(|c| c.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(names, ["fields", "filter", "stats", "sort", "limit"]);
    for field in [
        "@requestId",
        "@duration",
        "@logStream",
        "@log",
        "@timestamp",
    ] {
        assert!(q.contains(field), "{field}");
    }
    let re = filter_regex(&q);
    let lits = failure_literals(&rules());
    assert!(lits.len() > 50, "{} literals", lits.len());
    for lit in &lits {
        assert!(
            re.is_match(lit),
            "failure literal {lit:?} is missing from the query"
        );
    }
    for platform in [
        "2024-05-02T03:15:47.439Z 5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b Task timed out after 30.03 seconds",
        "REPORT RequestId: 5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b\tDuration: 30000.00 ms\tStatus: timeout",
        "REPORT RequestId: 5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b\tDuration: 2105.33 ms\tStatus: error\tError Type: Runtime.OutOfMemory",
        "[ERROR] KeyError: 'password'\nTraceback (most recent call last):",
        "2024-05-02T03:15:47.439Z\t5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b\tERROR\tInvoke Error \t{}",
        r#"{"timestamp": "2024-05-02T03:15:47Z", "level": "ERROR", "message": "x"}"#,
        r#"{"time":"2024-05-02T03:15:47.439Z","type":"platform.report","record":{"status":"timeout"}}"#,
        r#"{"eventVersion":"1.08","eventSource":"secretsmanager.amazonaws.com","eventName":"RotationFailed"}"#,
        r#"{"eventName":"GetSecretValue","errorCode":"AccessDenied"}"#,
    ] {
        assert!(re.is_match(platform), "{platform:?} would be missed");
    }
    for healthy in [
        "START RequestId: 5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b Version: $LATEST",
        "[INFO]\t2024-05-02T03:15:47.439Z\t5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b\tFound credentials in environment variables.",
        "[INFO]\t2024-05-02T03:15:47.439Z\t5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b\tcreateSecret: Successfully put secret for ARN arn:aws:secretsmanager:us-east-1:123456789012:secret:x-a1b2c3 and version 6f0e7c1d-aaaa-bbbb-cccc-1234567890ab.",
        "[INFO]\t2024-05-02T03:15:47.439Z\t5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b\tfinishSecret: Successfully set AWSCURRENT stage to version 6f0e7c1d-aaaa-bbbb-cccc-1234567890ab for secret x.",
        "REPORT RequestId: 5e6f7a8b-9c0d-4e1f-8a2b-3c4d5e6f7a8b\tDuration: 362.41 ms\tBilled Duration: 363 ms\tMemory Size: 128 MB\tMax Memory Used: 86 MB\t",
    ] {
        assert!(!re.is_match(healthy), "healthy line selected: {healthy:?}");
    }
}

/// The `LIKE` patterns of the Athena query, unescaped (`'%…%' ESCAPE '!'`).
fn like_literals(sql: &str) -> Vec<String> {
    let re = Regex::new(r"line LIKE '%((?:[^']|'')*)%' ESCAPE '!'").unwrap();
    re.captures_iter(sql)
        .map(|c| {
            let quoted = c[1].replace("''", "'");
            let mut out = String::new();
            let mut chars = quoted.chars();
            while let Some(ch) = chars.next() {
                match ch {
                    '!' => out.extend(chars.next()),
                    '%' | '_' => panic!("unescaped wildcard in {quoted:?}"),
                    _ => out.push(ch),
                }
            }
            out
        })
        .collect()
}

#[test]
fn athena_query_holds_the_same_literals_as_the_insights_query() {
    let sql = stdout(&rotdiag(&["query", "athena"]));
    let likes = like_literals(&sql);
    assert_eq!(
        likes.len(),
        sql.matches(" LIKE ").count(),
        "every LIKE parsed"
    );
    for lit in failure_literals(&rules()) {
        assert!(
            likes.iter().any(|l| lit.contains(l.as_str())),
            "failure literal {lit:?} is missing from the Athena query"
        );
    }
    // Both renderings carry the same literals: each LIKE literal is matched by the Insights regex
    // as a whole (the regex is an alternation of the same literals).
    let re = filter_regex(&stdout(&rotdiag(&["query", "insights"])));
    for l in &likes {
        let m = re
            .find(l)
            .unwrap_or_else(|| panic!("{l:?} not in the Insights regex"));
        assert_eq!(m.as_str(), l.as_str());
    }
    assert!(sql.contains("GROUP BY \"$path\""));
    let ddl = stdout(&rotdiag(&[
        "query",
        "athena",
        "--ddl",
        "--location",
        "s3://my-bucket/exportedlogs",
    ]));
    assert!(ddl.starts_with("CREATE EXTERNAL TABLE IF NOT EXISTS rotdiag_export_lines ("));
    assert!(ddl.contains("LOCATION 's3://my-bucket/exportedlogs/'"));
}

#[test]
fn a_new_rule_literal_reaches_both_queries_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let weird = r#"50%_off 'q' "dq" (p) back\slash/[$]{x}|y.z*+?^"#;
    fs::write(
        dir.path().join("weird.toml"),
        format!(
            "[symptom]\nid = \"weird-literal\"\ntitle = \"weird\"\nseverity = \"low\"\n\
             [patterns]\nw = {{ literal = '''{weird}''' }}\n\
             [trigger]\nhas = \"w\"\nfailed = true\n\
             [[candidate]]\ncause = \"unexplained-failure\"\nprior = 0.0\n"
        ),
    )
    .unwrap();
    let rules_dir = dir.path().to_str().unwrap();
    let q = stdout(&rotdiag(&["query", "insights", "--rules", rules_dir]));
    insights_grammar(q.trim_end()).unwrap();
    let re = filter_regex(&q);
    assert!(re.is_match(weird));
    assert!(!re.is_match(&weird.replace('_', "x").replace("%", "")[..10]));
    let sql = stdout(&rotdiag(&["query", "athena", "--rules", rules_dir]));
    assert!(like_literals(&sql).iter().any(|l| l == weird), "{sql}");
    // The built-in query does not have it.
    assert!(!filter_regex(&stdout(&rotdiag(&["query", "insights"]))).is_match(weird));
}

/// The raw form of a line as the log held it: rotdiag shows a CloudTrail event as
/// `CloudTrail <eventName>[ <errorCode>] …`; the log group held the record's JSON.
fn as_logged(evidence: &str) -> String {
    let Some(rest) = evidence.strip_prefix("CloudTrail ") else {
        return evidence.to_string();
    };
    let mut words = rest.split([' ', ':']);
    let name = words.next().unwrap_or("");
    let mut raw = format!("{{\"eventName\":\"{name}\"");
    if let Some(code) = words
        .next()
        .filter(|w| !w.is_empty() && !["secret", "version", "by", "function"].contains(w))
    {
        raw.push_str(&format!(",\"errorCode\":\"{code}\""));
    }
    raw.push('}');
    raw
}

/// Every corpus case rotdiag diagnoses: each diagnosis has an evidence line the Insights query
/// (and so the Athena query, which holds the same literals) selects. A prefilter that dropped a
/// diagnosable failure fails here.
#[test]
fn every_corpus_diagnosis_has_an_evidence_line_the_query_selects() {
    let re = filter_regex(&stdout(&rotdiag(&["query", "insights"])));
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let mut checked = 0;
    for entry in fs::read_dir(&corpus).unwrap() {
        let case = entry.unwrap().path();
        let Ok(expect) = fs::read_to_string(case.join("expect.toml")) else {
            continue;
        };
        let expect: toml::Value = toml::from_str(&expect).unwrap();
        let inputs: Vec<String> = expect["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| case.join(i.as_str().unwrap()).display().to_string())
            .collect();
        let mut args = vec!["--format", "json", "--no-progress"];
        args.extend(inputs.iter().map(String::as_str));
        let out = rotdiag(&args);
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        for d in report["diagnoses"].as_array().unwrap() {
            let evidence: Vec<String> = d["evidence"]
                .as_array()
                .unwrap()
                .iter()
                .filter_map(|e| e["text"].as_str())
                .map(as_logged)
                .collect();
            assert!(
                evidence.iter().any(|t| re.is_match(t)),
                "{}: diagnosis {} has no evidence line the query selects: {evidence:#?}",
                case.display(),
                d["cause"]
            );
            checked += 1;
        }
    }
    assert!(checked > 50, "{checked} diagnoses checked");
}

#[test]
fn events_form_turns_step_one_results_into_start_query_commands() {
    let dir = tempfile::tempdir().unwrap();
    let results = dir.path().join("found.json");
    let row = |stream: &str, rid: Option<&str>, first: &str, last: &str| {
        let mut fields = vec![
            serde_json::json!({"field": "@log", "value": "123456789012:/aws/lambda/RotFn"}),
            serde_json::json!({"field": "@logStream", "value": stream}),
            serde_json::json!({"field": "signal_lines", "value": "2"}),
            serde_json::json!({"field": "first_signal", "value": first}),
            serde_json::json!({"field": "last_signal", "value": last}),
        ];
        if let Some(r) = rid {
            fields.push(serde_json::json!({"field": "@requestId", "value": r}));
            fields.push(serde_json::json!({"field": "duration_ms", "value": "30000.0"}));
        }
        Value::Array(fields)
    };
    let doc = serde_json::json!({
        "results": [
            row("2025/10/29/[$LATEST]aa", Some("14a1696e-eac3-4571-955e-9fa3f565a0e0"), "2025-10-29 06:58:41.218", "2025-10-29 06:59:11.218"),
            row("2025/10/29/[$LATEST]aa", None, "2025-10-29 06:59:11.000", "2025-10-29 06:59:11.000"),
            row("2025/10/30/[$LATEST]bb", None, "2025-10-30 01:00:00.000", "2025-10-30 01:00:00.000"),
        ],
        "statistics": {"recordsMatched": 6.0},
        "status": "Complete"
    });
    fs::write(&results, doc.to_string()).unwrap();
    let out = rotdiag(&[
        "query",
        "insights",
        "--events",
        "--from-results",
        results.to_str().unwrap(),
    ]);
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    // Two streams a day apart: two calls (the span limit), one per line.
    assert_eq!(lines.len(), 2, "{text}");
    let query_re = Regex::new(r"--query-string '((?:[^']|'\\'')*)'$").unwrap();
    for (line, stream, start_ms) in [
        (
            lines[0],
            "2025/10/29/[$LATEST]aa",
            1_761_721_121_218i64 - 900_000,
        ),
        (
            lines[1],
            "2025/10/30/[$LATEST]bb",
            1_761_786_000_000 - 900_000,
        ),
    ] {
        let start = start_ms / 1000;
        assert!(line.starts_with("aws logs start-query --log-group-names /aws/lambda/RotFn "));
        assert!(line.contains(&format!("--start-time {start} ")), "{line}");
        let q = &query_re.captures(line).expect("quoted query")[1];
        insights_grammar(q).unwrap();
        let cond = format!("(@logStream = \"{stream}\" and toMillis(@timestamp) >= {start_ms} ");
        assert!(q.contains(&cond), "{q}");
        assert!(q.starts_with("fields @timestamp, @message, @logStream, @log "));
    }
    assert!(String::from_utf8_lossy(&out.stderr).contains("3 failed invocation(s)"));
}

#[test]
fn events_form_by_request_id_and_errors_name_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let ids = dir.path().join("ids.txt");
    fs::write(&ids, "14a1696e-eac3-4571-955e-9fa3f565a0e0\n").unwrap();
    let q = stdout(&rotdiag(&[
        "query",
        "insights",
        "--events",
        "--request-ids",
        ids.to_str().unwrap(),
    ]));
    insights_grammar(q.trim_end()).unwrap();
    assert!(q.contains("@requestId in [\"14a1696e-eac3-4571-955e-9fa3f565a0e0\"]"));

    let missing = dir.path().join("missing.json");
    let out = rotdiag(&[
        "query",
        "insights",
        "--events",
        "--from-results",
        missing.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with(&format!("rotdiag: {}: ", missing.display())),
        "{err}"
    );

    let bad = dir.path().join("bad.json");
    fs::write(
        &bad,
        "{\"results\": [[{\"field\": \"@log\", \"value\": \"1:/g\"}]]}",
    )
    .unwrap();
    let out = rotdiag(&[
        "query",
        "insights",
        "--events",
        "--from-results",
        bad.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("results[0]: no `@logStream` field"));

    let out = rotdiag(&["query", "athena", "--ddl", "--location", "my-bucket/x"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("must start with s3://"));
}

#[test]
fn a_file_named_query_is_read_as_dot_slash_query() {
    let dir = tempfile::tempdir().unwrap();
    fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("corpus/database-requires-tls--insights-json/get-query-results.json"),
        dir.path().join("query"),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rotdiag"))
        .args(["--format", "json", "./query"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["diagnoses"][0]["cause"], "database-requires-tls");
    // Bare `query` is the subcommand.
    let out = Command::new(env!("CARGO_BIN_EXE_rotdiag"))
        .args(["query"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("insights"));
}
