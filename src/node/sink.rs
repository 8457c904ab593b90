//! The `sink` service, and `warp speed`: stream pseudo-random bytes to a peer's sink and
//! check the SHA-256 it reports.

use std::time::{Duration, Instant};

use protocols::sink::SinkReport;
use rand::{RngCore, SeedableRng};
use sha2::{Digest, Sha256};

use super::channel::Channel;

/// The service name.
pub const SERVICE: &str = "sink";
/// The service's protocol version.
pub const VERSION: u16 = 1;

/// Bytes per write.
const CHUNK: usize = 64 * 1024;

/// Reads everything the opener sends, then reports its length and hash.
pub async fn serve(mut ch: Channel) -> Result<(), String> {
    let mut hash = Sha256::new();
    let mut bytes = 0u64;
    let mut buf = vec![0u8; CHUNK];
    while let Some(n) = ch.read_raw(&mut buf).await? {
        hash.update(&buf[..n]);
        bytes += n as u64;
    }
    let report = SinkReport {
        bytes,
        sha256: hash.finalize().into(),
    };
    ch.write(&report.encode()).await?;
    ch.finish();
    Ok(())
}

/// The outcome of [`run`].
pub struct Speed {
    /// Bytes sent.
    pub bytes: u64,
    /// From the first byte sent to the peer's report.
    pub elapsed: Duration,
    /// Whether the peer's length and SHA-256 match what was sent.
    pub verified: bool,
}

/// Sends `bytes` bytes drawn from a generator seeded with `seed`, then waits for the
/// sink's report and compares it with the local hash.
pub async fn run(mut ch: Channel, bytes: u64, seed: u64) -> Result<Speed, String> {
    let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let started = Instant::now();
    let mut left = bytes;
    while left > 0 {
        let n = left.min(CHUNK as u64) as usize;
        rng.fill_bytes(&mut buf[..n]);
        hash.update(&buf[..n]);
        ch.write(&buf[..n]).await?;
        left -= n as u64;
    }
    ch.finish();
    let report = ch
        .read(SinkReport::decode)
        .await?
        .ok_or("the sink closed without a report")?;
    let local: [u8; 32] = hash.finalize().into();
    Ok(Speed {
        bytes,
        elapsed: started.elapsed(),
        verified: report.bytes == bytes && report.sha256 == local,
    })
}
