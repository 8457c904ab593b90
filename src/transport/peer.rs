//! A connected peer as services see it: open a channel to one of its services, accept the
//! channels it opens, its round-trip time and paths, close. Cloning is cheap and every
//! clone is the same connection.

use std::net::SocketAddr;
use std::time::Duration;

pub use protocols::bond::health::PathState;

use super::channel::{Channel, OpenError};
use super::close::{Close, Closed};
use crate::identity::PeerId;

/// How a path reaches the peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathKind {
    /// Straight to the peer's address.
    Direct,
}

impl std::fmt::Display for PathKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PathKind::Direct => "direct",
        })
    }
}

/// One path to a peer: its two ends, its state, round trip and traffic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathInfo {
    /// This node's address on this path.
    pub local: SocketAddr,
    /// The peer's address on this path.
    pub remote: SocketAddr,
    /// How it reaches the peer.
    pub kind: PathKind,
    /// Whether it is alive.
    pub state: PathState,
    /// The smoothed round-trip time.
    pub rtt: Duration,
    /// UDP bytes sent on it.
    pub tx_bytes: u64,
    /// UDP bytes received on it.
    pub rx_bytes: u64,
}

/// A live connection to a peer whose key was proved in the handshake.
#[derive(Clone)]
pub struct Peer {
    id: PeerId,
    conn: quinn::Connection,
    /// The endpoint's bound address.
    local: SocketAddr,
}

impl Peer {
    pub(crate) fn new(id: PeerId, conn: quinn::Connection, local: SocketAddr) -> Peer {
        Peer { id, conn, local }
    }

    /// The peer's id (its key).
    pub fn id(&self) -> PeerId {
        self.id
    }

    /// Opens a channel to `service` (at `version`) and waits until the service takes it.
    pub async fn open(&self, service: &str, version: u16) -> Result<Channel, OpenError> {
        Channel::open(&self.conn, service, version).await
    }

    /// The next channel the peer opens; `None` once the connection has ended.
    pub async fn accept(&self) -> Option<Channel> {
        let (send, recv) = self.conn.accept_bi().await.ok()?;
        Some(Channel::new(send, recv))
    }

    /// The round-trip time of the path in use.
    pub fn rtt(&self) -> Duration {
        self.conn.rtt()
    }

    /// The paths to the peer (one per connection today).
    pub fn paths(&self) -> Vec<PathInfo> {
        let stats = self.conn.stats();
        let local_ip = self.conn.local_ip().unwrap_or(self.local.ip());
        vec![PathInfo {
            local: SocketAddr::new(local_ip, self.local.port()),
            remote: self.conn.remote_address(),
            kind: PathKind::Direct,
            state: match self.is_open() {
                true => PathState::Up,
                false => PathState::Down,
            },
            rtt: self.conn.rtt(),
            tx_bytes: stats.udp_tx.bytes,
            rx_bytes: stats.udp_rx.bytes,
        }]
    }

    /// Whether the connection is still up.
    pub fn is_open(&self) -> bool {
        self.conn.close_reason().is_none()
    }

    /// Why the connection ended, once it has.
    pub fn closed_reason(&self) -> Option<Closed> {
        self.conn.close_reason().map(|e| Closed::from_quinn(&e))
    }

    /// Waits until the connection ends, and says why.
    pub async fn closed(&self) -> Closed {
        Closed::from_quinn(&self.conn.closed().await)
    }

    /// Closes the connection, telling the peer why.
    pub fn close(&self, why: Close) {
        self.conn.close(why.code().into(), why.reason().as_bytes());
    }

    /// Whether `other` is this very connection (not merely one to the same peer).
    pub fn same(&self, other: &Peer) -> bool {
        self.conn.stable_id() == other.conn.stable_id()
    }
}
