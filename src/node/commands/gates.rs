//! Requests about gates: list, expose, unexpose, open, close.

use std::sync::Arc;

use crate::control::{Fault, Response};
use crate::gate_book::{Exposed, Opened};
use crate::node::gates::Checked;
use crate::node::Node;

/// Every gate, from the command line and from the file.
pub fn list(node: &Node) -> Response {
    Response::Gates {
        exposed: node.gates.book.all_exposed(),
        opened: node.gates.book.all_opened(),
        config_exposed: node.gates.file_exposed(),
        config_opened: node.gates.file_opened(),
    }
}

/// Exposes a local service to peers (never one of the node's own sockets).
pub async fn expose(node: &Node, g: Exposed) -> Response {
    if let Err(e) = node.own.check(&g.target, g.udp).await {
        return Response::invalid(e.to_string());
    }
    match node.gates.book.expose(&g) {
        Ok(()) => Response::Ok,
        Err(e) => Response::error(&e),
    }
}

/// Stops exposing `name`.
pub fn unexpose(node: &Node, name: &str) -> Response {
    match node.gates.book.unexpose(name) {
        Ok(_) => Response::Ok,
        Err(e) => Response::error(&e),
    }
}

/// Opens a local listener leading to a peer's gate, and asks the peer at once whether
/// it would serve this node, so a wrong name or a refusal shows here rather than as
/// resets later.
pub async fn open(node: &Arc<Node>, g: Opened) -> Response {
    if let Err(e) = node.book.resolve(&g.peer) {
        return Response::error(&e);
    }
    if !crate::gate_book::valid_name(&g.name) {
        return Response::invalid(format!("{:?} cannot name a gate", g.name));
    }
    // Re-opening an address replaces the gate there.
    if let Err(e) = node.gates.start(node.clone(), &g).await {
        return Response::invalid(e);
    }
    let note = match crate::node::gates::check_remote(node, &g).await {
        Checked::Serves => None,
        Checked::Refused(why) => {
            node.gates.stop(&g.listen).await;
            return Response::fail(Fault::Refused, format!("{} on {}: {why}", g.name, g.peer));
        }
        Checked::Unknown(why) => Some(format!(
            "gate open on {}, but {} cannot be asked about {} now ({why}); connections will try it as they come",
            g.listen, g.peer, g.name
        )),
    };
    match (node.gates.book.record_open(&g), note) {
        (Err(e), _) => Response::error(&e),
        (Ok(()), Some(n)) => Response::Note(n),
        (Ok(()), None) => Response::Ok,
    }
}

/// Closes the gate listening on `listen`.
pub async fn close(node: &Node, listen: &str) -> Response {
    let stopped = node.gates.stop(listen).await;
    match node.gates.book.forget_open(listen) {
        Ok(None) if !stopped => {
            Response::fail(Fault::NotFound, format!("no gate is open on {listen}"))
        }
        Ok(_) => Response::Ok,
        Err(e) => Response::error(&e),
    }
}
