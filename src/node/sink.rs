//! The `sink` service, and `warp speed`: stream pseudo-random bytes to a peer's sink and
//! check the SHA-256 it reports.

use std::time::{Duration, Instant};

use protocols::sink::{SinkReport, MODE_COUNT, MODE_SHA256};
use rand::{RngCore, SeedableRng};
use sha2::{Digest, Sha256};

use super::service_error::ServiceError;
use crate::transport::Channel;

/// How often a sender reports how far it got.
pub const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// The service name.
pub const SERVICE: &str = "sink";
/// The service's protocol version.
pub const VERSION: u16 = 1;

/// Bytes per write.
const CHUNK: usize = 64 * 1024;

/// Reads the mode byte and everything the opener sends, then reports its length (and
/// hash, in SHA-256 mode).
pub async fn serve(mut ch: Channel) -> Result<(), ServiceError> {
    let mut mode = [0u8; 1];
    if ch.read_raw(&mut mode).await?.is_none() {
        return Ok(());
    }
    let verify = match mode[0] {
        MODE_COUNT => false,
        MODE_SHA256 => true,
        other => return Err(ServiceError::SinkMode(other)),
    };
    let mut hash = Sha256::new();
    let mut bytes = 0u64;
    let mut buf = vec![0u8; CHUNK];
    while let Some(n) = ch.read_raw(&mut buf).await? {
        if verify {
            hash.update(&buf[..n]);
        }
        bytes += n as u64;
    }
    let sha256 = if verify {
        hash.finalize().into()
    } else {
        [0; 32]
    };
    let report = SinkReport { bytes, sha256 };
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
    /// Whether the peer's length (and SHA-256, when asked for) match what was sent.
    pub verified: bool,
}

/// Sends `bytes` bytes drawn from a generator seeded with `seed`, then waits for the
/// sink's report and compares it with what was sent. Without `verify`, one block of
/// random bytes is sent over and over and only the length is checked: that measures the
/// channel alone, without hashing on either side.
/// `progress` hears the bytes sent so far and the time taken, every [`PROGRESS_EVERY`].
pub async fn run(
    mut ch: Channel,
    (bytes, seed, verify): (u64, u64, bool),
    mut progress: impl FnMut(u64, Duration),
) -> Result<Speed, ServiceError> {
    let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    rng.fill_bytes(&mut buf);
    let started = Instant::now();
    ch.write(&[if verify { MODE_SHA256 } else { MODE_COUNT }])
        .await?;
    let mut left = bytes;
    let mut told = started;
    while left > 0 {
        if told.elapsed() >= PROGRESS_EVERY {
            told = Instant::now();
            progress(bytes - left, started.elapsed());
        }
        let n = left.min(CHUNK as u64) as usize;
        if verify {
            rng.fill_bytes(&mut buf[..n]);
            hash.update(&buf[..n]);
        }
        ch.write(&buf[..n]).await?;
        left -= n as u64;
    }
    ch.finish();
    let report = ch
        .read(SinkReport::decode)
        .await?
        .ok_or(ServiceError::Ended("the sink closed without a report"))?;
    let local: [u8; 32] = hash.finalize().into();
    Ok(Speed {
        bytes,
        elapsed: started.elapsed(),
        verified: report.bytes == bytes && (!verify || report.sha256 == local),
    })
}
