//! The frames of a `warpdrive` channel: a code, a body length and the body.

pub use super::code::{Code, MAX_DATA, MAX_OFFER};
pub use super::error::{DecodeError, EncodeError};
use super::info::{Info, Kind, HASH_LEN};
use super::reader::{put_text, Reader};
use super::{OfferId, ID_LEN};

/// Bytes of a frame header: code (`u8`) and body length (`u32`).
pub const HEADER_LEN: usize = 5;
/// Most entries in one offer.
pub const MAX_FILES: usize = 1_000_000;
/// The longest reason or message text.
pub const MAX_TEXT: usize = 4096;
/// The smallest and largest chunk sizes an offer may use.
pub const CHUNK_SIZES: (u32, u32) = (64 << 10, 64 << 20);

/// A reply or failure code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyCode {
    /// Done; for an offer: it awaits the receiver's decision.
    Ok,
    /// The offer was accepted at once (the sender is trusted).
    Accepted,
    /// No such offer.
    UnknownOffer,
    /// The offer was made to another peer.
    NotYours,
    /// A path in the offer is refused.
    BadPath,
    /// The offer is malformed or repeats an id.
    BadOffer,
    /// The peer is blocked.
    Blocked,
    /// A file changed on the sender since the offer was made.
    Changed,
    /// The offer is not in a state that allows this.
    WrongState,
    /// A disk or system error.
    Io,
    /// A command this side does not know.
    UnknownCommand,
    /// The offer was cancelled.
    Cancelled,
    /// The offer was rejected.
    Rejected,
    /// A code this version does not know.
    Other(u8),
}

impl ReplyCode {
    fn to_u8(self) -> u8 {
        use ReplyCode::*;
        match self {
            Ok => 0x00,
            Accepted => 0x01,
            UnknownOffer => 0x10,
            NotYours => 0x11,
            BadPath => 0x12,
            BadOffer => 0x13,
            Blocked => 0x14,
            Changed => 0x15,
            WrongState => 0x16,
            Io => 0x17,
            UnknownCommand => 0x18,
            Cancelled => 0x19,
            Rejected => 0x1a,
            Other(b) => b,
        }
    }

    fn from_u8(b: u8) -> ReplyCode {
        use ReplyCode::*;
        match b {
            0x00 => Ok,
            0x01 => Accepted,
            0x10 => UnknownOffer,
            0x11 => NotYours,
            0x12 => BadPath,
            0x13 => BadOffer,
            0x14 => Blocked,
            0x15 => Changed,
            0x16 => WrongState,
            0x17 => Io,
            0x18 => UnknownCommand,
            0x19 => Cancelled,
            0x1a => Rejected,
            b => Other(b),
        }
    }
}

/// What a receiver reports about an offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportStatus {
    /// Every file arrived and matched its hash.
    Completed,
    /// The download ended without completing.
    Failed,
}

/// A frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// An offer of files.
    SendOffer {
        /// Its id.
        id: OfferId,
        /// The chunk size of the chunk hashes: a power of two within [`CHUNK_SIZES`].
        chunk_size: u32,
        /// Directories before what they hold.
        files: Vec<Info>,
    },
    /// Stream the files from entry `index`, byte `offset`, to the end of the offer.
    Download {
        /// The offer.
        id: OfferId,
        /// The first entry.
        index: u64,
        /// The first byte of that entry.
        offset: u64,
    },
    /// The offer is cancelled.
    Cancel {
        /// The offer.
        id: OfferId,
        /// Why.
        reason: String,
    },
    /// The offer is declined.
    Reject {
        /// The offer.
        id: OfferId,
        /// Why.
        reason: String,
    },
    /// The receiver's verdict.
    Report {
        /// The offer.
        id: OfferId,
        /// Completed or failed.
        status: ReportStatus,
        /// Why it failed; empty when completed.
        reason: String,
    },
    /// Echo this byte.
    Ping(u8),
    /// The receiver's progress during a download, so the sender counts what arrived
    /// rather than what it handed to the network. No answer.
    Received {
        /// The offer.
        id: OfferId,
        /// Bytes of the offer's files in place (written after they were checked).
        bytes: u64,
        /// Entries in place.
        entries: u64,
    },
    /// End of the session.
    End,
    /// The answer to a request.
    Reply {
        /// What happened.
        code: ReplyCode,
        /// Details for a person; empty when there are none.
        message: String,
    },
    /// File bytes, continuing where the last ended.
    Data(Vec<u8>),
    /// Every requested byte was sent.
    Done,
    /// The download stopped.
    Failed {
        /// Why, as a code.
        code: ReplyCode,
        /// Why, for a person.
        message: String,
    },
    /// The hash of file `index`'s first `min((chunk + 1) × chunk size, size)` bytes,
    /// sent right after the `Data` that ends that chunk, for a file offered before it
    /// was read ([`Info::streamed`]).
    Hash {
        /// The entry.
        index: u64,
        /// The chunk that ended.
        chunk: u32,
        /// SHA-256 of the prefix; of the whole file for its last chunk.
        sha256: [u8; HASH_LEN],
    },
    /// The echo of a ping.
    Pong(u8),
}

/// A frame header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// The code.
    pub code: Code,
    /// The body length, within the code's limit.
    pub len: usize,
}

impl Header {
    /// Decodes and checks a header.
    pub fn decode(b: &[u8; HEADER_LEN]) -> Result<Header, DecodeError> {
        let code = Code::from_u8(b[0]).ok_or(DecodeError::UnknownCode(b[0]))?;
        let len = u32::from_be_bytes([b[1], b[2], b[3], b[4]]) as usize;
        if len > code.max_len() {
            return Err(DecodeError::TooLarge {
                code,
                len,
                max: code.max_len(),
            });
        }
        Ok(Header { code, len })
    }

    /// The header of a `Data` frame of `len` bytes (at most [`MAX_DATA`]), so a sender
    /// can write file bytes after it without copying them into a frame.
    pub fn data(len: usize) -> [u8; HEADER_LEN] {
        debug_assert!(len <= MAX_DATA);
        let mut h = [Code::Data as u8, 0, 0, 0, 0];
        h[1..].copy_from_slice(&(len as u32).to_be_bytes());
        h
    }
}

/// A frame ready to decode: its header and body.
pub struct Frame<'a> {
    /// The header.
    pub header: Header,
    /// The body, `header.len` bytes.
    pub body: &'a [u8],
}

fn check_text(what: &'static str, s: &str) -> Result<(), EncodeError> {
    if s.len() > MAX_TEXT {
        return Err(EncodeError::TooLong {
            what,
            len: s.len(),
            max: MAX_TEXT,
        });
    }
    Ok(())
}

impl Message {
    /// The frame's code.
    pub fn code(&self) -> Code {
        match self {
            Message::SendOffer { .. } => Code::SendOffer,
            Message::Download { .. } => Code::Download,
            Message::Cancel { .. } => Code::Cancel,
            Message::Reject { .. } => Code::Reject,
            Message::Report { .. } => Code::Report,
            Message::Ping(_) => Code::Ping,
            Message::Received { .. } => Code::Received,
            Message::End => Code::End,
            Message::Reply { .. } => Code::Reply,
            Message::Data(_) => Code::Data,
            Message::Done => Code::Done,
            Message::Failed { .. } => Code::Failed,
            Message::Hash { .. } => Code::Hash,
            Message::Pong(_) => Code::Pong,
        }
    }

    /// The whole frame. Errors when a field is over its limit, so that what is written
    /// can always be read back.
    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        let mut body = Vec::new();
        match self {
            Message::SendOffer {
                id,
                chunk_size,
                files,
            } => {
                if !chunk_size.is_power_of_two()
                    || !(CHUNK_SIZES.0..=CHUNK_SIZES.1).contains(chunk_size)
                {
                    return Err(EncodeError::ChunkSize(*chunk_size));
                }
                if files.len() > MAX_FILES {
                    return Err(EncodeError::TooManyEntries {
                        len: files.len(),
                        max: MAX_FILES,
                    });
                }
                body.extend_from_slice(id);
                body.extend_from_slice(&chunk_size.to_be_bytes());
                body.extend_from_slice(&(files.len() as u32).to_be_bytes());
                for f in files {
                    let n = super::info::chunk_count(f.size, *chunk_size);
                    if f.kind == Kind::File && !f.streamed && f.chunks.len() as u64 != n {
                        return Err(EncodeError::Chunks {
                            path: f.path.to_string(),
                            have: f.chunks.len(),
                            want: n,
                        });
                    }
                    f.encode(&mut body);
                }
            }
            Message::Download { id, index, offset } => {
                body.extend_from_slice(id);
                body.extend_from_slice(&index.to_be_bytes());
                body.extend_from_slice(&offset.to_be_bytes());
            }
            Message::Cancel { id, reason } | Message::Reject { id, reason } => {
                check_text("reason", reason)?;
                body.extend_from_slice(id);
                put_text(&mut body, reason);
            }
            Message::Report { id, status, reason } => {
                check_text("reason", reason)?;
                body.extend_from_slice(id);
                body.push(match status {
                    ReportStatus::Completed => 0,
                    ReportStatus::Failed => 1,
                });
                put_text(&mut body, reason);
            }
            Message::Ping(b) | Message::Pong(b) => body.push(*b),
            Message::Received { id, bytes, entries } => {
                body.extend_from_slice(id);
                body.extend_from_slice(&bytes.to_be_bytes());
                body.extend_from_slice(&entries.to_be_bytes());
            }
            Message::End | Message::Done => {}
            Message::Reply { code, message } | Message::Failed { code, message } => {
                check_text("message", message)?;
                body.push(code.to_u8());
                put_text(&mut body, message);
            }
            Message::Data(d) => body.extend_from_slice(d),
            Message::Hash {
                index,
                chunk,
                sha256,
            } => {
                body.extend_from_slice(&index.to_be_bytes());
                body.extend_from_slice(&chunk.to_be_bytes());
                body.extend_from_slice(sha256);
            }
        }
        let code = self.code();
        if body.len() > code.max_len() {
            return Err(EncodeError::TooLarge {
                code,
                len: body.len(),
                max: code.max_len(),
            });
        }
        let mut out = Vec::with_capacity(HEADER_LEN + body.len());
        out.push(code as u8);
        out.extend_from_slice(&(body.len() as u32).to_be_bytes());
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Decodes a frame's body.
    pub fn decode_body(frame: Frame<'_>) -> Result<Message, DecodeError> {
        let mut r = Reader::new(frame.body);
        let msg = match frame.header.code {
            Code::SendOffer => {
                let id = r.array::<ID_LEN>()?;
                let chunk_size = r.u32()?;
                if !chunk_size.is_power_of_two()
                    || !(CHUNK_SIZES.0..=CHUNK_SIZES.1).contains(&chunk_size)
                {
                    return Err(DecodeError::Invalid(format!("chunk size {chunk_size}")));
                }
                let count = r.u32()? as usize;
                if count > MAX_FILES {
                    return Err(DecodeError::Invalid(format!("{count} entries")));
                }
                // Each entry takes at least 63 bytes: no allocation beyond what is there.
                let mut files = Vec::with_capacity(count.min(frame.body.len() / 63));
                for _ in 0..count {
                    files.push(Info::decode(&mut r, chunk_size)?);
                }
                Message::SendOffer {
                    id,
                    chunk_size,
                    files,
                }
            }
            Code::Download => Message::Download {
                id: r.array()?,
                index: r.u64()?,
                offset: r.u64()?,
            },
            Code::Cancel => Message::Cancel {
                id: r.array()?,
                reason: r.text(MAX_TEXT, "reason")?.to_string(),
            },
            Code::Reject => Message::Reject {
                id: r.array()?,
                reason: r.text(MAX_TEXT, "reason")?.to_string(),
            },
            Code::Report => Message::Report {
                id: r.array()?,
                status: match r.u8()? {
                    0 => ReportStatus::Completed,
                    1 => ReportStatus::Failed,
                    s => return Err(DecodeError::Invalid(format!("report status {s}"))),
                },
                reason: r.text(MAX_TEXT, "reason")?.to_string(),
            },
            Code::Ping => Message::Ping(r.u8()?),
            Code::Received => Message::Received {
                id: r.array()?,
                bytes: r.u64()?,
                entries: r.u64()?,
            },
            Code::Pong => Message::Pong(r.u8()?),
            Code::End => Message::End,
            Code::Done => Message::Done,
            Code::Reply => Message::Reply {
                code: ReplyCode::from_u8(r.u8()?),
                message: r.text(MAX_TEXT, "message")?.to_string(),
            },
            Code::Failed => Message::Failed {
                code: ReplyCode::from_u8(r.u8()?),
                message: r.text(MAX_TEXT, "message")?.to_string(),
            },
            Code::Hash => Message::Hash {
                index: r.u64()?,
                chunk: r.u32()?,
                sha256: r.array()?,
            },
            Code::Data => return Ok(Message::Data(frame.body.to_vec())),
        };
        r.finish()?;
        Ok(msg)
    }

    /// Decodes one frame at the start of `buf`: the message and the bytes used, or
    /// `None` until the whole frame is there.
    pub fn decode(buf: &[u8]) -> Result<Option<(Message, usize)>, DecodeError> {
        let Some(head) = buf.get(..HEADER_LEN) else {
            return Ok(None);
        };
        let header = Header::decode(head.try_into().expect("header length"))?;
        let Some(body) = buf.get(HEADER_LEN..HEADER_LEN + header.len) else {
            return Ok(None);
        };
        let msg = Message::decode_body(Frame { header, body })?;
        Ok(Some((msg, HEADER_LEN + header.len)))
    }
}
