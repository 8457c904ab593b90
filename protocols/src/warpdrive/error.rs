//! Why bytes are not a warpdrive frame, and why a message cannot become one.

use super::code::Code;
use super::path::PathError;

/// Why bytes are not a frame.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// An unknown frame code.
    #[error("unknown warpdrive frame code {0:#04x}")]
    UnknownCode(u8),
    /// A body over the code's limit.
    #[error("{code:?} frame of {len} bytes is over the {max}-byte limit")]
    TooLarge {
        /// The frame's code.
        code: Code,
        /// Its body length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The body ends inside a field.
    #[error("frame body ends inside a field")]
    Truncated,
    /// Bytes left after the last field.
    #[error("{0} bytes left after the last field")]
    Trailing(usize),
    /// A text field over its limit.
    #[error("{what} of {len} bytes is over the {max}-byte limit")]
    TooLong {
        /// Which field.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A text field that is not UTF-8.
    #[error("{0} is not UTF-8")]
    NotUtf8(&'static str),
    /// A refused path.
    #[error("refused path: {0}")]
    Path(PathError),
    /// Any other field out of range.
    #[error("invalid field: {0}")]
    Invalid(String),
}

/// Why a message cannot be encoded: a field is over its limit, and what is written must
/// always read back.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// A chunk size that is not a power of two in the allowed range.
    #[error("chunk size {0} is not allowed")]
    ChunkSize(u32),
    /// More entries than an offer may hold.
    #[error("{len} entries is over {max}")]
    TooManyEntries {
        /// The entries.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A file whose chunk hashes do not match its size.
    #[error("{path}: {have} chunk hashes, not {want}")]
    Chunks {
        /// The entry.
        path: String,
        /// Hashes given.
        have: usize,
        /// Hashes its size needs.
        want: u64,
    },
    /// A text field over its limit.
    #[error("{what} of {len} bytes is over the {max}-byte limit")]
    TooLong {
        /// Which field.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A body over the code's limit.
    #[error("{code:?} frame of {len} bytes is over the {max}-byte limit")]
    TooLarge {
        /// The frame's code.
        code: Code,
        /// Its body length.
        len: usize,
        /// The limit.
        max: usize,
    },
}
