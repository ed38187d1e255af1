//! Fitting text to a terminal: lines cut at a width (evidence: the full line is in the JSON),
//! prose wrapped at word boundaries, widths counted in terminal columns (a CJK character takes
//! two, a combining mark none). Paths are shown relative to the folder named on the command line.

use std::borrow::Cow;

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Columns `s` takes on a terminal.
pub(crate) fn width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// `s` cut to `max` columns, ending in `…` when cut.
pub(crate) fn cut(s: &str, max: usize) -> Cow<'_, str> {
    if width(s) <= max {
        return Cow::Borrowed(s);
    }
    let room = max.saturating_sub(1);
    let mut used = 0;
    let mut end = 0;
    for (i, c) in s.char_indices() {
        let w = c.width().unwrap_or(0);
        if used + w > room {
            break;
        }
        used += w;
        end = i + c.len_utf8();
    }
    Cow::Owned(format!("{}…", &s[..end]))
}

/// `s` in lines of at most `max` columns, broken at blanks (a word longer than a line stands on
/// its own line, whole: it may be a command or an ARN someone copies).
pub(crate) fn wrap(s: &str, max: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in s.split(' ').filter(|w| !w.is_empty()) {
        if !line.is_empty() && width(&line) + 1 + width(word) > max {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// `source` relative to the one folder named on the command line it is under (`roots`); as it
/// is otherwise (several folders could hold the same relative path).
pub(crate) fn relative<'a>(source: &'a str, roots: &[String]) -> &'a str {
    let [root] = roots else {
        return source;
    };
    let root = root.trim_end_matches('/');
    match source.strip_prefix(root) {
        Some(rest) if rest.starts_with('/') && rest.len() > 1 => &rest[1..],
        _ => source,
    }
}

/// Commands a fix may hold (after `words: `).
const COMMANDS: &[&str] = &[
    "aws ",
    "curl ",
    "psql ",
    "mysql ",
    "PGPASSWORD=",
    "MYSQL_PWD=",
    "SQLCMDPASSWORD=",
    "REDISCLI_AUTH=",
    "readelf ",
    "openssl ",
    "jq ",
    "{\"",
];

/// A fix's words and its command: what follows the first `: ` that starts like a command (an
/// `aws …` line, an IAM statement); a fix that is a command alone has `Run` for words.
pub(crate) fn split_fix(r: &str) -> (&str, Option<&str>) {
    if COMMANDS.iter().any(|c| r.starts_with(c)) {
        return ("Run", Some(r));
    }
    let mut from = 0;
    while let Some(i) = r[from..].find(": ") {
        let at = from + i;
        let rest = &r[at + 2..];
        if COMMANDS.iter().any(|c| rest.starts_with(c)) {
            return (&r[..at], Some(rest));
        }
        from = at + 2;
    }
    (r, None)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_fix_splits_into_words_and_command() {
        let r = "Run the function in the database's VPC: aws lambda update-function-configuration --function-name Fn";
        assert_eq!(
            split_fix(r),
            (
                "Run the function in the database's VPC",
                Some("aws lambda update-function-configuration --function-name Fn")
            )
        );
        assert_eq!(split_fix("aws lambda x").1, Some("aws lambda x"));
        assert_eq!(split_fix("Rotate again: later.").1, None);
    }

    use super::*;

    #[test]
    fn cut_counts_columns_and_marks_the_cut() {
        assert_eq!(cut("abcdef", 6), "abcdef");
        assert_eq!(cut("abcdef", 4), "abc…");
        assert_eq!(cut("日本語テキスト", 7), "日本語…");
        assert_eq!(width(&cut("日本語テキスト", 7)), 7);
        assert_eq!(cut("abc", 0), "…");
    }

    #[test]
    fn wrap_breaks_at_blanks_and_keeps_long_words_whole() {
        assert_eq!(wrap("one two three four", 9), ["one two", "three", "four"]);
        let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:x";
        assert_eq!(wrap(&format!("see {arn} now"), 20), ["see", arn, "now"]);
        assert_eq!(wrap("", 10), [""]);
    }

    #[test]
    fn paths_are_relative_to_the_one_folder_given() {
        let roots = vec!["exports/".to_string()];
        assert_eq!(relative("exports/t/s/000000.gz", &roots), "t/s/000000.gz");
        assert_eq!(relative("exports2/x", &roots), "exports2/x");
        assert_eq!(relative("<stdin>", &roots), "<stdin>");
        let two = vec!["a".to_string(), "b".to_string()];
        assert_eq!(relative("a/x", &two), "a/x");
    }
}
