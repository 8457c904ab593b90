//! One connection per peer: dialing, accepting, the tie-break when both sides dial at
//! once, and noticing when a connection dies.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use protocols::backoff::Backoff;
use tracing::{info, warn};

use super::Node;
use crate::identity::PeerId;
use crate::store::{PeerEntry, Policy};
use crate::transport::{AcceptError, Channel, Close, Closed, DialError, Incoming, OpenError, Peer};

/// Of the channels a peer lets us open at once, how many gate connections and datagram
/// sessions to one peer may hold: the rest stay free for control traffic (ping, offers,
/// flows).
pub const GATE_CHANNELS: usize = 768;

/// Why a peer could not be connected to.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The book entry's id is not a valid key.
    #[error("{0:?} has no valid peer id")]
    BadId(String),
    /// This node blocks the peer.
    #[error("{0} is blocked (policy block)")]
    BlockedHere(String),
    /// Not connected, and no address to dial.
    #[error("{alias} is not connected and has no address: add one with `warp peers add {alias} {id} --addr HOST:PORT`")]
    NoAddress {
        /// The peer's alias.
        alias: String,
        /// Its id.
        id: String,
    },
    /// Every address failed; the last failure.
    #[error("cannot reach {alias}: {addr}: {error}")]
    Unreachable {
        /// The peer's alias.
        alias: String,
        /// The last address tried.
        addr: String,
        /// How it failed.
        error: DialError,
    },
}

impl ConnectError {
    /// Whether trying again cannot help until someone changes a book. A peer with no
    /// address may still dial this node, so that is not final.
    pub fn is_final(&self) -> bool {
        match self {
            ConnectError::Unreachable { error, .. } => error.is_final(),
            ConnectError::NoAddress { .. } => false,
            ConnectError::BadId(_) | ConnectError::BlockedHere(_) => true,
        }
    }
}

/// Why a channel to a peer's service could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ReachError {
    /// No connection.
    #[error("{0}")]
    Connect(#[from] ConnectError),
    /// Connected, but the channel failed or was refused.
    #[error("{0}")]
    Open(#[from] OpenError),
}

impl ReachError {
    /// Whether trying again cannot help (blocked, unknown, refused) — as opposed to a
    /// peer that is down or a connection that was lost.
    pub fn is_final(&self) -> bool {
        match self {
            ReachError::Connect(e) => e.is_final(),
            ReachError::Open(e) => e.is_final(),
        }
    }
}

/// A live connection and who dialed it.
#[derive(Clone)]
struct Link {
    peer: Peer,
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
    /// Peers whose last dial failed at every address, with why; cleared when a
    /// connection to them is made (the background reconnect keeps trying).
    down: Mutex<HashMap<PeerId, String>>,
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
            .filter(|(_, l)| l.peer.is_open())
            .map(|(id, _)| *id)
            .collect()
    }

    /// Why `peer` cannot be reached now: not connected, and the last dial to every one
    /// of its addresses failed. Gate connections are refused at once then, instead of
    /// each waiting for its own dial to time out.
    pub fn down(&self, peer: &PeerId) -> Option<String> {
        if self.get(peer).is_some() {
            return None;
        }
        let down = self.down.lock().unwrap_or_else(|p| p.into_inner());
        down.get(peer).cloned()
    }

    fn set_down(&self, peer: PeerId, why: Option<String>) {
        let mut down = self.down.lock().unwrap_or_else(|p| p.into_inner());
        match why {
            Some(w) => down.insert(peer, w),
            None => down.remove(&peer),
        };
    }

    /// The live connection to `peer`, if any.
    pub fn get(&self, peer: &PeerId) -> Option<Peer> {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.get(peer)
            .filter(|l| l.peer.is_open())
            .map(|l| l.peer.clone())
    }
}

impl Node {
    /// The connection to `entry`'s peer: the live one, or a new one dialed at its addresses.
    pub async fn connect(self: &Arc<Self>, entry: &PeerEntry) -> Result<Peer, ConnectError> {
        let id = entry
            .peer_id()
            .ok_or_else(|| ConnectError::BadId(entry.alias.clone()))?;
        if entry.policy == Policy::Block {
            return Err(ConnectError::BlockedHere(entry.alias.clone()));
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
        let mut last = None;
        for addr in &entry.addrs {
            match self.endpoint.dial(id, addr).await {
                Ok(peer) => return Ok(self.register(peer, true)),
                Err(error) => {
                    if let DialError::WrongKey { .. } = &error {
                        warn!("{} at {addr}: {error}", entry.alias);
                    }
                    last = Some((addr.clone(), error));
                }
            }
        }
        match last {
            Some((addr, error)) => {
                let e = ConnectError::Unreachable {
                    alias: entry.alias.clone(),
                    addr,
                    error,
                };
                self.conns.set_down(id, Some(e.to_string()));
                Err(e)
            }
            None => Err(ConnectError::NoAddress {
                alias: entry.alias.clone(),
                id: entry.id.clone(),
            }),
        }
    }

    /// Takes an incoming connection: learns the caller's id, applies its policy.
    pub async fn accept(self: Arc<Self>, incoming: Incoming) {
        let remote = incoming.remote();
        let peer = match incoming.handshake().await {
            Ok(p) => p,
            // A key refused is worth a warning; a handshake the caller gave up (a node
            // restarting, both sides dialing at once) is ordinary.
            Err(e @ AcceptError::Handshake(Closed::Certificate(_)) | e @ AcceptError::NoKey(_)) => {
                warn!("refused connection from {remote}: {e}");
                return;
            }
            Err(e) => {
                tracing::debug!("connection from {remote} ended in its handshake: {e}");
                return;
            }
        };
        let id = peer.id();
        let known = self.knows(&id);
        if self.book.policy(&id) == Policy::Block {
            warn!("refused blocked peer {} from {remote}", self.label(&id));
            peer.close(Close::Blocked);
            return;
        }
        if !known && self.unknown() == crate::store::Unknown::Block {
            info!("refused {id} from {remote}: not in the peer book (`warp peers add <alias> {id}` lets it in)");
            peer.close(Close::NotKnown);
            return;
        }
        match known {
            true => info!("peer {} connected from {remote}", self.label(&id)),
            false => info!("unknown key {id} connected from {remote} (unknown = ask)"),
        }
        self.register(peer, false);
    }

    /// Closes the connections of keys not in the book (after unknown became block).
    pub fn close_strangers(&self) {
        for id in self.conns.ids() {
            if !self.knows(&id) {
                if let Some(c) = self.conns.get(&id) {
                    info!("closing {id}: not in the peer book and unknown = block");
                    c.close(Close::NotKnown);
                }
            }
        }
    }

    /// Records a new connection, keeping one per peer: when both sides dialed, the
    /// connection dialed by the smaller peer id wins on both sides.
    fn register(self: &Arc<Self>, peer: Peer, we_dialed: bool) -> Peer {
        let id = peer.id();
        self.conns.set_down(id, None);
        let dialer = if we_dialed { self.id } else { id };
        let winner = self.id.min(id);
        let kept = {
            let mut map = self.conns.map.lock().unwrap_or_else(|p| p.into_inner());
            match map.get(&id) {
                Some(old) if old.peer.is_open() && old.dialer == winner && dialer != winner => {
                    peer.close(Close::Duplicate);
                    return old.peer.clone();
                }
                Some(old) if old.peer.is_open() => old.peer.close(Close::Duplicate),
                _ => {}
            }
            map.insert(
                id,
                Link {
                    peer: peer.clone(),
                    dialer,
                },
            );
            peer
        };
        let node = self.clone();
        let watched = kept.clone();
        tokio::spawn(async move {
            let accept = node.clone().serve_channels(watched.clone());
            let reason = watched.closed().await;
            accept.abort();
            let mut map = node.conns.map.lock().unwrap_or_else(|p| p.into_inner());
            if map.get(&id).is_some_and(|l| l.peer.same(&watched)) {
                map.remove(&id);
                info!("connection to {} closed: {reason}", node.label(&id));
            }
        });
        kept
    }

    /// Accepts the channels `peer` opens, each in its own task.
    fn serve_channels(self: Arc<Self>, peer: Peer) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            while let Some(ch) = peer.accept().await {
                let node = self.clone();
                let id = peer.id();
                tokio::spawn(async move {
                    if let Err(e) = node.clone().serve_channel(id, ch).await {
                        warn!("channel from {}: {e}", node.label(&id));
                    }
                });
            }
        })
    }

    /// Keeps connections up to every book peer that has an address and is not blocked,
    /// retrying with a backoff of 0.5 s doubling to 4 s.
    pub async fn maintain(self: Arc<Self>) {
        let mut backoff: HashMap<PeerId, Backoff> = HashMap::new();
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            tick.tick().await;
            let now = std::time::Instant::now();
            for entry in self.book.list() {
                let Some(id) = entry.peer_id() else { continue };
                if entry.policy == Policy::Block
                    || entry.addrs.is_empty()
                    || self.conns.get(&id).is_some()
                {
                    backoff.remove(&id);
                    continue;
                }
                let b = backoff.entry(id).or_insert_with(|| {
                    Backoff::new(Duration::from_millis(500), Duration::from_secs(4))
                });
                if !b.ready(now) {
                    continue;
                }
                b.attempt(now);
                let node = self.clone();
                tokio::spawn(async move {
                    if let Err(e) = node.connect(&entry).await {
                        tracing::debug!("reconnect to {}: {e}", entry.alias);
                    }
                });
            }
        }
    }
}

/// Opens a channel to a service on `entry`'s peer, connecting first if needed.
pub async fn open_channel(
    node: &Arc<Node>,
    entry: &PeerEntry,
    service: &str,
    version: u16,
) -> Result<Channel, ReachError> {
    let peer = node.connect(entry).await?;
    match peer.open(service, version).await {
        // The connection closed under the channel — most often because both sides had
        // dialed at once and this one lost the tie-break: once more on the one kept.
        Err(e) if e.is_lost() && !e.is_final() => {
            let peer = node.connect(entry).await?;
            Ok(peer.open(service, version).await?)
        }
        other => Ok(other?),
    }
}
