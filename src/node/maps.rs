//! The maps this node uses (`--map`, `map = [...]`): it keeps a registration with each —
//! a record of where it can be reached, signed by its key, with the public address the
//! map saw first — and asks them for peers it has no address for. Every record read is
//! verified (signature, key, expiry), and an older one never replaces a newer one, so a
//! map cannot send this node anywhere its peer did not sign.
//!
//! A map is dialed from the node's own QUIC socket, so the address it sees is the one
//! the node's NAT gives that socket; a map that names another address of its own is
//! asked again there, and two different ports mean a NAT that maps per destination.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use protocols::backoff::Backoff;
use protocols::map::frame::{SERVICE, VERSION};
use protocols::map::{Frame, Record};
use tracing::{debug, info, warn};

use super::Node;
use crate::control::{MapStatus, Nat};
use crate::identity::PeerId;
use crate::transport::{ChannelError, DialError, OpenError, Peer};

/// How long a record this node publishes is valid.
const RECORD_TTL: u64 = 600;
/// How often a registration is renewed.
const RENEW_EVERY: Duration = Duration::from_secs(120);
/// How long a TCP connection to a map may take, when UDP to it is blocked.
const TCP_WITHIN: Duration = Duration::from_secs(3);
/// How long one request to a map may take.
const ASK_WITHIN: Duration = Duration::from_secs(5);

/// Why a map could not be asked.
#[derive(Debug, thiserror::Error)]
pub enum MapError {
    /// The address did not resolve.
    #[error("cannot resolve map {0}")]
    Resolve(String),
    /// No connection.
    #[error("cannot reach map {addr}: {error}")]
    Dial {
        /// The map.
        addr: String,
        /// Why.
        error: DialError,
    },
    /// The channel was refused or failed.
    #[error("map {addr}: {error}")]
    Open {
        /// The map.
        addr: String,
        /// Why.
        error: OpenError,
    },
    /// The exchange failed.
    #[error("map {addr}: {error}")]
    Channel {
        /// The map.
        addr: String,
        /// Why.
        error: ChannelError,
    },
    /// No answer in time.
    #[error("map {0} did not answer within 5 s")]
    TimedOut(String),
    /// No map is trusted for flows (or not the one named).
    #[error("no map {0}trusted for flows: name one in warp.toml as {{ addr, key, flows = true }}")]
    NoFlowMap(String),
    /// The map answered with another key than the one it is named with.
    #[error("map {addr} answered with key {got}, not {want} as warp.toml says: refused")]
    WrongKey {
        /// The map.
        addr: String,
        /// The key it has.
        got: PeerId,
        /// The key it should have.
        want: PeerId,
    },
    /// The map refused, or answered something else.
    #[error("map {addr}: {why}")]
    Refused {
        /// The map.
        addr: String,
        /// What it said.
        why: String,
    },
}

/// A peer's addresses, from its newest verified record.
struct Found {
    addrs: Vec<SocketAddr>,
    seq: u64,
    expires: u64,
}

/// The maps and what they said.
#[derive(Default)]
pub struct Maps {
    /// `--map`: wins over the file's when given.
    flags: Vec<String>,
    /// `map = [...]` in `warp.toml`, as last applied.
    file: Mutex<Vec<crate::config::MapUse>>,
    links: tokio::sync::Mutex<HashMap<SocketAddr, Peer>>,
    status: Mutex<HashMap<String, MapStatus>>,
    found: Mutex<HashMap<PeerId, Found>>,
    seq: crate::sequence::Sequence,
}

/// Unix seconds now.
fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Maps {
    /// The maps given on the command line (HOST:PORT each); the configuration file's
    /// come with [`Maps::set_file`].
    pub fn new(flags: Vec<String>) -> Maps {
        Maps {
            flags,
            ..Maps::default()
        }
    }

    /// The configuration file's maps (used when none is given on the command line).
    pub fn set_file(&self, maps: Vec<crate::config::MapUse>) {
        *self.file.lock().unwrap_or_else(|p| p.into_inner()) = maps;
    }

    /// The maps in use: the command line's, else the file's.
    pub fn list(&self) -> Vec<String> {
        match self.flags.is_empty() {
            false => self.flags.clone(),
            true => self.file().into_iter().map(|m| m.addr).collect(),
        }
    }

    fn file(&self) -> Vec<crate::config::MapUse> {
        self.file.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The key the map `name` must answer with, when the file names it.
    pub fn key_of(&self, name: &str) -> Option<PeerId> {
        match self.flags.is_empty() {
            true => self.file().into_iter().find(|m| m.addr == name)?.key,
            false => None,
        }
    }

    /// The maps whose flows this node runs, with their keys.
    pub fn flow_maps(&self) -> Vec<(String, PeerId)> {
        match self.flags.is_empty() {
            true => self
                .file()
                .into_iter()
                .filter(|m| m.flows)
                .filter_map(|m| Some((m.addr, m.key?)))
                .collect(),
            false => Vec::new(),
        }
    }

    /// Whether any map is in use.
    pub fn any(&self) -> bool {
        !self.list().is_empty()
    }

    /// Where `id` can be reached, from the newest live record read.
    pub fn addrs(&self, id: &PeerId) -> Vec<SocketAddr> {
        let found = self.found.lock().unwrap_or_else(|p| p.into_inner());
        found
            .get(id)
            .filter(|f| f.expires > now())
            .map(|f| f.addrs.clone())
            .unwrap_or_default()
    }

    /// Each map as last heard from.
    pub fn status(&self) -> Vec<MapStatus> {
        let status = self.status.lock().unwrap_or_else(|p| p.into_inner());
        self.list()
            .iter()
            .map(|a| {
                status.get(a).cloned().unwrap_or(MapStatus {
                    addr: a.clone(),
                    ..MapStatus::default()
                })
            })
            .collect()
    }

    fn set_status(&self, addr: &str, f: impl FnOnce(&mut MapStatus)) {
        let mut status = self.status.lock().unwrap_or_else(|p| p.into_inner());
        let s = status.entry(addr.to_string()).or_insert_with(|| MapStatus {
            addr: addr.to_string(),
            ..MapStatus::default()
        });
        f(s);
    }

    /// Keeps `r` if it verifies, is `id`'s, and is newer than the one held; whether it did.
    fn take(&self, id: PeerId, r: Record) -> bool {
        if r.id != id.0 || r.verify(now()).is_err() {
            return false;
        }
        let mut found = self.found.lock().unwrap_or_else(|p| p.into_inner());
        if found.get(&id).is_some_and(|f| f.seq > r.seq) {
            return false;
        }
        found.insert(
            id,
            Found {
                addrs: r.addrs,
                seq: r.seq,
                expires: r.expires,
            },
        );
        true
    }
}

impl Node {
    /// The connection to the map at `at`, dialed from the node's socket if needed.
    async fn map_link(&self, at: SocketAddr, name: &str) -> Result<Peer, MapError> {
        let mut links = self.maps.links.lock().await;
        let key = self.maps.key_of(name);
        if let Some(p) = links
            .get(&at)
            .filter(|p| p.is_open() && key.is_none_or(|k| k == p.id()))
        {
            return Ok(p.clone());
        }
        let dial_error = |error| MapError::Dial {
            addr: name.to_string(),
            error,
        };
        let path = match self.endpoint.dial_any(at).await {
            Ok(path) => path,
            // No answer by UDP: the last resort is TCP to the same address and port.
            Err(DialError::TimedOut) if !self.endpoint.carried(at) => {
                if let Err(e) = self.endpoint.carry_over_tcp(at, TCP_WITHIN).await {
                    debug!("map {name} over TCP: {e}");
                    return Err(dial_error(DialError::TimedOut));
                }
                info!("map {name} does not answer by UDP: reaching it over TCP");
                self.endpoint.dial_any(at).await.map_err(dial_error)?
            }
            Err(e) => return Err(dial_error(e)),
        };
        if let Some(want) = self.maps.key_of(name).filter(|k| *k != path.peer()) {
            let got = path.peer();
            path.close(crate::transport::Close::NotKnown);
            return Err(MapError::WrongKey {
                addr: name.to_string(),
                got,
                want,
            });
        }
        let peer = Peer::new(path, self.id);
        links.insert(at, peer.clone());
        Ok(peer)
    }

    /// A new `map` channel to the map at `at` (named `name`), and the connection under it.
    pub(super) async fn map_channel(
        &self,
        at: SocketAddr,
        name: &str,
    ) -> Result<(Peer, crate::transport::Channel), MapError> {
        let link = self.map_link(at, name).await?;
        let ch = link
            .open(SERVICE, VERSION)
            .await
            .map_err(|error| MapError::Open {
                addr: name.to_string(),
                error,
            })?;
        Ok((link, ch))
    }

    /// Sends `req` to the map at `at` and reads its answer.
    pub(super) async fn ask_map(
        &self,
        at: SocketAddr,
        name: &str,
        req: &Frame,
    ) -> Result<(Frame, PeerId), MapError> {
        let asked = async {
            let (link, mut ch) = self.map_channel(at, name).await?;
            let channel = |error| MapError::Channel {
                addr: name.to_string(),
                error,
            };
            ch.write(&req.encode()).await.map_err(channel)?;
            let answer = ch.read(Frame::decode).await.map_err(channel)?;
            ch.finish();
            match answer {
                Some(Frame::Refused(why)) => Err(MapError::Refused {
                    addr: name.to_string(),
                    why,
                }),
                Some(f) => Ok((f, link.id())),
                None => Err(MapError::Refused {
                    addr: name.to_string(),
                    why: "no answer".into(),
                }),
            }
        };
        tokio::time::timeout(ASK_WITHIN, asked)
            .await
            .map_err(|_| MapError::TimedOut(name.to_string()))?
    }

    /// The first address `name` (HOST:PORT) resolves to.
    pub(super) async fn resolve_map(name: &str) -> Result<SocketAddr, MapError> {
        if let Ok(a) = name.parse() {
            return Ok(a);
        }
        tokio::net::lookup_host(name)
            .await
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| MapError::Resolve(name.to_string()))
    }

    /// Where this node can be reached besides what a map sees: its listening address,
    /// or every address of the host when it listens on all.
    fn own_addrs(&self) -> Vec<SocketAddr> {
        let quic = self.own.quic;
        if !quic.ip().is_unspecified() {
            return vec![quic];
        }
        crate::interfaces::addresses()
            .into_iter()
            .map(|a| a.ip)
            .filter(|ip| !ip.is_loopback() && !ip.is_unspecified())
            .filter(|ip| match ip {
                std::net::IpAddr::V6(v6) => v6.segments()[0] & 0xffc0 != 0xfe80,
                std::net::IpAddr::V4(_) => true,
            })
            .map(|ip| SocketAddr::new(ip, quic.port()))
            .collect()
    }

    /// Registers with the map `name`: asks where it sees this node (and, at its other
    /// address, whether the NAT maps per destination), then publishes a signed record.
    async fn register_with(&self, name: &str) -> Result<u64, MapError> {
        let at = Node::resolve_map(name).await?;
        let (seen, others, map_id) = match self.ask_map(at, name, &Frame::Observe).await? {
            (Frame::Observed { addr, others }, id) => (addr, others, id),
            (other, _) => {
                return Err(MapError::Refused {
                    addr: name.to_string(),
                    why: format!("answered {other:?} to Observe"),
                })
            }
        };
        // A map reached over TCP sees a made-up address: not one to publish, and no NAT
        // to measure.
        let tcp = crate::transport::relay::is_reserved(seen);
        let nat = match others.first().filter(|_| !tcp) {
            Some(second) => match self.ask_map(*second, name, &Frame::Observe).await {
                Ok((Frame::Observed { addr, .. }, id)) if id == map_id => {
                    Some(match addr == seen {
                        true => Nat::EndpointIndependent,
                        false => Nat::EndpointDependent,
                    })
                }
                Ok(_) => None,
                Err(e) => {
                    debug!("{name}'s second address {second}: {e}");
                    None
                }
            },
            None => None,
        };
        let mut addrs: Vec<SocketAddr> = (!tcp).then_some(seen).into_iter().collect();
        for a in self.own_addrs() {
            if !addrs.contains(&a) {
                addrs.push(a);
            }
        }
        addrs.truncate(protocols::map::record::MAX_ADDRS);
        let mut record = Record {
            id: self.id.0,
            seq: self.maps.seq.next(),
            expires: now() + RECORD_TTL,
            addrs,
            signature: [0; 64],
        };
        record.signature = self.signer.sign(&record.signed_bytes());
        let until = match self.ask_map(at, name, &Frame::Register(record)).await? {
            (Frame::Registered(until), _) => until,
            (other, _) => {
                return Err(MapError::Refused {
                    addr: name.to_string(),
                    why: format!("answered {other:?} to Register"),
                })
            }
        };
        if self
            .maps
            .status()
            .iter()
            .all(|s| s.addr != name || s.registered_until.is_none())
        {
            info!("registered with map {name} ({map_id}): it sees this node at {seen}");
        }
        self.maps.set_status(name, |s| {
            s.id = Some(map_id.to_string());
            s.observed = (!tcp).then(|| seen.to_string());
            s.tcp = tcp;
            s.nat = nat.or(s.nat);
            s.registered_until = Some(until);
            s.error = None;
        });
        Ok(until)
    }

    /// Asks every map to tell `id` that this node wants to reach it, so that `id` sends
    /// towards this node at the same time and each NAT lets the other's packets in.
    pub(super) async fn introduce(&self, id: PeerId) {
        for name in &self.maps.list() {
            let asked = async {
                let at = Node::resolve_map(name).await?;
                self.ask_map(at, name, &Frame::Introduce(id.0)).await
            };
            match asked.await {
                Ok((Frame::Introduced(_), _)) => debug!("map {name} told {id} to reach us too"),
                Ok((other, _)) => debug!("map {name} answered {other:?} to Introduce"),
                Err(e) => debug!("introducing to {id}: {e}"),
            }
        }
    }

    /// Watches the map `name` for nodes that want to reach this one, and reaches towards
    /// each that may connect anyway (a peer in the book that is not blocked; a key not in
    /// the book under `unknown = ask`, or while a pairing code waits); returns
    /// when the channel ends.
    async fn watch_map(self: Arc<Self>, name: String) -> Result<(), MapError> {
        let at = Node::resolve_map(&name).await?;
        let (_link, mut ch) = self.map_channel(at, &name).await?;
        let channel = |error| MapError::Channel {
            addr: name.clone(),
            error,
        };
        ch.write(&Frame::Watch.encode()).await.map_err(channel)?;
        loop {
            match ch.read(Frame::decode).await.map_err(channel)? {
                Some(Frame::Watching) => debug!("watching map {name} for introductions"),
                Some(Frame::Wanted(record)) => self.clone().wanted(record, &name),
                Some(other) => debug!("map {name} sent {other:?} on the watched channel"),
                None => return Ok(()),
            }
        }
    }

    /// A node introduced by map `map` wants to reach this one: if it may, its record is
    /// kept, this node sends a few punches to each of its addresses (at once, after
    /// 100 ms and after 400 ms), so that this side's NAT lets its dial in, and asks the
    /// map to relay between the two. This node does not dial itself: one connection, no
    /// tie-break.
    fn wanted(self: Arc<Self>, record: Record, map: &str) {
        let id = PeerId(record.id);
        let may = match self.book.get(&id) {
            Some(e) => e.policy != crate::store::Policy::Block,
            None => {
                self.unknown() == crate::store::Unknown::Ask
                    || self.pairings.any_waiting()
                    || self.flows.maps.is_member(&id)
            }
        };
        if id == self.id || !may || !self.maps.take(id, record) {
            debug!("introduction from {id} ignored");
            return;
        }
        let addrs = self.maps.addrs(&id);
        info!(
            "{} wants to reach this node: opening the way towards {addrs:?}",
            self.label(&id)
        );
        let node = self.clone();
        tokio::spawn(async move {
            for wait in [0, 100, 300] {
                tokio::time::sleep(Duration::from_millis(wait)).await;
                for a in &addrs {
                    node.endpoint.punch(*a);
                }
            }
        });
        let map = map.to_string();
        tokio::spawn(async move {
            if let Err(e) = self.relay_through(&map, id).await {
                debug!("relay to {id}: {e}");
            }
        });
    }

    /// Asks the map `name` to relay between this node and `id`; once `id` asked too
    /// (the map waits up to 3 s for it), the made-up address `id` is dialed at through
    /// that map.
    async fn relay_through(&self, name: &str, id: PeerId) -> Result<SocketAddr, MapError> {
        let at = Node::resolve_map(name).await?;
        match self.ask_map(at, name, &Frame::Relay(id.0)).await? {
            (Frame::Relaying { peer, token }, _) if peer == id.0 => {
                Ok(self.endpoint.relay_route(at, id, token))
            }
            (other, _) => Err(MapError::Refused {
                addr: name.to_string(),
                why: format!("answered {other:?} to Relay"),
            }),
        }
    }

    /// Asks every map to relay between this node and `id` (each also tells `id` that
    /// this node wants to reach it, so it opens its NAT towards this node): the made-up
    /// addresses to dial `id` at, one per map that relays.
    pub(super) async fn relay_through_maps(&self, id: PeerId) -> Vec<SocketAddr> {
        let asks = self.maps.list().into_iter().map(|name| async move {
            match self.relay_through(&name, id).await {
                Ok(a) => Some(a),
                Err(e) => {
                    debug!("relay to {id}: {e}");
                    None
                }
            }
        });
        futures_util::future::join_all(asks)
            .await
            .into_iter()
            .flatten()
            .collect()
    }

    /// Keeps a registration with every map: renewed every two minutes, retried after a
    /// failure with a backoff of 1 s doubling to 30 s. Maps added to or removed from the
    /// configuration file are picked up (a removed map's watch ends).
    pub(super) async fn keep_registered(self: Arc<Self>) {
        /// When a map is next due, how its failures back off, and its watch.
        struct Due {
            renew: Instant,
            backoff: Backoff,
            failing: bool,
            watch: Option<tokio::task::JoinHandle<()>>,
        }
        let mut due: HashMap<String, Due> = HashMap::new();
        let mut followers: HashMap<(String, PeerId), tokio::task::JoinHandle<()>> = HashMap::new();
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        loop {
            tick.tick().await;
            // Each map trusted for flows is followed by a task of its own, which ends
            // (stopping the map's flows) when the map is no longer trusted.
            followers.retain(|_, task| !task.is_finished());
            for (name, key) in self.maps.flow_maps() {
                followers
                    .entry((name.clone(), key))
                    .or_insert_with(|| tokio::spawn(self.clone().follow_map_flows(name, key)));
            }
            let now = Instant::now();
            let maps = self.maps.list();
            due.retain(|name, d| {
                let kept = maps.contains(name);
                if !kept {
                    if let Some(w) = d.watch.take() {
                        w.abort();
                    }
                }
                kept
            });
            for name in maps {
                let d = due.entry(name.clone()).or_insert_with(|| Due {
                    renew: now,
                    backoff: Backoff::new(Duration::from_secs(1), Duration::from_secs(30)),
                    failing: false,
                    watch: None,
                });
                if now < d.renew || !d.backoff.ready(now) {
                    continue;
                }
                match self.register_with(&name).await {
                    Ok(_) => {
                        if d.failing {
                            info!("registered with map {name} again");
                        }
                        d.failing = false;
                        d.backoff.reset();
                        d.renew = now + RENEW_EVERY;
                        if d.watch.as_ref().is_none_or(|w| w.is_finished()) {
                            let (node, name) = (self.clone(), name.clone());
                            d.watch = Some(tokio::spawn(async move {
                                if let Err(e) = node.watch_map(name).await {
                                    debug!("{e}");
                                }
                            }));
                        }
                    }
                    Err(e) => {
                        if !d.failing {
                            warn!("{e}");
                        }
                        d.failing = true;
                        self.maps
                            .set_status(&name, |s| s.error = Some(e.to_string()));
                        d.backoff.attempt(now);
                    }
                }
            }
        }
    }

    /// A pairing-code number held for this node by the first map that gives one: the
    /// map's name and the number.
    pub(super) async fn claim_code_number(&self) -> Result<(String, u16), MapError> {
        let mut last = None;
        for name in &self.maps.list() {
            let asked = async {
                let at = Node::resolve_map(name).await?;
                self.ask_map(at, name, &Frame::Claim).await
            };
            match asked.await {
                Ok((Frame::Claimed { nameplate, .. }, _)) => return Ok((name.clone(), nameplate)),
                Ok((other, _)) => {
                    last = Some(MapError::Refused {
                        addr: name.clone(),
                        why: format!("answered {other:?} to Claim"),
                    })
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or(MapError::Resolve("no map".into())))
    }

    /// Frees the code number `n` on the map `name` (a failure is only logged: the map
    /// frees it within the hour anyway).
    pub(super) async fn release_code_number(&self, name: &str, n: u16) {
        let asked = async {
            let at = Node::resolve_map(name).await?;
            self.ask_map(at, name, &Frame::Release(n)).await
        };
        if let Err(e) = asked.await {
            debug!("releasing code number {n}: {e}");
        }
    }

    /// The nodes that wait with code number `n` on any map, with where each can be
    /// reached (from its verified record).
    pub(super) async fn code_holders(&self, n: u16) -> Vec<(PeerId, Vec<SocketAddr>)> {
        let mut out: Vec<(PeerId, Vec<SocketAddr>)> = Vec::new();
        for name in &self.maps.list() {
            let asked = async {
                let at = Node::resolve_map(name).await?;
                self.ask_map(at, name, &Frame::WhoHas(n)).await
            };
            if let Ok((Frame::Holder { id, .. }, _)) = asked.await {
                let id = PeerId(id);
                if id != self.id && !out.iter().any(|(h, _)| *h == id) {
                    let addrs = self.look_up(id).await;
                    if !addrs.is_empty() {
                        out.push((id, addrs));
                    }
                }
            }
        }
        out
    }

    /// Asks every map for `id`'s record; the addresses of the newest that verifies (also
    /// kept for [`Maps::addrs`]).
    pub(super) async fn look_up(&self, id: PeerId) -> Vec<SocketAddr> {
        for name in &self.maps.list() {
            let at = match Node::resolve_map(name).await {
                Ok(a) => a,
                Err(e) => {
                    debug!("{e}");
                    continue;
                }
            };
            match self.ask_map(at, name, &Frame::Lookup(id.0)).await {
                Ok((Frame::Found(r), _)) => {
                    let seq = r.seq;
                    if self.maps.take(id, r) {
                        info!("found {id} on map {name} (record {seq})");
                    } else {
                        warn!("map {name} gave a record for {id} that does not verify or is older");
                    }
                }
                Ok((Frame::NotFound(_), _)) => debug!("{id} is not on map {name}"),
                Ok((other, _)) => debug!("map {name} answered {other:?} to Lookup"),
                Err(e) => debug!("{e}"),
            }
        }
        self.maps.addrs(&id)
    }
}
