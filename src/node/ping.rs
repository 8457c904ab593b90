//! The `ping` service, and pinging a peer on behalf of `warp ping`.

use std::time::{Duration, Instant};

use protocols::ping::Probe;

use super::service_error::ServiceError;
use crate::control::Response;
use crate::transport::Channel;

/// The service name.
pub const SERVICE: &str = "ping";
/// The service's protocol version.
pub const VERSION: u16 = 1;

/// Echoes every probe back as it came until the opener ends the channel.
pub async fn serve(mut ch: Channel) -> Result<(), ServiceError> {
    while let Some(probe) = ch.read(Probe::decode).await? {
        ch.write(&probe.encode()).await?;
    }
    ch.finish();
    Ok(())
}

/// Sends `count` probes of `size` bytes every `interval` and reports each result through
/// `report`. A probe not echoed within `timeout` is reported lost; a late echo is skipped.
pub async fn run(
    mut ch: Channel,
    count: u32,
    interval: Duration,
    size: u32,
    timeout: Duration,
    mut report: impl FnMut(Response),
) -> Result<(), ServiceError> {
    for seq in 0..count {
        let started = Instant::now();
        ch.write(&Probe { seq, len: size }.encode()).await?;
        let deadline = started + timeout;
        let outcome = loop {
            match tokio::time::timeout_at(deadline.into(), ch.read(Probe::decode)).await {
                Err(_) => break None,
                Ok(Ok(Some(p))) if p.seq == seq => break Some(started.elapsed()),
                Ok(Ok(Some(_))) => continue,
                Ok(Ok(None)) => return Err(ServiceError::Ended("the peer ended the ping channel")),
                Ok(Err(e)) => return Err(e.into()),
            }
        };
        report(match outcome {
            Some(rtt) => Response::PingReply {
                seq,
                size,
                rtt_us: rtt.as_micros() as u64,
            },
            None => Response::PingLost { seq },
        });
        if seq + 1 < count {
            tokio::time::sleep_until((started + interval).into()).await;
        }
    }
    ch.finish();
    Ok(())
}
