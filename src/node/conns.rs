//! One connection per peer: dialing, accepting, the tie-break when both sides dial at
//! once, and noticing when a connection dies.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing::{info, warn};

use super::channel::{connection_error, Channel};
use super::Node;
use crate::identity::PeerId;
use crate::store::{PeerEntry, Policy};
use crate::tls;

/// Application close code: the peer's policy blocks us.
pub const CLOSE_BLOCKED: u32 = 1;
/// Application close code: a second connection between the same two nodes.
pub const CLOSE_DUPLICATE: u32 = 2;
/// Application close code: the node is shutting down.
pub const CLOSE_SHUTDOWN: u32 = 3;
/// Application close code: the key is not in the peer book, and unknown keys are blocked.
pub const CLOSE_UNKNOWN: u32 = 4;

/// How long a dial may take.
const DIAL_TIMEOUT: Duration = Duration::from_secs(3);

/// Channels a peer lets us open at once (`max_concurrent_bidi_streams`).
pub const STREAMS: u32 = 1024;

/// Of those, how many gate connections and datagram sessions to one peer may hold at
/// once: the rest stay free for control traffic (ping, offers, flows).
pub const GATE_CHANNELS: usize = 768;

/// A live connection and who dialed it.
#[derive(Clone)]
struct Link {
    conn: quinn::Connection,
    dialer: PeerId,
}

/// The connection table.
#[derive(Default)]
pub struct Conns {
    map: Mutex<HashMap<PeerId, Link>>,
    /// One dial at a time per peer: callers that arrive while a dial is under way wait
    /// for it and share its connection instead of opening their own.
    dialing: Mutex<HashMap<PeerId, Arc<tokio::sync::Mutex<()>>>>,
    /// Gate channels open to each peer, at most [`GATE_CHANNELS`].
    pub gate_slots: PeerSlots<GATE_CHANNELS>,
    /// Warpdrive channels each peer has open to us, at most [`DRIVE_CHANNELS`].
    pub drive_slots: PeerSlots<DRIVE_CHANNELS>,
}

/// Warpdrive channels one peer may have open to this node at once (each offer and each
/// download takes one while it runs).
pub const DRIVE_CHANNELS: usize = 16;

/// At most `N` things at once per peer.
#[derive(Default)]
pub struct PeerSlots<const N: usize> {
    map: Mutex<HashMap<PeerId, Arc<tokio::sync::Semaphore>>>,
}

impl<const N: usize> PeerSlots<N> {
    /// A place for one more for `peer`, held until dropped; `None` when `N` are taken.
    pub fn take(&self, peer: PeerId) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let sem = {
            let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
            // Forget peers with nothing held, so the map does not grow with every key seen.
            map.retain(|_, s| s.available_permits() < N);
            map.entry(peer)
                .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(N)))
                .clone()
        };
        sem.try_acquire_owned().ok()
    }
}

impl Conns {
    /// The peers with a live connection.
    pub fn ids(&self) -> Vec<PeerId> {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.iter()
            .filter(|(_, l)| l.conn.close_reason().is_none())
            .map(|(id, _)| *id)
            .collect()
    }

    /// The live connection to `peer`, if any.
    pub fn get(&self, peer: &PeerId) -> Option<quinn::Connection> {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.get(peer)
            .filter(|l| l.conn.close_reason().is_none())
            .map(|l| l.conn.clone())
    }
}

impl Node {
    /// The connection to `entry`'s peer: the live one, or a new one dialed at its addresses.
    pub async fn connect(self: &Arc<Self>, entry: &PeerEntry) -> Result<quinn::Connection, String> {
        let id = entry
            .peer_id()
            .ok_or_else(|| format!("{:?} has no valid peer id", entry.alias))?;
        if entry.policy == Policy::Block {
            return Err(format!("{} is blocked (policy block)", entry.alias));
        }
        if let Some(c) = self.conns.get(&id) {
            return Ok(c);
        }
        let gate = {
            let mut dialing = self.conns.dialing.lock().unwrap_or_else(|p| p.into_inner());
            dialing.entry(id).or_default().clone()
        };
        let _dialing = gate.lock().await;
        if let Some(c) = self.conns.get(&id) {
            return Ok(c);
        }
        if entry.addrs.is_empty() {
            return Err(format!(
                "{} is not connected and has no address: add one with `warp peers add {} {} --addr HOST:PORT`",
                entry.alias, entry.alias, entry.id
            ));
        }
        let mut last = String::new();
        for addr in &entry.addrs {
            match self.dial(id, addr).await {
                Ok(conn) => return Ok(self.register(id, conn, true)),
                Err(e) => last = format!("{addr}: {e}"),
            }
        }
        Err(format!("cannot reach {}: {last}", entry.alias))
    }

    async fn dial(&self, id: PeerId, addr: &str) -> Result<quinn::Connection, String> {
        let target: SocketAddr = match addr.parse() {
            Ok(a) => a,
            Err(_) => tokio::net::lookup_host(addr)
                .await
                .map_err(|e| e.to_string())?
                .next()
                .ok_or_else(|| "no address".to_string())?,
        };
        let tls = tls::client_config(&self.identity, id)?;
        let quic =
            quinn::crypto::rustls::QuicClientConfig::try_from(tls).map_err(|e| e.to_string())?;
        let mut cfg = quinn::ClientConfig::new(Arc::new(quic));
        cfg.transport_config(self.transport.clone());
        let connecting = self
            .endpoint
            .connect_with(cfg, target, "warp")
            .map_err(|e| e.to_string())?;
        match tokio::time::timeout(DIAL_TIMEOUT, connecting).await {
            Err(_) => Err("no answer (timed out)".into()),
            Ok(Err(e)) => Err(connection_error(&e)),
            Ok(Ok(conn)) => Ok(conn),
        }
    }

    /// Takes an incoming connection: learns the caller's id, applies its policy.
    pub async fn accept(self: Arc<Self>, incoming: quinn::Incoming) {
        let remote = incoming.remote_address();
        let conn = match incoming.await {
            Ok(c) => c,
            Err(e) => {
                warn!("refused connection from {remote}: {}", connection_error(&e));
                return;
            }
        };
        let id = match peer_of(&conn) {
            Ok(id) => id,
            Err(e) => {
                warn!("refused connection from {remote}: {e}");
                conn.close(0u32.into(), e.as_bytes());
                return;
            }
        };
        let known = self.knows(&id);
        if self.book.policy(&id) == Policy::Block {
            warn!("refused blocked peer {id} from {remote}");
            conn.close(CLOSE_BLOCKED.into(), b"blocked by the peer's policy");
            return;
        }
        if !known && self.unknown() == crate::store::Unknown::Block {
            info!("refused {id} from {remote}: not in the peer book (`warp peers add <alias> {id}` lets it in)");
            conn.close(CLOSE_UNKNOWN.into(), b"not in the peer's book");
            return;
        }
        match known {
            true => info!("peer {id} connected from {remote}"),
            false => info!("unknown key {id} connected from {remote} (unknown = ask)"),
        }
        self.register(id, conn, false);
    }

    /// Closes the connections of keys not in the book (after unknown became block).
    pub fn close_strangers(&self) {
        for id in self.conns.ids() {
            if !self.knows(&id) {
                if let Some(c) = self.conns.get(&id) {
                    info!("closing {id}: not in the peer book and unknown = block");
                    c.close(CLOSE_UNKNOWN.into(), b"not in the peer's book");
                }
            }
        }
    }

    /// Records a new connection, keeping one per peer: when both sides dialed, the
    /// connection dialed by the smaller peer id wins on both sides.
    fn register(
        self: &Arc<Self>,
        peer: PeerId,
        conn: quinn::Connection,
        we_dialed: bool,
    ) -> quinn::Connection {
        let dialer = if we_dialed { self.id } else { peer };
        let winner = self.id.min(peer);
        let kept = {
            let mut map = self.conns.map.lock().unwrap_or_else(|p| p.into_inner());
            match map.get(&peer) {
                Some(old)
                    if old.conn.close_reason().is_none()
                        && old.dialer == winner
                        && dialer != winner =>
                {
                    conn.close(CLOSE_DUPLICATE.into(), b"duplicate connection");
                    return old.conn.clone();
                }
                Some(old) if old.conn.close_reason().is_none() => {
                    old.conn
                        .close(CLOSE_DUPLICATE.into(), b"duplicate connection");
                }
                _ => {}
            }
            map.insert(
                peer,
                Link {
                    conn: conn.clone(),
                    dialer,
                },
            );
            conn.clone()
        };
        let node = self.clone();
        let watched = kept.clone();
        tokio::spawn(async move {
            let accept = node.clone().serve_channels(peer, watched.clone());
            let reason = watched.closed().await;
            accept.abort();
            let mut map = node.conns.map.lock().unwrap_or_else(|p| p.into_inner());
            if map
                .get(&peer)
                .is_some_and(|l| l.conn.stable_id() == watched.stable_id())
            {
                map.remove(&peer);
                info!("connection to {peer} closed: {}", connection_error(&reason));
            }
        });
        kept
    }

    /// Accepts the channels `peer` opens on `conn`, each in its own task.
    fn serve_channels(
        self: Arc<Self>,
        peer: PeerId,
        conn: quinn::Connection,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            while let Ok((send, recv)) = conn.accept_bi().await {
                let node = self.clone();
                tokio::spawn(async move {
                    if let Err(e) = node.serve_channel(peer, send, recv).await {
                        warn!("channel from {peer}: {e}");
                    }
                });
            }
        })
    }

    /// Keeps connections up to every book peer that has an address and is not blocked,
    /// retrying with a backoff of 0.5 s doubling to 4 s.
    pub async fn maintain(self: Arc<Self>) {
        let mut backoff: HashMap<PeerId, (tokio::time::Instant, Duration)> = HashMap::new();
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            tick.tick().await;
            let now = tokio::time::Instant::now();
            for entry in self.book.list() {
                let Some(id) = entry.peer_id() else { continue };
                if entry.policy == Policy::Block
                    || entry.addrs.is_empty()
                    || self.conns.get(&id).is_some()
                {
                    backoff.remove(&id);
                    continue;
                }
                if backoff.get(&id).is_some_and(|(next, _)| *next > now) {
                    continue;
                }
                let node = self.clone();
                let wait = backoff
                    .get(&id)
                    .map_or(Duration::from_millis(500), |(_, d)| {
                        (*d * 2).min(Duration::from_secs(4))
                    });
                backoff.insert(id, (now + wait, wait));
                tokio::spawn(async move {
                    if let Err(e) = node.connect(&entry).await {
                        tracing::debug!("reconnect to {}: {e}", entry.alias);
                    }
                });
            }
        }
    }
}

/// The peer id a connection's peer proved in the handshake.
pub fn peer_of(conn: &quinn::Connection) -> Result<PeerId, String> {
    let certs = conn
        .peer_identity()
        .and_then(|any| {
            any.downcast::<Vec<rustls::pki_types::CertificateDer<'static>>>()
                .ok()
        })
        .ok_or_else(|| "no certificate".to_string())?;
    let first = certs.first().ok_or_else(|| "no certificate".to_string())?;
    tls::peer_id_of(first)
}

/// Opens a channel to a service on `entry`'s peer, connecting first if needed.
pub async fn open_channel(
    node: &Arc<Node>,
    entry: &PeerEntry,
    service: &str,
    version: u16,
) -> Result<Channel, String> {
    let conn = node.connect(entry).await?;
    match Channel::open(&conn, service, version).await {
        // The connection closed under the channel — most often because both sides had
        // dialed at once and this one lost the tie-break: once more on the one kept.
        Err(_) if conn.close_reason().is_some() => {
            let conn = node.connect(entry).await?;
            Channel::open(&conn, service, version).await
        }
        other => other,
    }
}
