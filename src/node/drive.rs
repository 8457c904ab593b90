//! The node's side of warpdrive: channels to peers and their policies for the engine
//! (`warpdrive::PeerNet`), and the `warpdrive` channel service.

use std::sync::{Arc, Weak};

use protocols::channel::ChannelReply;
use warpdrive::net::{BoxRead, BoxWrite, NetError, Opening};
use warpdrive::Policy;

use super::service_error::ServiceError;
use super::Node;
use crate::bond_mode::Mode;
use crate::identity::PeerId;
use crate::transport::Channel;

/// The channel service name.
pub const SERVICE: &str = "warpdrive";
/// Its version.
pub const VERSION: u16 = 1;

/// The node as warpdrive sees it.
pub struct NodeNet(pub Weak<Node>);

/// A channel's halves as warpdrive takes them.
fn halves(ch: Channel) -> (BoxWrite, BoxRead) {
    let (send, recv) = ch.split();
    (Box::new(send), Box::new(recv))
}

impl warpdrive::PeerNet for NodeNet {
    fn open(&self, peer: &str) -> Opening<'_> {
        let peer = peer.to_string();
        Box::pin(async move {
            let node = self
                .0
                .upgrade()
                .ok_or_else(|| NetError::Unreachable("the node is stopping".into()))?;
            // A key not in the book may dial again (it offered while connected).
            let entry = node
                .resolve(&peer)
                .map_err(|e| match peer.parse::<PeerId>() {
                    Ok(_) => NetError::Unreachable(e.to_string()),
                    Err(_) => NetError::Refused(e.to_string()),
                })?;
            match super::conns::open_channel(&node, &entry, (SERVICE, VERSION), Mode::Aggregate)
                .await
            {
                Ok(ch) => Ok(halves(ch)),
                Err(e) if e.is_final() => Err(NetError::Refused(e.to_string())),
                Err(e) => Err(NetError::Unreachable(e.to_string())),
            }
        })
    }

    fn policy(&self, peer: &str) -> Policy {
        let (Some(node), Ok(id)) = (self.0.upgrade(), peer.parse::<PeerId>()) else {
            return Policy::Ask;
        };
        match node.book.policy(&id) {
            crate::store::Policy::Ask => Policy::Ask,
            crate::store::Policy::Trust => Policy::Trust,
            crate::store::Policy::Block => Policy::Block,
        }
    }

    fn alias(&self, peer_id: &str) -> Option<String> {
        let node = self.0.upgrade()?;
        Some(node.book.get(&peer_id.parse().ok()?)?.alias)
    }

    fn resolve(&self, peer: &str) -> Result<String, NetError> {
        let node = self
            .0
            .upgrade()
            .ok_or_else(|| NetError::Unreachable("the node is stopping".into()))?;
        let entry = node
            .resolve(peer)
            .map_err(|e| NetError::Refused(e.to_string()))?;
        Ok(entry.id)
    }
}

/// Serves a `warpdrive` channel from `peer`.
pub async fn serve(node: Arc<Node>, peer: PeerId, mut ch: Channel) -> Result<(), ServiceError> {
    let Some(_slot) = node.conns.drive_slots.take(peer) else {
        let msg = format!(
            "{} warpdrive channels of yours are open already",
            super::conns::DRIVE_CHANNELS
        );
        return Ok(ch.decline(ChannelReply::Refused(msg)).await?);
    };
    ch.write(&ChannelReply::Accepted.encode()).await?;
    let (w, r) = halves(ch);
    Ok(warpdrive::serve::serve(node.drive().clone(), peer.to_string(), w, r).await?)
}
