//! Requests that measure a peer: ping (round trips, a line per probe) and speed (bytes
//! through a `sink` channel).

use std::time::Duration;

use super::Replies;
use crate::bond_mode::Mode;
use crate::control::{Fault, Response};
use crate::node::Node;
use crate::store::PeerEntry;
use crate::transport::Channel;

/// Resolves `peer` and opens a channel to `service` on it.
async fn channel_to(
    node: &std::sync::Arc<Node>,
    peer: &str,
    service: (&str, u16),
    mode: Mode,
) -> Result<(PeerEntry, Channel), Response> {
    let entry = node.resolve(peer).map_err(|e| Response::error(&e))?;
    match crate::node::conns::open_channel(node, &entry, service, mode).await {
        Ok(ch) => Ok((entry, ch)),
        Err(e) => Err(super::peers::unreachable(&entry.alias, &e)),
    }
}

/// Sends `bytes` of pseudo-random data (from `seed`) to `peer`'s sink and times it; a
/// progress line every quarter second, then the result.
pub async fn speed(
    node: &std::sync::Arc<Node>,
    peer: &str,
    (bytes, seed, verify): (u64, u64, bool),
    mode: Mode,
    tx: &Replies,
) {
    let service = (crate::node::sink::SERVICE, crate::node::sink::VERSION);
    let (entry, ch) = match channel_to(node, peer, service, mode).await {
        Ok(opened) => opened,
        Err(r) => {
            let _ = tx.send(r);
            return;
        }
    };
    let progress = |sent: u64, elapsed: Duration| {
        let _ = tx.send(Response::SpeedProgress {
            bytes: sent,
            micros: elapsed.as_micros() as u64,
        });
    };
    let last = match crate::node::sink::run(ch, (bytes, seed, verify), progress).await {
        Ok(s) => Response::SpeedDone {
            bytes: s.bytes,
            micros: s.elapsed.as_micros() as u64,
            verified: s.verified,
        },
        Err(e) => Response::fail(Fault::Unavailable, format!("{}: {e}", entry.alias)),
    };
    let _ = tx.send(last);
}

/// Pings `peer`: `count` probes of `size` bytes, `interval_ms` apart; a line per probe.
pub async fn ping(
    node: &std::sync::Arc<Node>,
    peer: &str,
    (count, interval_ms, size): (u32, u64, u32),
    tx: &Replies,
) {
    let send = |r: Response| {
        let _ = tx.send(r);
    };
    if size as usize > protocols::ping::MAX_PAYLOAD {
        return send(Response::invalid(format!(
            "size {size} is over the {}-byte limit",
            protocols::ping::MAX_PAYLOAD
        )));
    }
    let service = (crate::node::ping::SERVICE, crate::node::ping::VERSION);
    let (entry, ch) = match channel_to(node, peer, service, Mode::Aggregate).await {
        Ok(opened) => opened,
        Err(r) => return send(r),
    };
    let remote = entry
        .peer_id()
        .and_then(|id| node.conns.get(&id))
        .and_then(|p| p.paths().first().map(|path| path.remote.to_string()))
        .unwrap_or_default();
    send(Response::PingStart {
        id: entry.id.clone(),
        remote,
    });
    let interval = Duration::from_millis(interval_ms);
    let timeout = Duration::from_secs(2).max(interval);
    match crate::node::ping::run(ch, count, interval, size, timeout, send).await {
        Ok(()) => send(Response::PingDone),
        Err(e) => send(Response::fail(
            Fault::Unavailable,
            format!("{}: {e}", entry.alias),
        )),
    }
}
