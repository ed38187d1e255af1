//! Where a credential value ends, in the notations values are written in: quoted (JSON, escaped
//! JSON one or more levels deep, Python `str` and `bytes`, SQL literals with doubled quotes),
//! nested (`{…}`, `[…]`), or bare (up to white space, `&`, `;`, or the end of the line,
//! depending on the notation around it).

use std::ops::Range;

/// How far a bare (unquoted) value runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Bare {
    /// `password=x host=db`, YAML `password: x`, CLI `--password x`: up to white space.
    Word,
    /// A URL query parameter: up to `&`, `#` or white space.
    Query,
    /// A connection string (`Server=h;Password=a b;`): up to `;` or the end of the line.
    Semicolon,
    /// An HTTP header value (`Authorization: AWS4-HMAC-SHA256 Credential=…, Signature=…`): to the
    /// end of the line.
    Line,
}

/// The span to mask of the value starting at `at` (after the separator and any blanks), or
/// `None` when nothing there is a value.
pub(super) fn span(s: &str, at: usize, bare: Bare) -> Option<Range<usize>> {
    let b = s.as_bytes();
    let first = *b.get(at)?;
    // String prefixes: Python b'' / rb'' / u'', SQL N'' / E''.
    let mut q = at;
    while q < b.len()
        && q < at + 2
        && matches!(b[q], b'b' | b'B' | b'r' | b'R' | b'u' | b'N' | b'E')
    {
        q += 1;
    }
    if q > at && matches!(b.get(q), Some(b'\'') | Some(b'"')) {
        return quoted(s, q);
    }
    match first {
        b'"' | b'\'' | b'\\' => quoted(s, at),
        b'{' | b'[' => nested(s, at),
        _ => bare_span(s, at, bare),
    }
}

/// The content of a quoted value starting at `at` (a quote, or backslashes then `"`).
pub(super) fn quoted(s: &str, at: usize) -> Option<Range<usize>> {
    quoted_with_end(s, at).map(|(r, _)| r)
}

/// The content of a quoted value and where its closing quote ends.
fn quoted_with_end(s: &str, at: usize) -> Option<(Range<usize>, usize)> {
    let b = s.as_bytes();
    let level = b[at..].iter().take_while(|&&c| c == b'\\').count();
    let quote = *b.get(at + level)?;
    if quote != b'"' && !(quote == b'\'' && level == 0) {
        return None;
    }
    let start = at + level + 1;
    match closing(b, start, quote, level) {
        Some(end) => Some((start..end, end + level + 1)),
        None => {
            let end = line_end(b, start);
            Some((start..end, end))
        }
    }
}

/// Where the string opened at `level` (0: `"…"`, 1: `\"…\"`, 3: `\\\"…\\\"`) closes: the first
/// quote preceded by a run of backslashes that encodes a quote of the same level. A quote of an
/// outer level (a shorter run) also ends it: the value cannot go on past its container.
fn closing(b: &[u8], start: usize, quote: u8, level: usize) -> Option<usize> {
    let modulus = 2 * (level + 1);
    let mut i = start;
    while i < b.len() {
        if b[i] == quote {
            let run = b[start..i]
                .iter()
                .rev()
                .take_while(|&&c| c == b'\\')
                .count();
            let closes = run % modulus == level || run < level;
            // SQL doubles a quote inside a literal: 'it''s'.
            if closes && quote == b'\'' && level == 0 && b.get(i + 1) == Some(&b'\'') {
                i += 2;
                continue;
            }
            if closes {
                return Some(i - level);
            }
        }
        i += 1;
    }
    None
}

/// The inside of a balanced `{…}` or `[…]` (quotes respected), or the rest of the line.
fn nested(s: &str, at: usize) -> Option<Range<usize>> {
    let b = s.as_bytes();
    let mut depth = 0usize;
    let mut i = at;
    while i < b.len() {
        match b[i] {
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return Some(at + 1..i);
                }
            }
            b'"' | b'\'' | b'\\' => {
                if let Some((_, after)) = quoted_with_end(s, i) {
                    i = after;
                    continue;
                }
            }
            _ => {}
        }
        i += 1;
    }
    Some(at + 1..b.len())
}

/// Inside a `{…}` under a credential name (`'secret': {'username': …, 'password': …}`): the
/// values to mask, which are all but those of keys that name where and who (user, host, port,
/// engine, database, ARNs), so the user and host stay readable. `None` when the inside does not
/// parse as `key: value` pairs (then all of it is masked).
pub(super) fn dict_secrets(s: &str, inside: Range<usize>) -> Option<Vec<Range<usize>>> {
    const KEEP: [&str; 16] = [
        "username",
        "user",
        "host",
        "hostname",
        "port",
        "engine",
        "dbname",
        "database",
        "db",
        "masterarn",
        "ssl",
        "region",
        "arn",
        "dbclusteridentifier",
        "dbinstanceidentifier",
        "versionid",
    ];
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut p = inside.start;
    let skip = |p: &mut usize, also: &[u8]| {
        while *p < inside.end && (b[*p].is_ascii_whitespace() || also.contains(&b[*p])) {
            *p += 1;
        }
    };
    loop {
        skip(&mut p, b",");
        if p >= inside.end {
            return Some(out);
        }
        // The key: quoted, or a bare name.
        let (key, after) = match b[p] {
            b'"' | b'\'' | b'\\' => {
                let (r, after) = quoted_with_end(s, p)?;
                (&s[r], after)
            }
            _ => {
                let n = b[p..inside.end]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.'))
                    .count();
                if n == 0 {
                    return None;
                }
                (&s[p..p + n], p + n)
            }
        };
        p = after;
        skip(&mut p, b"");
        if p >= inside.end || !matches!(b[p], b':' | b'=') {
            return None;
        }
        p += 1;
        skip(&mut p, b"");
        let value = match b.get(p) {
            Some(b'"' | b'\'' | b'\\') => {
                let (r, after) = quoted_with_end(s, p)?;
                p = after;
                r
            }
            Some(b'{' | b'[') => {
                let r = nested(s, p)?;
                p = r.end + 1;
                r
            }
            Some(_) => {
                let n = b[p..inside.end]
                    .iter()
                    .take_while(|&&c| c != b',' && c != b'}')
                    .count();
                let r = p..p + n;
                p += n;
                r
            }
            None => return None,
        };
        let folded: String = key
            .bytes()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| (c.to_ascii_lowercase()) as char)
            .collect();
        let trimmed = s[value.clone()].trim_end();
        if !KEEP.contains(&folded.as_str()) && !trimmed.is_empty() {
            out.push(value.start..value.start + trimmed.len());
        }
    }
}

fn bare_span(s: &str, at: usize, bare: Bare) -> Option<Range<usize>> {
    let b = s.as_bytes();
    let stop = |c: u8| match bare {
        Bare::Word => c.is_ascii_whitespace(),
        Bare::Query => c.is_ascii_whitespace() || c == b'&' || c == b'#',
        Bare::Semicolon => c == b';' || c == b'\n' || c == b'\r',
        Bare::Line => c == b'\n' || c == b'\r',
    };
    let mut end = at;
    while end < b.len() && !stop(b[end]) {
        end += 1;
    }
    if bare == Bare::Word {
        // `Server=h;Password=x;Database=d` with no blank: the value ends at the `;` before the
        // next `Key=`.
        end = at + first_pair_cut(&s[at..end]).unwrap_or(end - at);
        // Closers that belong to a container around the pair (`(password=x)`, `'pw=x'`,
        // `{Password:x}`) are left outside when the value does not open them itself.
        while end > at && unbalanced_closer(&b[at..end]) {
            end -= 1;
        }
    }
    (end > at).then_some(at..end)
}

/// In `x;Key=v`, the length of `x`.
fn first_pair_cut(v: &str) -> Option<usize> {
    let b = v.as_bytes();
    b.iter().enumerate().find_map(|(i, &c)| {
        if c != b';' {
            return None;
        }
        let rest = &b[i + 1..];
        let key = rest
            .iter()
            .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_' || **c == b' ')
            .count();
        (key > 0 && rest.get(key) == Some(&b'=')).then_some(i)
    })
}

fn unbalanced_closer(v: &[u8]) -> bool {
    let last = v[v.len() - 1];
    let count = |c: u8| v.iter().filter(|&&x| x == c).count();
    match last {
        b'\'' | b'"' => count(last) % 2 == 1,
        b')' => count(b')') > count(b'('),
        b']' => count(b']') > count(b'['),
        b'}' => count(b'}') > count(b'{'),
        b',' => true,
        _ => false,
    }
}

pub(super) fn line_end(b: &[u8], from: usize) -> usize {
    b[from..]
        .iter()
        .position(|&c| c == b'\n' || c == b'\r')
        .map_or(b.len(), |p| from + p)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(s: &str, bare: Bare) -> &str {
        span(s, 0, bare).map_or("", |r| &s[r])
    }

    #[test]
    fn quoted_values_end_at_their_own_quote() {
        assert_eq!(value(r#""a\"b" x"#, Bare::Word), r#"a\"b"#);
        assert_eq!(value(r#""a\\" x"#, Bare::Word), r#"a\\"#);
        assert_eq!(value(r#"\"p@ss w0rd\"}"#, Bare::Word), "p@ss w0rd");
        assert_eq!(value(r#"\"a\\\"b\" x"#, Bare::Word), r#"a\\\"b"#);
        assert_eq!(value(r#"\\\"x y\\\"}"#, Bare::Word), "x y");
        assert_eq!(value("'it''s' x", Bare::Word), "it''s");
        assert_eq!(value(r"'it\'s' x", Bare::Word), r"it\'s");
        assert_eq!(value("b'x\\x00y', 'host'", Bare::Word), "x\\x00y");
        assert_eq!(value("N'pw' x", Bare::Word), "pw");
        assert_eq!(value("'unterminated\nnext", Bare::Word), "unterminated");
    }

    #[test]
    fn bare_values_end_by_notation() {
        assert_eq!(value("abc host=db", Bare::Word), "abc");
        assert_eq!(value("abc;Database=d", Bare::Word), "abc");
        assert_eq!(value("a;b host", Bare::Word), "a;b");
        assert_eq!(value("a b;Database=d", Bare::Semicolon), "a b");
        assert_eq!(value("x&user=u", Bare::Query), "x");
        assert_eq!(value("hunter2}", Bare::Word), "hunter2");
        assert_eq!(value("hunter2',", Bare::Word), "hunter2");
        assert_eq!(value("a{b}", Bare::Word), "a{b}");
        assert_eq!(
            value("AWS4 Credential=x, Signature=y\nnext", Bare::Line),
            "AWS4 Credential=x, Signature=y"
        );
    }

    #[test]
    fn a_secret_dict_keeps_who_and_where() {
        let s = "{'username': 'app', 'password': 'pw', 'host': 'db', 'port': 5432, 'x': {'a': 1}}";
        let spans = dict_secrets(s, 1..s.len() - 1).unwrap();
        let masked: Vec<&str> = spans.iter().map(|r| &s[r.clone()]).collect();
        assert_eq!(masked, ["pw", "'a': 1"]);
        assert_eq!(dict_secrets("{not a dict}", 1..11), None);
    }

    #[test]
    fn nested_values_mask_their_inside() {
        assert_eq!(
            value(r#"{"a": "}", "b": 1} x"#, Bare::Word),
            r#""a": "}", "b": 1"#
        );
    }
}
