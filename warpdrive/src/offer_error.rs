//! Why a request about an offer (accept, reject, cancel) failed, by kind: the node's
//! command layer answers each with its own status.

use crate::disk_error::DiskError;
use crate::store_error::StoreError;

/// Why a request about an offer failed.
#[derive(Debug, thiserror::Error)]
pub enum OfferError {
    /// No offer has that id, or the prefix is too short or names several.
    #[error("{0}")]
    NotFound(StoreError),
    /// The offer's side or state does not allow it (one this node made, ended already,
    /// downloading already).
    #[error("{0}")]
    State(String),
    /// The offer store failed.
    #[error(transparent)]
    Store(StoreError),
    /// The download directory cannot be used.
    #[error(transparent)]
    Disk(#[from] DiskError),
}

impl From<StoreError> for OfferError {
    fn from(e: StoreError) -> OfferError {
        if e.is_not_found() {
            OfferError::NotFound(e)
        } else {
            OfferError::Store(e)
        }
    }
}
