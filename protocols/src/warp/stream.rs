//! WARP envelopes over a byte stream — the `links` channel between two nodes' hubs —
//! where no WebSocket marks where one ends: each is a `u32` length (big endian) and the
//! envelope's UTF-8 text, at most [`MAX_ENVELOPE`] bytes (checked from the length alone).

/// Longest envelope on a stream.
pub const MAX_ENVELOPE: usize = 1 << 20;

/// What is wrong with the stream.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    /// A length over [`MAX_ENVELOPE`].
    #[error("an envelope of {0} bytes (at most {MAX_ENVELOPE})")]
    TooLong(usize),
    /// Bytes that are not UTF-8.
    #[error("an envelope that is not UTF-8")]
    NotUtf8,
}

/// Appends `text` as one envelope (text longer than [`MAX_ENVELOPE`] is the caller's
/// error: the reader refuses it).
pub fn put(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(&(text.len() as u32).to_be_bytes());
    out.extend_from_slice(text.as_bytes());
}

/// The envelope at the start of `buf` and the bytes it took, or `None` until all of it
/// is there.
pub fn get(buf: &[u8]) -> Result<Option<(String, usize)>, StreamError> {
    let Some(head) = buf.get(..4) else {
        return Ok(None);
    };
    let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
    if len > MAX_ENVELOPE {
        return Err(StreamError::TooLong(len));
    }
    let Some(body) = buf.get(4..4 + len) else {
        return Ok(None);
    };
    let text = std::str::from_utf8(body).map_err(|_| StreamError::NotUtf8)?;
    Ok(Some((text.to_string(), 4 + len)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_round_trip_wait_for_their_end_and_are_bounded() {
        let mut out = Vec::new();
        put(&mut out, "@link(node:\"/unit/1\",lane:info)");
        put(&mut out, "");
        let (a, n) = get(&out).unwrap().unwrap();
        assert_eq!(a, "@link(node:\"/unit/1\",lane:info)");
        assert_eq!(get(&out[n..]).unwrap(), Some((String::new(), 4)));
        assert_eq!(get(&out[..n - 1]).unwrap(), None);
        let big = ((MAX_ENVELOPE + 1) as u32).to_be_bytes();
        assert_eq!(get(&big), Err(StreamError::TooLong(MAX_ENVELOPE + 1)));
        assert_eq!(get(&[0, 0, 0, 1, 0xff]), Err(StreamError::NotUtf8));
    }
}
