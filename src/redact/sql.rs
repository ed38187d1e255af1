//! Passwords in SQL statements, and the database's echo of them in statement errors.
//!
//! Clauses: `IDENTIFIED BY 'pw'` (MySQL, MariaDB, Oracle, also unquoted and
//! `IDENTIFIED WITH plugin BY 'pw'`), `PASSWORD 'pw'` / `WITH PASSWORD 'pw'` /
//! `ENCRYPTED PASSWORD 'pw'` (PostgreSQL `ALTER USER`, `ALTER ROLE`, `CREATE USER`, `CREATE ROLE`),
//! `PASSWORD = 'pw'` (SQL Server `ALTER LOGIN`), `PASSWORD('pw')` (MySQL `SET PASSWORD`), with `'…'`
//! (quotes doubled inside), `"…"`, `N'…'`, `E'…'` and `$$…$$` literals. A literal that does not end
//! where SQL would (`PASSWORD 'Xk9'Leak7z'`: the generated password held a quote) is masked to the
//! end of the line, since the rest of the line is the rest of the password.
//!
//! Echoes, as the servers print them (checked against MariaDB 10/11 and PostgreSQL 15 by
//! running the statements with a quote in the password):
//! * MySQL/MariaDB 1064: `… the right syntax to use near 'Leak7z' WITH MAX_USER_CONNECTIONS 10' at
//!   line 1`: the text after the error point, which starts inside the password;
//! * PostgreSQL: `syntax error at or near "("`, `unrecognized role option "leak7z"`,
//!   `unterminated quoted identifier at or near ""Cd'"`, `trailing junk after numeric literal at
//!   or near "1z"`, and the statement echoed by `LINE 1: ALTER USER app WITH PASSWORD 'Xk9'Leak7z'`;
//! * SQL Server: `Incorrect syntax near 'Leak'.`, `Unclosed quotation mark after the character
//!   string 'Leak'.`
//!
//! Every such echo is masked, in whatever statement: the log line alone cannot tell a password
//! statement from another, and in a rotation function's log the statement that fails on syntax is
//! the one that carries the generated password (cause `password-characters-rejected`). The line
//! itself stays: it is that cause's evidence.

use std::sync::LazyLock;

use regex::Regex;

use super::Spans;
use super::keys::is_placeholder;
use super::value::{self, line_end};

/// `IDENTIFIED BY`, `IDENTIFIED WITH plugin BY|AS`, `IDENTIFIED BY PASSWORD`: a literal or an
/// unquoted Oracle password follows.
static IDENTIFIED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i-u)\bIDENTIFIED\s+(?:WITH\s+[\w$]+\s+)?(?:BY|AS)\s+(?:PASSWORD\s+)?")
        .expect("identified regex")
});

/// `PASSWORD 'x'`, `PASSWORD = 'x'`, `PASSWORD('x')`: a literal follows (checked after the match).
/// At least a blank, `=` or `(` must come between, so a quoted key (`"password": …`) is not one.
static PASSWORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i-u)\bPASSWORD(?:\s*=\s*|\s*\(\s*|\s+)").expect("password clause regex")
});

/// `near '` (MySQL, SQL Server), `at or near "`, `role option "` (PostgreSQL), `character string '`.
static ECHO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i-u)(?:\bat or near|\brole option|\bnear|\bcharacter string) (?:\\*)["']"#)
        .expect("sql echo regex")
});

static AT_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?-u)' at line \d+").expect("at line regex"));

pub(super) fn find(s: &str, spans: &mut Spans) {
    clauses(s, spans);
    echoes(s, spans);
}

fn clauses(s: &str, spans: &mut Spans) {
    for m in IDENTIFIED.find_iter(s) {
        literal(s, m.end(), true, spans);
    }
    for m in PASSWORD.find_iter(s) {
        literal(s, m.end(), false, spans);
    }
}

/// The SQL literal at `at`: `'…'`, `"…"`, `N'…'`, `E'…'`, `$tag$…$tag$`, or (Oracle, when
/// `unquoted`) a bare word.
fn literal(s: &str, at: usize, unquoted: bool, spans: &mut Spans) {
    let b = s.as_bytes();
    let mut q = at;
    if matches!(b.get(q), Some(b'N' | b'E' | b'n' | b'e')) && b.get(q + 1) == Some(&b'\'') {
        q += 1;
    }
    let quoted = match b.get(q) {
        Some(b'\'' | b'"' | b'\\') => value::quoted(s, q),
        _ => None,
    };
    match b.get(q) {
        Some(_) if quoted.is_some() => {
            let r = quoted.expect("quoted");
            if is_placeholder(&s[r.clone()]) {
                return;
            }
            if broken_literal(b, r.end + 1) {
                spans.push(r.start..true_end(b, r.end + 1, b[q]));
            } else {
                spans.push(r);
            }
        }
        Some(b'$') => {
            let tag_len = b[q + 1..]
                .iter()
                .position(|c| !(c.is_ascii_alphanumeric() || *c == b'_'))
                .map(|p| p + 2);
            let Some(len) = tag_len.filter(|&l| b.get(q + l - 1) == Some(&b'$')) else {
                return;
            };
            let tag = &s[q..q + len];
            let from = q + len;
            let end = s[from..].find(tag).map_or(line_end(b, from), |i| from + i);
            spans.push(from..end);
        }
        Some(c) if unquoted && !c.is_ascii_whitespace() => {
            let end = b[q..]
                .iter()
                .position(|c| c.is_ascii_whitespace() || *c == b';')
                .map_or(b.len(), |p| q + p);
            if !is_placeholder(s[q..end].trim_end_matches(['"', '\'', ',', ')'])) {
                spans.push(q..end);
            }
        }
        _ => {}
    }
}

/// Where a literal cut short by a quote inside the password really ends: the next quote that
/// SQL could end it at (the statement goes on after it: ` WITH …`, `;`, the end of the line), or
/// the end of the line. Generated passwords hold no blank, so `' ` ends them.
fn true_end(b: &[u8], from: usize, quote: u8) -> usize {
    let eol = line_end(b, from);
    (from..eol)
        .find(|&i| b[i] == quote && !broken_literal(b, i + 1))
        .unwrap_or(eol)
}

/// After a literal SQL would end, anything but a blank, `;`, `,`, a closing bracket, the end of
/// the text or the end of a string around the statement means the literal was cut short by a
/// quote inside the password.
fn broken_literal(b: &[u8], after: usize) -> bool {
    let ends = |c: Option<&u8>| match c {
        None => true,
        Some(c) => c.is_ascii_whitespace() || matches!(c, b';' | b',' | b')' | b'}' | b']' | b'\\'),
    };
    match b.get(after) {
        Some(b'\'' | b'"') => !ends(b.get(after + 1)),
        c => !ends(c),
    }
}

fn echoes(s: &str, spans: &mut Spans) {
    let b = s.as_bytes();
    for m in ECHO.find_iter(s) {
        let open = m.end() - 1;
        let level = b[..open].iter().rev().take_while(|&&c| c == b'\\').count();
        let start = m.end();
        let eol = line_end(b, start);
        let line = &s[start..eol];
        let end = if b[open] == b'\'' {
            // MySQL: up to `' at line N`; SQL Server: the last quote on the line.
            match AT_LINE.find(line) {
                Some(a) => start + a.start(),
                None => line.rfind('\'').map_or(eol, |i| start + i),
            }
        } else {
            // PostgreSQL: the last quote of the same level before the string around it ends.
            last_quote(b, start, eol, level)
        };
        if end > start {
            spans.push(start..end);
        }
    }
}

/// The last `"` preceded by exactly `level` backslashes in `b[start..eol]`, stopping at a quote of
/// an outer level (the end of the message string the echo sits in).
fn last_quote(b: &[u8], start: usize, eol: usize, level: usize) -> usize {
    let mut last = eol;
    for i in start..eol {
        if b[i] != b'"' {
            continue;
        }
        let run = b[start..i]
            .iter()
            .rev()
            .take_while(|&&c| c == b'\\')
            .count();
        if run < level {
            return if last == eol { i - run } else { last };
        }
        if run == level {
            last = i - run;
        }
    }
    last
}

#[cfg(test)]
mod tests {
    use super::super::redact;

    #[test]
    fn password_clauses_in_statements() {
        for (s, want) in [
            (
                "ALTER USER 'app'@'%' IDENTIFIED BY 'Xk9$abc'",
                "ALTER USER 'app'@'%' IDENTIFIED BY '***'",
            ),
            (
                "ALTER USER app IDENTIFIED BY Secr3t ACCOUNT UNLOCK",
                "ALTER USER app IDENTIFIED BY *** ACCOUNT UNLOCK",
            ),
            (
                "ALTER USER \"APP\" IDENTIFIED BY \"Xk9\"",
                "ALTER USER \"APP\" IDENTIFIED BY \"***\"",
            ),
            (
                "CREATE USER 'a'@'%' IDENTIFIED WITH mysql_native_password BY 'pw'",
                "CREATE USER 'a'@'%' IDENTIFIED WITH mysql_native_password BY '***'",
            ),
            (
                "ALTER USER app WITH PASSWORD 'it''s'",
                "ALTER USER app WITH PASSWORD '***'",
            ),
            (
                "ALTER ROLE app PASSWORD 'x' VALID UNTIL 'infinity'",
                "ALTER ROLE app PASSWORD '***' VALID UNTIL 'infinity'",
            ),
            (
                "CREATE ROLE app WITH LOGIN ENCRYPTED PASSWORD 'x'",
                "CREATE ROLE app WITH LOGIN ENCRYPTED PASSWORD '***'",
            ),
            (
                "ALTER LOGIN app WITH PASSWORD = N'x' OLD_PASSWORD = 'y'",
                "ALTER LOGIN app WITH PASSWORD = N'***' OLD_PASSWORD = '***'",
            ),
            (
                "SET PASSWORD FOR 'app'@'%' = PASSWORD('x')",
                "SET PASSWORD FOR 'app'@'%' = PASSWORD('***')",
            ),
            (
                "ALTER USER app WITH PASSWORD $$x'y$$;",
                "ALTER USER app WITH PASSWORD $$***$$;",
            ),
            (
                "LINE 1: ALTER USER app WITH PASSWORD 'Xk9'Leak7z'",
                "LINE 1: ALTER USER app WITH PASSWORD '***'",
            ),
            (
                "ALTER USER 'a'@'%' IDENTIFIED BY 'Xk9'Leak7z' WITH MAX_USER_CONNECTIONS 10 failed: (1064, \"You have an error in your SQL syntax\")",
                "ALTER USER 'a'@'%' IDENTIFIED BY '***' WITH MAX_USER_CONNECTIONS 10 failed: (1064, \"You have an error in your SQL syntax\")",
            ),
            (
                "cur.execute(\"CREATE USER %s IDENTIFIED BY %s\", (u, p))",
                "cur.execute(\"CREATE USER %s IDENTIFIED BY %s\", (u, p))",
            ),
            (
                "cur.execute(\"ALTER USER %s WITH PASSWORD %(pw)s\")",
                "cur.execute(\"ALTER USER %s WITH PASSWORD %(pw)s\")",
            ),
            (
                "cur.execute(\"ALTER USER %s IDENTIFIED BY \\\"%s\\\"\" % (u, p))",
                "cur.execute(\"ALTER USER %s IDENTIFIED BY \\\"%s\\\"\" % (u, p))",
            ),
            (
                "ALTER USER \\\"APP\\\" IDENTIFIED BY \\\"Xk9z\\\"",
                "ALTER USER \\\"APP\\\" IDENTIFIED BY \\\"***\\\"",
            ),
        ] {
            assert_eq!(redact(s), want, "{s}");
        }
    }

    #[test]
    fn statement_echoes_of_the_servers() {
        for (s, want) in [
            (
                "(1064, \"You have an error in your SQL syntax; check the manual that corresponds to your MariaDB server version for the right syntax to use near 'Leak7z' WITH MAX_USER_CONNECTIONS 10' at line 1\")",
                "(1064, \"You have an error in your SQL syntax; check the manual that corresponds to your MariaDB server version for the right syntax to use near '***' at line 1\")",
            ),
            (
                "right syntax to use near 'Xk9\\Leak')' at line 1",
                "right syntax to use near '***' at line 1",
            ),
            (
                "ERROR:  unrecognized role option \"leak7z\"",
                "ERROR:  unrecognized role option \"***\"",
            ),
            (
                "syntax error at or near \"(\"",
                "syntax error at or near \"***\"",
            ),
            (
                "unterminated quoted identifier at or near \"\"Cd'\"",
                "unterminated quoted identifier at or near \"***\"",
            ),
            (
                "{'S': 'ERROR', 'C': '42601', 'M': 'syntax error at or near \"Leak\"', 'P': '37'}",
                "{'S': 'ERROR', 'C': '42601', 'M': 'syntax error at or near \"***\"', 'P': '37'}",
            ),
            (
                "{\"errorMessage\": \"syntax error at or near \\\"Leak\\\"\", \"requestId\": \"r-1\"}",
                "{\"errorMessage\": \"syntax error at or near \\\"***\\\"\", \"requestId\": \"r-1\"}",
            ),
            (
                "Incorrect syntax near 'Leak'.",
                "Incorrect syntax near '***'.",
            ),
            (
                "Unclosed quotation mark after the character string 'Leak'.",
                "Unclosed quotation mark after the character string '***'.",
            ),
        ] {
            assert_eq!(redact(s), want, "{s}");
        }
    }

    #[test]
    fn words_that_are_not_clauses_stay() {
        for s in [
            "FATAL:  password authentication failed for user \"app\"",
            "setSecret: Successfully set password for user app in PostgreSQL DB for secret arn x",
            "(1045, \"Access denied for user 'app'@'10.0.1.23' (using password: YES)\")",
            "permission denied to alter role",
        ] {
            assert_eq!(redact(s), s);
        }
    }
}
