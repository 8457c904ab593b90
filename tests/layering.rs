//! The layering rules, checked on the sources: no two files import each other (a
//! recursive data type may span two files), and only the transport module names quinn.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Pairs of files that may refer to each other: one recursive data type.
const ALLOWED: &[(&str, &str)] = &[("recon/src::record", "recon/src::value")];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// A file's module path inside its crate (`node::gates`), and whether it is a `mod.rs`.
fn module_of(root: &Path, file: &Path) -> (Vec<String>, bool) {
    let rel = file.strip_prefix(root).unwrap().with_extension("");
    let mut parts: Vec<String> = rel.iter().map(|s| s.to_string_lossy().into()).collect();
    let dir_module = matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    );
    if dir_module {
        parts.pop();
    }
    (parts, dir_module)
}

/// The code of a file before its unit tests, without line comments.
fn code(file: &Path) -> String {
    let text = std::fs::read_to_string(file).unwrap();
    let text = text.split("#[cfg(test)]").next().unwrap_or("");
    text.lines()
        .map(|l| l.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The paths a file names through `crate::` or `super::` (groups expanded).
fn references(code: &str, here: &[String]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for (kw, base) in [("crate::", Vec::new()), ("super::", parent(here))] {
        let mut rest = code;
        while let Some(i) = rest.find(kw) {
            let before = rest[..i].chars().last();
            rest = &rest[i + kw.len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let mut base = base.clone();
            let mut tail = rest;
            while let Some(t) = tail.strip_prefix("super::") {
                base = parent(&base);
                tail = t;
            }
            if let Some(group) = tail.strip_prefix('{') {
                let group = &group[..group.find('}').unwrap_or(0)];
                for item in group.split(',') {
                    let mut p = base.clone();
                    p.extend(path_words(item.trim()));
                    out.push(p);
                }
            } else {
                let mut p = base.clone();
                p.extend(path_words(tail));
                out.push(p);
            }
        }
    }
    out
}

fn parent(m: &[String]) -> Vec<String> {
    m[..m.len().saturating_sub(1)].to_vec()
}

fn path_words(s: &str) -> Vec<String> {
    let end = s
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(s.len());
    s[..end]
        .split("::")
        .filter(|w| !w.is_empty())
        .map(String::from)
        .collect()
}

#[test]
fn no_two_files_import_each_other() {
    let top = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for krate in ["src", "warpdrive/src", "protocols/src", "recon/src"] {
        let root = top.join(krate);
        let mut files = Vec::new();
        rust_files(&root, &mut files);
        let modules: BTreeMap<Vec<String>, &PathBuf> =
            files.iter().map(|f| (module_of(&root, f).0, f)).collect();
        for f in &files {
            let (here, dir_module) = module_of(&root, f);
            // In a `mod.rs`, `super` is the parent of the directory's module.
            let scope = if dir_module {
                let mut s = here.clone();
                s.push(String::new());
                s
            } else {
                here.clone()
            };
            for r in references(&code(f), &scope) {
                let target = (1..=r.len())
                    .rev()
                    .map(|n| r[..n].to_vec())
                    .find(|m| modules.contains_key(m));
                if let Some(t) = target.filter(|t| *t != here && !t.is_empty()) {
                    edges
                        .entry(format!("{krate}::{}", here.join("::")))
                        .or_default()
                        .insert(format!("{krate}::{}", t.join("::")));
                }
            }
        }
    }
    assert!(edges.len() > 50, "the scan found too few files: {edges:?}");
    let mut circles = Vec::new();
    for (a, targets) in &edges {
        for b in targets {
            let back = edges.get(b).is_some_and(|t| t.contains(a));
            if back && a < b && !ALLOWED.contains(&(a.as_str(), b.as_str())) {
                circles.push(format!("{a} <-> {b}"));
            }
        }
    }
    assert!(
        circles.is_empty(),
        "files that import each other: {circles:#?}"
    );
}

#[test]
fn only_the_transport_module_names_quinn() {
    let top = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["src", "warpdrive/src", "protocols/src", "recon/src"] {
        rust_files(&top.join(dir), &mut files);
    }
    let transport = top.join("src/transport");
    let naming: Vec<_> = files
        .iter()
        .filter(|f| !f.starts_with(&transport))
        .filter(|f| std::fs::read_to_string(f).unwrap().contains("quinn::"))
        .collect();
    assert!(naming.is_empty(), "{naming:?}");
    assert!(files.iter().any(|f| f.starts_with(&transport)));
}
