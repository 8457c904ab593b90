//! A connected peer as services see it: open a channel to one of its services, accept the
//! channels it opens, its round-trip time and paths, close. Cloning is cheap and every
//! clone is the same connection.

use std::net::SocketAddr;
use std::time::Duration;

use super::channel::{Channel, OpenError};
use super::close::{Close, Closed};
use crate::identity::PeerId;

/// One path to a peer: where its datagrams go and how long a round trip takes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathInfo {
    /// The peer's address on this path.
    pub remote: SocketAddr,
    /// The smoothed round-trip time.
    pub rtt: Duration,
}

/// A live connection to a peer whose key was proved in the handshake.
#[derive(Clone)]
pub struct Peer {
    id: PeerId,
    conn: quinn::Connection,
}

impl Peer {
    pub(crate) fn new(id: PeerId, conn: quinn::Connection) -> Peer {
        Peer { id, conn }
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
        vec![PathInfo {
            remote: self.conn.remote_address(),
            rtt: self.conn.rtt(),
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
