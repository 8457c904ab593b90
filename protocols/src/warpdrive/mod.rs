//! warpdrive messages: the binary protocol peers speak on a `warpdrive` channel to offer
//! files, download them, and report, reject or cancel offers.
//!
//! Every message is one frame: a code (`u8`), a body length (`u32`, big endian) and the
//! body; every length is checked against a limit before anything is read or allocated,
//! and every field inside a body is checked as it is read. The byte layout of every
//! message is in `docs/warpdrive.md`.
//!
//! * [`path`]: the only paths an offer may carry — relative, normal components.
//! * [`info`]: one entry (file or directory) of an offer.
//! * [`message`]: the frames; their codes and limits (`code.rs`) and decode errors
//!   (`error.rs`).

mod code;
mod error;
pub mod info;
pub mod message;
pub mod path;
mod reader;

pub use info::{Info, Kind};
pub use message::{
    Code, DecodeError, EncodeError, Frame, Header, Message, ReplyCode, ReportStatus,
};
pub use path::{PathError, RelPath};

/// Bytes of an offer id (a UUID v4, made by the sender).
pub const ID_LEN: usize = 16;

/// An offer id.
pub type OfferId = [u8; ID_LEN];
