//! Values of credential-named keys, in every notation a log line writes a key and its value in.
//!
//! A key is credential-named when its name, folded to lower case without `_`, `-`, `.` and
//! leading dashes, contains one of the [`WORDS`]: `DB_PASSWORD`, `dbPassword`,
//! `MasterUserPassword`, `SecretAccessKey`, `MYSQL_PWD`, `PGPASSWORD`, `X-Amz-Security-Token`,
//! `client_secret`, `api-key`, `ApiKey`, `private_key`, `Authorization`, `--password`. Some
//! names contain a word but name an identifier or a setting, never a credential; they are kept
//! ([`is_identifier`]): `ClientRequestToken` (the rotation's version id, which the report needs),
//! `NextToken`, the rotation steps (`setSecret: …`), Secrets Manager API names, and names ending
//! in `Id`, `Arn`, `Name`, `Length`, `Type`, … (`SecretId`, `secret_arn`, `PasswordLength`).
//!
//! Notations: `key=value`, `key: value` (YAML, Go `%+v` without the blank), `"key": "value"`
//! (JSON, also escaped inside a message at any depth: `\"key\": \"value\"`), `'key': 'value'`
//! and `'key': b'value'` (Python), `key => value`, `<key>value</key>`, URL query parameters
//! (`?X-Amz-Security-Token=…&`), connection strings (`Password=a b;`), HTTP headers
//! (`Authorization: Bearer …`), and command-line flags (`--password value`, `--password=value`).

use super::Spans;
use super::value::{self, Bare};

/// Fragments of credential key names (matched on the folded name).
pub(super) const WORDS: [&str; 9] = [
    "pass",
    "pwd",
    "secret",
    "token",
    "credential",
    "private",
    "apikey",
    "authorization",
    "signature",
];

/// Is a key word (the regex `(?i-u)pass|pwd|secret|token|credential|private|api[-_.]?key|
/// authorization|signature|auth\b`) at `at`, where [`super::CLUES`] found one of the key clues?
/// The clues are those words' beginnings (`api`, `auth`), so only those two need a look further.
pub(super) fn key_word_at(b: &[u8], at: usize) -> bool {
    let rest = &b[at..];
    let starts = |w: &[u8]| rest.len() >= w.len() && rest[..w.len()].eq_ignore_ascii_case(w);
    if starts(b"api") {
        let sep = usize::from(matches!(rest.get(3), Some(b'-' | b'_' | b'.')));
        return rest.len() >= 6 + sep && rest[3 + sep..6 + sep].eq_ignore_ascii_case(b"key");
    }
    if starts(b"auth") {
        return starts(b"authorization")
            || !rest
                .get(4)
                .is_some_and(|&c| c.is_ascii_alphanumeric() || c == b'_');
    }
    true
}

/// Folded names that hold a credential word but name an identifier or an operation.
const IDENTIFIERS: [&str; 26] = [
    "clientrequesttoken",
    "nexttoken",
    "nextforwardtoken",
    "nextbackwardtoken",
    "paginationtoken",
    "continuationtoken",
    "idempotencytoken",
    "startingtoken",
    "createsecret",
    "setsecret",
    "testsecret",
    "finishsecret",
    "getsecretvalue",
    "batchgetsecretvalue",
    "putsecretvalue",
    "describesecret",
    "rotatesecret",
    "cancelrotatesecret",
    "updatesecret",
    "updatesecretversionstage",
    "listsecrets",
    "listsecretversionids",
    "deletesecret",
    "restoresecret",
    "getrandompassword",
    "tokentype",
];

/// Endings of folded names that name something about a credential, not the credential.
const IDENTIFIER_ENDINGS: [&str; 40] = [
    "id",
    "ids",
    "arn",
    "arns",
    "name",
    "names",
    "type",
    "length",
    "stage",
    "stages",
    "policy",
    "enabled",
    "required",
    "count",
    "version",
    "versions",
    "date",
    "time",
    "timestamp",
    "expiration",
    "expiry",
    "expires",
    "expiresin",
    "expiresat",
    "ttl",
    "lastused",
    "age",
    "rotation",
    "region",
    "path",
    "file",
    "location",
    "endpoint",
    "host",
    "hostname",
    "port",
    "ip",
    "ipaddress",
    "dnsname",
    "subnet",
];

/// Words that contain `pass` without meaning a password.
const NOT_PASSWORDS: [&str; 5] = ["passed", "bypass", "passthrough", "passive", "compass"];

fn is_name_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.')
}

/// A folded name: on the stack (names are short), as bytes (names are ASCII). Every string
/// rotdiag prints goes through [`find`], and nearly all of them hold `secret` several times (ARNs,
/// `setSecret`): folding into a `String` and `str::contains` (a searcher built per call) were
/// a fifth of redaction's instructions.
type Folded = smallvec::SmallVec<[u8; 64]>;

/// The name folded for matching: lower case, without separators and leading dashes.
fn fold(name: &str) -> Folded {
    name.trim_start_matches('-')
        .bytes()
        .filter(|c| !matches!(c, b'_' | b'-' | b'.'))
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// `needle` occurs in `hay` (both a few bytes long: a comparison at each offset where the first
/// byte is the needle's).
fn has(hay: &[u8], needle: &str) -> bool {
    let n = needle.as_bytes();
    hay.windows(n.len()).any(|w| w[0] == n[0] && w == n)
}

/// `hay` ends with `tail` (the last bytes compared first: most names end otherwise).
fn ends(hay: &[u8], tail: &str) -> bool {
    let t = tail.as_bytes();
    hay.last() == t.last() && hay.ends_with(t)
}

/// Does this key name hold a credential?
pub(super) fn is_credential_name(name: &str) -> bool {
    let folded = fold(name);
    let f = &folded[..];
    let named = WORDS.iter().any(|w| has(f, w)) || f == b"auth" || ends(f, "auth");
    named && !is_identifier(f)
}

fn is_identifier(f: &[u8]) -> bool {
    IDENTIFIERS.iter().any(|i| i.as_bytes() == f)
        || has(f, "secretsmanager")
        || IDENTIFIER_ENDINGS.iter().any(|e| ends(f, e))
        || (has(f, "pass")
            && !WORDS.iter().any(|w| *w != "pass" && has(f, w))
            && NOT_PASSWORDS.iter().any(|n| has(f, n)))
}

/// Values that are not credentials even under a credential name: references to where one is
/// (`file://…`, a `<placeholder>`, an ARN), masks, and flags (`YES`/`NO` in MySQL's
/// `(using password: YES)`, booleans, null).
pub(super) fn is_not_a_credential(v: &str) -> bool {
    let t = v.trim();
    t.is_empty()
        || t.chars().all(|c| c == '*')
        || matches!(
            t,
            "YES"
                | "NO"
                | "true"
                | "false"
                | "True"
                | "False"
                | "null"
                | "None"
                | "nil"
                | "%s"
                | "[REDACTED]"
                | "REDACTED"
                | "<redacted>"
        )
        || t.starts_with("file://")
        || t.starts_with("fileb://")
        || t.starts_with("arn:")
        || is_command_substitution(t)
        || is_placeholder(t.trim_end_matches(['"', '\'', ',', ')', ';']))
        || (t.starts_with('<') && t.ends_with('>') && !t[1..t.len() - 1].contains(['<', '>']))
}

/// `$(aws secretsmanager get-secret-value … | jq -r .password)`: a shell command that fetches
/// the value, as a remediation writes it. A generated password holds no blank (GetRandomPassword
/// leaves spaces out unless asked), so one shaped like this is a command.
fn is_command_substitution(t: &str) -> bool {
    t.starts_with("$(") && t.ends_with(')') && t.contains(' ')
}

/// A bind parameter or a format placeholder (`%s`, `%(password)s`, `?`, `:1`, `:pw`, `$1`, `{}`,
/// `{password}`): code that logs its statement before the values are bound.
pub(super) fn is_placeholder(t: &str) -> bool {
    let ident =
        |s: &str| !s.is_empty() && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_');
    t == "%s"
        || t == "%%s"
        || t == "?"
        || t == "{}"
        || (t.starts_with("%(") && t.ends_with(")s") && ident(&t[2..t.len() - 2]))
        || (t.len() > 1
            && (t.starts_with(':') || t.starts_with('$'))
            && ident(&t[1..])
            && !t[1..].bytes().any(|c| c.is_ascii_uppercase()))
        || (t.starts_with('{') && t.ends_with('}') && t.len() > 2 && ident(&t[1..t.len() - 1]))
}

/// The names (byte ranges) that hold a key word, each once: a key word is a clue
/// [`key_word_at`] accepts, and the name around it is the run of name bytes.
fn key_names<'a>(b: &'a [u8], clues: &'a [usize]) -> impl Iterator<Item = (usize, usize)> + 'a {
    let mut after = 0;
    clues.iter().filter_map(move |&at| {
        if at < after || !key_word_at(b, at) {
            return None;
        }
        let mut start = at;
        while start > 0 && is_name_byte(b[start - 1]) {
            start -= 1;
        }
        // `\tsetSecret:` in text that still holds JSON escapes: the `t` is the escape's.
        if start > 0 && b[start - 1] == b'\\' && matches!(b[start], b'n' | b't' | b'r') {
            start += 1;
        }
        let mut end = at;
        while end < b.len() && is_name_byte(b[end]) {
            end += 1;
        }
        after = end;
        Some((start, end))
    })
}

/// Finds the values of credential-named keys in `s`, given where [`super::CLUES`] found the
/// key clues (in the order of their ends).
pub(super) fn find(s: &str, clues: &[usize], spans: &mut Spans) {
    let b = s.as_bytes();
    for (start, end) in key_names(b, clues) {
        if !is_credential_name(&s[start..end]) {
            continue;
        }
        let Some(v) = value_of(s, start, end) else {
            continue;
        };
        if v.start > 0 && b[v.start - 1] == b'{' && b.get(v.end) == Some(&b'}') {
            match value::dict_secrets(s, v.clone()) {
                Some(inner) => spans.extend(inner),
                None => spans.push(v),
            }
        } else if !is_not_a_credential(&s[v.clone()]) {
            spans.push(v);
        }
    }
}

/// The quote a key is wrapped in, read backwards from its start: `"`, `'`, `\"`, `\\\"`, `<`.
fn opening_quote(b: &[u8], start: usize) -> &[u8] {
    if start == 0 {
        return &[];
    }
    match b[start - 1] {
        b'\'' | b'<' => &b[start - 1..start],
        b'"' => {
            let run = b[..start - 1]
                .iter()
                .rev()
                .take_while(|&&c| c == b'\\')
                .count();
            &b[start - 1 - run..start]
        }
        _ => &[],
    }
}

/// The value written after the key `s[start..end]`, if a separator follows it.
fn value_of(s: &str, start: usize, end: usize) -> Option<std::ops::Range<usize>> {
    let b = s.as_bytes();
    let before = start.checked_sub(1).map(|i| b[i]);
    // `arn:…:secret:name`, `role/token-rotator`, `user@secret-host`: part of an id or a path,
    // unless an `=` follows (`…/token=x.json`, a file named by its content).
    let inside_id = matches!(before, Some(b':' | b'/' | b'@'));
    let open = opening_quote(b, start);
    let mut p = end;
    let close: &[u8] = if open == b"<" { b">" } else { open };
    if !close.is_empty() && b[p..].starts_with(close) {
        p += close.len();
    } else if open == b"<" {
        return None;
    }
    let quoted_key = !close.is_empty();
    while p < b.len() && (b[p] == b' ' || b[p] == b'\t') {
        p += 1;
    }
    let flag = s[start..end].starts_with('-');
    let sep = if open == b"<" {
        0
    } else if b[p..].starts_with(b"=>") || b[p..].starts_with(b":=") {
        2
    } else if b[p..].starts_with(b"==") || b[p..].starts_with(b"::") {
        return None;
    } else if matches!(b.get(p), Some(b'=' | b':')) {
        1
    } else if flag && p > end && !quoted_key && !inside_id {
        // `--password value`
        0
    } else {
        return None;
    };
    if inside_id && !(sep == 1 && b[p] == b'=') {
        return None;
    }
    p += sep;
    let sep_colon = sep == 1 && b[p - 1] == b':';
    let sep_equals = sep == 1 && b[p - 1] == b'=';
    // A URL or a Windows path after a colon is not a value: `secret_url:https://…` is.
    if sep_colon && b.get(p) == Some(&b'/') {
        return None;
    }
    while p < b.len() && (b[p] == b' ' || b[p] == b'\t' || (quoted_key && b[p] == b'\n')) {
        p += 1;
    }
    if flag && sep == 0 && b.get(p) == Some(&b'-') {
        return None;
    }
    if open == b"<" {
        // An element only with its closing tag: `<token>` alone is a placeholder.
        let close = format!("</{}>", &s[start..end]);
        let e = p + s[p..].find(&close)?;
        return (e > p).then_some(p..e);
    }
    if sep_colon && prose_follows(b, p) {
        return None;
    }
    if sep_equals && is_call(&b[p..]) {
        return None;
    }
    let folded = fold(&s[start..end]);
    let folded = &folded[..];
    let bare = if has(folded, "authorization") || ends(folded, "auth") {
        return authorization(s, p);
    } else if matches!(before, Some(b'?' | b'&')) {
        Bare::Query
    } else if connection_string(b, start) {
        Bare::Semicolon
    } else {
        Bare::Word
    };
    value::span(s, p, bare)
}

/// `pending secret: SCRAM authentication requires libpq version 10`: after a colon, a word of
/// letters only followed by more words is a sentence, not a value. A value needs a digit or a
/// symbol (generated passwords have both), or to end the line, or to be followed by another
/// `key:` / `key=` pair.
fn prose_follows(b: &[u8], p: usize) -> bool {
    let word = b[p..]
        .iter()
        .take_while(|c| c.is_ascii_alphabetic())
        .count();
    if word == 0 || !matches!(b.get(p + word), Some(b' ')) {
        return false;
    }
    let rest = &b[p + word + 1..];
    let next: Vec<&[u8]> = rest
        .split(|&c| c == b' ')
        .take(2)
        .take_while(|w| !w.is_empty())
        .collect();
    next.len() == 2
        && next.iter().all(|w| {
            w.iter()
                .all(|c| c.is_ascii_alphanumeric() || b",.'()".contains(c))
        })
}

/// `secret = service_client.get_secret_value(SecretId=arn, …)`: a traceback's line of code, an
/// assignment from a call (lower-case names, as Python and JavaScript spell them), not a value.
fn is_call(v: &[u8]) -> bool {
    let name = v
        .iter()
        .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'_' | b'.'))
        .count();
    name > 0 && v[0].is_ascii_lowercase() && v.get(name) == Some(&b'(') && v[name..].contains(&b')')
}

/// Is the key at `start` a pair of a connection string (`…;Password=`)?
fn connection_string(b: &[u8], start: usize) -> bool {
    let mut i = start;
    while i > 0 && b[i - 1] == b' ' {
        i -= 1;
    }
    i > 0 && b[i - 1] == b';'
}

/// An `Authorization` value: the scheme stays, the credentials go (to the end of the quoted
/// value or of the line).
fn authorization(s: &str, p: usize) -> Option<std::ops::Range<usize>> {
    let b = s.as_bytes();
    let r = match b.get(p) {
        Some(b'"' | b'\'' | b'\\') => value::quoted(s, p)?,
        _ => value::span(s, p, Bare::Line)?,
    };
    let v = &s[r.clone()];
    let scheme = v.split_once(' ').map_or(0, |(w, _)| {
        let known = [
            "Bearer",
            "Basic",
            "Digest",
            "Negotiate",
            "NTLM",
            "Token",
            "AWS4-HMAC-SHA256",
            "AWS",
        ];
        if known.iter().any(|k| k.eq_ignore_ascii_case(w)) {
            w.len() + 1
        } else {
            0
        }
    });
    (r.start + scheme < r.end).then_some(r.start + scheme..r.end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_names_in_every_case_and_separator_style() {
        for n in [
            "password",
            "PASSWORD",
            "DB_PASSWORD",
            "dbPassword",
            "MasterUserPassword",
            "SecretAccessKey",
            "aws_secret_access_key",
            "MYSQL_PWD",
            "PGPASSWORD",
            "PWD",
            "X-Amz-Security-Token",
            "token",
            "SessionToken",
            "access_token",
            "pass",
            "secret",
            "client_secret",
            "SecretString",
            "credentials",
            "private_key",
            "PrivateKey",
            "apikey",
            "api_key",
            "api-key",
            "ApiKey",
            "API_KEY",
            "Authorization",
            "--password",
            "-Dspring.datasource.password",
            "spring.datasource.password",
            "X-Amz-Signature",
            "X-Amz-Credential",
            "basic_auth",
            "auth",
            "passwd",
            "new_password",
        ] {
            assert!(is_credential_name(n), "{n}");
        }
    }

    /// The names found from the clues are the names around the matches of the key word regex
    /// `keys` once ran itself (each name once, in order).
    #[test]
    fn key_names_are_those_around_the_key_word_regex_matches() {
        let word = regex::Regex::new(
            r"(?i-u)pass|pwd|secret|token|credential|private|api[-_.]?key|authorization|signature|auth\b",
        )
        .unwrap();
        let by_regex = |s: &str| {
            let mut after = 0;
            let mut out = Vec::new();
            for m in word.find_iter(s) {
                if m.start() < after {
                    continue;
                }
                let (start, end) = key_names(s.as_bytes(), &[m.start()]).next().unwrap();
                after = end;
                out.push((start, end));
            }
            out
        };
        let by_clues = |s: &str| {
            let mut clues = Vec::new();
            super::super::each_clue(s.as_bytes(), |clue, start| {
                if super::super::CLUES[clue].1 & super::super::KEYS != 0 {
                    clues.push(start);
                }
            });
            key_names(s.as_bytes(), &clues).collect::<Vec<_>>()
        };
        for s in [
            "",
            "bcpass=1 compass_pwd: x",
            "api_key=1 api-key=2 ApiKey=3 apikey=4 API.KEY=5 api key=6 api__key=7 apiKe",
            "auth=1 AUTH.x=2 tauth x basic_auth: 3 author authority Authorization: Bearer x auth_",
            "auth-token=1 oauth2 auth\u{e9}x auth",
            r"\tsetSecret: x \nsecret=1 \rpass \\tsecret",
            "arn:aws:secretsmanager:us-east-1:1:secret:dev/x-AbC createSecret: put secret for ARN",
            r#"{"SecretString": "{\"password\":\"p\"}", "ClientRequestToken": "t"}"#,
            "X-Amz-Credential=a&X-Amz-Security-Token=b&X-Amz-Signature=c privatekey PrivateKey=1",
            "passsecrettokenpwd credentialsignatureauth apiapikey authauthorization",
        ] {
            assert_eq!(by_clues(s), by_regex(s), "{s:?}");
        }
    }

    #[test]
    fn identifiers_that_contain_a_credential_word_are_not_credential_names() {
        for n in [
            "ClientRequestToken",
            "client_request_token",
            "NextToken",
            "nextForwardToken",
            "SecretId",
            "secret_arn",
            "SecretARN",
            "SecretName",
            "secret-id",
            "setSecret",
            "createSecret",
            "testSecret",
            "finishSecret",
            "GetSecretValue",
            "secretsmanager",
            "PasswordLength",
            "password_length",
            "SecretVersionId",
            "PrivateDnsEnabled",
            "PrivateIpAddress",
            "tests_passed",
            "bypass",
            "author",
            "authority",
            "KeyError",
            "username",
            "host",
            "RequestId",
            "AccessKeyId",
        ] {
            assert!(!is_credential_name(n), "{n}");
        }
    }
}
