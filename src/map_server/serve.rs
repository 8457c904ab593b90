//! One node's connection to the map: the `map` channels it opens, each a sequence of
//! requests answered in order. Anything else is declined; a malformed frame ends its
//! channel with a reason, never the map.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use protocols::channel::{ChannelOpen, ChannelReply};
use protocols::map::frame::{SERVICE, VERSION};
use protocols::map::{Frame, Record};
use std::collections::HashMap;
use tokio::sync::mpsc;
use tracing::{debug, info};

use super::records::Records;
use super::relay::Relay;
use crate::identity::PeerId;
use crate::transport::{Channel, Peer};

/// Most requests on one channel per second (beyond, the channel waits).
const REQUESTS_PER_SECOND: u32 = 100;
/// How long a channel may stay silent.
const IDLE: Duration = Duration::from_secs(60);

/// What the map knows while it serves.
pub struct Serving {
    /// The records.
    pub records: Records,
    /// The pairing-code numbers held.
    pub claims: super::claims::Claims,
    /// The addresses the map listens on (for `Observed`).
    pub listening: Vec<SocketAddr>,
    /// The nodes that watch for introductions, each with where to tell it.
    pub watchers: std::sync::Mutex<HashMap<PeerId, (u64, mpsc::Sender<Record>)>>,
    /// Which nodes are relayed to which.
    pub relay: Arc<Relay>,
    /// The flows the map defines.
    pub flows: Arc<super::flows::Flows>,
}

/// How long a `Relay` request waits for the other node to ask too.
const RELAY_WAIT: Duration = Duration::from_secs(3);

/// Introductions queued for one watching node (more are dropped: the introduced node
/// asks again when it dials again).
const WATCH_QUEUE: usize = 16;

/// Unix seconds now.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Serves the channels `peer` opens until its connection ends; then the map relays for
/// it no more.
pub async fn connection(map: Arc<Serving>, peer: Peer) {
    serve_channels(map.clone(), &peer).await;
    if let Some(p) = peer.paths().first() {
        map.relay.forget(peer.id(), p.remote);
    }
}

async fn serve_channels(map: Arc<Serving>, peer: &Peer) {
    while let Some(ch) = peer.accept().await {
        let map = map.clone();
        let id = peer.id();
        let (local, remote) = match peer.paths().first() {
            Some(p) => (p.local, p.remote),
            None => return,
        };
        tokio::spawn(async move {
            if let Err(e) = channel(map, id, (local, remote), ch).await {
                debug!("map channel from {id}: {e}");
            }
        });
    }
}

async fn channel(
    map: Arc<Serving>,
    id: PeerId,
    (local, remote): (SocketAddr, SocketAddr),
    mut ch: Channel,
) -> Result<(), crate::transport::ChannelError> {
    let Some(header) = tokio::time::timeout(IDLE, ch.read(ChannelOpen::decode))
        .await
        .map_err(|_| crate::transport::ChannelError::Truncated)??
    else {
        return Ok(());
    };
    if header.service != SERVICE || header.version != VERSION {
        let msg = format!(
            "this is a map: it serves {SERVICE} version {VERSION} only, not {} version {}",
            header.service, header.version
        );
        return ch.decline(ChannelReply::UnknownService(msg)).await;
    }
    ch.write(&ChannelReply::Accepted.encode()).await?;
    let mut window = tokio::time::Instant::now();
    let mut in_window = 0u32;
    loop {
        let frame = match tokio::time::timeout(IDLE, ch.read(Frame::decode)).await {
            Err(_) | Ok(Ok(None)) => return Ok(()),
            Ok(Ok(Some(f))) => f,
            Ok(Err(e)) => {
                let refusal = Frame::Refused(format!("malformed request: {e}"));
                let _ = ch.write(&refusal.encode()).await;
                ch.finish();
                return Ok(());
            }
        };
        in_window += 1;
        if in_window > REQUESTS_PER_SECOND {
            tokio::time::sleep_until(window + Duration::from_secs(1)).await;
        }
        if window.elapsed() >= Duration::from_secs(1) {
            (window, in_window) = (tokio::time::Instant::now(), 0);
        }
        if frame == Frame::Watch {
            return watch(&map, id, ch).await;
        }
        if frame == Frame::Flows {
            return super::flow_channel::serve(&map.flows, id, ch).await;
        }
        if let Frame::Join { flow, role, name } = frame {
            let answer = super::flow_channel::join(&map.flows, id, (flow, role, name)).await;
            ch.write(&answer.encode()).await?;
            continue;
        }
        if let Frame::Relay(peer) = frame {
            let answer = relay(&map, id, remote, PeerId(peer)).await;
            ch.write(&answer.encode()).await?;
            continue;
        }
        let answer = answer(&map, id, (local, remote), frame);
        ch.write(&answer.encode()).await?;
    }
}

/// Keeps `ch` as node `id`'s watched channel: each introduction to it is written there
/// as `Wanted`, until the node closes it or watches on another channel.
async fn watch(
    map: &Serving,
    id: PeerId,
    mut ch: Channel,
) -> Result<(), crate::transport::ChannelError> {
    static TOKENS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let token = TOKENS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let (tx, mut rx) = mpsc::channel(WATCH_QUEUE);
    map.watchers
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(id, (token, tx));
    let result = async {
        ch.write(&Frame::Watching.encode()).await?;
        let (mut w, mut r) = ch.split();
        let mut sink = [0u8; 64];
        loop {
            tokio::select! {
                wanted = rx.recv() => match wanted {
                    Some(record) => w.write_all(&Frame::Wanted(record).encode()).await?,
                    None => return Ok(()),
                },
                // Nothing more is read on a watched channel: its end ends the watch.
                read = tokio::io::AsyncReadExt::read(&mut r, &mut sink) => match read {
                    Ok(0) | Err(_) => return Ok(()),
                    Ok(_) => {}
                },
            }
        }
    }
    .await;
    let mut watchers = map.watchers.lock().unwrap_or_else(|p| p.into_inner());
    if watchers.get(&id).is_some_and(|(t, _)| *t == token) {
        watchers.remove(&id);
    }
    result
}

/// Node `id` (its connection from `remote`) asks to be relayed to `peer`: unless `peer`
/// has asked for `id` already, `peer` is told (as by `Introduce`) and the answer waits
/// until it asks for `id` too.
async fn relay(map: &Serving, id: PeerId, remote: SocketAddr, peer: PeerId) -> Frame {
    let token = match map.relay.ask(id, remote, peer) {
        // The peer asked first: it was told about this node then, and is answered now.
        Ok((token, true)) => {
            return Frame::Relaying {
                peer: peer.0,
                token,
            }
        }
        Ok((token, false)) => token,
        Err(e) => return Frame::Refused(e.to_string()),
    };
    // Told only when it has not asked: its own request would tell this node again, and
    // so on back and forth.
    introduce(map, id, peer.0);
    match map.relay.wait_for(id, peer, RELAY_WAIT).await {
        true => Frame::Relaying {
            peer: peer.0,
            token,
        },
        false => Frame::Refused(format!(
            "{peer} did not ask to be relayed to this node within {} s",
            RELAY_WAIT.as_secs()
        )),
    }
}

/// Tells `target`, if it watches, that node `id` wants to reach it.
fn introduce(map: &Serving, id: PeerId, target: [u8; 32]) -> Frame {
    let Ok(Some(mine)) = map.records.get(&id.0, now()) else {
        return Frame::Refused("register before asking for an introduction".into());
    };
    let watchers = map.watchers.lock().unwrap_or_else(|p| p.into_inner());
    match watchers.get(&PeerId(target)) {
        Some((_, tx)) => {
            let _ = tx.try_send(mine);
            Frame::Introduced(target)
        }
        None => Frame::Refused("that node does not watch this map".into()),
    }
}

/// The answer to one request from node `id`, seen at `remote` on the map's `local`.
fn answer(map: &Serving, id: PeerId, (local, remote): (SocketAddr, SocketAddr), f: Frame) -> Frame {
    let now = now();
    match f {
        Frame::Observe => Frame::Observed {
            addr: remote,
            others: map
                .listening
                .iter()
                .map(|l| match l.ip().is_unspecified() {
                    true => SocketAddr::new(local.ip(), l.port()),
                    false => *l,
                })
                .filter(|l| *l != local && l.is_ipv4() == remote.is_ipv4())
                .collect(),
        },
        // A node keeps its own record only: the connection proved the key.
        Frame::Register(r) if r.id != id.0 => {
            Frame::Refused("a node registers its own record only".into())
        }
        Frame::Register(r) => match map.records.keep(&r, now) {
            Ok(until) => {
                info!("registered {id} at {:?} (sequence {})", r.addrs, r.seq);
                Frame::Registered(until)
            }
            Err(e) => Frame::Refused(e.to_string()),
        },
        Frame::Lookup(key) => match map.records.get(&key, now) {
            Ok(Some(r)) => Frame::Found(r),
            Ok(None) => Frame::NotFound(key),
            Err(e) => Frame::Refused(format!("the map's database: {e}")),
        },
        Frame::Claim => match map.claims.claim(id, std::time::Instant::now()) {
            Ok(nameplate) => Frame::Claimed {
                nameplate,
                until: now + super::claims::CLAIM_FOR.as_secs(),
            },
            Err(e) => Frame::Refused(e.to_string()),
        },
        Frame::Release(n) => {
            map.claims.release(id, n);
            Frame::Released(n)
        }
        Frame::WhoHas(n) => match map.claims.holder(n, std::time::Instant::now()) {
            Some(holder) => Frame::Holder {
                nameplate: n,
                id: holder.0,
            },
            None => Frame::Refused(format!("no node waits with code number {n} on this map")),
        },
        Frame::Introduce(target) => introduce(map, id, target),
        // Answered by `watch` and `relay`.
        Frame::Watch => Frame::Watching,
        Frame::Relay(_) | Frame::Flows | Frame::Join { .. } => {
            Frame::Refused("that request is answered apart".into())
        }
        Frame::Congested(_) => Frame::Refused("Congested goes on a flows channel".into()),
        Frame::Observed { .. }
        | Frame::Wanted(_)
        | Frame::Watching
        | Frame::Introduced(_)
        | Frame::Relaying { .. }
        | Frame::Registered(_)
        | Frame::Found(_)
        | Frame::NotFound(_)
        | Frame::Refused(_)
        | Frame::Claimed { .. }
        | Frame::Released(_)
        | Frame::Holder { .. }
        | Frame::FlowTable { .. }
        | Frame::Joined(_)
        | Frame::JoinHeld(_) => Frame::Refused("that is an answer, not a request".into()),
    }
}
