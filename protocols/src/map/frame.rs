//! The frames of a `map` channel: a code (`u8`), a body length (`u16`, at most
//! [`MAX_BODY`]) and the body. A node asks (codes below `0x80`), the map answers (`0x80`
//! and up), one answer per request, in order.

use std::net::SocketAddr;

use super::addr;
use super::record::{Record, RecordError};

/// The channel service a map serves.
pub const SERVICE: &str = "map";
/// Its version.
pub const VERSION: u16 = 1;
/// The largest body (but a flow table's part, [`MAX_TABLE_BODY`]).
pub const MAX_BODY: usize = 1024;
/// The largest body of a `FlowTable` frame: a flag and a part of the table.
pub const MAX_TABLE_BODY: usize = 1 + super::flows::MAX_PART;
/// Bytes before the body.
pub const HEADER_LEN: usize = 3;
/// Most other addresses a map names in `Observed`.
pub const MAX_OTHERS: usize = 8;

/// A frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// Where do you see me? (`0x01`)
    Observe,
    /// Keep my record (`0x02`).
    Register(Record),
    /// The record of this key, please (`0x03`).
    Lookup([u8; 32]),
    /// Give me a free pairing-code number, held for me (`0x04`).
    Claim,
    /// I no longer wait with this code number (`0x05`).
    Release(u16),
    /// Which node waits with this code number? (`0x06`)
    WhoHas(u16),
    /// Keep this channel: tell me on it who wants to reach me (`0x07`).
    Watch,
    /// Tell this node that I want to reach it, so it sends towards me too and our NATs
    /// let each other's packets in (`0x08`).
    Introduce([u8; 32]),
    /// Forward QUIC packets between me and this node (`0x09`): granted once that node
    /// asks for me too (see [`relay`](super::relay)).
    Relay([u8; 32]),
    /// Keep this channel: send my flow table on it now and whenever it changes; I tell
    /// you on it which of my flows are congested (`0x0a`).
    Flows,
    /// Let me join this flow in this role, under this name (empty: the name the map has
    /// for my key, else one it makes) (`0x0b`).
    Join {
        /// The flow.
        flow: String,
        /// The role ([`super::flows::role`]).
        role: u8,
        /// The name asked for.
        name: String,
    },
    /// On the flows channel: these of my flows are congested now, the others not
    /// (`0x0c`).
    Congested(Vec<String>),
    /// The address the map saw the request come from, and the map's other addresses, to
    /// ask from as well: a node whose NAT maps it to another port for each of them is
    /// behind a symmetric NAT (`0x81`).
    Observed {
        /// Where the request came from.
        addr: SocketAddr,
        /// The map's other listening addresses.
        others: Vec<SocketAddr>,
    },
    /// The record is kept until this Unix second (`0x82`).
    Registered(u64),
    /// The record asked for (`0x83`).
    Found(Record),
    /// No live record of this key (`0x84`).
    NotFound([u8; 32]),
    /// The request was refused, with a reason (`0x85`).
    Refused(String),
    /// This code number is held for the asking node until this Unix second (`0x86`).
    Claimed {
        /// The number.
        nameplate: u16,
        /// Held until.
        until: u64,
    },
    /// The code number is free again (`0x87`).
    Released(u16),
    /// The node that waits with this code number (`0x88`).
    Holder {
        /// The number.
        nameplate: u16,
        /// The node's key.
        id: [u8; 32],
    },
    /// On a watched channel: this node (its record) wants to reach you (`0x89`).
    Wanted(Record),
    /// The channel is watched (`0x8a`).
    Watching,
    /// The node was told (`0x8b`).
    Introduced([u8; 32]),
    /// Both nodes asked: the map forwards relay datagrams between them that carry this
    /// token, sent from the address this request came from (`0x8c`).
    Relaying {
        /// The other node.
        peer: [u8; 32],
        /// The asking node's secret for relay datagrams.
        token: [u8; super::relay::TOKEN_LEN],
    },
    /// A part of the node's signed flow table ([`super::flows`]); `last` ends it
    /// (`0x8d`).
    FlowTable {
        /// Whether this is the table's last part.
        last: bool,
        /// The bytes, at most [`super::flows::MAX_PART`].
        part: Vec<u8>,
    },
    /// The node is a member of the flow now (`0x8e`).
    Joined(String),
    /// The request waits for the map's operator to approve it (`0x8f`).
    JoinHeld(String),
}

/// What is wrong with a frame.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A code this version does not know.
    #[error("unknown map frame code {0:#04x}")]
    UnknownCode(u8),
    /// A body over [`MAX_BODY`].
    #[error("a map frame of {0} bytes (at most {MAX_BODY})")]
    TooLong(usize),
    /// A body of the wrong size for its code, or with bytes after its end.
    #[error("a map frame {code:#04x} of {len} bytes")]
    BadLength {
        /// The frame's code.
        code: u8,
        /// Its body length.
        len: usize,
    },
    /// A malformed record.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// A malformed address.
    #[error(transparent)]
    Addr(#[from] addr::AddrError),
    /// More other addresses than [`MAX_OTHERS`].
    #[error("{0} other addresses (at most {MAX_OTHERS})")]
    TooManyOthers(usize),
    /// A reason or name that is not UTF-8.
    #[error("a reason or name that is not UTF-8")]
    NotUtf8,
    /// A flow or member name that is empty or longer than a flow table allows.
    #[error("a name of {0} bytes (1 to {max} allowed)", max = super::flows::MAX_NAME)]
    BadName(usize),
}

impl Frame {
    /// The frame's code.
    pub fn code(&self) -> u8 {
        match self {
            Frame::Observe => 0x01,
            Frame::Register(_) => 0x02,
            Frame::Lookup(_) => 0x03,
            Frame::Claim => 0x04,
            Frame::Release(_) => 0x05,
            Frame::WhoHas(_) => 0x06,
            Frame::Watch => 0x07,
            Frame::Introduce(_) => 0x08,
            Frame::Relay(_) => 0x09,
            Frame::Flows => 0x0a,
            Frame::Join { .. } => 0x0b,
            Frame::Congested(_) => 0x0c,
            Frame::Observed { .. } => 0x81,
            Frame::Registered(_) => 0x82,
            Frame::Found(_) => 0x83,
            Frame::NotFound(_) => 0x84,
            Frame::Refused(_) => 0x85,
            Frame::Claimed { .. } => 0x86,
            Frame::Released(_) => 0x87,
            Frame::Holder { .. } => 0x88,
            Frame::Wanted(_) => 0x89,
            Frame::Watching => 0x8a,
            Frame::Introduced(_) => 0x8b,
            Frame::Relaying { .. } => 0x8c,
            Frame::FlowTable { .. } => 0x8d,
            Frame::Joined(_) => 0x8e,
            Frame::JoinHeld(_) => 0x8f,
        }
    }

    /// The frame's bytes; a reason is cut to fit, other addresses to [`MAX_OTHERS`],
    /// names to [`super::flows::MAX_NAME`], a congested list to the names that fit, a
    /// table's part to [`super::flows::MAX_PART`].
    pub fn encode(&self) -> Vec<u8> {
        let name = |b: &mut Vec<u8>, n: &str| {
            let n = crate::text::cut(n, super::flows::MAX_NAME);
            b.push(n.len() as u8);
            b.extend_from_slice(&n);
        };
        let body = match self {
            Frame::Observe | Frame::Claim | Frame::Watch | Frame::Watching | Frame::Flows => {
                Vec::new()
            }
            Frame::Join {
                flow,
                role,
                name: member,
            } => {
                let mut b = vec![*role];
                name(&mut b, flow);
                name(&mut b, member);
                b
            }
            Frame::Congested(flows) => {
                let mut b = vec![0];
                for f in flows.iter().take(255) {
                    if b.len() + 1 + f.len().min(super::flows::MAX_NAME) > MAX_BODY {
                        break;
                    }
                    name(&mut b, f);
                    b[0] += 1;
                }
                b
            }
            Frame::FlowTable { last, part } => {
                let mut b = vec![u8::from(*last)];
                b.extend_from_slice(&part[..part.len().min(super::flows::MAX_PART)]);
                b
            }
            Frame::Joined(f) | Frame::JoinHeld(f) => crate::text::cut(f, super::flows::MAX_NAME),
            Frame::Release(n) | Frame::WhoHas(n) | Frame::Released(n) => n.to_be_bytes().to_vec(),
            Frame::Claimed { nameplate, until } => {
                let mut b = nameplate.to_be_bytes().to_vec();
                b.extend_from_slice(&until.to_be_bytes());
                b
            }
            Frame::Holder { nameplate, id } => {
                let mut b = nameplate.to_be_bytes().to_vec();
                b.extend_from_slice(id);
                b
            }
            Frame::Register(r) | Frame::Found(r) | Frame::Wanted(r) => r.encode(),
            Frame::Lookup(id)
            | Frame::NotFound(id)
            | Frame::Introduce(id)
            | Frame::Introduced(id)
            | Frame::Relay(id) => id.to_vec(),
            Frame::Relaying { peer, token } => [&peer[..], &token[..]].concat(),
            Frame::Observed { addr: a, others } => {
                let mut b = Vec::new();
                addr::put(&mut b, a);
                let n = others.len().min(MAX_OTHERS);
                b.push(n as u8);
                for o in &others[..n] {
                    addr::put(&mut b, o);
                }
                b
            }
            Frame::Registered(until) => until.to_be_bytes().to_vec(),
            Frame::Refused(reason) => crate::text::cut(reason, MAX_BODY),
        };
        let mut out = vec![self.code()];
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
        if !matches!(code, 0x01..=0x0c | 0x81..=0x8f) {
            return Err(FrameError::UnknownCode(code));
        }
        let max = match code {
            0x8d => MAX_TABLE_BODY,
            _ => MAX_BODY,
        };
        if len > max {
            return Err(FrameError::TooLong(len));
        }
        let bad = FrameError::BadLength { code, len };
        let fixed = match code {
            0x01 | 0x04 | 0x07 | 0x0a | 0x8a => Some(0),
            0x05 | 0x06 | 0x87 => Some(2),
            0x03 | 0x08 | 0x09 | 0x84 | 0x8b => Some(32),
            0x8c => Some(32 + super::relay::TOKEN_LEN),
            0x82 => Some(8),
            0x86 => Some(10),
            0x88 => Some(34),
            _ => None,
        };
        if fixed.is_some_and(|f| f != len) {
            return Err(bad);
        }
        let Some(body) = buf.get(HEADER_LEN..HEADER_LEN + len) else {
            return Ok(None);
        };
        let frame = match code {
            0x01 => Frame::Observe,
            0x02 => Frame::Register(Record::decode(body)?),
            0x03 => Frame::Lookup(body.try_into().expect("length checked")),
            0x04 => Frame::Claim,
            0x07 => Frame::Watch,
            0x08 => Frame::Introduce(body.try_into().expect("length checked")),
            0x09 => Frame::Relay(body.try_into().expect("length checked")),
            0x0a => Frame::Flows,
            0x0b => {
                let role = *body.first().ok_or(bad.clone())?;
                let (flow, at) = read_name((code, body), 1, true)?;
                let (name, at) = read_name((code, body), at, false)?;
                if at != len {
                    return Err(bad);
                }
                Frame::Join { flow, role, name }
            }
            0x0c => {
                let n = *body.first().ok_or(bad.clone())? as usize;
                let mut at = 1;
                let mut flows = Vec::with_capacity(n.min(64));
                for _ in 0..n {
                    let (f, next) = read_name((code, body), at, true)?;
                    flows.push(f);
                    at = next;
                }
                if at != len {
                    return Err(bad);
                }
                Frame::Congested(flows)
            }
            0x8d => Frame::FlowTable {
                last: match body.first() {
                    Some(0) => false,
                    Some(1) => true,
                    _ => return Err(bad),
                },
                part: body[1..].to_vec(),
            },
            0x8e | 0x8f => {
                let f = crate::text::read(body).ok_or(FrameError::NotUtf8)?;
                if f.is_empty() || f.len() > super::flows::MAX_NAME {
                    return Err(FrameError::BadName(f.len()));
                }
                match code {
                    0x8e => Frame::Joined(f),
                    _ => Frame::JoinHeld(f),
                }
            }
            0x8c => Frame::Relaying {
                peer: body[..32].try_into().expect("32 bytes"),
                token: body[32..].try_into().expect("length checked"),
            },
            0x89 => Frame::Wanted(Record::decode(body)?),
            0x8a => Frame::Watching,
            0x8b => Frame::Introduced(body.try_into().expect("length checked")),
            0x05 => Frame::Release(u16::from_be_bytes([body[0], body[1]])),
            0x06 => Frame::WhoHas(u16::from_be_bytes([body[0], body[1]])),
            0x86 => Frame::Claimed {
                nameplate: u16::from_be_bytes([body[0], body[1]]),
                until: u64::from_be_bytes(body[2..10].try_into().expect("8 bytes")),
            },
            0x87 => Frame::Released(u16::from_be_bytes([body[0], body[1]])),
            0x88 => Frame::Holder {
                nameplate: u16::from_be_bytes([body[0], body[1]]),
                id: body[2..34].try_into().expect("32 bytes"),
            },
            0x81 => {
                let (a, mut at) = addr::get(body)?;
                let n = *body.get(at).ok_or(addr::AddrError::Truncated)? as usize;
                at += 1;
                if n > MAX_OTHERS {
                    return Err(FrameError::TooManyOthers(n));
                }
                let mut others = Vec::with_capacity(n);
                for _ in 0..n {
                    let (o, used) = addr::get(&body[at..])?;
                    others.push(o);
                    at += used;
                }
                if at != len {
                    return Err(bad);
                }
                Frame::Observed { addr: a, others }
            }
            0x82 => Frame::Registered(u64::from_be_bytes(body.try_into().expect("8 bytes"))),
            0x83 => Frame::Found(Record::decode(body)?),
            0x84 => Frame::NotFound(body.try_into().expect("length checked")),
            _ => Frame::Refused(crate::text::read(body).ok_or(FrameError::NotUtf8)?),
        };
        Ok(Some((frame, HEADER_LEN + len)))
    }
}

/// Reads a name (length byte, bytes) at `at` in `body`: the name and where it ends.
/// An empty name is an error where `needed`.
fn read_name(
    (code, body): (u8, &[u8]),
    at: usize,
    needed: bool,
) -> Result<(String, usize), FrameError> {
    let truncated = FrameError::BadLength {
        code,
        len: body.len(),
    };
    let n = *body.get(at).ok_or(truncated.clone())? as usize;
    if n > super::flows::MAX_NAME || (needed && n == 0) {
        return Err(FrameError::BadName(n));
    }
    let bytes = body.get(at + 1..at + 1 + n).ok_or(truncated)?;
    let name = crate::text::read(bytes).ok_or(FrameError::NotUtf8)?;
    Ok((name, at + 1 + n))
}
