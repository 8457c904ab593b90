//! WARP links across the tunnel, the node's part: the `links` service (a peer's hub
//! linking to this node's lanes, as far as this node lets it) and the dialer the hub
//! uses to reach other nodes' lanes (`/peer/<alias or id>/...`). What a peer may do is
//! `links = none|read|write` in its book entry (`warp peers set <peer> links ...`), or
//! `[links] peers` in `warp.toml`, which wins; default none.

use std::sync::{Arc, Weak};

use protocols::channel::ChannelReply;

use super::service_error::ServiceError;
use super::Node;
use crate::identity::PeerId;
use crate::links::remote::{Access, Dial, DialError, Stream};
use crate::store::LinkAccess;
use crate::transport::Channel;

/// The channel service.
pub const SERVICE: &str = "links";
/// Its version.
pub const VERSION: u16 = 1;

impl Node {
    /// What `peer` may do with this node's lanes: the file's word if it names the peer
    /// (by alias or id), else the book's.
    pub(super) fn link_access(&self, peer: &PeerId) -> LinkAccess {
        for (name, access) in self.hub.file_peers() {
            let named = name.parse::<PeerId>().ok() == Some(*peer)
                || self.book.resolve(&name).ok().and_then(|e| e.peer_id()) == Some(*peer);
            if named {
                return access;
            }
        }
        self.book.get(peer).map_or(LinkAccess::None, |e| e.links)
    }
}

fn access(a: LinkAccess) -> Option<Access> {
    match a {
        LinkAccess::None => None,
        LinkAccess::Read => Some(Access::Read),
        LinkAccess::Write => Some(Access::Write),
    }
}

/// Serves a `links` channel from `peer`: its hub's session with this node's lanes, or a
/// refusal that says how to allow it.
pub async fn serve(node: Arc<Node>, peer: PeerId, mut ch: Channel) -> Result<(), ServiceError> {
    let Some(granted) = access(node.link_access(&peer)) else {
        let msg = format!(
            "this node does not let {peer} link to its lanes (`warp peers set <you> links read` on it)"
        );
        return Ok(ch.decline(ChannelReply::Refused(msg)).await?);
    };
    ch.write(&ChannelReply::Accepted.encode()).await?;
    let (w, r) = ch.split();
    let hub = node.hub.clone();
    let weak = Arc::downgrade(&node);
    drop(node);
    let still = move || weak.upgrade().and_then(|n| access(n.link_access(&peer)));
    crate::links::peer::serve(hub, granted, still, r, w).await;
    Ok(())
}

/// Opens `links` channels for the hub.
pub struct NodeDial(pub Weak<Node>);

impl Dial for NodeDial {
    fn dial(
        &self,
        peer: &str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Stream, DialError>> + Send>>
    {
        let node = self.0.clone();
        let peer = peer.to_string();
        Box::pin(async move {
            let node = node
                .upgrade()
                .ok_or_else(|| DialError::Unreachable("the node is stopping".into()))?;
            let entry = node
                .resolve(&peer)
                .map_err(|e| DialError::Refused(e.to_string()))?;
            let ch =
                super::conns::open_channel(&node, &entry, (SERVICE, VERSION), Default::default())
                    .await
                    .map_err(|e| match e {
                        super::conns::ReachError::Open(crate::transport::OpenError::Refused(m)) => {
                            DialError::Refused(format!("{peer}: {m}"))
                        }
                        e => DialError::Unreachable(format!("{peer}: {e}")),
                    })?;
            let (w, r) = ch.split();
            Ok((Box::new(r) as Box<_>, Box::new(w) as Box<_>))
        })
    }
}
