//! Why receiving an offer's bytes stopped on this side: the file system, an offer whose
//! tree is malformed, bytes that do not match their hash, or a stream of the wrong length.

use crate::disk_error::DiskError;

/// Why the receiving side stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReceiveError {
    /// The download directory refused a read or a write.
    #[error(transparent)]
    Disk(#[from] DiskError),
    /// The offer's entries do not form a tree.
    #[error(transparent)]
    Tree(#[from] TreeError),
    /// A chunk did not match the offer's hash (its verified prefix is kept).
    #[error("{0}")]
    Mismatch(String),
    /// More bytes arrived than the offer holds.
    #[error("the sender sent more bytes than the offer holds")]
    TooLong,
    /// The stream ended before the last entry.
    #[error("the sender stopped before the end of the offer")]
    Short,
    /// The writing thread panicked (a bug).
    #[error("the writer thread panicked")]
    Panicked,
}

/// Why an offer's entries do not form a tree.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    /// An entry whose directory is not an earlier entry.
    #[error("{path}: its directory {parent:?} is not an earlier entry")]
    Orphan {
        /// The entry.
        path: String,
        /// Its directory.
        parent: String,
    },
    /// A path named twice.
    #[error("{0}: named twice")]
    Twice(String),
}
