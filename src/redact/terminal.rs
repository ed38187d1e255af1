//! Text for a terminal: control characters from a log line made visible instead of obeyed.
//!
//! A log line can hold a carriage return (which moves the cursor back and lets the rest of the
//! line overwrite the evidence before it), ESC and CSI sequences (C0 `ESC [`, C1 `U+009B`) that
//! recolour, move or clear the screen, and bidirectional overrides (`U+202E`) that reorder what
//! is shown. [`escape_controls`] writes each as a visible escape (`\r`, `\x1b`, `\u{9b}`,
//! `\u{202e}`); newline and tab are layout and stay.

use std::borrow::Cow;
use std::fmt::Write;

/// Is `c` a character that must not reach a terminal raw?
pub fn is_control(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || ('\u{202A}'..='\u{202E}').contains(&c)
        || ('\u{2066}'..='\u{2069}').contains(&c)
}

/// `s` with every control character (but newline and tab) written as a visible escape.
pub fn escape_controls(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\r' => out.push_str("\\r"),
            c if is_control(c) && (c as u32) < 0x80 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if is_control(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::escape_controls;

    #[test]
    fn controls_become_visible() {
        assert_eq!(escape_controls("a\rb"), "a\\rb");
        assert_eq!(escape_controls("\x1b[2Jx"), "\\x1b[2Jx");
        assert_eq!(escape_controls("\u{9b}2J"), "\\u{9b}2J");
        assert_eq!(escape_controls("x\u{202e}y\x7f"), "x\\u{202e}y\\x7f");
        assert_eq!(escape_controls("a\tb\nc ✓"), "a\tb\nc ✓");
    }
}
