//! The frames of a `pair` channel: a code (`u8`), a body length (`u16`, at most
//! [`MAX_BODY`]) and the body. The receiver opens with `Pake` (the nameplate it typed and
//! its key-exchange message); the sender answers `Pake` and its `Confirm`; the receiver
//! checks it and sends its own `Confirm`; the sender checks that, makes the offer and
//! names it in `Offered`. Either may answer `Refused` with a reason instead.

use super::exchange::{PAKE_LEN, TAG_LEN};

/// The largest body.
pub const MAX_BODY: usize = 1024;
/// Bytes before the body.
pub const HEADER_LEN: usize = 3;
/// The longest offer id in an `Offered` frame.
pub const MAX_OFFER_ID: usize = 64;

/// A frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// A key-exchange message, for the offer at `nameplate`.
    Pake {
        /// The code's number.
        nameplate: u16,
        /// The SPAKE2 message ([`PAKE_LEN`] bytes).
        msg: Vec<u8>,
    },
    /// A confirmation tag.
    Confirm([u8; TAG_LEN]),
    /// The pairing is refused (no offer at this nameplate, a wrong code, a code used).
    Refused(String),
    /// The pairing is confirmed and the sender made this offer (its id) to the receiver.
    Offered(String),
}

/// What is wrong with a frame.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A code this version does not know.
    #[error("unknown pairing frame code {0:#04x}")]
    UnknownCode(u8),
    /// A body over [`MAX_BODY`].
    #[error("a pairing frame of {0} bytes (at most {MAX_BODY})")]
    TooLong(usize),
    /// A body of the wrong size for its code.
    #[error("a pairing frame {code:#04x} of {len} bytes")]
    BadLength {
        /// The frame's code.
        code: u8,
        /// Its body length.
        len: usize,
    },
    /// A reason or offer id that is not UTF-8.
    #[error("a pairing frame whose text is not UTF-8")]
    NotUtf8,
}

impl Frame {
    /// The frame's bytes; a reason is cut to fit.
    pub fn encode(&self) -> Vec<u8> {
        let (code, body): (u8, Vec<u8>) = match self {
            Frame::Pake { nameplate, msg } => {
                let mut b = nameplate.to_be_bytes().to_vec();
                b.extend_from_slice(msg);
                (1, b)
            }
            Frame::Confirm(tag) => (2, tag.to_vec()),
            Frame::Refused(reason) => (3, crate::text::cut(reason, MAX_BODY)),
            Frame::Offered(id) => (4, crate::text::cut(id, MAX_OFFER_ID)),
        };
        let mut out = vec![code];
        out.extend_from_slice(&(body.len() as u16).to_be_bytes());
        out.extend_from_slice(&body);
        out
    }

    /// Decodes the frame at the start of `buf`: the frame and the bytes it took, or
    /// `None` until all of it is there. Limits are checked from the header alone.
    pub fn decode(buf: &[u8]) -> Result<Option<(Frame, usize)>, FrameError> {
        let Some(head) = buf.get(..HEADER_LEN) else {
            return Ok(None);
        };
        let code = head[0];
        let len = u16::from_be_bytes([head[1], head[2]]) as usize;
        if !(1..=4).contains(&code) {
            return Err(FrameError::UnknownCode(code));
        }
        if len > MAX_BODY {
            return Err(FrameError::TooLong(len));
        }
        let want = match code {
            1 => Some(2 + PAKE_LEN),
            2 => Some(TAG_LEN),
            _ => None,
        };
        if want.is_some_and(|w| w != len) || (code == 4 && len > MAX_OFFER_ID) {
            return Err(FrameError::BadLength { code, len });
        }
        let Some(body) = buf.get(HEADER_LEN..HEADER_LEN + len) else {
            return Ok(None);
        };
        let frame = match code {
            1 => Frame::Pake {
                nameplate: u16::from_be_bytes([body[0], body[1]]),
                msg: body[2..].to_vec(),
            },
            2 => Frame::Confirm(body.try_into().expect("length checked")),
            3 => Frame::Refused(crate::text::read(body).ok_or(FrameError::NotUtf8)?),
            _ => Frame::Offered(crate::text::read(body).ok_or(FrameError::NotUtf8)?),
        };
        Ok(Some((frame, HEADER_LEN + len)))
    }
}
