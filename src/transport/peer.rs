//! A connected peer as services see it: open a channel to one of its services, accept the
//! channels it opens, its paths and round-trip time, close. A peer has one or more paths
//! (each a QUIC connection); with one, a channel is one stream on it, with several a
//! channel is bonded across them. Cloning is cheap and every clone is the same peer.

use std::sync::Arc;
use std::time::Duration;

use protocols::bond::head::Head;
pub use protocols::bond::health::PathState;
use protocols::bond::schedule::Mode;
use protocols::bond::PathId;
use protocols::channel::MAGIC as PLAIN_MAGIC;
use tokio::sync::mpsc;
use tracing::debug;

use super::bond;
use super::channel::{Channel, ChannelError, OpenError, OPEN_TIMEOUT};
use super::close::{Close, Closed};
use super::path::Path;
use super::paths::{Joined, PathTable, Refused};
pub use super::paths::{PathInfo, PathKind};
use crate::identity::PeerId;

/// Channels the peer opened that wait for the node to take them.
const ACCEPT_QUEUE: usize = 64;

/// How long a new stream may take to say what it is.
const HEADER_WITHIN: Duration = Duration::from_secs(10);

/// Why a connection was not added to a peer.
pub enum AddError {
    /// The peer's last path had closed: the connection starts a new peer.
    PeerClosed(Box<Path>),
    /// Another connection between the same addresses was kept.
    Duplicate,
}

struct Shared {
    id: PeerId,
    /// Of the two nodes, the one whose dials are kept when both dial the same addresses.
    winner: PeerId,
    table: Arc<PathTable>,
    incoming_tx: mpsc::Sender<Channel>,
    incoming: tokio::sync::Mutex<mpsc::Receiver<Channel>>,
}

/// A peer whose key was proved in the handshake of each of its paths.
#[derive(Clone)]
pub struct Peer {
    shared: Arc<Shared>,
}

impl Peer {
    /// A peer reached over `first`; `me` is this node's id.
    pub fn new(first: Path, me: PeerId) -> Peer {
        let id = first.peer();
        let (incoming_tx, incoming) = mpsc::channel(ACCEPT_QUEUE);
        let conn = first.conn.clone();
        let peer = Peer {
            shared: Arc::new(Shared {
                id,
                winner: me.min(id),
                table: Arc::new(PathTable::new(first)),
                incoming_tx,
                incoming: tokio::sync::Mutex::new(incoming),
            }),
        };
        tokio::spawn(peer.shared.table.clone().watch_health());
        peer.serve_path(0, conn);
        peer
    }

    /// Adds `path` as another path to the peer.
    pub fn add(&self, path: Path) -> Result<(), AddError> {
        let conn = path.conn.clone();
        match self.shared.table.add(path, self.shared.winner) {
            Ok(id) => {
                self.serve_path(id, conn);
                Ok(())
            }
            Err(Refused::PeerClosed(p)) => Err(AddError::PeerClosed(p)),
            Err(Refused::Duplicate) => Err(AddError::Duplicate),
        }
    }

    /// Takes the streams the peer opens on path `id`, and drops the path when its
    /// connection ends.
    fn serve_path(&self, id: PathId, conn: quinn::Connection) {
        let shared = self.shared.clone();
        tokio::spawn(async move {
            loop {
                match conn.accept_bi().await {
                    Ok((send, recv)) => {
                        tokio::spawn(classify(shared.clone(), id, send, recv));
                    }
                    Err(e) => {
                        shared.table.remove(id, Closed::from_quinn(&e));
                        return;
                    }
                }
            }
        });
    }

    /// The peer's id (its key).
    pub fn id(&self) -> PeerId {
        self.shared.id
    }

    /// Opens a channel to `service` (at `version`) and waits until the service takes it;
    /// over several paths the channel is bonded and aggregates them.
    pub async fn open(&self, service: &str, version: u16) -> Result<Channel, OpenError> {
        self.open_with(service, version, Mode::Aggregate).await
    }

    /// Opens a channel to `service` that uses the peer's paths by `mode` (with one path,
    /// every mode is the same).
    pub async fn open_with(
        &self,
        service: &str,
        version: u16,
        mode: Mode,
    ) -> Result<Channel, OpenError> {
        let opening = async {
            let ch = self.new_channel(mode).await?;
            ch.ask(service, version).await
        };
        match tokio::time::timeout(OPEN_TIMEOUT, opening).await {
            Ok(r) => r,
            Err(_) => Err(OpenError::NoAnswer {
                service: service.to_string(),
            }),
        }
    }

    async fn new_channel(&self, mode: Mode) -> Result<Channel, OpenError> {
        let table = &self.shared.table;
        let lost = |e: &quinn::ConnectionError| ChannelError::Lost(Closed::from_quinn(e));
        let views = table.views();
        let Some(best) = views.first() else {
            return Err(ChannelError::Lost(table.closed().unwrap_or(Closed::Locally)).into());
        };
        if views.len() == 1 && !table.any_relayed() {
            let (send, recv) = best.conn.open_bi().await.map_err(|e| lost(&e))?;
            return Ok(Channel::new(send, recv, Vec::new()));
        }
        let (send, recv) = bond::open(table.clone(), best, mode)
            .await
            .map_err(|e| lost(&e))?;
        Ok(Channel::bonded(send, recv))
    }

    /// The next channel the peer opens; `None` once its last path has ended.
    pub async fn accept(&self) -> Option<Channel> {
        let mut closed = self.shared.table.subscribe_closed();
        let mut incoming = self.shared.incoming.lock().await;
        tokio::select! {
            ch = incoming.recv() => ch,
            _ = closed.wait_for(|c| c.is_some()) => None,
        }
    }

    /// The round-trip time of the best path.
    pub fn rtt(&self) -> Duration {
        self.shared
            .table
            .views()
            .first()
            .map_or(Duration::ZERO, |v| v.rtt)
    }

    /// The paths to the peer.
    pub fn paths(&self) -> Vec<PathInfo> {
        self.shared.table.infos()
    }

    /// Whether some path goes to `addr` (as written in a peer book) through network
    /// interface `via` (`None`: through none in particular).
    pub fn reaches(&self, addr: &str, via: Option<&str>) -> bool {
        self.shared.table.reaches(addr, via)
    }

    /// Whether some path is still up.
    pub fn is_open(&self) -> bool {
        self.shared.table.closed().is_none()
    }

    /// Why the last path ended, once it has.
    pub fn closed_reason(&self) -> Option<Closed> {
        self.shared.table.closed()
    }

    /// Waits until the last path ends, and says why.
    pub async fn closed(&self) -> Closed {
        let mut closed = self.shared.table.subscribe_closed();
        let _ = closed.wait_for(|c| c.is_some()).await;
        let why = closed.borrow().clone();
        why.unwrap_or(Closed::Locally)
    }

    /// Closes every path, telling the peer why.
    pub fn close(&self, why: Close) {
        self.shared.table.close(why);
    }

    /// Whether `other` is this very peer (not merely one with the same key).
    pub fn same(&self, other: &Peer) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }
}

/// Reads what a stream the peer opened on path `path` is — a plain channel, a bonded
/// channel's first stream, or another path joining one — and hands it on.
async fn classify(
    shared: Arc<Shared>,
    path: PathId,
    mut send: quinn::SendStream,
    mut recv: quinn::RecvStream,
) {
    let mut early = Vec::new();
    let head = tokio::time::timeout(HEADER_WITHIN, async {
        let mut chunk = [0u8; 64];
        loop {
            if early.len() >= 2 && early[..2] == PLAIN_MAGIC {
                return Ok(None);
            }
            if let Some((head, n)) = Head::decode(&early).map_err(|e| e.to_string())? {
                early.drain(..n);
                return Ok(Some(head));
            }
            match recv.read(&mut chunk).await {
                Ok(Some(n)) => early.extend_from_slice(&chunk[..n]),
                Ok(None) => return Err("the stream ended before its header".to_string()),
                Err(e) => return Err(e.to_string()),
            }
        }
    })
    .await;
    let head = match head {
        Ok(Ok(h)) => h,
        Ok(Err(e)) => {
            debug!("stream from {}: {e}", shared.id);
            let _ = send.reset(bond::streams::REFUSED_CODE.into());
            return;
        }
        Err(_) => {
            debug!(
                "stream from {}: no header within {HEADER_WITHIN:?}",
                shared.id
            );
            let _ = send.reset(bond::streams::REFUSED_CODE.into());
            return;
        }
    };
    let joined = Joined {
        path,
        send,
        recv,
        early,
    };
    let channel = match head {
        None => Channel::new(joined.send, joined.recv, joined.early),
        Some(Head::Open { bond, mode }) => {
            match bond::accept(shared.table.clone(), bond, mode, joined) {
                Some((w, r)) => Channel::bonded(w, r),
                None => return,
            }
        }
        Some(Head::Join { bond }) => {
            match shared.table.bond(bond) {
                Some(to) => {
                    let _ = to.send(joined).await;
                }
                None => {
                    let mut send = joined.send;
                    let _ = send.reset(bond::streams::REFUSED_CODE.into());
                }
            }
            return;
        }
    };
    let _ = shared.incoming_tx.send(channel).await;
}
