//! Requests about the peer book: list (with connection state), add, remove, rename, set
//! a policy. Removing or blocking a peer closes its connection.

use crate::control::{Fault, PathStatus, PeerStatus, Response};
use crate::identity::{BadPeerId, PeerId};
use crate::node::Node;
use crate::store::{PeerEntry, Policy};
use crate::transport::Close;

/// The book, and keys not in it that are connected (unknown = ask) with an empty alias.
pub fn list(node: &Node) -> Response {
    let strangers: Vec<_> = node
        .conns
        .ids()
        .into_iter()
        .filter(|id| !node.knows(id))
        .map(|id| PeerEntry {
            alias: String::new(),
            id: id.to_string(),
            addrs: Vec::new(),
            policy: Policy::Ask,
            links: Default::default(),
        })
        .collect();
    let list = node
        .book
        .list()
        .into_iter()
        .chain(strangers)
        .map(|entry| {
            let peer = entry.peer_id().and_then(|id| node.conns.get(&id));
            PeerStatus {
                connected: peer.is_some(),
                rtt_us: peer.as_ref().map(|p| p.rtt().as_micros() as u64),
                remote: peer
                    .as_ref()
                    .and_then(|p| p.paths().first().map(|path| path.remote.to_string())),
                paths: peer.as_ref().map_or_else(Vec::new, |p| {
                    p.paths().iter().map(PathStatus::from).collect()
                }),
                entry,
            }
        })
        .collect();
    Response::Peers(list)
}

/// Adds `alias` for `id`, dialed at `addrs`.
pub fn add(node: &Node, alias: &str, id: &str, addrs: Vec<String>) -> Response {
    let id: PeerId = match id.parse() {
        Ok(id) => id,
        Err(e) => return Response::invalid((e as BadPeerId).to_string()),
    };
    match node.book.add(alias, id, addrs) {
        Ok(e) => Response::Peer(e),
        Err(e) => Response::error(&e),
    }
}

/// Removes a peer and closes its connection.
pub fn remove(node: &Node, peer: &str) -> Response {
    match node.book.remove(peer) {
        Ok(e) => {
            if let Some(c) = e.peer_id().and_then(|id| node.conns.get(&id)) {
                c.close(Close::Removed);
            }
            Response::Peer(e)
        }
        Err(e) => Response::error(&e),
    }
}

/// Gives a peer a new alias; gates and flows that named the old one follow.
pub async fn rename(node: &std::sync::Arc<Node>, peer: &str, alias: &str) -> Response {
    let old = match node.book.resolve(peer) {
        Ok(e) => e.alias,
        Err(e) => return Response::error(&e),
    };
    match node.book.rename(peer, alias) {
        Ok(e) => {
            crate::node::renames::follow(node, &old, alias).await;
            Response::Peer(e)
        }
        Err(e) => Response::error(&e),
    }
}

/// Sets a peer's policy; blocking closes its connection at once.
pub fn set_policy(node: &Node, peer: &str, policy: Policy) -> Response {
    match node.book.set_policy(peer, policy) {
        Ok(e) => {
            if policy == Policy::Block {
                if let Some(c) = e.peer_id().and_then(|id| node.conns.get(&id)) {
                    c.close(Close::Blocked);
                }
            }
            Response::Peer(e)
        }
        Err(e) => Response::error(&e),
    }
}

/// Sets what `peer` may do with this node's WARP lanes; its remote links that this
/// takes away are closed at once.
pub fn set_links(node: &Node, peer: &str, links: crate::store::LinkAccess) -> Response {
    match node.book.set_links(peer, links) {
        Ok(e) => {
            if let Some(id) = e.peer_id() {
                node.hub.peer_access_changed(&id.to_string());
            }
            Response::Peer(e)
        }
        Err(e) => Response::error(&e),
    }
}

/// A failure to reach a peer's service, by kind: refusals are 403, the rest 503.
pub(super) fn unreachable(alias: &str, e: &crate::node::conns::ReachError) -> Response {
    let fault = if e.is_final() {
        Fault::Refused
    } else {
        Fault::Unavailable
    };
    Response::fail(fault, format!("{alias}: {e}"))
}
