//! Why an offer could not be made: the peer, the paths, or this node's store. An offer
//! that was made but not delivered is not an error: it is recorded as failed, with why.

use protocols::warpdrive::EncodeError;

use crate::disk_error::DiskError;
use crate::net::NetError;
use crate::store_error::StoreError;

/// Why an offer could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ShareError {
    /// The peer is not one this node can name.
    #[error("{0}")]
    Peer(NetError),
    /// No paths were given.
    #[error("nothing to share")]
    Nothing,
    /// A path could not be read (missing, unreadable, changed while hashed, special).
    #[error(transparent)]
    Disk(#[from] DiskError),
    /// The offer is over a protocol limit (too many entries).
    #[error("the offer cannot be sent: {0}")]
    TooLarge(#[from] EncodeError),
    /// The offer could not be recorded.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Scanning the paths stopped without an answer (a bug).
    #[error("scanning the paths failed: {0}")]
    Scan(String),
}
