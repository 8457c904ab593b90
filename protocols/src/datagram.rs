//! Datagrams over a stream channel (UDP gates): each datagram is a `u16` big-endian length
//! and that many bytes, so boundaries survive the byte stream.

/// The largest datagram carried (the largest UDP payload).
pub const MAX_DATAGRAM: usize = 65_507;

/// A frame length over [`MAX_DATAGRAM`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("datagram of {0} bytes is over the {MAX_DATAGRAM}-byte limit")]
pub struct TooLarge(pub usize);

/// Frames one datagram. Errors if it is too large.
pub fn encode(datagram: &[u8]) -> Result<Vec<u8>, TooLarge> {
    if datagram.len() > MAX_DATAGRAM {
        return Err(TooLarge(datagram.len()));
    }
    let mut out = Vec::with_capacity(2 + datagram.len());
    out.extend_from_slice(&(datagram.len() as u16).to_be_bytes());
    out.extend_from_slice(datagram);
    Ok(out)
}

/// Decodes one datagram at the start of `buf`: the datagram and the bytes used, or
/// `None` until the whole frame is there.
pub fn decode(buf: &[u8]) -> Result<Option<(Vec<u8>, usize)>, TooLarge> {
    if buf.len() < 2 {
        return Ok(None);
    }
    let len = u16::from_be_bytes([buf[0], buf[1]]) as usize;
    if len > MAX_DATAGRAM {
        return Err(TooLarge(len));
    }
    if buf.len() < 2 + len {
        return Ok(None);
    }
    Ok(Some((buf[2..2 + len].to_vec(), 2 + len)))
}
