//! What a folder walk reads, as ripgrep and fd decide it:
//!
//! * hidden entries (a name starting with `.`: `.git/`, `.DS_Store`) are skipped, unless
//!   `--hidden`; a path named on the command line is always read, hidden or not;
//! * symbolic links met inside a folder are not followed, unless `-L`/`--follow`; a path named on
//!   the command line is followed (`rotdiag ./latest` where `latest` links to an export);
//! * each file is read once: files are known by device and inode (on Unix; by canonical path
//!   elsewhere), so a file reached twice (two overlapping arguments, two links to it, a link and
//!   its target) counts once;
//! * a symbolic link loop (with `--follow`) is reported and skipped, never walked.
//!
//! Folders are walked in sorted order, so the inputs and the report do not depend on the order
//! the file system lists entries in.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use super::{InputSpec, describe_io};

/// The walk rules a run uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WalkRules {
    /// Read hidden files and folders (`--hidden`).
    pub hidden: bool,
    /// Follow symbolic links inside folders (`-L`, `--follow`).
    pub follow: bool,
}

/// Something about a path that is not a file to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WalkProblem {
    pub(crate) source: String,
    pub(crate) message: String,
    /// True when the path named data that could not be read (a missing file, an unreadable
    /// folder); false for what was skipped on purpose (a symlink loop, an empty folder).
    pub(crate) unread: bool,
}

/// Identity of a file, for reading each once.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum FileId {
    #[cfg(unix)]
    Inode(u64, u64),
    #[cfg_attr(unix, allow(dead_code))]
    Path(PathBuf),
}

fn file_id(path: &Path, meta: &std::fs::Metadata) -> FileId {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let _ = path;
        FileId::Inode(meta.dev(), meta.ino())
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        FileId::Path(std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()))
    }
}

/// Expands the command line's paths into inputs: `-` (or nothing) is stdin, a folder is walked
/// by the rules, a file is read as it is.
pub(crate) fn expand(paths: &[PathBuf], rules: WalkRules) -> (Vec<InputSpec>, Vec<WalkProblem>) {
    let mut specs = Vec::new();
    let problems = expand_each(paths, rules, &mut |spec| specs.push(spec));
    (specs, problems)
}

/// [`expand`], handing each input to `each` as the walk finds it (in the same order), so a run
/// can read the first inputs of a big folder while the rest is walked.
pub(crate) fn expand_each(
    paths: &[PathBuf],
    rules: WalkRules,
    each: &mut dyn FnMut(InputSpec),
) -> Vec<WalkProblem> {
    let mut w = Walk {
        rules,
        seen: HashSet::new(),
        each,
        problems: Vec::new(),
    };
    if paths.is_empty() {
        (w.each)(InputSpec::Stdin);
    }
    for p in paths {
        if p.as_os_str() == "-" {
            (w.each)(InputSpec::Stdin);
            continue;
        }
        match std::fs::metadata(p) {
            Err(e) => w.problem(p, describe_io(&e), true),
            Ok(m) if m.is_dir() => w.folder(p),
            Ok(m) => {
                w.file(p.clone(), &m);
            }
        }
    }
    w.problems
}

struct Walk<'a> {
    rules: WalkRules,
    seen: HashSet<FileId>,
    each: &'a mut dyn FnMut(InputSpec),
    problems: Vec<WalkProblem>,
}

impl Walk<'_> {
    fn problem(&mut self, p: &Path, message: String, unread: bool) {
        self.problems.push(WalkProblem {
            source: p.display().to_string(),
            message,
            unread,
        });
    }

    /// Adds a file unless it was added before.
    fn file(&mut self, p: PathBuf, meta: &std::fs::Metadata) -> bool {
        if self.seen.insert(file_id(&p, meta)) {
            (self.each)(InputSpec::File(p));
            return true;
        }
        false
    }

    fn folder(&mut self, root: &Path) {
        let hidden = self.rules.hidden;
        let walker = walkdir::WalkDir::new(root)
            .follow_links(self.rules.follow)
            .sort_by(by_name)
            .into_iter()
            .filter_entry(move |e| hidden || e.depth() == 0 || !is_hidden(e.file_name()));
        let mut files = 0;
        for entry in walker {
            match entry {
                Ok(e) if e.file_type().is_file() => {
                    let meta = match e.metadata() {
                        Ok(m) => m,
                        Err(err) => {
                            self.problem(e.path(), err.to_string(), true);
                            continue;
                        }
                    };
                    files += 1;
                    self.file(e.into_path(), &meta);
                }
                Ok(_) => {}
                Err(e) => {
                    let at = e.path().unwrap_or(root).to_path_buf();
                    if e.loop_ancestor().is_some() {
                        self.problem(&at, "symbolic link loop: not followed".into(), false);
                    } else {
                        let msg = e.io_error().map_or_else(|| e.to_string(), describe_io);
                        self.problem(&at, msg, true);
                    }
                }
            }
        }
        if files == 0 {
            let why = if self.rules.hidden {
                "folder holds no files"
            } else {
                "folder holds no files (hidden ones are skipped; --hidden reads them)"
            };
            self.problem(root, why.into(), true);
        }
    }
}

/// The order of entries of one folder: by file name, as walkdir's `sort_by_file_name`, compared
/// as whole paths. Entries of a folder are its path joined with their names, the same prefix for
/// all of them, so their paths compare as their names do; `DirEntry::file_name` parses the path
/// from the back at every comparison (a folder of an S3 export holds thousands of streams: 0.9 %
/// of a folder run's instructions).
fn by_name(a: &walkdir::DirEntry, b: &walkdir::DirEntry) -> std::cmp::Ordering {
    a.path().as_os_str().cmp(b.path().as_os_str())
}

fn is_hidden(name: &std::ffi::OsStr) -> bool {
    name.to_str().is_some_and(|n| n.starts_with('.'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(specs: &[InputSpec], root: &Path) -> Vec<String> {
        specs
            .iter()
            .map(|s| match s {
                InputSpec::File(p) => p.strip_prefix(root).unwrap_or(p).display().to_string(),
                InputSpec::Stdin => "-".into(),
            })
            .collect()
    }

    #[test]
    fn hidden_entries_are_skipped_unless_asked() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join(".git")).unwrap();
        std::fs::write(d.path().join(".git/HEAD"), "x").unwrap();
        std::fs::write(d.path().join(".hidden.log"), "x").unwrap();
        std::fs::write(d.path().join("a.log"), "x").unwrap();
        let (specs, problems) = expand(&[d.path().to_path_buf()], WalkRules::default());
        assert_eq!(names(&specs, d.path()), ["a.log"]);
        assert!(problems.is_empty());
        let rules = WalkRules {
            hidden: true,
            ..Default::default()
        };
        let (specs, _) = expand(&[d.path().to_path_buf()], rules);
        assert_eq!(
            names(&specs, d.path()),
            [".git/HEAD", ".hidden.log", "a.log"]
        );
        // Named on the command line: read.
        let (specs, _) = expand(&[d.path().join(".hidden.log")], WalkRules::default());
        assert_eq!(specs.len(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn links_are_followed_only_when_asked_and_each_file_is_read_once() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        std::fs::create_dir_all(root.join("logs/sub")).unwrap();
        std::fs::write(root.join("logs/a.log"), "x").unwrap();
        std::fs::write(root.join("logs/sub/b.log"), "x").unwrap();
        std::os::unix::fs::symlink(root.join("logs/a.log"), root.join("logs/link.log")).unwrap();
        std::os::unix::fs::symlink(root.join("logs"), root.join("logs/sub/loop")).unwrap();
        let (specs, problems) = expand(&[root.join("logs")], WalkRules::default());
        assert_eq!(names(&specs, root), ["logs/a.log", "logs/sub/b.log"]);
        assert!(problems.is_empty(), "{problems:?}");
        let follow = WalkRules {
            follow: true,
            ..Default::default()
        };
        let (specs, problems) = expand(&[root.join("logs")], follow);
        // link.log is a.log; the loop is reported, not walked.
        assert_eq!(names(&specs, root), ["logs/a.log", "logs/sub/b.log"]);
        assert!(
            problems
                .iter()
                .any(|p| !p.unread && p.message.contains("loop")),
            "{problems:?}"
        );
        // Overlapping arguments: each file once.
        let (specs, _) = expand(
            &[
                root.join("logs"),
                root.join("logs/a.log"),
                root.join("logs/sub"),
            ],
            WalkRules::default(),
        );
        assert_eq!(names(&specs, root), ["logs/a.log", "logs/sub/b.log"]);
    }

    #[test]
    fn a_missing_path_is_a_problem_not_an_input() {
        let (specs, problems) = expand(&[PathBuf::from("/no/such/path")], WalkRules::default());
        assert!(specs.is_empty());
        assert_eq!(problems.len(), 1);
        assert!(problems[0].unread);
    }
}
