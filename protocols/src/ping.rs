//! The `ping` service: the opener sends probes, the service echoes each one back as it
//! arrived. A probe is `seq: u32` and `len: u32` (big endian) and `len` bytes of payload.

/// The largest payload a probe may carry.
pub const MAX_PAYLOAD: usize = 65_536;

/// A probe's header; the payload follows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Probe {
    /// Sequence number, from 0.
    pub seq: u32,
    /// Payload length in bytes.
    pub len: u32,
}

/// A malformed probe.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("ping payload of {0} bytes is over the {MAX_PAYLOAD}-byte limit")]
pub struct ProbeTooLarge(pub u32);

impl Probe {
    /// The probe with `len` zero bytes of payload, as bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + self.len as usize);
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.len.to_be_bytes());
        out.resize(8 + self.len as usize, 0);
        out
    }

    /// Decodes a probe at the start of `buf`: the probe and the length of it with its
    /// payload, or `None` when more bytes are needed.
    pub fn decode(buf: &[u8]) -> Result<Option<(Probe, usize)>, ProbeTooLarge> {
        if buf.len() < 8 {
            return Ok(None);
        }
        let seq = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
        let len = u32::from_be_bytes([buf[4], buf[5], buf[6], buf[7]]);
        if len as usize > MAX_PAYLOAD {
            return Err(ProbeTooLarge(len));
        }
        let total = 8 + len as usize;
        if buf.len() < total {
            return Ok(None);
        }
        Ok(Some((Probe { seq, len }, total)))
    }
}
