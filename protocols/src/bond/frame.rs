//! The frames of a bonded channel, on each path's stream: a byte of type, then its fields,
//! big-endian. Decoded incrementally: a frame split across reads is `None` until whole.
//!
//! | type | frame | fields |
//! |---|---|---|
//! | 1 | `Data` | sequence `u64`, length `u16` (1 to [`MAX_SEGMENT`]), the bytes |
//! | 2 | `Ack` | next sequence lacked `u64`, window `u32` (bytes the sender may have in flight beyond it) |
//! | 3 | `Fin` | sequence `u64`: the number of segments the channel carried |
//! | 4 | `Got` | `u64`: segment bytes received so far on this path's stream |

/// The most bytes one segment carries.
pub const MAX_SEGMENT: usize = 16 * 1024;

/// The longest frame: a full `Data` frame.
pub const MAX_FRAME: usize = 1 + 8 + 2 + MAX_SEGMENT;

/// One frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// Segment `seq` of the channel's bytes.
    Data {
        /// Its sequence number (the first segment is 0).
        seq: u64,
        /// Its bytes, 1 to [`MAX_SEGMENT`].
        payload: Vec<u8>,
    },
    /// Every segment below `next` arrived; the sender may have `window` bytes in flight
    /// in the segments after it (the receiver's buffer for segments that come early).
    Ack {
        /// The first segment the receiver lacks.
        next: u64,
        /// Bytes the sender may have in flight beyond `next`.
        window: u32,
    },
    /// The channel's data ends: `seq` segments in all.
    Fin {
        /// How many segments.
        seq: u64,
    },
    /// Segment bytes received so far on the stream this frame travels on (the reverse
    /// direction of the same path): the sender learns what each path has delivered, so
    /// what is still queued on it and the rate it delivers at.
    Got {
        /// Payload bytes of `Data` frames received on this path's stream, in all.
        bytes: u64,
    },
}

/// Why bytes are not a frame.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A type this version does not know.
    #[error("unknown bond frame type {0}")]
    UnknownType(u8),
    /// A segment with no bytes.
    #[error("empty segment")]
    Empty,
    /// A segment over [`MAX_SEGMENT`].
    #[error("segment of {0} bytes is over the {MAX_SEGMENT}-byte limit")]
    TooLong(usize),
}

impl Frame {
    /// The frame's bytes. A `Data` payload must be 1 to [`MAX_SEGMENT`] bytes.
    pub fn encode(&self) -> Result<Vec<u8>, FrameError> {
        let mut out = Vec::new();
        match self {
            Frame::Data { seq, payload } => {
                if payload.is_empty() {
                    return Err(FrameError::Empty);
                }
                if payload.len() > MAX_SEGMENT {
                    return Err(FrameError::TooLong(payload.len()));
                }
                out.reserve(11 + payload.len());
                out.push(1);
                out.extend_from_slice(&seq.to_be_bytes());
                out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
                out.extend_from_slice(payload);
            }
            Frame::Ack { next, window } => {
                out.push(2);
                out.extend_from_slice(&next.to_be_bytes());
                out.extend_from_slice(&window.to_be_bytes());
            }
            Frame::Fin { seq } => {
                out.push(3);
                out.extend_from_slice(&seq.to_be_bytes());
            }
            Frame::Got { bytes } => {
                out.push(4);
                out.extend_from_slice(&bytes.to_be_bytes());
            }
        }
        Ok(out)
    }

    /// The frame at the start of `buf` and its length; `None` when `buf` holds only part
    /// of one.
    pub fn decode(buf: &[u8]) -> Result<Option<(Frame, usize)>, FrameError> {
        let Some(&kind) = buf.first() else {
            return Ok(None);
        };
        let u64_at = |at: usize| -> Option<u64> {
            Some(u64::from_be_bytes(buf.get(at..at + 8)?.try_into().ok()?))
        };
        match kind {
            1 => {
                let (Some(seq), Some(len)) = (u64_at(1), buf.get(9..11)) else {
                    return Ok(None);
                };
                let len = u16::from_be_bytes([len[0], len[1]]) as usize;
                if len == 0 {
                    return Err(FrameError::Empty);
                }
                if len > MAX_SEGMENT {
                    return Err(FrameError::TooLong(len));
                }
                let Some(payload) = buf.get(11..11 + len) else {
                    return Ok(None);
                };
                let frame = Frame::Data {
                    seq,
                    payload: payload.to_vec(),
                };
                Ok(Some((frame, 11 + len)))
            }
            2 => {
                let (Some(next), Some(w)) = (u64_at(1), buf.get(9..13)) else {
                    return Ok(None);
                };
                let window = u32::from_be_bytes([w[0], w[1], w[2], w[3]]);
                Ok(Some((Frame::Ack { next, window }, 13)))
            }
            3 => Ok(u64_at(1).map(|seq| (Frame::Fin { seq }, 9))),
            4 => Ok(u64_at(1).map(|bytes| (Frame::Got { bytes }, 9))),
            other => Err(FrameError::UnknownType(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_wait_for_their_last_byte() {
        let frames = [
            Frame::Data {
                seq: 7,
                payload: b"hello".to_vec(),
            },
            Frame::Ack {
                next: 8,
                window: 65_536,
            },
            Frame::Fin { seq: 9 },
            Frame::Got { bytes: 1 << 40 },
        ];
        for f in frames {
            let bytes = f.encode().unwrap();
            for cut in 0..bytes.len() {
                assert_eq!(Frame::decode(&bytes[..cut]), Ok(None), "{f:?} cut at {cut}");
            }
            let mut more = bytes.clone();
            more.extend_from_slice(&[9, 9]);
            assert_eq!(Frame::decode(&more), Ok(Some((f, bytes.len()))));
        }
    }

    #[test]
    fn bad_frames_are_errors_before_their_body_arrives() {
        assert_eq!(Frame::decode(&[0]), Err(FrameError::UnknownType(0)));
        let mut empty = vec![1];
        empty.extend_from_slice(&[0; 10]);
        assert_eq!(Frame::decode(&empty), Err(FrameError::Empty));
        let mut long = vec![1];
        long.extend_from_slice(&[0; 8]);
        long.extend_from_slice(&(MAX_SEGMENT as u16 + 1).to_be_bytes());
        assert_eq!(
            Frame::decode(&long),
            Err(FrameError::TooLong(MAX_SEGMENT + 1))
        );
        let big = Frame::Data {
            seq: 0,
            payload: vec![0; MAX_SEGMENT + 1],
        };
        assert_eq!(big.encode(), Err(FrameError::TooLong(MAX_SEGMENT + 1)));
    }
}
