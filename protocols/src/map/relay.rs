//! The datagrams a map relays: QUIC packets between two nodes that cannot reach each
//! other directly, wrapped in a small header. They arrive on the map's own UDP port
//! beside its QUIC, told apart by their first byte: [`MARKER`] (0), which no QUIC packet
//! has (warp's endpoints never grease QUIC's fixed bit, `0x40`).
//!
//! * A node sends `[0][1][token: 16][to: 32][packet]`: the token is the secret the map
//!   gave this node over its authenticated `map` channel (`Relaying`), `to` the key of
//!   the node the packet is for.
//! * The map sends `[0][2][from: 32][packet]` to the other node, having checked the token,
//!   the address it came from, and that both nodes asked for each other.
//!
//! The packet itself is the peers' QUIC, encrypted end to end: the map sees ciphertext.
//! A datagram that fails any check is dropped without an answer, so no one can make the
//! map send more to an address than that address sent.

/// The first byte of every relay datagram.
pub const MARKER: u8 = 0;
/// Bytes of a token.
pub const TOKEN_LEN: usize = 16;
/// Bytes before the packet in a datagram a node sends.
pub const SEND_HEADER: usize = 2 + TOKEN_LEN + 32;
/// Bytes before the packet in a datagram the map sends.
pub const FROM_HEADER: usize = 2 + 32;
/// The most packet bytes a relay datagram carries (a UDP payload, less the header).
pub const MAX_PACKET: usize = 65_507 - SEND_HEADER;

const SEND: u8 = 1;
const FROM: u8 = 2;

/// A relay datagram, borrowed from the bytes it was read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Datagram<'a> {
    /// From a node, for the map to forward.
    Send {
        /// The sender's token.
        token: &'a [u8; TOKEN_LEN],
        /// The key of the node it is for.
        to: &'a [u8; 32],
        /// The QUIC packet.
        packet: &'a [u8],
    },
    /// From the map: a packet another node sent.
    From {
        /// The key of the node that sent it.
        from: &'a [u8; 32],
        /// The QUIC packet.
        packet: &'a [u8],
    },
}

/// Why bytes are not a relay datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DatagramError {
    /// The first byte is not [`MARKER`]: a QUIC packet or anything else.
    #[error("not a relay datagram")]
    NotRelay,
    /// A kind this version does not know.
    #[error("unknown relay datagram kind {0}")]
    UnknownKind(u8),
    /// Shorter than its header, or with no packet.
    #[error("a relay datagram of {0} bytes, shorter than its header and a packet")]
    Short(usize),
}

/// Whether `bytes` start like a relay datagram (so they are not QUIC).
pub fn is_relay(bytes: &[u8]) -> bool {
    bytes.first() == Some(&MARKER)
}

impl<'a> Datagram<'a> {
    /// Reads one datagram.
    pub fn decode(bytes: &'a [u8]) -> Result<Datagram<'a>, DatagramError> {
        if !is_relay(bytes) {
            return Err(DatagramError::NotRelay);
        }
        let short = DatagramError::Short(bytes.len());
        match bytes.get(1) {
            Some(&SEND) if bytes.len() > SEND_HEADER => Ok(Datagram::Send {
                token: bytes[2..2 + TOKEN_LEN].try_into().expect("16 bytes"),
                to: bytes[2 + TOKEN_LEN..SEND_HEADER]
                    .try_into()
                    .expect("32 bytes"),
                packet: &bytes[SEND_HEADER..],
            }),
            Some(&FROM) if bytes.len() > FROM_HEADER => Ok(Datagram::From {
                from: bytes[2..FROM_HEADER].try_into().expect("32 bytes"),
                packet: &bytes[FROM_HEADER..],
            }),
            Some(&SEND) | Some(&FROM) | None => Err(short),
            Some(&kind) => Err(DatagramError::UnknownKind(kind)),
        }
    }

    /// Appends the datagram's bytes to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Datagram::Send { token, to, packet } => {
                put_send_header(out, token, to);
                out.extend_from_slice(packet);
            }
            Datagram::From { from, packet } => {
                put_from_header(out, from);
                out.extend_from_slice(packet);
            }
        }
    }
}

/// Appends the header of a datagram a node sends (the packet follows it).
pub fn put_send_header(out: &mut Vec<u8>, token: &[u8; TOKEN_LEN], to: &[u8; 32]) {
    out.extend_from_slice(&[MARKER, SEND]);
    out.extend_from_slice(token);
    out.extend_from_slice(to);
}

/// Appends the header of a datagram the map sends (the packet follows it).
pub fn put_from_header(out: &mut Vec<u8>, from: &[u8; 32]) {
    out.extend_from_slice(&[MARKER, FROM]);
    out.extend_from_slice(from);
}

/// Turns a `Send` datagram into the `From` datagram the map forwards, in place: its
/// bytes are `bytes[SEND_HEADER - FROM_HEADER..]` afterwards. `bytes` must be a `Send`
/// datagram (checked by [`Datagram::decode`]).
pub fn rewrite_send_as_from<'a>(bytes: &'a mut [u8], from: &[u8; 32]) -> &'a [u8] {
    let start = SEND_HEADER - FROM_HEADER;
    bytes[start] = MARKER;
    bytes[start + 1] = FROM;
    bytes[start + 2..SEND_HEADER].copy_from_slice(from);
    &bytes[start..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_send_rewritten_in_place_reads_as_from_with_the_same_packet() {
        let mut b = Vec::new();
        Datagram::Send {
            token: &[7; TOKEN_LEN],
            to: &[2; 32],
            packet: b"quic",
        }
        .encode_into(&mut b);
        assert_eq!(b.len(), SEND_HEADER + 4);
        let out = rewrite_send_as_from(&mut b, &[1; 32]).to_vec();
        assert_eq!(
            Datagram::decode(&out),
            Ok(Datagram::From {
                from: &[1; 32],
                packet: b"quic"
            })
        );
    }

    #[test]
    fn quic_packets_and_short_or_unknown_datagrams_are_told_apart() {
        // A QUIC long header (fixed bit set) and a short header.
        assert_eq!(
            Datagram::decode(&[0xc3, 0, 0]),
            Err(DatagramError::NotRelay)
        );
        assert_eq!(Datagram::decode(&[0x43, 1]), Err(DatagramError::NotRelay));
        assert_eq!(Datagram::decode(&[]), Err(DatagramError::NotRelay));
        // A punch is one zero byte.
        assert_eq!(Datagram::decode(&[0]), Err(DatagramError::Short(1)));
        // A header with no packet.
        let mut b = Vec::new();
        put_from_header(&mut b, &[1; 32]);
        assert_eq!(Datagram::decode(&b), Err(DatagramError::Short(FROM_HEADER)));
        assert_eq!(
            Datagram::decode(&[0, 9, 1]),
            Err(DatagramError::UnknownKind(9))
        );
    }
}
