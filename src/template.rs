//! `{placeholder}` templates: the titles, explanations and remediation lines of the rules.
//!
//! A placeholder is an identifier in braces; other braces (the JSON of an IAM statement in a
//! remediation line) are text. A fact nobody found renders as `<name>`, so a command is never
//! silently wrong: the user sees what to fill in.

use std::collections::BTreeMap;

/// The `{name}` placeholders of a template: an identifier in braces. Other braces (JSON in a
/// remediation line) are text.
pub(crate) fn placeholders(template: &str) -> Vec<&str> {
    let mut out = Vec::new();
    split_template(template, |piece| {
        if let Piece::Placeholder(n) = piece {
            out.push(n);
        }
    });
    out
}

enum Piece<'a> {
    Text(&'a str),
    Placeholder(&'a str),
}

fn split_template<'a>(template: &'a str, mut f: impl FnMut(Piece<'a>)) {
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        f(Piece::Text(&rest[..open]));
        let after = &rest[open + 1..];
        let ident = after.find('}').filter(|&c| {
            c > 0
                && after[..c]
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
        });
        match ident {
            Some(close) => {
                f(Piece::Placeholder(&after[..close]));
                rest = &after[close + 1..];
            }
            None => {
                f(Piece::Text("{"));
                rest = after;
            }
        }
    }
    f(Piece::Text(rest));
}

/// Fills `{name}` placeholders from facts; unknown ones render as `<name>` for the user to fill.
pub(crate) fn render(template: &str, facts: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(template.len());
    split_template(template, |piece| match piece {
        Piece::Text(t) => out.push_str(t),
        Piece::Placeholder(name) => match facts.get(name) {
            Some(v) => out.push_str(v),
            None => {
                out.push('<');
                out.push_str(name);
                out.push('>');
            }
        },
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_fills_known_and_marks_unknown() {
        let mut f = BTreeMap::new();
        f.insert("secret_arn".to_string(), "arn:x".to_string());
        assert_eq!(
            render("get {secret_arn} via {function_name}", &f),
            "get arn:x via <function_name>"
        );
        assert_eq!(render("json {\"a\": 1}", &f), "json {\"a\": 1}");
    }

    #[test]
    fn placeholders_are_identifiers_in_braces() {
        assert_eq!(
            placeholders("{a} {b_2} {} {not one} {\"json\": 1} {c"),
            ["a", "b_2"]
        );
    }
}
