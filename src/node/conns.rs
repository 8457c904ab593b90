//! The connected peers: dialing every address of a peer (each connection one of its
//! paths), accepting, and noticing when a peer's last path dies.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use protocols::backoff::Backoff;
use tracing::{info, warn};

use super::Node;
use crate::bond_mode::Mode;
use crate::identity::PeerId;
use crate::store::{PeerEntry, Policy};
use crate::transport::{
    AcceptError, AddError, Channel, Close, Closed, DialError, Incoming, OpenError, Path, Peer,
};

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
    /// None of the interfaces the node may use has a route to the peer's addresses.
    #[error("no route to {alias} through the interfaces this node may use ({interfaces})")]
    NoRoute {
        /// The peer's alias.
        alias: String,
        /// The interfaces named with `--interface`.
        interfaces: String,
    },
    /// Not connected, and no address to dial.
    #[error("{alias} is not connected, has no address and was not found on the local network or on a map: add one with `warp peers add {alias} {id} --addr HOST:PORT`")]
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
            ConnectError::NoAddress { .. } | ConnectError::NoRoute { .. } => false,
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

/// The connection table.
#[derive(Default)]
pub struct Conns {
    map: Mutex<HashMap<PeerId, Peer>>,
    /// One dial at a time per peer: callers that arrive while a dial is under way wait
    /// for it and share its connection instead of opening their own.
    dialing: Mutex<HashMap<PeerId, Arc<tokio::sync::Mutex<()>>>>,
    /// Addresses (and interfaces) being dialed for another path to a connected peer.
    dialing_paths: Mutex<std::collections::HashSet<(PeerId, String, Option<String>)>>,
    /// Rounds of introduction, dials and traversal run for peers reached only through
    /// a relay, since they last had a direct path.
    rounds: Mutex<HashMap<PeerId, u32>>,
    /// Gate channels open to each peer, at most [`GATE_CHANNELS`].
    pub gate_slots: PeerSlots<GATE_CHANNELS>,
    /// Warpdrive channels each peer has open to us, at most [`DRIVE_CHANNELS`].
    pub drive_slots: PeerSlots<DRIVE_CHANNELS>,
    /// Peers whose last dial failed at every address, with why; cleared when a
    /// connection to them is made (the background reconnect keeps trying).
    down: Mutex<HashMap<PeerId, String>>,
}

/// How often a peer reached only through a relay is tried directly again, after the
/// first three rounds.
const RETRY_EVERY: Duration = Duration::from_secs(10);

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
            .filter(|(_, p)| p.is_open())
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

    /// Marks attempt `what` (an address dialed, through an interface or not; or a step
    /// such as an introduction) to `peer` as under way; false when it already is.
    pub fn begin(&self, peer: PeerId, what: &str, via: Option<&str>) -> bool {
        let mut dialing = self.dialing_paths.lock().unwrap_or_else(|p| p.into_inner());
        dialing.insert((peer, what.to_string(), via.map(str::to_string)))
    }

    /// Attempt `what` to `peer` ended.
    pub fn end(&self, peer: PeerId, what: &str, via: Option<&str>) {
        let mut dialing = self.dialing_paths.lock().unwrap_or_else(|p| p.into_inner());
        dialing.remove(&(peer, what.to_string(), via.map(str::to_string)));
    }

    /// The live connection to `peer`, if any.
    pub fn get(&self, peer: &PeerId) -> Option<Peer> {
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.get(peer).filter(|p| p.is_open()).cloned()
    }
}

impl Node {
    /// The connection to `entry`'s peer: the live one, or a new one dialed at its addresses.
    /// A peer known from a map is first introduced: the map tells it to send towards this
    /// node, so that its NAT lets this node's packets in.
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
        if self.addrs(entry).is_empty() && self.maps.any() {
            self.look_up(id).await;
        }
        if entry.addrs.is_empty() && self.maps.any() {
            return self.connect_through_maps(entry, id).await;
        }
        let mut last = None;
        let plan = self.plan(entry);
        if plan.is_empty() && !self.addrs(entry).is_empty() {
            return Err(ConnectError::NoRoute {
                alias: entry.alias.clone(),
                interfaces: self.interfaces.join(", "),
            });
        }
        for (addr, via) in &plan {
            match self.endpoint.dial(id, addr, via.as_deref()).await {
                Ok(path) => {
                    let peer = self.register(path);
                    self.clone().more_paths(entry.clone());
                    return Ok(peer);
                }
                Err(error) => {
                    if let DialError::WrongKey { .. } = &error {
                        warn!("{} at {addr}: {error}", entry.alias);
                    }
                    last = Some((addr.clone(), error));
                }
            }
        }
        Err(self.failed(entry, id, last))
    }

    /// Connects to a peer known by its key alone (and what the maps say), relay first
    /// and direct at the same time: every map that relays is asked to, which also tells
    /// the peer to open its NAT towards this node; once the peer has asked too (or after
    /// a second), the addresses its record gives are dialed as well. The first path up
    /// is returned; the other, when it comes, becomes another path of the peer (a direct
    /// path takes the traffic from the relay).
    async fn connect_through_maps(
        self: &Arc<Self>,
        entry: &PeerEntry,
        id: PeerId,
    ) -> Result<Peer, ConnectError> {
        type Attempt = Result<Peer, Option<(String, DialError)>>;
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Attempt>(2);
        let (asked_tx, asked) = tokio::sync::oneshot::channel::<()>();
        let dial_all = move |node: Arc<Node>, plan: Vec<(String, Option<String>)>| async move {
            let mut last = None;
            for (addr, via) in plan {
                match node.endpoint.dial(id, &addr, via.as_deref()).await {
                    Ok(path) => return Ok(node.register(path)),
                    Err(error) => last = Some((addr, error)),
                }
            }
            Err(last)
        };
        {
            let (node, tx) = (self.clone(), tx.clone());
            tokio::spawn(async move {
                let relayed = node.relay_through_maps(id).await;
                let _ = asked_tx.send(());
                let plan = relayed.iter().map(|a| (a.to_string(), None)).collect();
                let _ = tx.send(dial_all(node, plan).await).await;
            });
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), asked).await;
        {
            let (node, plan) = (self.clone(), self.plan(entry));
            tokio::spawn(async move {
                let _ = tx.send(dial_all(node, plan).await).await;
            });
        }
        let mut last = None;
        while let Some(attempt) = rx.recv().await {
            match attempt {
                Ok(peer) => {
                    self.clone().more_paths(entry.clone());
                    self.traverse_soon(peer.clone(), Duration::from_secs(1));
                    return Ok(peer);
                }
                Err(Some(e)) => last = Some(e),
                Err(None) => {}
            }
        }
        Err(self.failed(entry, id, last))
    }

    /// Why connecting to `entry` failed, from the last dial's failure (none: nothing to
    /// dial); a failed dial also marks the peer down with that reason.
    fn failed(
        &self,
        entry: &PeerEntry,
        id: PeerId,
        last: Option<(String, DialError)>,
    ) -> ConnectError {
        match last {
            Some((addr, error)) => {
                let e = ConnectError::Unreachable {
                    alias: entry.alias.clone(),
                    addr,
                    error,
                };
                self.conns.set_down(id, Some(e.to_string()));
                e
            }
            None => ConnectError::NoAddress {
                alias: entry.alias.clone(),
                id: entry.id.clone(),
            },
        }
    }

    /// Takes an incoming connection: learns the caller's id, applies its policy.
    pub async fn accept(self: Arc<Self>, incoming: Incoming) {
        let remote = incoming.remote();
        let path = match incoming.handshake().await {
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
        let id = path.peer();
        let known = self.knows(&id);
        if self.book.policy(&id) == Policy::Block {
            warn!("refused blocked peer {} from {remote}", self.label(&id));
            path.close(Close::Blocked);
            return;
        }
        // While a code waits, a stranger may connect to pair (and nothing else); once
        // paired, to fetch its offer.
        let pairing = self.pairings.any_waiting() || self.pairings.is_paired(&id);
        // A member of a flow a trusted map defines may connect, for that flow only.
        let member = self.flows.maps.is_member(&id);
        if !known && self.unknown() == crate::store::Unknown::Block && !pairing && !member {
            info!("refused {id} from {remote}: not in the peer book (`warp peers add <alias> {id}` lets it in)");
            path.close(Close::NotKnown);
            return;
        }
        match known {
            true => info!("peer {} connected from {remote}", self.label(&id)),
            false if member => {
                info!("{id}, a member of a flow from a map, connected from {remote}")
            }
            false if self.unknown() == crate::store::Unknown::Block => {
                info!("unknown key {id} connected from {remote} to pair by a code")
            }
            false => info!("unknown key {id} connected from {remote} (unknown = ask)"),
        }
        self.register(path);
    }

    /// The paths to dial for `entry`: each of its addresses, through each interface
    /// that has a route to it when the node was told which interfaces to use or when
    /// several have one (two uplinks to one address are two paths); else from the
    /// node's own socket, as the routes say.
    fn plan(&self, entry: &PeerEntry) -> Vec<(String, Option<String>)> {
        let mut plan = Vec::new();
        for addr in &self.addrs(entry) {
            let Ok(at) = addr.parse::<std::net::SocketAddr>() else {
                // A name: resolved when dialed, through the interfaces named, if any.
                match self.interfaces.is_empty() {
                    true => plan.push((addr.clone(), None)),
                    false => plan.extend(
                        self.interfaces
                            .iter()
                            .map(|i| (addr.clone(), Some(i.clone()))),
                    ),
                }
                continue;
            };
            let mut through = crate::interfaces::routes_to(at.ip());
            if !self.interfaces.is_empty() {
                through.retain(|i| self.interfaces.contains(i));
            } else if through.len() < 2 {
                plan.push((addr.clone(), None));
                continue;
            }
            plan.extend(through.into_iter().map(|i| (addr.clone(), Some(i))));
        }
        plan
    }

    /// Where `entry`'s peer may be dialed: the book's addresses, then those it announced
    /// on the local network, then those its record on a map gives.
    fn addrs(&self, entry: &PeerEntry) -> Vec<String> {
        let mut addrs = entry.addrs.clone();
        let Some(id) = entry.peer_id() else {
            return addrs;
        };
        let lan = self.lan.as_ref().map(|l| l.addrs(&id)).unwrap_or_default();
        for a in lan.into_iter().chain(self.maps.addrs(&id)) {
            let a = a.to_string();
            if !addrs.contains(&a) {
                addrs.push(a);
            }
        }
        addrs
    }

    /// Dials, in the background, each path of `entry` (see [`Node::plan`]) that its peer
    /// lacks: each answer becomes another path. A peer known from a map and reached only
    /// through its relay is introduced again first, so that its NAT lets the dial in.
    fn more_paths(self: Arc<Self>, entry: PeerEntry) {
        let Some(id) = entry.peer_id() else { return };
        let Some(peer) = self.conns.get(&id) else {
            return;
        };
        let relayed_only = peer
            .paths()
            .iter()
            .all(|p| p.kind == crate::transport::PathKind::Relay);
        let mut rounds = self.conns.rounds.lock().unwrap_or_else(|p| p.into_inner());
        if !(entry.addrs.is_empty() && self.maps.any() && relayed_only) {
            rounds.remove(&id);
            drop(rounds);
            return self.dial_missing(&entry, id, &peer);
        }
        if !self.conns.begin(id, "introduction", None) {
            return;
        }
        let round = rounds.entry(id).or_default();
        *round += 1;
        // Seed 003: a failed round is tried twice again at once, then every 10 s.
        let pause = match *round {
            1..=2 => Duration::ZERO,
            _ => RETRY_EVERY,
        };
        drop(rounds);
        tokio::spawn(async move {
            let started = tokio::time::Instant::now();
            self.introduce(id).await;
            self.clone().dial_missing(&entry, id, &peer);
            self.traverse_soon(peer.clone(), Duration::from_secs(1));
            tokio::time::sleep_until(started + pause).await;
            self.conns.end(id, "introduction", None);
        });
    }

    /// Dials each path of `entry` that `peer` lacks, each in its own task.
    fn dial_missing(self: Arc<Self>, entry: &PeerEntry, id: PeerId, peer: &Peer) {
        for (addr, via) in self.plan(entry) {
            if peer.reaches(&addr, via.as_deref()) {
                continue;
            }
            if !self.conns.begin(id, &addr, via.as_deref()) {
                continue;
            }
            let node = self.clone();
            let alias = entry.alias.clone();
            tokio::spawn(async move {
                match node.endpoint.dial(id, &addr, via.as_deref()).await {
                    Ok(path) => {
                        match &via {
                            Some(i) => info!("{alias}: another path, to {addr} through {i}"),
                            None => info!("{alias}: another path, to {addr}"),
                        }
                        node.register(path);
                    }
                    Err(e) => tracing::debug!("{alias} at {addr}: {e}"),
                }
                node.conns.end(id, &addr, via.as_deref());
            });
        }
    }

    /// Whether `entry` is connected with every path it should have (`None`: not
    /// connected at all).
    fn fully_connected(&self, entry: &PeerEntry, id: &PeerId) -> Option<bool> {
        let peer = self.conns.get(id)?;
        Some(
            self.plan(entry)
                .iter()
                .all(|(a, via)| peer.reaches(a, via.as_deref())),
        )
    }

    /// Closes the connections of keys not in the book (after unknown became block).
    pub fn close_strangers(&self) {
        for id in self.conns.ids() {
            if !self.knows(&id) && !self.pairings.is_paired(&id) && !self.flows.maps.is_member(&id)
            {
                if let Some(c) = self.conns.get(&id) {
                    info!("closing {id}: not in the peer book and unknown = block");
                    c.close(Close::NotKnown);
                }
            }
        }
    }

    /// Records a new connection as a path of its peer, or as the first path of a peer
    /// not connected before. When both sides dialed the same addresses, the connection
    /// dialed by the smaller peer id is kept on both sides.
    pub(super) fn register(self: &Arc<Self>, path: Path) -> Peer {
        let id = path.peer();
        self.conns.set_down(id, None);
        let kept = {
            let mut map = self.conns.map.lock().unwrap_or_else(|p| p.into_inner());
            let mut path = path;
            if let Some(peer) = map.get(&id).filter(|p| p.is_open()) {
                match peer.add(path) {
                    Ok(()) | Err(AddError::Duplicate) => return peer.clone(),
                    Err(AddError::PeerClosed(p)) => path = *p,
                }
            }
            let peer = Peer::new(path, self.id);
            map.insert(id, peer.clone());
            peer
        };
        let node = self.clone();
        let watched = kept.clone();
        tokio::spawn(async move {
            let accept = node.clone().serve_channels(watched.clone());
            let reason = watched.closed().await;
            accept.abort();
            let mut map = node.conns.map.lock().unwrap_or_else(|p| p.into_inner());
            if map.get(&id).is_some_and(|p| p.same(&watched)) {
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

    /// Keeps a path up to every address of every book peer that is not blocked,
    /// retrying with a backoff of 0.5 s doubling to 4 s.
    pub async fn maintain(self: Arc<Self>) {
        let mut backoff: HashMap<PeerId, Backoff> = HashMap::new();
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        loop {
            tick.tick().await;
            let now = std::time::Instant::now();
            for entry in self.book.list() {
                let Some(id) = entry.peer_id() else { continue };
                let connected = self.fully_connected(&entry, &id);
                // A peer with no address is looked up on the maps when dialed.
                if entry.policy == Policy::Block
                    || (self.addrs(&entry).is_empty() && !self.maps.any())
                    || connected == Some(true)
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
                if connected.is_some() {
                    node.more_paths(entry);
                    continue;
                }
                tokio::spawn(async move {
                    if let Err(e) = node.connect(&entry).await {
                        tracing::debug!("reconnect to {}: {e}", entry.alias);
                    }
                });
            }
        }
    }
}

/// Opens a channel to a service on `entry`'s peer, connecting first if needed; over
/// several paths it uses them by `mode`.
pub async fn open_channel(
    node: &Arc<Node>,
    entry: &PeerEntry,
    (service, version): (&str, u16),
    mode: Mode,
) -> Result<Channel, ReachError> {
    let peer = node.connect(entry).await?;
    match peer.open_with(service, version, mode).await {
        // The connection closed under the channel — most often because both sides had
        // dialed at once and this one lost the tie-break: once more on the one kept.
        Err(e) if e.is_lost() && !e.is_final() => {
            let peer = node.connect(entry).await?;
            Ok(peer.open_with(service, version, mode).await?)
        }
        other => Ok(other?),
    }
}
