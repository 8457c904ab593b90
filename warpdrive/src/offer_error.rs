//! Why a request about an offer (accept, reject, cancel) failed, by kind: the node's
//! command layer answers each with its own status.

/// Why a request about an offer failed.
#[derive(Debug, thiserror::Error)]
pub enum OfferError {
    /// No offer has that id, or the prefix is too short or names several.
    #[error("{0}")]
    NotFound(String),
    /// The offer's side or state does not allow it (one this node made, ended already,
    /// downloading already).
    #[error("{0}")]
    State(String),
    /// Storage failed, or a directory could not be used.
    #[error("{0}")]
    Other(String),
}

impl From<OfferError> for String {
    fn from(e: OfferError) -> String {
        e.to_string()
    }
}
