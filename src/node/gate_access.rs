//! Who a gate serves: the peers on its allow list, else the book (and any key when it is
//! public) — never a target that is the node's own; and the refusal a peer hears.

use protocols::channel::ChannelReply;
use tracing::warn;

use super::service_error::ServiceError;
use super::Node;
use crate::gate_book::Exposed;
use crate::identity::PeerId;
use crate::transport::Channel;

/// Why a gate does not serve a peer.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The gate has an allow list without the peer.
    #[error("gate {gate}: peer {peer} is not on its allow list")]
    NotAllowed {
        /// The gate.
        gate: String,
        /// Who asked.
        peer: PeerId,
    },
    /// The gate serves the book, and the peer is not in it.
    #[error("gate {gate}: {peer} is not in the peer book (the gate is not public)")]
    NotInBook {
        /// The gate.
        gate: String,
        /// Who asked.
        peer: PeerId,
    },
    /// The gate's target is the node's own.
    #[error("gate {gate}: {reason}")]
    OwnTarget {
        /// The gate.
        gate: String,
        /// Which of the node's own addresses.
        reason: super::own::OwnAddress,
    },
}

/// Whether `gate` serves `peer`: the peers on its allow list when it has one; else every
/// peer in the book, and any key when it is public. Its target must not be the node's own
/// (checked again here, as a configuration file may have changed since it was exposed).
pub async fn admits(node: &Node, gate: &Exposed, peer: PeerId) -> Result<(), Refusal> {
    let name = || gate.name.clone();
    if !gate.allow.is_empty() {
        if !allowed(node, &gate.allow, peer) {
            return Err(Refusal::NotAllowed { gate: name(), peer });
        }
    } else if !gate.public && !node.knows(&peer) {
        return Err(Refusal::NotInBook { gate: name(), peer });
    }
    node.own
        .check(&gate.target, gate.udp)
        .await
        .map_err(|reason| Refusal::OwnTarget {
            gate: name(),
            reason,
        })
}

/// Whether `peer` is named (by id, or by the alias of its book entry) in `allow`.
pub fn allowed(node: &Node, allow: &[String], peer: PeerId) -> bool {
    allow.iter().any(|name| {
        name.parse::<PeerId>().ok() == Some(peer)
            || node.book.resolve(name).ok().and_then(|e| e.peer_id()) == Some(peer)
    })
}

/// Refuses a gate channel with a reason, logged here too.
pub async fn refuse(ch: Channel, msg: String) -> Result<(), ServiceError> {
    warn!("{msg}");
    Ok(ch.decline(ChannelReply::Refused(msg)).await?)
}
