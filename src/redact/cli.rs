//! Passwords on command lines the functions log or users paste: the short flags of database
//! clients (`mysql -pPW`, `sqlcmd -P PW`, `redis-cli -a PW`, `mongosh -p PW`), and Oracle's
//! `user/password@db` (`sqlplus app/pw@//host:1521/ORCL`, `jdbc:oracle:thin:app/pw@host:1521/x`).
//! Long flags (`--password PW`, `--password=PW`) are key names, found by [`super::keys`].
//!
//! Each is looked for only on a line that names the tool: `-p` means a password only to the
//! MySQL clients, and `a/b@c` is a path or a package spec anywhere else.

use std::sync::LazyLock;

use regex::Regex;

use super::value::{self, Bare};
use super::{CLI_MONGO, CLI_MYSQL, CLI_ORACLE, CLI_REDIS, CLI_SQLCMD, Spans};

struct Tool {
    /// The clue (a family bit of `redact`) a string that names the tool holds.
    clue: u16,
    context: Regex,
    flag: Regex,
}

static TOOLS: LazyLock<Vec<Tool>> = LazyLock::new(|| {
    let tool = |clue: u16, context: &str, flag: &str| Tool {
        clue,
        context: Regex::new(context).expect("tool regex"),
        flag: Regex::new(flag).expect("flag regex"),
    };
    vec![
        // `-pPW` attached (`-p PW` prompts, and PW is then the database).
        tool(
            CLI_MYSQL,
            r"(?-u)\b(?:mysql|mysqldump|mysqladmin|mysqlimport|mysqlcheck|mysqlsh|mysqlpump|mariadb|mariadb-dump|mariadb-admin)\b",
            r"(?-u)(?:^|\s)-p([!-~])",
        ),
        tool(
            CLI_SQLCMD,
            r"(?-u)\b(?:sqlcmd|bcp|osql)\b",
            r"(?-u)(?:^|\s)-P\s*([!-~])",
        ),
        tool(
            CLI_REDIS,
            r"(?-u)\bredis-cli\b",
            r"(?-u)(?:^|\s)-a\s+([!-~])",
        ),
        tool(
            CLI_MONGO,
            r"(?-u)\b(?:mongosh|mongo)\b",
            r"(?-u)(?:^|\s)-p\s+([!-~])",
        ),
    ]
});

static ORACLE_CONTEXT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i-u)\b(?:sqlplus|sqlldr|expdp|impdp|rman|connect|conn)\b|jdbc:oracle:thin:")
        .expect("oracle context regex")
});

static ORACLE_LOGIN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?:^|[ \t\r\n'"=]|thin:)[A-Za-z][A-Za-z0-9_$#]{0,127}/([^ \t\r\n/@'"]+)@"#)
        .expect("oracle login regex")
});

/// Finds the passwords of the tools whose clues `families` (the bits `redact` found) holds.
pub(super) fn find(s: &str, families: u16, spans: &mut Spans) {
    let mut offset = 0;
    for line in s.split_inclusive('\n') {
        find_in_line(s, offset, line, families, spans);
        offset += line.len();
    }
}

fn find_in_line(s: &str, offset: usize, line: &str, families: u16, spans: &mut Spans) {
    for t in TOOLS.iter().filter(|t| families & t.clue != 0) {
        let Some(c) = t.context.find(line) else {
            continue;
        };
        for m in t.flag.captures_iter(&line[c.end()..]) {
            let at = offset + c.end() + m.get(1).expect("group").start();
            if let Some(r) = value::span(s, at, Bare::Word) {
                spans.push(r);
            }
        }
    }
    // A login is `user/password@`: a line without an `@` holds none. Tested first because the
    // context's words are common ones (`connect`: "Unable to connect to database"), and the
    // login's regex, which has no literal prefix to search for, walked every such line: `find`
    // 4.6 -> 2.6 M instructions on the report of 16 MiB of S3 text, its regexes' one-time
    // build (8.7 M) aside (callgrind).
    if families & CLI_ORACLE != 0
        && memchr::memchr(b'@', line.as_bytes()).is_some()
        && ORACLE_CONTEXT.is_match(line)
    {
        for c in ORACLE_LOGIN.captures_iter(line) {
            let pw = c.get(1).expect("group");
            spans.push(offset + pw.start()..offset + pw.end());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::redact;

    #[test]
    fn client_flags_and_oracle_logins() {
        for (s, want) in [
            (
                "mysql -h db -P 3306 -u app -pS3cr3t! mydb",
                "mysql -h db -P 3306 -u app -p*** mydb",
            ),
            ("mysqldump -u app -p'a b' db", "mysqldump -u app -p'***' db"),
            (
                "sqlcmd -S db -U app -P S3cr3t -Q x",
                "sqlcmd -S db -U app -P *** -Q x",
            ),
            (
                "redis-cli -h cache -a pw0rd PING",
                "redis-cli -h cache -a *** PING",
            ),
            (
                "sqlplus app/Secr3t@//db:1521/ORCL",
                "sqlplus app/***@//db:1521/ORCL",
            ),
            (
                "jdbc:oracle:thin:app/pw1@db:1521/ORCL",
                "jdbc:oracle:thin:app/***@db:1521/ORCL",
            ),
            ("CONNECT app/pw1@ORCL", "CONNECT app/***@ORCL"),
        ] {
            assert_eq!(redact(s), want, "{s}");
        }
    }

    #[test]
    fn near_misses_stay() {
        for s in [
            "mkdir -p /tmp/x && cp a b",
            "mysql -h db -P 3306 -u app -p mydb",
            "npm i @aws-sdk/client-secrets-manager@3.400.0",
            "arn:aws:sts::1:assumed-role/Role/user@example.com",
            "could not connect to server: Connection refused",
        ] {
            assert_eq!(redact(s), s);
        }
    }
}
