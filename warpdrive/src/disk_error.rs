//! Why the file system refused what warpdrive asked of it, always naming the path: reading
//! what is offered, and writing what arrives under the download directory.

use std::path::{Path, PathBuf};

use protocols::warpdrive::PathError;

/// A file-system failure and the path it happened at.
#[derive(Debug, thiserror::Error)]
pub enum DiskError {
    /// A system call failed (not found, permission, no space, ...).
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// A symbolic link where a download would write: nothing goes through it.
    #[error("{}: is a symbolic link; nothing is written through it", .0.display())]
    Link(PathBuf),
    /// Something that is not a directory where one is needed.
    #[error("{}: is not a directory", .0.display())]
    NotDir(PathBuf),
    /// Something that is not a regular file where warp's partial file goes.
    #[error("{}: exists and is not a file", .0.display())]
    NotFile(PathBuf),
    /// A directory where a received file would take its name.
    #[error("{}: is a directory", .0.display())]
    IsDir(PathBuf),
    /// A different file where a received one would take its name: it is left alone.
    #[error("{}: exists and is not the offered file; nothing was overwritten", .0.display())]
    Occupied(PathBuf),
    /// An offered file that is no longer what the offer says (size or time differ).
    #[error("{}: changed since the offer was made", .0.display())]
    Stale(PathBuf),
    /// Neither a regular file nor a directory (a device, a socket, a pipe).
    #[error("{}: not a file or directory", .0.display())]
    Special(PathBuf),
    /// A path whose name cannot be an entry (no name, not UTF-8, refused by the protocol).
    #[error("{}: {why}", path.display())]
    BadName {
        /// The path.
        path: PathBuf,
        /// Why its name does not do.
        why: NameError,
    },
    /// Two paths offered together with the same name.
    #[error("two paths are named {0:?}")]
    SameName(String),
}

/// Why a local name cannot be an entry's name.
#[derive(Debug, thiserror::Error)]
pub enum NameError {
    /// No last component, or one that is not UTF-8.
    #[error("has no usable name")]
    Unusable,
    /// The protocol refuses it.
    #[error("{0}")]
    Refused(#[from] PathError),
}

impl DiskError {
    /// Wraps a system error at `path`: `.map_err(DiskError::at(&path))`.
    pub fn at(path: &Path) -> impl Fn(std::io::Error) -> DiskError + Copy + '_ {
        move |source| DiskError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
