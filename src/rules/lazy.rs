//! Rule regexes, compiled by the first line that needs one.
//!
//! Compiling every rule regex at start cost about 40 M instructions, half of what a one-line
//! input cost once the literal automaton's DFA was built on demand (`matcher`); most of them run
//! only behind a needle a small input never holds. At load a regex is only parsed, which finds
//! every syntax error (with the message `regex::bytes::Regex::new` gives: the same parser, the
//! same configuration) and names its groups, which the rule set needs before any line is read.
//! What parsing cannot find, a regex too big to compile, is found by compiling: the embedded
//! rules' regexes are all compiled by a test, and rules given with `--rules` are compiled at load
//! (`compile::load`), so that [`LazyRegex::get`] never meets an error.

use std::fmt;
use std::sync::OnceLock;

use regex::bytes::Regex;
use regex_automata::util::syntax;
use regex_syntax::hir::{Hir, HirKind};

/// A regex of the rules: its source, its group names, and the compiled regex once needed.
pub(crate) struct LazyRegex {
    source: String,
    /// Group names by group index (0, the whole match, has none).
    names: Vec<Option<String>>,
    compiled: OnceLock<Regex>,
}

impl LazyRegex {
    /// Parses `source` as `regex::bytes::Regex::new` would, and returns its error message if it
    /// does not parse.
    pub(crate) fn new(source: &str) -> Result<LazyRegex, String> {
        let hir = syntax::parse_with(source, &syntax::Config::new().utf8(false))
            .map_err(|e| e.to_string())?;
        let mut names = vec![None; hir.properties().explicit_captures_len() + 1];
        collect_names(&hir, &mut names);
        Ok(LazyRegex {
            source: source.to_owned(),
            names,
            compiled: OnceLock::new(),
        })
    }

    /// The compiled regex (compiled now if this is its first use). Threads that need it while
    /// it compiles wait for it: racing, each compiled its own copy and all but one were
    /// dropped (with `-j 2` on 16 MiB of S3-export text, 13 compiles of 12 regexes, 25.2 M
    /// instructions instead of 18.8 M).
    pub(crate) fn get(&self) -> &Regex {
        self.compiled
            .get_or_init(|| match Regex::new(&self.source) {
                Ok(re) => re,
                Err(e) => panic!("rule regex checked at load does not compile: {e}"),
            })
    }

    /// Compiles the regex now unless it is compiled; the error is `Regex::new`'s message.
    pub(crate) fn compile(&self) -> Result<&Regex, String> {
        if let Some(re) = self.compiled.get() {
            return Ok(re);
        }
        let re = Regex::new(&self.source).map_err(|e| e.to_string())?;
        Ok(self.compiled.get_or_init(|| re))
    }

    /// The names of the groups, by group index, as `Regex::capture_names` gives them.
    pub(crate) fn capture_names(&self) -> impl Iterator<Item = Option<&str>> {
        self.names.iter().map(Option::as_deref)
    }
}

impl fmt::Debug for LazyRegex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("LazyRegex").field(&self.source).finish()
    }
}

/// Records the name of every named group in `hir` at its index.
fn collect_names(hir: &Hir, names: &mut [Option<String>]) {
    match hir.kind() {
        HirKind::Capture(c) => {
            if let (Some(name), Some(slot)) = (&c.name, names.get_mut(c.index as usize)) {
                *slot = Some(name.to_string());
            }
            collect_names(&c.sub, names);
        }
        HirKind::Repetition(r) => collect_names(&r.sub, names),
        HirKind::Concat(subs) | HirKind::Alternation(subs) => {
            for sub in subs {
                collect_names(sub, names);
            }
        }
        HirKind::Empty | HirKind::Literal(_) | HirKind::Class(_) | HirKind::Look(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_errors_are_the_compiled_regexs() {
        for re in [
            r"(?P<missing_key>\w+) key is missing from (secret|SECRET) (?P<x>J(?P<y>S)?ON)",
            r"plain",
            r"(a)|(?<b>b)*",
        ] {
            let lazy = LazyRegex::new(re).unwrap();
            let eager = Regex::new(re).unwrap();
            let want: Vec<Option<&str>> = eager.capture_names().collect();
            assert_eq!(lazy.capture_names().collect::<Vec<_>>(), want, "{re}");
            assert_eq!(lazy.get().as_str(), eager.as_str());
        }
        for bad in ["timed( out", "a{2,1}", r"\p{Nope}"] {
            let want = Regex::new(bad).unwrap_err().to_string();
            assert_eq!(LazyRegex::new(bad).unwrap_err(), want, "{bad}");
        }
    }
}
