//! Opening a direct path to a peer that is reached only through a map's relay, when one
//! of the two NATs maps per destination ("symmetric"): the two tell each other over the
//! relay (`traverse` channel, `protocols::map::traverse`) how their NATs map and where
//! their maps saw them. The symmetric side opens [`SOCKETS`] sockets and sends one byte
//! from each to the other's public address, so its NAT holds that many mappings towards
//! it; the cone side, whose public address is known, sends one byte at a time to random
//! ports of the symmetric side's public address ([`PROBES`] at most, paced), until one
//! of those mappings lets a probe in. The socket it reaches then dials the cone side
//! from that mapping, which the cone side's NAT lets in (its probe opened it). The
//! birthday bound: 256 mappings among 64 512 ports are hit by 1 024 random probes 98 % of
//! the time, by 2 048 nearly always. Two symmetric NATs stay relayed.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use protocols::channel::ChannelReply;
use protocols::map::traverse::{Hello, NatKind, SERVICE, VERSION};
use rand::Rng;
use tokio::sync::mpsc;
use tracing::{debug, info};

use super::service_error::ServiceError;
use super::Node;
use crate::control::Nat;
use crate::identity::PeerId;
use crate::transport::{Channel, PathKind, PathState, Peer};

/// Sockets the symmetric side opens.
pub const SOCKETS: usize = 256;
/// Most probes the cone side sends.
pub const PROBES: usize = 2048;
/// Probes sent together, then a pause of [`PROBE_PAUSE`]: 1 000 probes a second.
const PROBE_BURST: usize = 8;
const PROBE_PAUSE: Duration = Duration::from_millis(8);
/// How long the symmetric side waits for a probe.
const LISTEN_FOR: Duration = Duration::from_secs(15);
/// How long a hello may take.
const HELLO_WITHIN: Duration = Duration::from_secs(5);

/// Why a traversal did not run.
#[derive(Debug, thiserror::Error)]
pub enum TraverseError {
    /// The channel over the relay.
    #[error("traverse channel: {0}")]
    Open(#[from] crate::transport::OpenError),
    /// The exchange.
    #[error("traverse channel: {0}")]
    Channel(#[from] crate::transport::ChannelError),
    /// No hello in time.
    #[error("no hello within {HELLO_WITHIN:?}")]
    TimedOut,
}

/// Sockets opened towards a peer, each with a second handle for the dial.
struct Opened {
    /// Their numbers and the address each heard a probe from, once one did.
    heard: mpsc::Receiver<(usize, SocketAddr)>,
    /// Second handles on the sockets (the first are read by the listening tasks).
    sockets: Vec<std::net::UdpSocket>,
    listening: Vec<tokio::task::JoinHandle<()>>,
}

impl Drop for Opened {
    fn drop(&mut self) {
        for t in &self.listening {
            t.abort();
        }
    }
}

/// Opens [`SOCKETS`] sockets, each sending one byte to each of `to` (at most four), and
/// listens on each for a datagram from one of `to`'s addresses.
fn open_sockets(to: &[SocketAddr]) -> std::io::Result<Opened> {
    let to: Vec<SocketAddr> = to.iter().filter(|a| a.is_ipv4()).take(4).copied().collect();
    let ips: Vec<IpAddr> = to.iter().map(|a| a.ip()).collect();
    let (tx, heard) = mpsc::channel(1);
    let mut sockets = Vec::with_capacity(SOCKETS);
    let mut listening = Vec::with_capacity(SOCKETS);
    for i in 0..SOCKETS {
        let s = std::net::UdpSocket::bind(("0.0.0.0", 0))?;
        s.set_nonblocking(true)?;
        for a in &to {
            let _ = s.send_to(&[0], a);
        }
        let reader = tokio::net::UdpSocket::from_std(s.try_clone()?)?;
        sockets.push(s);
        let (tx, ips) = (tx.clone(), ips.clone());
        listening.push(tokio::spawn(async move {
            let mut buf = [0u8; 64];
            while let Ok((_, from)) = reader.recv_from(&mut buf).await {
                if ips.contains(&from.ip()) {
                    let _ = tx.try_send((i, from));
                    return;
                }
            }
        }));
    }
    Ok(Opened {
        heard,
        sockets,
        listening,
    })
}

impl Node {
    /// How this node's NAT maps, as its maps measured it.
    fn nat_kind(&self) -> NatKind {
        let status = self.maps.status();
        let kinds: Vec<Option<Nat>> = status.iter().map(|s| s.nat).collect();
        if kinds.contains(&Some(Nat::EndpointDependent)) {
            NatKind::Dependent
        } else if kinds.contains(&Some(Nat::EndpointIndependent)) {
            NatKind::Independent
        } else {
            NatKind::Unknown
        }
    }

    /// This node's hello: its NAT, and where its maps saw it.
    fn hello(&self) -> Hello {
        let addrs = self
            .maps
            .status()
            .iter()
            .filter_map(|s| s.observed.as_deref()?.parse().ok())
            .collect();
        Hello {
            nat: self.nat_kind(),
            addrs,
        }
    }

    /// Whether `peer` has a direct path up.
    fn direct_up(peer: &Peer) -> bool {
        peer.paths()
            .iter()
            .any(|p| p.kind == PathKind::Direct && p.state == PathState::Up)
    }

    /// After `after`, unless `peer` has a direct path up by then, tries to open one (see
    /// [`Node::traverse`]); one traversal per peer at a time.
    pub(super) fn traverse_soon(self: &Arc<Self>, peer: Peer, after: Duration) {
        let id = peer.id();
        if !self.conns.begin(id, "traversal", None) {
            return;
        }
        let node = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(after).await;
            if !Node::direct_up(&peer) && peer.is_open() {
                if let Err(e) = node.clone().traverse(peer).await {
                    debug!("traversal: {e}");
                }
            }
            node.conns.end(id, "traversal", None);
        });
    }

    /// Tries to open a direct path to `peer`, reached through a relay: hellos over the
    /// relay, then sockets or probes as the two NATs need (see the module).
    pub(super) async fn traverse(self: Arc<Self>, peer: Peer) -> Result<(), TraverseError> {
        let id = peer.id();
        let mine = self.hello();
        // A symmetric side opens its mappings before the other side can probe them.
        let opened = match mine.nat {
            NatKind::Dependent => open_sockets(&self.maps.addrs(&id)).ok(),
            _ => None,
        };
        let mut ch = peer.open(SERVICE, VERSION).await?;
        ch.write(&mine.encode()).await?;
        let theirs = tokio::time::timeout(HELLO_WITHIN, ch.read(Hello::decode))
            .await
            .map_err(|_| TraverseError::TimedOut)??
            .ok_or(crate::transport::ChannelError::Truncated)?;
        ch.finish();
        self.punch_through(&peer, id, (mine.nat, theirs), opened)
            .await;
        Ok(())
    }

    /// Does this side's part, knowing both NATs: listen on the opened sockets (this side
    /// symmetric, the other cone) or probe (this side cone, the other symmetric).
    async fn punch_through(
        self: &Arc<Self>,
        peer: &Peer,
        id: PeerId,
        (mine, theirs): (NatKind, Hello),
        opened: Option<Opened>,
    ) {
        match (mine, theirs.nat, opened) {
            (NatKind::Dependent, NatKind::Independent, Some(opened)) => {
                self.dial_from_opened(id, opened).await
            }
            (NatKind::Independent, NatKind::Dependent, _) => {
                let Some(ip) = theirs.addrs.iter().find(|a| a.is_ipv4()).map(|a| a.ip()) else {
                    return;
                };
                self.probe(peer, ip).await
            }
            (m, t, _) => debug!(
                "{}: NATs {m:?} and {t:?}: nothing to probe",
                self.label(&id)
            ),
        }
    }

    /// Waits for a probe on one of `opened`'s sockets and dials the peer from it.
    async fn dial_from_opened(self: &Arc<Self>, id: PeerId, mut opened: Opened) {
        let Ok(Some((i, from))) = tokio::time::timeout(LISTEN_FOR, opened.heard.recv()).await
        else {
            debug!(
                "{}: no probe reached the {SOCKETS} sockets",
                self.label(&id)
            );
            return;
        };
        for t in opened.listening.drain(..) {
            t.abort();
            let _ = t.await;
        }
        let socket = opened.sockets.swap_remove(i);
        match self.endpoint.dial_from(socket, id, from).await {
            Ok(path) => {
                info!(
                    "{}: a direct path through both NATs, to {from}",
                    self.label(&id)
                );
                self.register(path);
            }
            Err(e) => debug!("{}: dial from socket {i} to {from}: {e}", self.label(&id)),
        }
    }

    /// Sends probes to random ports of `ip` from the node's socket until `peer` has a
    /// direct path up, [`PROBES`] at most.
    async fn probe(&self, peer: &Peer, ip: IpAddr) {
        let mut sent = 0;
        while sent < PROBES && !Node::direct_up(peer) && peer.is_open() {
            for _ in 0..PROBE_BURST {
                let port = rand::thread_rng().gen_range(1024..=u16::MAX);
                self.endpoint.punch(SocketAddr::new(ip, port));
            }
            sent += PROBE_BURST;
            tokio::time::sleep(PROBE_PAUSE).await;
        }
        debug!("{}: {sent} probes to {ip}", self.label(&peer.id()));
    }
}

/// Serves a `traverse` channel the peer opened: reads its hello, opens sockets first if
/// this side is the symmetric one, answers, and does this side's part.
pub async fn serve(node: Arc<Node>, peer: PeerId, mut ch: Channel) -> Result<(), ServiceError> {
    ch.write(&ChannelReply::Accepted.encode()).await?;
    let theirs = match tokio::time::timeout(HELLO_WITHIN, ch.read(Hello::decode)).await {
        Ok(r) => r?.ok_or(crate::transport::ChannelError::Truncated)?,
        Err(_) => return Err(ServiceError::Ended("no hello in time")),
    };
    let mine = node.hello();
    let opened = match (mine.nat, theirs.nat) {
        (NatKind::Dependent, NatKind::Independent) => open_sockets(&theirs.addrs).ok(),
        _ => None,
    };
    ch.write(&mine.encode()).await?;
    ch.finish();
    let Some(conn) = node.conns.get(&peer) else {
        return Ok(());
    };
    node.punch_through(&conn, peer, (mine.nat, theirs), opened)
        .await;
    Ok(())
}
