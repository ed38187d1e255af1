//! Keeping credentials out of everything rotdiag prints.
//!
//! Rotation logs can hold the very secrets being rotated: a function that logs the secret dict or
//! `print(os.environ)`, a driver error that echoes the statement setting the new password, a
//! connection string, a pasted shell command. [`redact`] runs a set of detectors over a string and
//! replaces each credential they find with `***`, keeping what an engineer needs to act: key
//! names (`password=***`), user names, host names, ARNs, request ids, version ids, error codes.
//! It is applied to every string that leaves the program (the report in every format, stderr),
//! at one egress point in `report`, so a detector added here covers every output at once.
//!
//! This module is a leaf: it imports nothing from the crate.
//!
//! ## The detectors, and why each exists
//!
//! * [`keys`]: the value of any key whose name contains `pass`, `pwd`, `secret`, `token`,
//!   `credential`, `private`, `api key`, `authorization` or `signature`, in any case and separator
//!   style (`DB_PASSWORD`, `dbPassword`, `MasterUserPassword`, `SecretAccessKey`, `MYSQL_PWD`,
//!   `PGPASSWORD`, `X-Amz-Security-Token`), in every notation: `key=value`, YAML `key: value`,
//!   JSON, JSON escaped inside a message at any depth, Python dicts with `str` and `bytes` values,
//!   `=>`, XML elements, URL query parameters, connection strings (`Password=…;`, `PWD=…`), HTTP
//!   headers and `--password PW` / `--password=PW` flags. Functions log their secret dicts and
//!   environments in all of these. Detecting by the words a name contains, not by a list of
//!   names, catches the prefixed and camel-cased names every codebase invents.
//! * [`url`]: the password in URL userinfo (`postgres://u:pw@h`, `redis://:pw@h`): drivers and
//!   ORMs log their DSNs.
//! * [`cli`]: database clients' short password flags (`mysql -pPW`, `sqlcmd -P PW`,
//!   `redis-cli -a PW`) and Oracle's `user/pw@db`: functions that shell out, and users who paste
//!   what they ran next to the logs.
//! * [`sql`]: password clauses of statements (`IDENTIFIED BY '…'`, `WITH PASSWORD '…'`,
//!   `PASSWORD '…'`, `PASSWORD('…')`) and the database's echo of the statement in a syntax error
//!   (MySQL/MariaDB `near '…' at line 1`, PostgreSQL `at or near "…"`, `role option "…"` and its
//!   `LINE 1:` echo, SQL Server `near '…'`): the evidence of `password-characters-rejected` is
//!   exactly such an error, whose echo starts inside the generated password. The line stays, the
//!   echoed text goes.
//! * [`shapes`]: credentials that need no key to be recognised: AWS access key ids, secret access
//!   keys next to one, STS session tokens, PEM private keys (also flattened onto one line), JWTs,
//!   `Bearer` tokens.
//!
//! ## What is not redacted, and why
//!
//! * User names, host names, ports, database names, ARNs, account ids, role and function names,
//!   request ids, version ids (`ClientRequestToken`), error codes: they are what the diagnosis is
//!   about, and none of them grants access.
//! * Names that contain a credential word but name an identifier or an operation
//!   (`SecretId`, `secret_arn`, `PasswordLength`, `NextToken`, `setSecret:`, `GetSecretValue`),
//!   and values that are references, not secrets (`file://…`, `<placeholder>`, an ARN), masks
//!   already applied, and `YES`/`NO` in MySQL's `(using password: YES)`.
//! * IAM unique ids (`AROA…`, `AIDA…`): identifiers CloudTrail names principals by, not keys.
//! * Certificates and public keys: public by design.
//! * A bare 40-character base64 run with no access key id near it and no key name: as likely a
//!   hash as a secret key, and masking every one would hide digests the evidence needs.
//! * A URL whose userinfo has a user and no password (`https://tok@host`): it cannot be told
//!   from a user name.
//! * Free prose (`the password is hunter2`): no notation says where a value starts; the rule
//!   set's messages never print one that way.
//!
//! Bare values (`password=x`) end at a blank: a password that holds a blank is masked whole only
//! when quoted or in a connection string (which ends values at `;`).
//!
//! [`escape_controls`] is the other half of what leaves the program safely: control characters
//! from a log line are made visible rather than sent to a terminal.

mod cli;
mod keys;
mod recurring;
mod shapes;
mod sql;
mod terminal;
mod url;
mod value;

use std::borrow::Cow;
use std::ops::Range;
use std::sync::LazyLock;

use aho_corasick::automaton::Automaton;
use aho_corasick::dfa::DFA;
use aho_corasick::{Anchored, MatchKind};

pub use recurring::redact_recurring;

pub use terminal::{escape_controls, is_control};

/// Byte ranges of a string to mask, in any order, possibly overlapping.
type Spans = Vec<Range<usize>>;

/// The detector families, as bits.
const KEYS: u16 = 1;
const URL: u16 = 2;
const SQL: u16 = 8;
const SHAPES: u16 = 16;
/// The command-line tools [`cli`] knows, each a bit of its own: a string that names one tool is
/// not searched for the others' (a `connect` in an error message is not a `mysql` command).
const CLI_MYSQL: u16 = 32;
const CLI_SQLCMD: u16 = 64;
const CLI_REDIS: u16 = 128;
const CLI_MONGO: u16 = 256;
const CLI_ORACLE: u16 = 512;
const CLI: u16 = CLI_MYSQL | CLI_SQLCMD | CLI_REDIS | CLI_MONGO | CLI_ORACLE;

const CLUES: [(&str, u16); 39] = [
    ("pass", KEYS | SQL),
    ("pwd", KEYS),
    ("secret", KEYS),
    ("token", KEYS),
    ("credential", KEYS),
    ("private", KEYS),
    ("api", KEYS),
    ("auth", KEYS),
    ("signature", KEYS),
    ("://", URL),
    ("identified", SQL),
    ("near", SQL),
    ("role option", SQL),
    ("character string", SQL),
    ("akia", SHAPES),
    ("asia", SHAPES),
    ("abia", SHAPES),
    ("acca", SHAPES),
    ("iqojb3jpz2lu", SHAPES),
    ("fwogzxivyxdz", SHAPES),
    ("fqogzxivyxdz", SHAPES),
    ("aqodyxdz", SHAPES),
    ("-----begin", SHAPES),
    ("eyj", SHAPES),
    ("bearer", SHAPES),
    ("mysql", CLI_MYSQL),
    ("mariadb", CLI_MYSQL),
    ("sqlcmd", CLI_SQLCMD),
    ("bcp", CLI_SQLCMD),
    ("osql", CLI_SQLCMD),
    ("redis-cli", CLI_REDIS),
    ("mongo", CLI_MONGO),
    ("sqlplus", CLI_ORACLE),
    ("sqlldr", CLI_ORACLE),
    ("expdp", CLI_ORACLE),
    ("impdp", CLI_ORACLE),
    ("conn", CLI_ORACLE),
    ("rman", CLI_ORACLE),
    ("thin:", CLI_ORACLE),
];

/// The clues, in one automaton (case-insensitive), walked by [`each_clue`].
static CLUE_DFA: LazyLock<DFA> = LazyLock::new(|| {
    DFA::builder()
        .match_kind(MatchKind::Standard)
        .ascii_case_insensitive(true)
        .prefilter(false)
        .build(CLUES.iter().map(|(c, _)| c))
        .expect("redaction clues")
});

/// Calls `found(clue, start)` for every occurrence of every clue in `s`, in the order of their
/// ends: what aho-corasick's overlapping iterator yields, in a loop of one transition per byte.
///
/// Hand-walked because every string rotdiag prints is searched (each fact value, evidence line
/// and remediation, most of them short): the iterator's state, stored and reloaded around every
/// byte and every match, and its set-up per call cost about twice the instructions of the loop.
fn each_clue(s: &[u8], mut found: impl FnMut(usize, usize)) {
    let dfa = &*CLUE_DFA;
    let Ok(mut sid) = dfa.start_state(Anchored::No) else {
        return;
    };
    for (i, &b) in s.iter().enumerate() {
        sid = dfa.next_state(Anchored::No, sid, b);
        // With the Standard match kind and no prefilter, the special states are the matches.
        if dfa.is_special(sid) && dfa.is_match(sid) {
            for k in 0..dfa.match_len(sid) {
                let clue = dfa.match_pattern(sid, k);
                found(clue.as_usize(), i + 1 - dfa.pattern_len(clue));
            }
        }
    }
}

/// `s` with every credential the detectors find replaced by `***`.
pub fn redact(s: &str) -> Cow<'_, str> {
    let mut families = 0u16;
    // Where the key words' clues are: `keys` looks at the names around them (searching the text
    // for the key words again cost as much as finding the clues).
    let mut key_clues = smallvec::SmallVec::<[usize; 16]>::new();
    each_clue(s.as_bytes(), |clue, start| {
        let family = CLUES[clue].1;
        families |= family;
        if family & KEYS != 0 {
            key_clues.push(start);
        }
    });
    if families == 0 {
        return Cow::Borrowed(s);
    }
    let mut spans = Spans::new();
    if families & KEYS != 0 {
        keys::find(s, &key_clues, &mut spans);
    }
    if families & URL != 0 {
        url::find(s, &mut spans);
    }
    if families & CLI != 0 {
        cli::find(s, families, &mut spans);
    }
    if families & SQL != 0 {
        sql::find(s, &mut spans);
    }
    if families & SHAPES != 0 {
        shapes::find(s, &mut spans);
    }
    mask(s, spans)
}

/// `s` with the (merged) spans replaced by `***`.
fn mask(s: &str, mut spans: Spans) -> Cow<'_, str> {
    spans.retain(|r| r.start < r.end && &s[r.clone()] != "***");
    if spans.is_empty() {
        return Cow::Borrowed(s);
    }
    spans.sort_by_key(|r| (r.start, r.end));
    let mut out = String::with_capacity(s.len());
    let mut pos = 0;
    for r in spans {
        if r.end <= pos {
            continue;
        }
        let start = r.start.max(pos);
        if start > pos || pos == 0 || !out.ends_with("***") {
            out.push_str(&s[pos..start]);
            out.push_str("***");
        }
        pos = r.end;
    }
    out.push_str(&s[pos..]);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn credential_values_are_masked_in_every_notation() {
        let cases = [
            (
                "{'username': 'app', 'password': 'hunter2', 'host': 'db'}",
                "{'username': 'app', 'password': '***', 'host': 'db'}",
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
                "Server=db;User Id=app;Password=a b c;Database=d",
                "Server=db;User Id=app;Password=***;Database=d",
            ),
            ("Password=x1;Server=db", "Password=***;Server=db"),
            ("password=abc123 host=db", "password=*** host=db"),
            (
                "Authorization: Bearer eyJhbGciOi",
                "Authorization: Bearer ***",
            ),
            (
                "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                "aws_secret_access_key = ***",
            ),
            (
                "{'DB_PASSWORD': 'x1', 'PATH': '/usr/bin'}",
                "{'DB_PASSWORD': '***', 'PATH': '/usr/bin'}",
            ),
            (
                "'password': b'x1', 'host': 'db'",
                "'password': b'***', 'host': 'db'",
            ),
            (
                "MYSQL_PWD=x1 PGPASSWORD=x2 token=x3",
                "MYSQL_PWD=*** PGPASSWORD=*** token=***",
            ),
            (
                r#"{"dbPassword": "x", "MasterUserPassword": "y", "SecretAccessKey": "z", "pass": "w", "secret": "v"}"#,
                r#"{"dbPassword": "***", "MasterUserPassword": "***", "SecretAccessKey": "***", "pass": "***", "secret": "***"}"#,
            ),
            (
                "X-Amz-Security-Token: FQoGZXIvYXdzEJr",
                "X-Amz-Security-Token: ***",
            ),
            (
                "https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIA%2F2025&X-Amz-Security-Token=abc%2B&X-Amz-Signature=ff01",
                "https://b.s3.amazonaws.com/k?X-Amz-Credential=***&X-Amz-Security-Token=***&X-Amz-Signature=***",
            ),
            ("password: hunter2\nhost: db", "password: ***\nhost: db"),
            (
                "{Username:app Password:hunter2 Host:db}",
                "{Username:app Password:*** Host:db}",
            ),
            ("--password hunter2 --host db", "--password *** --host db"),
            ("--password=hunter2", "--password=***"),
            ("<password>x1</password>", "<password>***</password>"),
            ("\"password\" => \"x1\"", "\"password\" => \"***\""),
            (
                "DbCredentials{username='app', password='x1'}",
                "DbCredentials{username='app', password='***'}",
            ),
            (
                "'Authorization': 'AWS4-HMAC-SHA256 Credential=AKIA/x, Signature=ab'",
                "'Authorization': 'AWS4-HMAC-SHA256 ***'",
            ),
            (
                "\"credentials\": {\"user\": \"u\", \"key\": \"k\"}",
                "\"credentials\": {\"user\": \"u\", \"key\": \"***\"}",
            ),
            (
                "current secret: {'username': 'app', 'password': 'pw1', 'host': 'db'}",
                "current secret: {'username': 'app', 'password': '***', 'host': 'db'}",
            ),
            ("secret: {'value': 'pw1'}", "secret: {'value': '***'}"),
            ("secret: {not a dict pw1}", "secret: {***}"),
            (
                "api_key=k1 api-key=k2 ApiKey=k3 apikey=k4",
                "api_key=*** api-key=*** ApiKey=*** apikey=***",
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
            "User: arn:aws:sts::123456789012:assumed-role/token-rotator-role/token-rotator is not authorized to perform: secretsmanager:GetSecretValue on resource: arn:aws:secretsmanager:us-east-1:123456789012:secret:api-token-a1B2c3",
            "arn:aws:lambda:us-east-1:123456789012:function:secret-rotator:$LATEST",
            "Could not connect to the endpoint URL: \"https://secretsmanager.us-east-1.amazonaws.com/\"",
            "testSecret: Successfully signed into PostgreSQL DB with AWSPENDING secret in arn:x.",
            "An error occurred (AccessDeniedException) when calling the GetSecretValue operation: Access to KMS is not allowed",
            "aws secretsmanager put-secret-value --secret-id arn:x --secret-string file://secret.json",
            "\"PasswordLength\": 32, \"ExcludeCharacters\": \"/@\"",
            "get_connection: pending secret: SCRAM authentication requires libpq version 10 or above",
            "\\tcreateSecret: Successfully put secret for ARN arn:x",
            "password = %s",
            "--payload '{\"SecretId\": \"arn:x\", \"ClientRequestToken\": \"<token>\", \"Step\": \"<step>\"}' out.json",
            "    secret = service_client.get_secret_value(SecretId=arn, VersionStage=stage)",
            "cursor.execute(\"ALTER LOGIN %s WITH PASSWORD = %%s\" % pending_dict['username'])",
        ] {
            assert_eq!(redact(s), s);
        }
    }

    /// The hand-walked clue automaton finds what aho-corasick's overlapping iterator finds, in
    /// the same order.
    #[test]
    fn every_clue_in_the_iterators_order() {
        let ac = aho_corasick::AhoCorasick::builder()
            .ascii_case_insensitive(true)
            .build(super::CLUES.iter().map(|(c, _)| c))
            .unwrap();
        for s in [
            "",
            "bcpass PWD=1 arn:aws:secretsmanager:x:secret:y MySQL -pX conn://",
            "AKIA eyJ Bearer -----BEGIN thin: near 'x' identified by role option",
            "\u{a0}secrets\u{2713}tokenAuthApiKey mongosh redis-cli sqlplus rman expdp impdp",
        ] {
            let mut got = Vec::new();
            super::each_clue(s.as_bytes(), |c, start| got.push((c, start)));
            let want: Vec<(usize, usize)> = ac
                .find_overlapping_iter(s)
                .map(|m| (m.pattern().as_usize(), m.start()))
                .collect();
            assert_eq!(got, want, "{s:?}");
        }
    }

    #[test]
    fn redaction_is_idempotent() {
        for s in [
            "password=x DB_PASSWORD='y' postgres://u:p@h near 'a' at line 1 AKIAIOSFODNN7EXAMPLE",
            "ALTER USER app WITH PASSWORD 'Xk9'Leak7z'",
            "-----BEGIN PRIVATE KEY----- abc -----END PRIVATE KEY-----",
        ] {
            let once = redact(s).into_owned();
            assert_eq!(redact(&once), once);
        }
    }
}
