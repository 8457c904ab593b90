//! Why a download ended without its files: what the sender said, what this side found,
//! or a connection that kept failing. The text is what the offer's record keeps as its
//! reason.

use protocols::warpdrive::{Code, DecodeError, ReplyCode};

use crate::disk_error::DiskError;
use crate::net::NetError;
use crate::offer_error::OfferError;
use crate::receive_error::ReceiveError;
use crate::store_error::StoreError;
use crate::wire::WireError;

/// Why a download failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The offer is gone or cannot be read.
    #[error(transparent)]
    Offer(#[from] OfferError),
    /// This side could not verify or write what arrived.
    #[error(transparent)]
    Receive(#[from] ReceiveError),
    /// This node will not reach the sender (it blocks this node, or does not know it).
    #[error("{0}")]
    Refused(NetError),
    /// The sender refused the download.
    #[error("the sender refused ({code:?}): {message}")]
    SenderRefused {
        /// Its reply code.
        code: ReplyCode,
        /// Its words.
        message: String,
    },
    /// The sender stopped in the middle (a file changed or could not be read there).
    #[error("the sender stopped ({code:?}): {message}")]
    SenderStopped {
        /// Its code.
        code: ReplyCode,
        /// Its words.
        message: String,
    },
    /// The sender sent something that is not a frame.
    #[error("the sender sent a bad frame: {0}")]
    BadFrame(DecodeError),
    /// The sender sent a frame that has no place in a download.
    #[error("the sender sent an unexpected {0:?} frame")]
    Unexpected(Code),
    /// The connection failed on every attempt.
    #[error("gave up after {tries} attempts: {last}")]
    GaveUp {
        /// Attempts made.
        tries: u32,
        /// Why the last one failed.
        last: WireError,
    },
    /// A task of the download ended without an answer (a bug).
    #[error("the download stopped: {0}")]
    Task(String),
}

impl From<StoreError> for FetchError {
    fn from(e: StoreError) -> FetchError {
        FetchError::Offer(e.into())
    }
}

impl From<DiskError> for FetchError {
    fn from(e: DiskError) -> FetchError {
        FetchError::Receive(e.into())
    }
}
