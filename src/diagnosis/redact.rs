//! Keeping credentials out of the report.
//!
//! Rotation logs can hold the very secrets being rotated: functions that log the secret dict,
//! connection strings with a password, an event dump with `SecretString`, a Db2 `PWD=` clause.
//! Every string rotdiag prints that came from a log line (evidence, facts in remediation, titles)
//! passes through [`redact`], which replaces the values of credential-named keys and URL passwords
//! with `***` and leaves everything else, ARNs and version ids included, untouched.

use std::borrow::Cow;
use std::sync::LazyLock;

use aho_corasick::AhoCorasick;
use regex::Regex;

/// `key = value` / `"key": "value"` / `'key': 'value'` / `\"key\":\"value\"` for credential keys.
static KEY_VALUE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?ix)
        (?P<key>
            \b(?:password|passwd|pwd|new_?password|old_?password|master_?password
               |secret_?string|secret_?value|secret_?binary|client_?secret|api_?key|private_?key
               |aws_secret_access_key|aws_session_token|session_?token|access_?token|auth_?token
               |authorization|credentials?)\b
            (?:\\?["'])?
            \s*[:=]\s*
        )
        (?P<value>
            \\"(?:[^\\]|\\[^"])*?\\"          # value inside escaped JSON: \"...\"
          | "(?:[^"\\]|\\.)*"                 # "..."
          | '[^']*'                           # '...'
          | \{[^}]*\}                         # a nested object
          | (?:Bearer|Basic)\s+\S+            # Authorization: Bearer xyz
          | [^\s,;}&'"\]\)]+                  # bare value
        )"#,
    )
    .expect("redaction regex")
});

/// `scheme://user:password@host`.
static URL_USERINFO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?P<pre>[A-Za-z][A-Za-z0-9+.-]*://[^:/\s@]+):(?P<pw>[^@\s/]+)@")
        .expect("url regex")
});

/// The credential key words of [`KEY_VALUE`], for a quick first look.
static KEY_WORDS: LazyLock<AhoCorasick> = LazyLock::new(|| {
    AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .build([
            "password",
            "passwd",
            "pwd",
            "secret_string",
            "secretstring",
            "secret_value",
            "secretvalue",
            "secret_binary",
            "secretbinary",
            "client_secret",
            "clientsecret",
            "api_key",
            "apikey",
            "private_key",
            "privatekey",
            "aws_secret_access_key",
            "session_token",
            "sessiontoken",
            "access_token",
            "accesstoken",
            "auth_token",
            "authtoken",
            "authorization",
            "credential",
            "://",
        ])
        .expect("key words")
});

/// Is there a key word followed by `:` or `=` (or a URL)? Only then is the regex worth running.
fn may_hold_credentials(s: &str) -> bool {
    let b = s.as_bytes();
    KEY_WORDS.find_iter(s).any(|m| {
        if &b[m.start()..m.end()] == b"://" {
            return true;
        }
        let mut i = m.end();
        while i < b.len() && matches!(b[i], b's' | b'S' | b'\\' | b'"' | b'\'' | b' ' | b'\t') {
            i += 1;
        }
        matches!(b.get(i), Some(b':') | Some(b'='))
    })
}

/// Replaces credential values in `s` with `***`.
pub(crate) fn redact(s: &str) -> Cow<'_, str> {
    if !may_hold_credentials(s) {
        return Cow::Borrowed(s);
    }
    let step1 = KEY_VALUE.replace_all(s, |c: &regex::Captures| {
        let v = &c["value"];
        // MySQL's "(using password: YES)" says whether a password was sent, not what it was.
        if v == "YES" || v == "NO" {
            return c[0].to_string();
        }
        let masked = if v.starts_with("\\\"") {
            "\\\"***\\\"".to_string()
        } else if v.starts_with('"') {
            "\"***\"".to_string()
        } else if v.starts_with('\'') {
            "'***'".to_string()
        } else if v.starts_with('{') {
            "{***}".to_string()
        } else if let Some(rest) = v.strip_prefix("Bearer") {
            let _ = rest;
            "Bearer ***".to_string()
        } else if v.starts_with("Basic") {
            "Basic ***".to_string()
        } else {
            "***".to_string()
        };
        format!("{}{}", &c["key"], masked)
    });
    match URL_USERINFO.replace_all(&step1, "$pre:***@") {
        Cow::Borrowed(_) => Cow::Owned(step1.into_owned()),
        Cow::Owned(o) => Cow::Owned(o),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn credential_values_are_masked_in_every_notation() {
        let cases = [
            (
                r#"{'username': 'app', 'password': 'hunter2', 'host': 'db'}"#,
                r#"{'username': 'app', 'password': '***', 'host': 'db'}"#,
            ),
            (
                r#"{"username": "app", "password": "hun\"ter2"}"#,
                r#"{"username": "app", "password": "***"}"#,
            ),
            (
                r#""SecretString": "{\"username\":\"app\",\"password\":\"p@ss\"}""#,
                r#""SecretString": "***""#,
            ),
            (
                r#"{\"username\":\"app\",\"password\":\"p@ss w0rd\"}"#,
                r#"{\"username\":\"app\",\"password\":\"***\"}"#,
            ),
            (
                "DATABASE=x;HOSTNAME=h;PORT=50000;PROTOCOL=TCPIP;UID=app;PWD=S3cr3t!;",
                "DATABASE=x;HOSTNAME=h;PORT=50000;PROTOCOL=TCPIP;UID=app;PWD=***;",
            ),
            (
                "postgresql://app:S3cr3t@db.example:5432/postgres",
                "postgresql://app:***@db.example:5432/postgres",
            ),
            ("password=abc123 host=db", "password=*** host=db"),
            (
                "Authorization: Bearer eyJhbGciOi",
                "Authorization: Bearer ***",
            ),
            (
                "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                "aws_secret_access_key = ***",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(redact(input), want, "{input}");
        }
    }

    #[test]
    fn ordinary_rotation_lines_are_untouched() {
        for s in [
            "setSecret: Unable to log into database with previous, current, or pending secret of secret arn arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/app/postgres-a1B2c3",
            "createSecret: Successfully put secret for ARN arn:aws:secretsmanager:us-east-1:123456789012:secret:x-a1B2c3 and version 7c9e6679-7425-40de-944b-e07fc1f90ae7.",
            "{'SecretId': 'arn:aws:secretsmanager:us-east-1:1:secret:x', 'ClientRequestToken': '7c9e6679-7425-40de-944b-e07fc1f90ae7', 'Step': 'createSecret'}",
            "FATAL:  password authentication failed for user \"app\"",
            "(1045, \"Access denied for user 'app'@'10.0.1.23' (using password: YES)\")",
            "[ERROR] KeyError: 'password key is missing from secret JSON'",
        ] {
            assert_eq!(redact(s), s);
        }
    }
}
