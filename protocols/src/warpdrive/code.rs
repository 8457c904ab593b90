//! Frame codes and the largest body each may carry.

/// The largest body of a `Data` frame.
pub const MAX_DATA: usize = 1 << 20;
/// The largest offer body.
pub const MAX_OFFER: usize = 64 << 20;
/// The largest body of any other frame.
const MAX_SMALL: usize = 8192;

/// A frame's code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Code {
    /// Sender → receiver: an offer.
    SendOffer = 0x01,
    /// Receiver → sender: stream files from an index and offset.
    Download = 0x02,
    /// Either side: the offer is cancelled.
    Cancel = 0x03,
    /// Receiver → sender: the offer is declined.
    Reject = 0x04,
    /// Receiver → sender: every file verified, or the offer failed.
    Report = 0x05,
    /// Echo a byte.
    Ping = 0x06,
    /// Receiver → sender, during a download: how much of the offer is in place.
    Received = 0x07,
    /// End of the session.
    End = 0xff,
    /// The answer to a request.
    Reply = 0x80,
    /// File bytes.
    Data = 0x81,
    /// Every requested byte was sent.
    Done = 0x82,
    /// The download stopped.
    Failed = 0x83,
    /// The SHA-256 of a file's prefix that ends at a chunk boundary, after that chunk's
    /// bytes (files offered before they were read).
    Hash = 0x84,
    /// The echo of a ping.
    Pong = 0x86,
}

impl Code {
    /// The code of byte `b`, if it is one.
    pub fn from_u8(b: u8) -> Option<Code> {
        use Code::*;
        Some(match b {
            0x01 => SendOffer,
            0x02 => Download,
            0x03 => Cancel,
            0x04 => Reject,
            0x05 => Report,
            0x06 => Ping,
            0x07 => Received,
            0xff => End,
            0x80 => Reply,
            0x81 => Data,
            0x82 => Done,
            0x83 => Failed,
            0x84 => Hash,
            0x86 => Pong,
            _ => return None,
        })
    }

    /// The largest body a frame with this code may have.
    pub fn max_len(self) -> usize {
        match self {
            Code::SendOffer => MAX_OFFER,
            Code::Data => MAX_DATA,
            _ => MAX_SMALL,
        }
    }
}
