//! Credentials recognised by their shape, whatever key (if any) they are written under.
//!
//! * AWS access key ids: `AKIA…` (long-term), `ASIA…` (temporary), `ABIA`, `ACCA` + 16. The
//!   unique ids of roles and users (`AROA…`, `AIDA…`) are not credentials and stay: CloudTrail
//!   evidence names principals by them.
//! * AWS secret access keys: 40 characters of base64 within 200 bytes of an access key id (the
//!   credentials CSV, `aws configure list`, a pasted `export` block). Elsewhere a 40-character
//!   base64 run is as likely a hash or an id; under a key name it is caught by [`super::keys`].
//! * STS session tokens: base64 starting with the encodings STS has used (`IQoJb3JpZ2lu…`,
//!   `FwoGZXIvYXdz…`, `FQoGZXIvYXdz…`, `AQoDYXdz…`).
//! * PEM private keys (`-----BEGIN … PRIVATE KEY-----` to `-----END …`), also flattened onto one
//!   line with `\n` escapes or blanks; the body is masked, the armour lines stay. Certificates
//!   and public keys are public and stay.
//! * JSON Web Tokens (`eyJ….eyJ….sig`), masked whole.
//! * `Bearer <token>`, the token of at least 8 characters.

use std::sync::LazyLock;

use regex::Regex;

use super::Spans;

static ACCESS_KEY_ID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?-u)\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b").expect("access key id regex")
});

static BASE64_40: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[^A-Za-z0-9/+=])([A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)")
        .expect("secret key regex")
});

static SESSION_TOKEN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?-u)(?:IQoJb3JpZ2lu|FwoGZXIvYXdz|FQoGZXIvYXdz|AQoDYXdz)[A-Za-z0-9+/]{20,}={0,2}")
        .expect("session token regex")
});

static PEM_BEGIN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?-u)-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----").expect("pem regex")
});

static JWT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?-u)\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
        .expect("jwt regex")
});

static BEARER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i-u)\bBearer\s+([A-Za-z0-9\-._~+/]{8,}=*)").expect("bearer regex")
});

pub(super) fn find(s: &str, spans: &mut Spans) {
    let mut ids = Vec::new();
    for m in ACCESS_KEY_ID.find_iter(s) {
        ids.push(m.range());
        spans.push(m.range());
    }
    if !ids.is_empty() {
        for c in BASE64_40.captures_iter(s) {
            let k = c.get(1).expect("group");
            let near = ids
                .iter()
                .any(|id| k.start() < id.end + 200 && id.start < k.end() + 200);
            let v = k.as_str();
            // Random base64 of 40 characters has both cases and a digit or `/` or `+`; a
            // 40-letter name (a role session name) does not.
            let mixed = v.bytes().any(|c| c.is_ascii_lowercase())
                && v.bytes().any(|c| c.is_ascii_uppercase())
                && v.bytes()
                    .any(|c| c.is_ascii_digit() || c == b'/' || c == b'+');
            if near && mixed {
                spans.push(k.range());
            }
        }
    }
    for m in SESSION_TOKEN.find_iter(s) {
        spans.push(m.range());
    }
    for m in PEM_BEGIN.find_iter(s) {
        let from = m.end();
        let end = s[from..].find("-----END").map_or(s.len(), |i| from + i);
        spans.push(from..end);
    }
    for m in JWT.find_iter(s) {
        spans.push(m.range());
    }
    for c in BEARER.captures_iter(s) {
        let t = c.get(1).expect("group");
        if !t.as_str().bytes().all(|b| b.is_ascii_lowercase()) {
            spans.push(t.range());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::redact;

    #[test]
    fn credentials_by_shape() {
        let key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        for (s, gone) in [
            ("AccessKeyId AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE"),
            ("creds ASIAZ3Q4EXAMPLE7X2AB in use", "ASIAZ3Q4EXAMPLE7X2AB"),
            (&format!("AKIAIOSFODNN7EXAMPLE,{key}") as &str, key),
            (
                "x IQoJb3JpZ2luX2VjEPT//////////wEaCXVzLWVhc3QtMSJHMEUCIQ y",
                "IQoJb3JpZ2luX2VjEPT",
            ),
            (
                "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7\n-----END RSA PRIVATE KEY-----",
                "MIIEpAIBAAKCAQEA7",
            ),
            (
                "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBg\\n-----END PRIVATE KEY-----",
                "MIIEvQIBADANBg",
            ),
            (
                "key -----BEGIN OPENSSH PRIVATE KEY----- b3BlbnNzaC1rZXk cut",
                "b3BlbnNzaC1rZXk",
            ),
            (
                "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl done",
                "eyJzdWIiOiIxIn0",
            ),
            ("curl -H 'X: Bearer ya29.a0AfH6SMBx' x", "ya29.a0AfH6SMBx"),
        ] {
            let r = redact(s);
            assert!(!r.contains(gone), "{s} -> {r}");
        }
    }

    #[test]
    fn a_session_name_next_to_a_key_id_is_not_a_secret_key() {
        let s = "\"accessKeyId\":\"ASIA5XMPLQRZ7TUV3WXY\",\"principalId\":\"AROA5XMPLEROTATION02:SecretsManagerRDSMySQLRotationSingleUser\"";
        let r = redact(s);
        assert!(!r.contains("ASIA5XMPLQRZ7TUV3WXY"), "{r}");
        assert!(
            r.contains(":SecretsManagerRDSMySQLRotationSingleUser"),
            "{r}"
        );
    }

    #[test]
    fn near_misses_stay() {
        for s in [
            "arn:aws:sts::123456789012:assumed-role/RotationRole/AROAEXAMPLEID123456:fn",
            "principalId AIDAEXAMPLEUSERID1234",
            "CodeSha256 x0b7nGXqk1yMiDGpgCxG9pLHBy5x3YiR1FEJOH6qMJo=",
            "-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIE\n-----END CERTIFICATE-----",
            "the bearer token was refused",
            "version 7c9e6679-7425-40de-944b-e07fc1f90ae7",
        ] {
            assert_eq!(redact(s), s);
        }
    }
}
