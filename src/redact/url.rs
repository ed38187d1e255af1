//! Passwords in URL userinfo: `postgres://app:pw@host/db`, `redis://:pw@host:6379`,
//! `mongodb+srv://app:pw@cluster/`, `jdbc:mysql://app:pw@host/db`. The user name stays; a URL with
//! a user name and no password (`postgres://app@host`) is left as it is.

use std::sync::LazyLock;

use regex::Regex;

use super::Spans;

/// A scheme, `://`, then userinfo up to the last `@` before the host (a password that holds an
/// unencoded `@` stays masked whole).
static USERINFO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Za-z][A-Za-z0-9+.-]*://(?P<user>[^\s/?#@:'\x22]*):(?P<pw>[^\s/?#]*)@")
        .expect("url regex")
});

/// The same, cut before its `@` where evidence text was cut short (`…`): the password's first
/// characters must not show either.
static CUT_USERINFO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#@:'\x22]*:(?P<pw>[^\s/?#@]*)…")
        .expect("cut url regex")
});

pub(super) fn find(s: &str, spans: &mut Spans) {
    for c in CUT_USERINFO.captures_iter(s) {
        spans.push(c.name("pw").expect("group").range());
    }
    for c in USERINFO.captures_iter(s) {
        let pw = c.name("pw").expect("group");
        if !pw.is_empty() {
            spans.push(pw.range());
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
