//! Channel set-up: the header that opens a channel and names the service it is for, and
//! the reply that accepts or refuses it. A channel is one bi-directional QUIC stream; these
//! are its first bytes in each direction. Byte layout in `docs/tunnel.md`.
//!
//! Decoders take whatever bytes have arrived and return `Ok(None)` until a whole message
//! is there, so the caller can feed them from any transport.

/// The first two bytes of every channel.
pub const MAGIC: [u8; 2] = *b"WC";
/// The version of this header format.
pub const HEADER_VERSION: u8 = 1;
/// Longest service name, in bytes.
pub const MAX_SERVICE_LEN: usize = 64;
/// Longest reply message, in bytes.
pub const MAX_MESSAGE_LEN: usize = 1024;

/// Opens a channel to a service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelOpen {
    /// The service: `ping`, `warpdrive`, `links`, `gate/<name>`, ...
    pub service: String,
    /// The version of the service's own protocol the opener speaks.
    pub version: u16,
}

/// The answer to a [`ChannelOpen`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChannelReply {
    /// The service took the channel; its own protocol follows.
    Accepted,
    /// No such service on this node.
    UnknownService(String),
    /// The service does not speak that version.
    UnsupportedVersion(String),
    /// The service refused this peer.
    Refused(String),
}

/// A malformed channel header or reply.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    /// The bytes do not start with `WC`.
    #[error("not a warp channel (bad magic)")]
    BadMagic,
    /// A header version this node does not know.
    #[error("unsupported channel header version {0}")]
    BadVersion(u8),
    /// A service name that is empty, too long, or has characters outside `[a-z0-9/._-]`.
    #[error("invalid service name")]
    BadService,
    /// A reply status this node does not know.
    #[error("unknown channel reply status {0}")]
    BadStatus(u8),
    /// A reply message that is too long or not UTF-8.
    #[error("invalid channel reply message")]
    BadMessage,
}

fn valid_service(s: &[u8]) -> bool {
    !s.is_empty()
        && s.len() <= MAX_SERVICE_LEN
        && s.iter()
            .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"/._-".contains(&b))
}

impl ChannelOpen {
    /// Builds a header, checking the service name.
    pub fn new(service: &str, version: u16) -> Result<ChannelOpen, ChannelError> {
        if !valid_service(service.as_bytes()) {
            return Err(ChannelError::BadService);
        }
        Ok(ChannelOpen {
            service: service.to_string(),
            version,
        })
    }

    /// The header's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(6 + self.service.len());
        out.extend_from_slice(&MAGIC);
        out.push(HEADER_VERSION);
        out.push(self.service.len() as u8);
        out.extend_from_slice(self.service.as_bytes());
        out.extend_from_slice(&self.version.to_be_bytes());
        out
    }

    /// Decodes a header from the start of `buf`: the header and its length, `None` when
    /// more bytes are needed.
    pub fn decode(buf: &[u8]) -> Result<Option<(ChannelOpen, usize)>, ChannelError> {
        for (i, &m) in MAGIC.iter().enumerate() {
            match buf.get(i) {
                None => return Ok(None),
                Some(&b) if b != m => return Err(ChannelError::BadMagic),
                Some(_) => {}
            }
        }
        match buf.get(2) {
            None => return Ok(None),
            Some(&HEADER_VERSION) => {}
            Some(&v) => return Err(ChannelError::BadVersion(v)),
        }
        let Some(&len) = buf.get(3) else {
            return Ok(None);
        };
        let len = len as usize;
        if len == 0 || len > MAX_SERVICE_LEN {
            return Err(ChannelError::BadService);
        }
        let end = 4 + len + 2;
        if buf.len() < end {
            // Check what has arrived so a bad name fails early.
            if !buf[4..].iter().take(len).all(|&b| valid_service(&[b])) {
                return Err(ChannelError::BadService);
            }
            return Ok(None);
        }
        let name = &buf[4..4 + len];
        if !valid_service(name) {
            return Err(ChannelError::BadService);
        }
        let version = u16::from_be_bytes([buf[4 + len], buf[5 + len]]);
        let service = String::from_utf8(name.to_vec()).map_err(|_| ChannelError::BadService)?;
        Ok(Some((ChannelOpen { service, version }, end)))
    }
}

impl ChannelReply {
    fn parts(&self) -> (u8, &str) {
        match self {
            ChannelReply::Accepted => (0, ""),
            ChannelReply::UnknownService(m) => (1, m),
            ChannelReply::UnsupportedVersion(m) => (2, m),
            ChannelReply::Refused(m) => (3, m),
        }
    }

    /// The reply's bytes. A message longer than [`MAX_MESSAGE_LEN`] is cut at a character
    /// boundary.
    pub fn encode(&self) -> Vec<u8> {
        let (status, msg) = self.parts();
        let mut cut = msg.len().min(MAX_MESSAGE_LEN);
        while !msg.is_char_boundary(cut) {
            cut -= 1;
        }
        let msg = &msg.as_bytes()[..cut];
        let mut out = Vec::with_capacity(3 + msg.len());
        out.push(status);
        out.extend_from_slice(&(msg.len() as u16).to_be_bytes());
        out.extend_from_slice(msg);
        out
    }

    /// Decodes a reply from the start of `buf`: the reply and its length, `None` when more
    /// bytes are needed.
    pub fn decode(buf: &[u8]) -> Result<Option<(ChannelReply, usize)>, ChannelError> {
        let Some(&status) = buf.first() else {
            return Ok(None);
        };
        if status > 3 {
            return Err(ChannelError::BadStatus(status));
        }
        if buf.len() < 3 {
            return Ok(None);
        }
        let len = u16::from_be_bytes([buf[1], buf[2]]) as usize;
        if len > MAX_MESSAGE_LEN {
            return Err(ChannelError::BadMessage);
        }
        if buf.len() < 3 + len {
            return Ok(None);
        }
        if status == 0 && len != 0 {
            // An acceptance carries no message: anything else is not a reply we wrote.
            return Err(ChannelError::BadMessage);
        }
        let msg = std::str::from_utf8(&buf[3..3 + len])
            .map_err(|_| ChannelError::BadMessage)?
            .to_string();
        let reply = match status {
            0 => ChannelReply::Accepted,
            1 => ChannelReply::UnknownService(msg),
            2 => ChannelReply::UnsupportedVersion(msg),
            _ => ChannelReply::Refused(msg),
        };
        Ok(Some((reply, 3 + len)))
    }
}
