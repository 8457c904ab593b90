//! The first bytes of each stream of a bonded channel. A plain channel's stream starts
//! with `WC` (see [`crate::channel`]); a bonded channel's with `WB`, then which of its
//! streams this is: the one that opens it (with the channel's mode), or one that joins it
//! on another path. Both name the channel by a number the opener chose, unique among the
//! channels it opened to that peer.
//!
//! | bytes | field |
//! |---|---|
//! | 2 | `WB` |
//! | 1 | header version, 1 |
//! | 1 | 1 = open, 2 = join |
//! | 8 | the bond number, big-endian |
//! | 1 | open only: the mode, 0 aggregate, 1 redundant, 2 failover |

use super::schedule::Mode;

/// The first two bytes of every stream of a bonded channel.
pub const MAGIC: [u8; 2] = *b"WB";

/// The version of this header.
pub const VERSION: u8 = 1;

/// The header of one stream of a bonded channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Head {
    /// The stream that opens bonded channel `bond`, which uses its paths by `mode`.
    Open {
        /// The channel's number.
        bond: u64,
        /// How both sides use the paths.
        mode: Mode,
    },
    /// Another path's stream of bonded channel `bond`.
    Join {
        /// The channel's number.
        bond: u64,
    },
}

/// Bytes that are not a bonded stream's header.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HeadError {
    /// The bytes do not start with `WB`.
    #[error("not a bonded channel stream (bad magic)")]
    BadMagic,
    /// A header version this node does not know.
    #[error("unsupported bonded stream header version {0}")]
    BadVersion(u8),
    /// Neither open nor join.
    #[error("unknown bonded stream kind {0}")]
    BadKind(u8),
    /// A mode this node does not know.
    #[error("unknown bond mode {0}")]
    BadMode(u8),
}

fn mode_byte(mode: Mode) -> u8 {
    match mode {
        Mode::Aggregate => 0,
        Mode::Redundant => 1,
        Mode::Failover => 2,
    }
}

impl Head {
    /// The header's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(13);
        out.extend_from_slice(&MAGIC);
        out.push(VERSION);
        match *self {
            Head::Open { bond, mode } => {
                out.push(1);
                out.extend_from_slice(&bond.to_be_bytes());
                out.push(mode_byte(mode));
            }
            Head::Join { bond } => {
                out.push(2);
                out.extend_from_slice(&bond.to_be_bytes());
            }
        }
        out
    }

    /// The header at the start of `buf` and its length; `None` until it is whole.
    pub fn decode(buf: &[u8]) -> Result<Option<(Head, usize)>, HeadError> {
        for (i, &m) in MAGIC.iter().enumerate() {
            match buf.get(i) {
                None => return Ok(None),
                Some(&b) if b != m => return Err(HeadError::BadMagic),
                Some(_) => {}
            }
        }
        match buf.get(2) {
            None => return Ok(None),
            Some(&VERSION) => {}
            Some(&v) => return Err(HeadError::BadVersion(v)),
        }
        let Some(&kind) = buf.get(3) else {
            return Ok(None);
        };
        if kind != 1 && kind != 2 {
            return Err(HeadError::BadKind(kind));
        }
        let Some(bond) = buf.get(4..12) else {
            return Ok(None);
        };
        let bond = u64::from_be_bytes(bond.try_into().expect("eight bytes"));
        if kind == 2 {
            return Ok(Some((Head::Join { bond }, 12)));
        }
        let mode = match buf.get(12) {
            None => return Ok(None),
            Some(0) => Mode::Aggregate,
            Some(1) => Mode::Redundant,
            Some(2) => Mode::Failover,
            Some(&m) => return Err(HeadError::BadMode(m)),
        };
        Ok(Some((Head::Open { bond, mode }, 13)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_round_trip_and_wait_for_their_last_byte() {
        let heads = [
            Head::Open {
                bond: 7,
                mode: Mode::Redundant,
            },
            Head::Open {
                bond: u64::MAX,
                mode: Mode::Failover,
            },
            Head::Join { bond: 1 << 33 },
        ];
        for h in heads {
            let bytes = h.encode();
            for cut in 0..bytes.len() {
                assert_eq!(Head::decode(&bytes[..cut]), Ok(None), "{h:?} cut at {cut}");
            }
            let mut more = bytes.clone();
            more.push(1);
            assert_eq!(Head::decode(&more), Ok(Some((h, bytes.len()))));
        }
    }

    #[test]
    fn bad_heads_are_errors_as_soon_as_they_show() {
        assert_eq!(Head::decode(b"WC"), Err(HeadError::BadMagic));
        assert_eq!(Head::decode(b"WB\x02"), Err(HeadError::BadVersion(2)));
        assert_eq!(Head::decode(b"WB\x01\x03"), Err(HeadError::BadKind(3)));
        let mut bad_mode = b"WB\x01\x01".to_vec();
        bad_mode.extend_from_slice(&[0; 8]);
        bad_mode.push(3);
        assert_eq!(Head::decode(&bad_mode), Err(HeadError::BadMode(3)));
    }
}
