//! The receiving side's file system: everything an offer writes stays under the download
//! directory. Paths were already checked (relative, normal components); here no existing
//! component on the way may be a symbolic link or a non-directory, files are opened with
//! `O_NOFOLLOW`, and a file arrives under a name private to warp and to its offer,
//! `.<name>.<offer>.warp-part`, and takes its name only once verified: a file of the user's
//! such as `<name>.part` is never mistaken for warp's.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use protocols::warpdrive::RelPath;

use crate::disk_error::{DiskError, NameError};

/// The download directory of one offer.
#[derive(Clone, Debug)]
pub struct Target {
    root: PathBuf,
    /// The start of the offer's id, in the names of its partial files.
    tag: String,
}

/// The suffix of a file still arriving.
pub const PART: &str = ".warp-part";

/// Characters of the offer id in a partial file's name.
const TAG_LEN: usize = 12;

/// Bytes of the entry's own name kept in its partial file's name, so that the whole name
/// stays within `NAME_MAX` (255).
const NAME_KEPT: usize = 255 - 2 - TAG_LEN - PART.len();

impl Target {
    /// Flushes everything written under the target to the disk: file data, the renames
    /// that gave files their names, and the directories (one `syncfs` of the target's
    /// file system, rather than an fsync per file and per directory).
    pub fn sync(&self) -> Result<(), DiskError> {
        use std::os::fd::AsRawFd;
        let dir = std::fs::File::open(&self.root).map_err(DiskError::at(&self.root))?;
        // SAFETY: syncfs on a descriptor we hold open; it reads nothing of ours.
        if unsafe { libc::syncfs(dir.as_raw_fd()) } != 0 {
            return Err(DiskError::at(&self.root)(std::io::Error::last_os_error()));
        }
        Ok(())
    }

    /// Uses (and creates) `root` for the offer `offer` (its id).
    pub fn new(root: &Path, offer: &str) -> Result<Target, DiskError> {
        std::fs::create_dir_all(root).map_err(DiskError::at(root))?;
        Ok(Target {
            root: root.to_path_buf(),
            tag: offer.chars().take(TAG_LEN).collect(),
        })
    }

    /// The final path of `rel`, after checking that every directory on the way that
    /// exists is a real directory (not a link that could lead out of the root).
    pub fn path(&self, rel: &RelPath) -> Result<PathBuf, DiskError> {
        let mut p = self.root.clone();
        let parts: Vec<&str> = rel.components().collect();
        for (i, c) in parts.iter().enumerate() {
            p.push(c);
            let last = i + 1 == parts.len();
            match std::fs::symlink_metadata(&p) {
                Ok(m) if m.file_type().is_symlink() => return Err(DiskError::Link(p)),
                Ok(m) if !last && !m.is_dir() => return Err(DiskError::NotDir(p)),
                _ => {}
            }
        }
        Ok(p)
    }

    /// Creates the directory `rel` (and the ones above it).
    pub fn make_dir(&self, rel: &RelPath) -> Result<PathBuf, DiskError> {
        let p = self.path(rel)?;
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.is_dir() => Ok(p),
            Ok(_) => Err(DiskError::NotDir(p)),
            Err(_) => {
                std::fs::create_dir_all(&p).map_err(DiskError::at(&p))?;
                Ok(p)
            }
        }
    }

    /// The partial file's path of `rel`: `.<name>.<offer>.warp-part` beside it.
    pub fn part_path(&self, rel: &RelPath) -> Result<PathBuf, DiskError> {
        let p = self.path(rel)?;
        let full = rel.components().last().unwrap_or_default();
        let mut cut = full.len().min(NAME_KEPT);
        while !full.is_char_boundary(cut) {
            cut -= 1;
        }
        let part = p.with_file_name(format!(".{}.{}{PART}", &full[..cut], self.tag));
        if let Ok(m) = std::fs::symlink_metadata(&part) {
            if !m.is_file() {
                return Err(DiskError::NotFile(part));
            }
        }
        Ok(part)
    }

    /// Opens (creating) the `.part` file of `rel` for reading and writing, never through
    /// a symbolic link.
    pub fn open_part(&self, rel: &RelPath) -> Result<(File, PathBuf), DiskError> {
        if let Some(parent) = rel.as_str().rsplit_once('/').map(|(p, _)| p) {
            let rel = RelPath::parse(parent).map_err(|e| DiskError::BadName {
                path: self.root.join(parent),
                why: NameError::Refused(e),
            })?;
            self.make_dir(&rel)?;
        }
        let part = self.part_path(rel)?;
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&part)
            .map_err(DiskError::at(&part))?;
        Ok((f, part))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_names_are_private_to_warp_and_the_offer_and_fit_name_max() {
        let dir = tempfile::tempdir().unwrap();
        let t = Target::new(dir.path(), "0123456789abcdef0123").unwrap();
        let rel = RelPath::parse("docs/report").unwrap();
        assert_eq!(
            t.part_path(&rel).unwrap(),
            dir.path().join("docs/.report.0123456789ab.warp-part")
        );
        let long = "é".repeat(127);
        let p = t.part_path(&RelPath::parse(&long).unwrap()).unwrap();
        let name = p.file_name().unwrap().to_str().unwrap();
        assert!(
            name.len() <= 255 && name.ends_with(".0123456789ab.warp-part"),
            "{name}"
        );
    }
}
