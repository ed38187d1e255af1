//! Embeds every `rules/**/*.toml` file in the binary, so rotdiag runs with no files beside it.
//! `rules/catalog/` is not rule data (it is the message catalog: facts about what real code prints,
//! read by tests and documentation), so it is embedded apart, as `CATALOG`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn collect(dir: &Path, skip: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path == skip {
            continue;
        }
        if path.is_dir() {
            collect(&path, skip, out);
        } else if path.extension().is_some_and(|e| e == "toml") {
            out.push(path);
        }
    }
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let rules = root.join("rules");
    println!("cargo:rerun-if-changed=rules");
    let catalog = rules.join("catalog");
    let mut files = Vec::new();
    collect(&rules, &catalog, &mut files);
    files.sort();
    let mut catalog_files = Vec::new();
    collect(&catalog, Path::new(""), &mut catalog_files);
    catalog_files.sort();
    let mut src = String::new();
    embed(&mut src, "FILES", &root, &files);
    embed(&mut src, "CATALOG", &root, &catalog_files);
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("embedded_rules.rs");
    std::fs::write(out, src).unwrap();
}

fn embed(src: &mut String, name: &str, root: &Path, files: &[PathBuf]) {
    writeln!(
        src,
        "#[allow(dead_code)]\npub static {name}: &[(&str, &str)] = &["
    )
    .unwrap();
    for f in files {
        println!("cargo:rerun-if-changed={}", f.display());
        let rel = f
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        writeln!(
            src,
            "    ({rel:?}, include_str!({:?})),",
            f.display().to_string()
        )
        .unwrap();
    }
    src.push_str("];\n");
}
