//! `rotdiag explain CAUSE`: loads the rules (and `--rules DIR`) and prints
//! [`crate::report::explain`].

use std::io::{self, Write};
use std::path::Path;

use crate::report::egress::warn;
use crate::report::explain::{explain, near};
use crate::rules;

/// Prints the explanation of `cause`; the exit status (2 for an unknown cause or bad rules).
pub fn run(cause: &str, dir: Option<&Path>) -> io::Result<u8> {
    let rules = match rules::load(dir) {
        Ok(r) => r,
        Err(errors) => {
            for e in errors {
                warn(&format!("rule error: {e}"));
            }
            return Ok(2);
        }
    };
    match explain(&rules, cause) {
        Some(text) => {
            io::stdout().lock().write_all(text.as_bytes())?;
            Ok(0)
        }
        None => {
            let near = near(&rules, cause);
            let hint = if near.is_empty() {
                "rotdiag --list-rules lists the causes".to_string()
            } else {
                format!("did you mean {}?", near.join(", "))
            };
            warn(&format!("no cause '{cause}': {hint}"));
            Ok(2)
        }
    }
}
