//! The message catalog (`rules/catalog/*.toml`, embedded as `CATALOG` by `build.rs`): facts, not
//! rules. Each entry is a message real code prints when a rotation fails, where it is printed
//! (repository, path, ref and line; a package; a documentation page) and the cause it points to
//! (`rules/catalog/README.md` is the schema). `rotdiag explain CAUSE` shows the messages behind a
//! cause with their sources; only the fields it shows are read here.

use serde::Deserialize;

use super::compile::catalog_files;

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    message: Vec<Message>,
}

/// One catalogued message.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct Message {
    pub(crate) id: String,
    #[serde(default)]
    pub(crate) text: String,
    /// `exception`, `log` or `platform`.
    pub(crate) kind: Option<String>,
    pub(crate) exception: Option<String>,
    pub(crate) language: Option<String>,
    pub(crate) engine: Option<String>,
    pub(crate) step: Option<String>,
    /// `context` for a progress line, which points to no cause.
    pub(crate) role: Option<String>,
    pub(crate) cause: Option<String>,
    pub(crate) source: Option<Source>,
    pub(crate) origin: Option<Source>,
}

/// Where a message is printed.
#[derive(Clone, Debug, Deserialize)]
pub(crate) struct Source {
    repo: Option<String>,
    path: Option<String>,
    #[serde(rename = "ref")]
    reference: Option<String>,
    line: Option<u64>,
    symbol: Option<String>,
    package: Option<String>,
    version: Option<String>,
    url: Option<String>,
    doc: Option<String>,
    section: Option<String>,
}

impl std::fmt::Display for Source {
    /// A link a reader can follow: a GitHub permalink for a repository (`#L<line>` when known),
    /// the package and version, or the page.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let (Some(repo), Some(path)) = (&self.repo, &self.path) {
            let r = self.reference.as_deref().unwrap_or("HEAD");
            write!(f, "https://github.com/{repo}/blob/{r}/{path}")?;
            if let Some(l) = self.line {
                write!(f, "#L{l}")?;
            } else if let Some(s) = &self.symbol {
                write!(f, " ({s})")?;
            }
            return Ok(());
        }
        if let Some(p) = &self.package {
            write!(f, "{p}")?;
            if let Some(v) = &self.version {
                write!(f, " {v}")?;
            }
            if let Some(path) = &self.path {
                write!(f, " {path}")?;
            }
            if let Some(l) = self.line {
                write!(f, ":{l}")?;
            }
            return Ok(());
        }
        let page = self.url.as_deref().or(self.doc.as_deref()).unwrap_or("");
        f.write_str(page)?;
        if let Some(s) = &self.section {
            write!(f, " ({s})")?;
        }
        Ok(())
    }
}

/// Every catalogued message, in file order. A file that does not parse is a build defect the
/// catalog's own tests catch; here it is skipped rather than stop `explain`.
pub(crate) fn messages() -> Vec<Message> {
    catalog_files()
        .iter()
        .filter_map(|(_, text)| toml::from_str::<File>(text).ok())
        .flat_map(|f| f.message)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_catalog_file_parses_and_names_its_sources() {
        for (path, text) in catalog_files() {
            if path.ends_with("README.md") {
                continue;
            }
            let file: File = toml::from_str(text).unwrap_or_else(|e| panic!("{path}: {e}"));
            assert!(!file.message.is_empty(), "{path}");
            for m in &file.message {
                let s = m.source.as_ref().or(m.origin.as_ref());
                let shown = s.map(ToString::to_string).unwrap_or_default();
                assert!(!shown.is_empty(), "{path}: {} has no source", m.id);
            }
        }
        assert!(messages().len() > 400);
    }

    #[test]
    fn a_repository_source_is_a_permalink() {
        let s: Source = toml::from_str(
            r#"repo = "PyMySQL/PyMySQL"
path = "pymysql/err.py"
ref = "v1.1.1"
line = 120"#,
        )
        .unwrap();
        assert_eq!(
            s.to_string(),
            "https://github.com/PyMySQL/PyMySQL/blob/v1.1.1/pymysql/err.py#L120"
        );
    }
}
