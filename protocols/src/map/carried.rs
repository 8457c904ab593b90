//! Datagrams carried over TCP, for a node whose UDP to its map is blocked: the node opens
//! a TCP connection to the map's port, sends [`MAGIC`], and from then on each datagram
//! it would have sent to the map over UDP (QUIC for the map channel, relay datagrams) is
//! written as a `u16` length (big endian, at least 1) and the datagram; the map answers
//! the same way. TCP adds no security: QUIC inside proves the keys and encrypts.

/// What a node writes first on the TCP connection.
pub const MAGIC: &[u8; 16] = b"warp map tcp v1\n";
/// Bytes before each datagram.
pub const HEADER_LEN: usize = 2;

/// What is wrong with a carried datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CarriedError {
    /// A length of 0.
    #[error("an empty carried datagram")]
    Empty,
}

/// Appends `datagram` (1 to 65 535 bytes; longer ones are cut, as no UDP datagram is
/// longer) with its length.
pub fn put(out: &mut Vec<u8>, datagram: &[u8]) {
    let n = datagram.len().min(u16::MAX as usize);
    out.extend_from_slice(&(n as u16).to_be_bytes());
    out.extend_from_slice(&datagram[..n]);
}

/// The datagram at the start of `buf` and the bytes it took, or `None` until all of it
/// is there.
pub fn get(buf: &[u8]) -> Result<Option<(&[u8], usize)>, CarriedError> {
    let Some(head) = buf.get(..HEADER_LEN) else {
        return Ok(None);
    };
    let n = u16::from_be_bytes([head[0], head[1]]) as usize;
    if n == 0 {
        return Err(CarriedError::Empty);
    }
    Ok(buf
        .get(HEADER_LEN..HEADER_LEN + n)
        .map(|d| (d, HEADER_LEN + n)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datagrams_follow_each_other_and_wait_for_their_end() {
        let mut b = Vec::new();
        put(&mut b, b"one");
        put(&mut b, &[7; 1500]);
        let (d, n) = get(&b).unwrap().unwrap();
        assert_eq!((d, n), (&b"one"[..], 5));
        let (d, m) = get(&b[n..]).unwrap().unwrap();
        assert_eq!((d.len(), m), (1500, 1502));
        for cut in 0..b.len() - n {
            assert_eq!(get(&b[n..n + cut]), Ok(None), "cut at {cut}");
        }
        assert_eq!(get(&[0, 0, 1]), Err(CarriedError::Empty));
    }
}
