//! The `sink` service: the opener sends one mode byte ([`MODE_COUNT`] or
//! [`MODE_SHA256`]), streams bytes and ends its direction; the service answers with how
//! many bytes it took and, in SHA-256 mode, their hash, so the opener can check that
//! everything arrived intact. Used by `warp speed` and the tunnel's tests.

/// Mode byte: count the bytes only (the hash in the report is all zeros).
pub const MODE_COUNT: u8 = 0;
/// Mode byte: count and hash the bytes.
pub const MODE_SHA256: u8 = 1;

/// The service's answer: `bytes: u64` (big endian) then the 32-byte SHA-256.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SinkReport {
    /// Bytes received.
    pub bytes: u64,
    /// SHA-256 of the bytes received.
    pub sha256: [u8; 32],
}

/// Encoded length of a [`SinkReport`].
pub const REPORT_LEN: usize = 40;

impl SinkReport {
    /// The report's bytes.
    pub fn encode(&self) -> [u8; REPORT_LEN] {
        let mut out = [0u8; REPORT_LEN];
        out[..8].copy_from_slice(&self.bytes.to_be_bytes());
        out[8..].copy_from_slice(&self.sha256);
        out
    }

    /// Decodes a report at the start of `buf`, `None` until all 40 bytes are there.
    pub fn decode(buf: &[u8]) -> Result<Option<(SinkReport, usize)>, std::convert::Infallible> {
        if buf.len() < REPORT_LEN {
            return Ok(None);
        }
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&buf[..8]);
        let mut sha256 = [0u8; 32];
        sha256.copy_from_slice(&buf[8..REPORT_LEN]);
        Ok(Some((
            SinkReport {
                bytes: u64::from_be_bytes(bytes),
                sha256,
            },
            REPORT_LEN,
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_round_trip_and_wait_for_all_bytes() {
        let r = SinkReport {
            bytes: 1 << 40,
            sha256: [9; 32],
        };
        let bytes = r.encode();
        for cut in 0..REPORT_LEN {
            assert_eq!(SinkReport::decode(&bytes[..cut]).unwrap(), None);
        }
        assert_eq!(SinkReport::decode(&bytes).unwrap(), Some((r, REPORT_LEN)));
    }
}
