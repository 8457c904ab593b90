//! Opening a gate of either kind: the listen address is checked (loopback unless
//! `--gateway`, never the node's own), then a stream or a datagram gate listens there.

use std::sync::Arc;

use tracing::warn;

use super::gate_error::GateOpenError;
use super::Node;
use crate::gate_book::Opened;

/// Opens a gate: listens on `g.listen` and leads what arrives to `g.name` on `g.peer`.
pub async fn open(
    node: Arc<Node>,
    g: Opened,
) -> Result<tokio::task::JoinHandle<()>, GateOpenError> {
    check_listen(&node, &g).await?;
    if g.udp {
        super::udp_gates::open(node, g).await
    } else {
        super::gates::open_stream(node, g).await
    }
}

/// Refuses a listen address beyond loopback unless the gate says `gateway`, and one that is
/// the node's own; says who can reach a gateway gate.
async fn check_listen(node: &Node, g: &Opened) -> Result<(), GateOpenError> {
    node.own.check(&g.listen, g.udp).await?;
    if g.listen.starts_with(super::local::UNIX_PREFIX) {
        return Ok(());
    }
    let beyond = match tokio::net::lookup_host(&g.listen).await {
        Ok(mut addrs) => addrs.any(|a| !a.ip().is_loopback()),
        Err(e) => return Err(GateOpenError::listen(&g.listen)(e)),
    };
    match (beyond, g.gateway) {
        (false, _) => Ok(()),
        (true, false) => Err(GateOpenError::Beyond {
            listen: g.listen.clone(),
            peer: g.peer.clone(),
            name: g.name.clone(),
        }),
        (true, true) => {
            warn!(
                "gate {} is open to other hosts: any host that can reach it uses {}'s {} as this node",
                g.listen, g.peer, g.name
            );
            Ok(())
        }
    }
}
