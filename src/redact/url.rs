//! Passwords in URL userinfo: `postgres://app:pw@host/db`, `redis://:pw@host:6379`,
//! `mongodb+srv://app:pw@cluster/`, `jdbc:mysql://app:pw@host/db`. The user name stays; a URL with
//! a user name and no password (`postgres://app@host`) is left as it is.

use std::sync::LazyLock;

use regex::Regex;

use super::Spans;

/// `://`, then userinfo up to the last `@` before the host (a password that holds an unencoded
/// `@` stays masked whole). Found from the `://`, a literal the regex engine searches for fast;
/// the scheme before it does not matter.
static USERINFO: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"://[^ \t\r\n/?#@:'\x22]*:[^ \t\r\n/?#]*@").expect("url regex"));

/// The same, cut before its `@` where evidence text was cut short (`…`): the password's first
/// characters must not show either.
static CUT_USERINFO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"://[^ \t\r\n/?#@:'\x22]*:[^ \t\r\n/?#@]*…").expect("cut url regex")
});

pub(super) fn find(s: &str, spans: &mut Spans) {
    if !s.contains('@') && !s.contains('…') {
        return;
    }
    for m in USERINFO.find_iter(s).chain(CUT_USERINFO.find_iter(s)) {
        // After the user name's `:`, up to the `@` (or the `…`).
        let text = m.as_str();
        let colon = 3 + text[3..].find(':').expect("matched a colon");
        let end = text.len()
            - if text.ends_with('…') {
                '…'.len_utf8()
            } else {
                1
            };
        if end > colon + 1 {
            spans.push(m.start() + colon + 1..m.start() + end);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::redact;

    #[test]
    fn url_passwords_go_and_user_names_stay() {
        for (s, want) in [
            (
                "postgresql://app:S3cr3t@db.example:5432/postgres",
                "postgresql://app:***@db.example:5432/postgres",
            ),
            (
                "redis://:pw0rd@cache.internal:6379/0",
                "redis://:***@cache.internal:6379/0",
            ),
            (
                "mongodb+srv://app:p@ss@cluster0.x.mongodb.net/",
                "mongodb+srv://app:***@cluster0.x.mongodb.net/",
            ),
            (
                "jdbc:mysql://app:pw@h:3306/db?useSSL=true",
                "jdbc:mysql://app:***@h:3306/db?useSSL=true",
            ),
            (
                "postgres://app@db.example/postgres",
                "postgres://app@db.example/postgres",
            ),
            (
                "https://secretsmanager.us-east-1.amazonaws.com:443/",
                "https://secretsmanager.us-east-1.amazonaws.com:443/",
            ),
        ] {
            assert_eq!(redact(s), want, "{s}");
        }
    }
}
