//! `Request::Status`: the node at a glance.

use crate::control::{NodeStatus, Response};
use crate::node::Node;

/// The node's id, addresses and counts.
pub fn status(node: &Node) -> Response {
    let offers = node.drive().list();
    let o = &node.own;
    Response::Status(NodeStatus {
        id: node.id.to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        data_dir: o.dir.display().to_string(),
        quic: o.quic.to_string(),
        api: o.api.map(|a| a.to_string()),
        ws: o.ws.map(|a| a.to_string()),
        peers: node.book.list().len(),
        connected: node.conns.ids().len(),
        gates_exposed: node.gates.book.all_exposed().len() + node.gates.file_exposed().len(),
        gates_open: node.gates.book.all_opened().len() + node.gates.file_opened().len(),
        flows: node.flows.running().len(),
        offers_waiting: offers
            .iter()
            .filter(|o| o.incoming && o.status == warpdrive::Status::Awaiting)
            .count(),
        offers: offers.len(),
        maps: node.maps.status(),
    })
}
