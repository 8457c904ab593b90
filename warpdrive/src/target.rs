//! The receiving side's file system: everything an offer writes stays under the download
//! directory. Paths were already checked (relative, normal components); here no existing
//! component on the way may be a symbolic link or a non-directory, files are opened with
//! `O_NOFOLLOW`, and a file arrives as `<name>.part` and takes its name only once verified.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use protocols::warpdrive::RelPath;

/// The download directory.
#[derive(Clone, Debug)]
pub struct Target {
    root: PathBuf,
}

/// The suffix of a file still arriving.
pub const PART: &str = ".part";

impl Target {
    /// Uses (and creates) `root`.
    pub fn new(root: &Path) -> Result<Target, String> {
        std::fs::create_dir_all(root).map_err(|e| format!("{}: {e}", root.display()))?;
        Ok(Target {
            root: root.to_path_buf(),
        })
    }

    /// The final path of `rel`, after checking that every directory on the way that
    /// exists is a real directory (not a link that could lead out of the root).
    pub fn path(&self, rel: &RelPath) -> Result<PathBuf, String> {
        let mut p = self.root.clone();
        let parts: Vec<&str> = rel.components().collect();
        for (i, c) in parts.iter().enumerate() {
            p.push(c);
            let last = i + 1 == parts.len();
            match std::fs::symlink_metadata(&p) {
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(format!(
                        "{}: is a symbolic link; nothing is written through it",
                        p.display()
                    ))
                }
                Ok(m) if !last && !m.is_dir() => {
                    return Err(format!("{}: is not a directory", p.display()))
                }
                _ => {}
            }
        }
        Ok(p)
    }

    /// Creates the directory `rel` (and the ones above it).
    pub fn make_dir(&self, rel: &RelPath) -> Result<PathBuf, String> {
        let p = self.path(rel)?;
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.is_dir() => Ok(p),
            Ok(_) => Err(format!("{}: exists and is not a directory", p.display())),
            Err(_) => {
                std::fs::create_dir_all(&p).map_err(|e| format!("{}: {e}", p.display()))?;
                Ok(p)
            }
        }
    }

    /// The `.part` path of `rel`.
    pub fn part_path(&self, rel: &RelPath) -> Result<PathBuf, String> {
        let p = self.path(rel)?;
        let mut name = p.file_name().unwrap_or_default().to_os_string();
        name.push(PART);
        let part = p.with_file_name(name);
        if let Ok(m) = std::fs::symlink_metadata(&part) {
            if !m.is_file() {
                return Err(format!("{}: exists and is not a file", part.display()));
            }
        }
        Ok(part)
    }

    /// Opens (creating) the `.part` file of `rel` for reading and writing, never through
    /// a symbolic link.
    pub fn open_part(&self, rel: &RelPath) -> Result<(File, PathBuf), String> {
        if let Some(parent) = rel.as_str().rsplit_once('/').map(|(p, _)| p) {
            self.make_dir(&RelPath::parse(parent).map_err(|e| e.to_string())?)?;
        }
        let part = self.part_path(rel)?;
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&part)
            .map_err(|e| format!("{}: {e}", part.display()))?;
        Ok((f, part))
    }
}
