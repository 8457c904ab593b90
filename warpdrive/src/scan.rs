//! Building an offer from local paths: every file and directory under them, with modes,
//! modification times and sizes, without reading any file. A file whose hashes are in
//! the cache gets them in the offer; any other is hashed as it is sent (its hashes follow
//! its bytes). Symbolic links and special files are left out (they are reported);
//! nothing is followed out of the tree.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use protocols::warpdrive::info::HASH_LEN;
use protocols::warpdrive::{Info, Kind, RelPath};
use sha2::{Digest, Sha256};

use crate::disk_error::{DiskError, NameError};
use crate::hash_cache::HashCache;

/// An offer's entries and where each one is on this machine.
#[derive(Debug, Default)]
pub struct Scanned {
    /// Entries, directories before what they hold.
    pub files: Vec<Info>,
    /// The local path of each entry.
    pub sources: Vec<String>,
    /// What was left out, and why.
    pub skipped: Vec<String>,
}

/// Scans `paths` (files or directories); each becomes a top-level entry under its own
/// name. Large files unchanged since they were last sent get their hashes (chunks of
/// `chunk_size` bytes) from `cache`; the others are marked to be hashed as they are sent.
pub fn scan(paths: &[PathBuf], chunk_size: u32, cache: &HashCache) -> Result<Scanned, DiskError> {
    let mut out = Scanned::default();
    let mut names = std::collections::HashSet::new();
    for p in paths {
        let name = p
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| DiskError::BadName {
                path: p.clone(),
                why: NameError::Unusable,
            })?;
        if !names.insert(name.to_string()) {
            return Err(DiskError::SameName(name.to_string()));
        }
        // A path given by name is what the user means: a link there shares its target.
        let meta = std::fs::metadata(p).map_err(DiskError::at(p))?;
        add(&mut out, p, name, &meta, chunk_size, cache)?;
    }
    Ok(out)
}

/// The size of the largest regular file under `paths` (links inside directories are not
/// followed, as in [`scan`]).
pub fn largest(paths: &[PathBuf]) -> Result<u64, DiskError> {
    let mut max = 0;
    for p in paths {
        let meta = std::fs::metadata(p).map_err(DiskError::at(p))?;
        let mut stack = vec![(p.clone(), meta)];
        while let Some((p, meta)) = stack.pop() {
            if meta.is_file() {
                max = max.max(meta.len());
            } else if meta.is_dir() {
                let list = std::fs::read_dir(&p).map_err(DiskError::at(&p))?;
                for e in list.flatten() {
                    if let Ok(m) = std::fs::symlink_metadata(e.path()) {
                        stack.push((e.path(), m));
                    }
                }
            }
        }
    }
    Ok(max)
}

/// Adds `path` as entry `rel` and, for a directory, everything under it (an explicit
/// stack: no recursion however deep the tree).
fn add(
    out: &mut Scanned,
    path: &Path,
    rel: &str,
    meta: &std::fs::Metadata,
    chunk_size: u32,
    cache: &HashCache,
) -> Result<(), DiskError> {
    let mut stack = vec![(path.to_path_buf(), rel.to_string(), meta.clone())];
    while let Some((path, rel, meta)) = stack.pop() {
        let relp = RelPath::parse(&rel).map_err(|e| DiskError::BadName {
            path: path.clone(),
            why: e.into(),
        })?;
        if meta.is_dir() {
            out.files
                .push(info(relp, Kind::Dir, &meta, [0; HASH_LEN], Vec::new(), 0));
            out.sources.push(path.display().to_string());
            let mut children: Vec<_> = std::fs::read_dir(&path)
                .map_err(DiskError::at(&path))?
                .filter_map(|e| e.ok())
                .collect();
            // Reversed, so the stack yields them in name order.
            children.sort_by_key(|e| std::cmp::Reverse(e.file_name()));
            for c in children {
                let cpath = c.path();
                let Some(name) = c.file_name().to_str().map(str::to_string) else {
                    out.skipped
                        .push(format!("{}: name is not UTF-8", cpath.display()));
                    continue;
                };
                let cmeta = std::fs::symlink_metadata(&cpath).map_err(DiskError::at(&cpath))?;
                let ft = cmeta.file_type();
                if ft.is_symlink() {
                    out.skipped
                        .push(format!("{}: a symbolic link", cpath.display()));
                } else if ft.is_dir() || ft.is_file() {
                    stack.push((cpath, format!("{rel}/{name}"), cmeta));
                } else {
                    out.skipped
                        .push(format!("{}: not a regular file", cpath.display()));
                }
            }
        } else if meta.is_file() {
            let mut entry = match cache.cached(&meta, chunk_size) {
                Some((sha256, chunks, size)) => info(relp, Kind::File, &meta, sha256, chunks, size),
                None if meta.len() == 0 => {
                    let empty = Sha256::digest([]).into();
                    info(relp, Kind::File, &meta, empty, Vec::new(), 0)
                }
                None => info(
                    relp,
                    Kind::File,
                    &meta,
                    [0; HASH_LEN],
                    Vec::new(),
                    meta.len(),
                ),
            };
            entry.streamed = entry.size > 0 && entry.chunks.is_empty();
            out.files.push(entry);
            out.sources.push(path.display().to_string());
        } else {
            return Err(DiskError::Special(path));
        }
    }
    Ok(())
}

fn info(
    path: RelPath,
    kind: Kind,
    meta: &std::fs::Metadata,
    sha256: [u8; HASH_LEN],
    chunks: Vec<[u8; HASH_LEN]>,
    size: u64,
) -> Info {
    Info {
        path,
        kind,
        mode: meta.permissions().mode() & 0o7777,
        mtime: meta.mtime(),
        mtime_ns: meta.mtime_nsec().clamp(0, 999_999_999) as u32,
        size,
        sha256,
        chunks,
        streamed: false,
    }
}
