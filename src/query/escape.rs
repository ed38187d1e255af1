//! Quoting a literal for each language a query is written in.
//!
//! The rule literals hold quotes (`KeyError: 'RotationEnabled'`, `"Step": "createSecret"`),
//! parentheses (`An error occurred (`), slashes, dots, `%`-free text today but `%` and `_`
//! tomorrow, and TABs (`\tERROR\t`). Each target reads them differently:
//!
//! | target | form | what is escaped |
//! | --- | --- | --- |
//! | Logs Insights regex (`like /…/`) | [`regex_literal`] inside `/…/` | regex metacharacters and the `/` delimiter with `\`; TAB, CR, LF as `\t`, `\r`, `\n` |
//! | Logs Insights string (`= "…"`) | [`insights_string`] | `\` and `"` with `\` |
//! | SQL string literal (Athena/Trino, Hive DDL) | [`sql_string`] | `'` doubled; no backslash escapes exist in Trino strings |
//! | SQL `LIKE` pattern | [`like_contains`] | `%`, `_` and the escape character itself with [`LIKE_ESCAPE`] |
//! | POSIX shell word | [`shell_word`] | single-quoted, `'` as `'\''` |
//!
//! The LIKE escape character is `!`, not `\`: Trino takes `ESCAPE '\'`, but Spark's SQL lexer reads
//! `\'` as an escaped quote even with `spark.sql.parser.escapedStringLiterals`, and the same SQL is
//! run by Spark in the checks (`scripts/query-check/`). A character that is neither a quote nor a
//! backslash means one text for every engine.

/// The escape character of the `LIKE` patterns (`… ESCAPE '!'`).
pub const LIKE_ESCAPE: char = '!';

/// `s` as a regular expression that matches exactly `s`, written to sit between `/` delimiters
/// (Logs Insights) or in a Trino/Java regex. Only the metacharacters common to RE2, Java and
/// Rust regexes are escaped, with `\`, so the text means the same to each.
pub fn regex_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' | '.' | '+' | '*' | '?' | '(' | ')' | '|' | '[' | ']' | '{' | '}' | '^' | '$'
            | '/' | '#' => {
                out.push('\\');
                out.push(c);
            }
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            _ => out.push(c),
        }
    }
    out
}

/// The alternation of `literals` (`a|b|c`), each escaped by [`regex_literal`].
pub fn regex_alternation<'a>(literals: impl IntoIterator<Item = &'a str>) -> String {
    literals
        .into_iter()
        .map(regex_literal)
        .collect::<Vec<_>>()
        .join("|")
}

/// A double-quoted Logs Insights string literal.
pub fn insights_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// A single-quoted SQL string literal (Trino, Athena DDL): `'` doubled.
pub fn sql_string(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// A `LIKE` pattern matching any text that contains `s`: `%s%`, with `%`, `_` and
/// [`LIKE_ESCAPE`] escaped. Not yet quoted: pass it through [`sql_string`].
pub fn like_contains(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    out.push('%');
    for c in s.chars() {
        if c == '%' || c == '_' || c == LIKE_ESCAPE {
            out.push(LIKE_ESCAPE);
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// `s` as one POSIX shell word, single-quoted.
pub fn shell_word(s: &str) -> String {
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@,+".contains(&b))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_literals_match_themselves_only() {
        for s in [
            "An error occurred (",
            "KeyError: 'RotationEnabled'",
            "\"Step\": \"createSecret\"",
            "a.b*c+d?e|f[g]h{i}j^k$l\\m/n#o",
            "\tERROR\t",
            "(using password: YES)",
        ] {
            let re = regex::Regex::new(&format!("^{}$", regex_literal(s))).unwrap();
            assert!(re.is_match(s), "{s:?}");
            let other = s.replacen(|c: char| !c.is_alphanumeric(), "x", 1);
            assert!(
                other == s || !re.is_match(&other),
                "{s:?} matched {other:?}"
            );
        }
    }

    #[test]
    fn regex_literal_never_closes_the_insights_delimiter() {
        let r = regex_literal("a/b\\/c");
        // Every `/` is preceded by an odd number of backslashes.
        let b = r.as_bytes();
        for (i, &c) in b.iter().enumerate() {
            if c == b'/' {
                let run = b[..i].iter().rev().take_while(|&&x| x == b'\\').count();
                assert_eq!(run % 2, 1, "{r}");
            }
        }
    }

    #[test]
    fn sql_and_like_escaping() {
        assert_eq!(sql_string("it's"), "'it''s'");
        assert_eq!(like_contains("50%_a!b"), "%50!%!_a!!b%");
        assert_eq!(
            sql_string(&like_contains("'Database' object")),
            "'%''Database'' object%'"
        );
    }

    /// Undoes [`like_contains`] + [`sql_string`], as an engine reads them.
    fn unlike(sql: &str) -> String {
        let inner = sql.strip_prefix("'%").unwrap().strip_suffix("%'").unwrap();
        let unquoted = inner.replace("''", "'");
        let mut out = String::new();
        let mut chars = unquoted.chars();
        while let Some(c) = chars.next() {
            if c == LIKE_ESCAPE {
                out.push(chars.next().expect("escape at the end"));
            } else {
                assert!(c != '%' && c != '_', "unescaped wildcard in {sql}");
                out.push(c);
            }
        }
        out
    }

    #[test]
    fn every_rule_literal_round_trips_in_every_language() {
        let rules = crate::rules::load(None).expect("embedded rules");
        let mut tricky = 0;
        for lit in rules.matcher.literals() {
            if lit.contains(['\'', '"', '(', '\\', '%', '_', '.', '$']) {
                tricky += 1;
            }
            let re = regex::Regex::new(&format!("^(?:{})$", regex_literal(lit))).unwrap();
            assert!(re.is_match(lit), "regex {lit:?}");
            assert_eq!(unlike(&sql_string(&like_contains(lit))), *lit);
            let q = insights_string(lit);
            let mut back = String::new();
            let mut chars = q[1..q.len() - 1].chars();
            while let Some(c) = chars.next() {
                assert!(c != '"', "unescaped quote in {q}");
                back.push(if c == '\\' { chars.next().unwrap() } else { c });
            }
            assert_eq!(back, *lit);
        }
        assert!(
            tricky > 20,
            "the rule set should exercise quotes and parentheses"
        );
    }

    #[test]
    fn shell_words() {
        assert_eq!(shell_word("/aws/lambda/Rot-1"), "/aws/lambda/Rot-1");
        assert_eq!(shell_word("a b"), "'a b'");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
        assert_eq!(shell_word(""), "''");
    }

    #[test]
    fn insights_strings() {
        assert_eq!(
            insights_string("2024/05/01/[$LATEST]ab\"c\\"),
            "\"2024/05/01/[$LATEST]ab\\\"c\\\\\""
        );
    }
}
