//! Pairing by code: two nodes that do not know each other's keys agree on each other's
//! node ids from a short code one user reads to the other ([`code`], [`words`]), by a
//! password-authenticated key exchange ([`exchange`]) over the frames of a `pair`
//! channel ([`frame`]). Byte layout: `docs/pairing.md`.

pub mod code;
pub mod exchange;
pub mod frame;
pub mod words;

pub use code::{Code, CodeError};
pub use exchange::{Exchange, PairError, Role};
pub use frame::{Frame, FrameError};
