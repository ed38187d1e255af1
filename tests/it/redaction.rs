//! Redaction end to end: no output of any report format, and nothing on stderr, holds a
//! credential that a log line held.
//!
//! `credentials_in_every_notation_never_reach_any_output` is a seeded property test (the same
//! inputs on every run): each round generates fresh credential values in every notation rotdiag
//! redacts, puts them into real-looking rotation log lines (the templates' `[ERROR]` lines, a
//! logged `os.environ`, a driver error echoing the statement that set the password), runs the
//! binary in every `--format` (iterating over the format enum, so a new format is covered
//! without touching this file) and from stdin, and checks that no value appears in stdout or
//! stderr, while the text around each value does (so the line was printed, and the test would
//! fail if redaction did not happen).

use std::process::Output;

use clap::ValueEnum;
use rotdiag::cli::OutputFormat;

use crate::util::rng::Rng;
use crate::util::run::rotdiag;

/// The credentials of the property test.
trait Credential {
    fn value(&mut self, punct: &str) -> String;
}

impl Credential for Rng {
    /// A credential: alphanumeric runs of at least 6 around punctuation from `punct`, so that
    /// any part of it that leaked would be found.
    fn value(&mut self, punct: &str) -> String {
        const ALNUM: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let mut v = self.from(ALNUM, 8);
        // A digit and both cases, as generated passwords have.
        v.push_str("7Qz");
        for _ in 0..2 {
            if !punct.is_empty() {
                v.push_str(&self.from(punct, 1));
            }
            v.push_str(&self.from(ALNUM, 6));
        }
        v
    }
}

const BARE_PUNCT: &str = "!#%+-.@^_~=:/*$?";
const QUOTED_PUNCT: &str = "!#%+-.@^_~=:/*$?&;,(){}[]<> |";
const URL_PUNCT: &str = "-._~";
const ORACLE_PUNCT: &str = "#$_";

/// Key names in every case and separator style.
const PASSWORD_KEYS: [&str; 12] = [
    "password",
    "PASSWORD",
    "DB_PASSWORD",
    "dbPassword",
    "MasterUserPassword",
    "db-password",
    "MYSQL_PWD",
    "PGPASSWORD",
    "pass",
    "passwd",
    "new_password",
    "spring.datasource.password",
];
const OTHER_KEYS: [&str; 14] = [
    "secret",
    "SecretString",
    "client_secret",
    "SecretAccessKey",
    "aws_secret_access_key",
    "token",
    "access_token",
    "SessionToken",
    "X-Amz-Security-Token",
    "api_key",
    "apikey",
    "ApiKey",
    "api-key",
    "private_key",
];

/// One notation: the text to log and the values it holds.
struct Case {
    text: String,
    secrets: Vec<String>,
}

fn key(rng: &mut Rng) -> &'static str {
    if rng.below(2) == 0 {
        rng.pick(&PASSWORD_KEYS)
    } else {
        rng.pick(&OTHER_KEYS)
    }
}

fn b64(rng: &mut Rng, n: usize) -> String {
    rng.from(
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
        n,
    )
}

/// Every notation, with fresh values.
fn cases(rng: &mut Rng) -> Vec<Case> {
    let mut out = Vec::new();
    let mut one = |text: String, secrets: Vec<String>| out.push(Case { text, secrets });
    let v = rng.value(BARE_PUNCT);
    one(
        format!("connecting with {}={v} host=db.internal", key(rng)),
        vec![v],
    );
    let v = rng.value(BARE_PUNCT);
    one(
        format!("config loaded:\n{}: {v}\nhost: db.internal", key(rng)),
        vec![v],
    );
    let v = rng.value(QUOTED_PUNCT);
    let json = serde_json::json!({"username": "app", key(rng): v, "host": "db.internal"});
    one(format!("secret dict {json}"), vec![v]);
    // JSON escaped inside a message (a JSON document logged as a string).
    let v = rng.value(QUOTED_PUNCT);
    let inner = serde_json::json!({"username": "app", key(rng): v}).to_string();
    one(
        format!(
            "event {}",
            serde_json::json!({"SecretString": inner, "note": "x"})
        ),
        vec![v],
    );
    let v = rng.value(QUOTED_PUNCT);
    let k = key(rng);
    let escaped = format!("{{\\\"username\\\": \\\"app\\\", \\\"{k}\\\": \\\"{v}\\\"}}");
    one(format!("body: {escaped}"), vec![v]);
    // Python dicts, str and bytes values.
    let v = rng.value(QUOTED_PUNCT);
    one(
        format!(
            "connecting with {{'username': 'app', '{}': '{v}', 'port': 5432}}",
            key(rng)
        ),
        vec![v],
    );
    let v = rng.value(QUOTED_PUNCT);
    one(
        format!(
            "connecting with {{'username': 'app', '{}': b'{v}', 'port': 5432}}",
            key(rng)
        ),
        vec![v],
    );
    // print(os.environ)
    let (a, b, c) = (
        rng.value(QUOTED_PUNCT),
        b64(rng, 40),
        format!("IQoJb3JpZ2luX2VjE{}", b64(rng, 180)),
    );
    one(
        format!(
            "environ({{'PATH': '/var/lang/bin:/usr/bin', 'AWS_LAMBDA_FUNCTION_NAME': 'SecretsManagerRotation', 'DB_PASSWORD': '{a}', 'AWS_SECRET_ACCESS_KEY': '{b}', 'AWS_SESSION_TOKEN': '{c}', 'MYSQL_PWD': '{a}'}})"
        ),
        vec![a, b, c],
    );
    // URL userinfo.
    let v = rng.value(URL_PUNCT);
    one(
        format!("connecting to postgresql://app:{v}@db.internal:5432/postgres"),
        vec![v],
    );
    let v = rng.value(URL_PUNCT);
    one(
        format!("cache at redis://:{v}@cache.internal:6379/0 refused"),
        vec![v],
    );
    // Connection strings.
    let v = rng.value("!#%+-.@^_~ ");
    one(
        format!("Server=db.internal;User Id=app;Password={v};Database=app;Encrypt=true"),
        vec![v],
    );
    let v = rng.value(BARE_PUNCT);
    one(
        format!("DATABASE=app;HOSTNAME=db.internal;PORT=50000;PROTOCOL=TCPIP;UID=app;PWD={v};"),
        vec![v],
    );
    // Oracle, CLI flags.
    let v = rng.value(ORACLE_PUNCT);
    one(
        format!("running sqlplus -S app/{v}@//db.internal:1521/ORCL"),
        vec![v],
    );
    let v = rng.value("!#%+-.^_~");
    one(
        format!("running mysql -h db.internal -u app -p{v} app"),
        vec![v],
    );
    let v = rng.value(BARE_PUNCT);
    one(
        format!("running rotate --user app --password {v} --host db"),
        vec![v],
    );
    let v = rng.value(BARE_PUNCT);
    one(
        format!("running rotate --user app --password={v} --host db"),
        vec![v],
    );
    // SQL clauses.
    let v = rng.value("!#%+-.@^_~=:/*$?&;,(){}[]<> |\"");
    one(
        format!("executing ALTER USER 'app'@'%' IDENTIFIED BY '{v}'"),
        vec![v],
    );
    let v = rng.value("!#%+-.@^_~=:/*$?&;,(){}[]<> |\"");
    one(
        format!("executing ALTER USER app WITH PASSWORD '{v}'"),
        vec![v],
    );
    let v = rng.value("!#%+-.@^_~=:/*$?&;,(){}[]<> |\"");
    one(
        format!("executing ALTER ROLE app PASSWORD '{v}' VALID UNTIL 'infinity'"),
        vec![v],
    );
    let v = rng.value("!#%+-.@^_~=:/*$?&;,(){}[]<> |\"");
    one(
        format!("executing CREATE USER app_clone WITH LOGIN PASSWORD '{v}'"),
        vec![v],
    );
    // Go %+v, URL query.
    let v = rng.value("!#%+-.@^_~=:/*$?");
    one(
        format!("config {{Username:app Password:{v} Host:db.internal}}"),
        vec![v],
    );
    let v = rng.value(URL_PUNCT);
    one(
        format!(
            "GET https://bucket.s3.amazonaws.com/x?X-Amz-Security-Token={v}&X-Amz-Date=20250410T093122Z"
        ),
        vec![v],
    );
    // Shapes.
    let id = format!("AKIA{}", rng.from("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16));
    let sk = b64(rng, 40);
    one(format!("credentials file: {id},{sk}"), vec![id, sk]);
    let body = b64(rng, 64);
    one(
        format!("key -----BEGIN RSA PRIVATE KEY-----\\n{body}\\n-----END RSA PRIVATE KEY-----"),
        vec![body],
    );
    let (h, p, s) = (
        b64(rng, 20).replace(['+', '/'], "_"),
        b64(rng, 30).replace(['+', '/'], "-"),
        b64(rng, 43).replace(['+', '/'], "_"),
    );
    let jwt = format!("eyJ{h}.eyJ{p}.{s}");
    one(format!("token rejected: {jwt}"), vec![format!("eyJ{p}"), s]);
    let t = b64(rng, 48);
    one(format!("sent header Authorization: Bearer {t}"), vec![t]);
    out
}

const RID_PREFIX: &str = "4d5e6f7a-8b9c-4d0e-9f1a-";
const ARN_PREFIX: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/case";

/// An S3 export of one failed setSecret per case: the notation on the templates' `[ERROR]`
/// logger line and on the unhandled exception's line, each after a marker. And one rotation
/// failing on the MariaDB echo of a password with a quote in it.
fn export(cases: &[Case], echo: &str) -> String {
    let mut s = String::new();
    let mut all: Vec<String> = cases.iter().map(|c| c.text.clone()).collect();
    all.push(String::new());
    for (n, text) in all.iter().enumerate() {
        let rid = format!("{RID_PREFIX}{n:012}");
        let arn = format!("{ARN_PREFIX}{n}-a1B2c3");
        let t = |ms: u32| format!("2025-04-10T09:{:02}:{:02}.{:03}Z", n / 60, n % 60, ms);
        s.push_str(&format!(
            "{} START RequestId: {rid} Version: $LATEST\n",
            t(100)
        ));
        s.push_str(&format!(
            "{} [INFO]\t{}\t{rid}\tsetSecret: starting for secret arn {arn}\n",
            t(110),
            t(110)
        ));
        if text.is_empty() {
            s.push_str(&format!("{} [ERROR] ProgrammingError: {echo}\n", t(300)));
        } else {
            s.push_str(&format!(
                "{} [ERROR]\t{}\t{rid}\tsetSecret: marker{n}a {}\n",
                t(200),
                t(200),
                text.replace('\n', "\n ")
            ));
            let first = text.lines().next().unwrap_or("");
            s.push_str(&format!(
                "{} [ERROR] RuntimeError: marker{n}b {first}\nTraceback (most recent call last):\n  File \"/var/task/lambda_function.py\", line 77, in lambda_handler\n",
                t(300)
            ));
        }
        s.push_str(&format!("{} END RequestId: {rid}\n", t(400)));
        s.push_str(&format!(
            "{} REPORT RequestId: {rid}\tDuration: 300.00 ms\tBilled Duration: 300 ms\tMemory Size: 128 MB\tMax Memory Used: 80 MB\t\n",
            t(400)
        ));
    }
    s
}

/// The pieces of a value that would show a leak: its alphanumeric runs of 6 or more.
fn pieces(v: &str) -> Vec<&str> {
    v.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|p| p.len() >= 6)
        .collect()
}

fn format_names() -> Vec<String> {
    OutputFormat::value_variants()
        .iter()
        .map(|f| f.to_possible_value().unwrap().get_name().to_string())
        .collect()
}

#[test]
fn credentials_in_every_notation_never_reach_any_output() {
    let formats = format_names();
    assert!(formats.len() >= 2, "{formats:?}");
    let dir = tempfile::tempdir().unwrap();
    for seed in 1..=6u64 {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ seed.wrapping_mul(0xD1B5_4A32_D192_ED03));
        let mut cases = cases(&mut rng);
        // The echo of a generated password holding a quote: `Xk9'<v>`.
        let v = rng.value("!#%+-.@^_~=:/*$?&;,(){}[]<> |");
        let echo = format!(
            "(1064, \"You have an error in your SQL syntax; check the manual that corresponds to your MariaDB server version for the right syntax to use near '{v}' WITH MAX_USER_CONNECTIONS 10' at line 1\")"
        );
        let log = export(&cases, &echo);
        cases.push(Case {
            text: String::new(),
            secrets: vec![v],
        });
        // A second input whose name holds a token and whose content is not JSON: its name
        // reaches stderr and the report.
        let name_token = rng.value("-._~");
        let bad = dir.path().join(format!("token={name_token}.json"));
        std::fs::write(
            &bad,
            "{\"events\": [{\"timestamp\": 1744277482507, \"message\": oops}]}",
        )
        .unwrap();
        let file = dir.path().join(format!("export-{seed}.log"));
        std::fs::write(&file, &log).unwrap();
        let (file, bad) = (file.display().to_string(), bad.display().to_string());

        let mut runs: Vec<(String, Output)> = Vec::new();
        for f in &formats {
            runs.push((
                format!("--format {f}"),
                rotdiag(
                    &["--format", f, "--detail", "--color", "always", &file, &bad],
                    None,
                ),
            ));
            runs.push((
                format!("--format {f} (stdin)"),
                rotdiag(&["--format", f, "--detail", "-"], Some(log.as_bytes())),
            ));
        }
        for (label, out) in &runs {
            let stdout = String::from_utf8_lossy(&out.stdout);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                matches!(out.status.code(), Some(1 | 2)),
                "{label}: {:?} {stderr}",
                out.status
            );
            for (n, case) in cases.iter().enumerate() {
                for secret in &case.secrets {
                    for p in pieces(secret) {
                        assert!(
                            !stdout.contains(p) && !stderr.contains(p),
                            "seed {seed}, {label}: case {n} leaked {p:?} of {secret:?} from {:?}",
                            case.text
                        );
                    }
                }
                // The line was printed: what is around the value is there.
                if !case.text.is_empty() {
                    assert!(
                        stdout.contains(&format!("marker{n}b")),
                        "seed {seed}, {label}: case {n} was not shown, so the test proves nothing"
                    );
                }
            }
            assert!(
                !stdout.contains(&name_token) && !stderr.contains(&name_token),
                "{label}"
            );
            if !label.contains("stdin") {
                assert!(
                    stderr.contains("token=***:1: invalid JSON"),
                    "{label}: {stderr}"
                );
            }
        }
        let json_run = &runs.iter().find(|(l, _)| l == "--format json").unwrap().1;
        let v: serde_json::Value = serde_json::from_slice(&json_run.stdout).unwrap();
        let causes: Vec<&str> = v["diagnoses"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["cause"].as_str().unwrap())
            .collect();
        assert!(
            causes.contains(&"password-characters-rejected"),
            "{causes:?}"
        );
        // The evidence of that cause keeps its line, with the echo masked.
        let texts = json_run_texts(&v, "password-characters-rejected");
        assert!(
            texts.iter().any(|t| t.contains("near '***' at line 1")),
            "{texts:?}"
        );
    }
}

fn json_run_texts(v: &serde_json::Value, cause: &str) -> Vec<String> {
    v["diagnoses"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["cause"] == cause)
        .flat_map(|d| d["evidence"].as_array().unwrap().iter())
        .map(|e| e["text"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn control_characters_never_reach_the_terminal() {
    let rid = "4d5e6f7a-8b9c-4d0e-9f1a-2b3c4d5e6f7a";
    let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/app/postgres-a1B2c3";
    let log = format!(
        "2025-04-10T09:31:22.507Z START RequestId: {rid} Version: $LATEST\n\
         2025-04-10T09:31:22.510Z [INFO]\t2025-04-10T09:31:22.510Z\t{rid}\tsetSecret: starting for secret arn {arn}\n\
         2025-04-10T09:31:22.600Z [ERROR] RuntimeError: real cause\rfake cause \u{1b}[2J\u{9b}31m \u{202e}desrever\u{7f}\n\
         2025-04-10T09:31:23.870Z END RequestId: {rid}\n\
         2025-04-10T09:31:23.870Z REPORT RequestId: {rid}\tDuration: 300.00 ms\tBilled Duration: 300 ms\tMemory Size: 128 MB\tMax Memory Used: 80 MB\t\n"
    );
    for f in format_names() {
        let out = rotdiag(&["--format", &f, "--color", "never"], Some(log.as_bytes()));
        assert_eq!(out.status.code(), Some(1), "{f}");
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains("real cause"), "{f}: {text}");
        for c in ['\r', '\u{1b}', '\u{9b}', '\u{202e}', '\u{7f}'] {
            assert!(!text.contains(c), "{f}: {c:?} reached stdout raw: {text:?}");
        }
    }
    let human = rotdiag(&["--color", "never"], Some(log.as_bytes()));
    let text = String::from_utf8(human.stdout).unwrap();
    // (`ESC [ … J` is removed on the way in, as terminal colour codes are.)
    assert!(
        text.contains(r"real cause\rfake cause \u{9b}31m \u{202e}desrever\x7f"),
        "{text}"
    );
}

/// Every command a remediation suggests must keep secret values off the screen: a
/// `get-secret-value` goes through a filter that prints key names (or user and host) or into a
/// variable; an environment goes into a file; a pre-signed URL into `curl`.
#[test]
fn no_remediation_prints_a_secret() {
    let rules = rotdiag::rules::load(None).unwrap_or_else(|e| panic!("{e:?}"));
    let mut texts: Vec<&str> = Vec::new();
    for c in &rules.causes {
        texts.extend(c.remediation.iter().map(String::as_str));
    }
    for s in &rules.symptoms {
        for cand in &s.candidates {
            texts.extend(cand.remediation.iter().map(String::as_str));
        }
    }
    assert!(texts.len() > 20);
    for t in texts {
        for (i, _) in t.match_indices("get-secret-value") {
            let rest = &t[i..];
            let command = rest.split(['&', ';']).next().unwrap();
            let printed_raw = !command.contains('|');
            assert!(!printed_raw, "prints a secret value: {t}");
            let filter = command.split('|').nth(1).unwrap();
            let in_variable = t[..i].rfind("$(").is_some_and(|j| !t[j..i].contains(')'));
            assert!(
                !filter.contains(".password") || in_variable,
                "prints a password: {t}"
            );
        }
        if t.contains("--query Environment") {
            assert!(
                t.contains("--query Environment --output json | jq"),
                "prints the environment: {t}"
            );
        }
        if t.contains("Code.Location") {
            assert!(
                t.contains("\"$(aws lambda get-function"),
                "prints a pre-signed URL: {t}"
            );
        }
        // Our own texts survive the redaction every output goes through.
        assert_eq!(
            rotdiag::redact::redact(t),
            t,
            "remediation mangled by redaction"
        );
    }
}
