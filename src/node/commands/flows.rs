//! Requests about flows: list, add, remove, and their members. A flow from the
//! configuration file is changed there, not here.

use std::sync::Arc;

use crate::control::{Fault, Response};
use crate::flow_book::{Flow, Role, SELF};
use crate::node::Node;

/// Every running flow with its counters, by name.
pub fn list(node: &Node) -> Response {
    Response::Flows(node.flows.statuses())
}

/// Adds (or replaces) a flow.
pub async fn add(node: &Arc<Node>, f: Flow) -> Response {
    change(node, f).await
}

/// Removes a flow set from the command line or the API.
pub async fn remove(node: &Arc<Node>, name: &str) -> Response {
    if node.flows.book.get(name).is_none() {
        return not_ours(node, name);
    }
    crate::node::flows::stop(node, name).await;
    let removed = node.flows.book.remove(name);
    // A map's flow of the same name may run now.
    node.apply_map_flows().await;
    match removed {
        Ok(_) => Response::Ok,
        Err(e) => Response::error(&e),
    }
}

/// Adds `peer` to the flow `name`, in `role` (the mode's default when not given).
pub async fn add_member(node: &Arc<Node>, name: &str, peer: &str, role: Option<Role>) -> Response {
    let Some(mut f) = node.flows.book.get(name) else {
        return not_ours(node, name);
    };
    f.set_member(peer, role.unwrap_or(f.mode.default_role()));
    change(node, f).await
}

/// Removes `peer` from the flow `name`.
pub async fn remove_member(node: &Arc<Node>, name: &str, peer: &str) -> Response {
    let Some(mut f) = node.flows.book.get(name) else {
        return not_ours(node, name);
    };
    if !f.remove_member(peer) {
        return Response::fail(
            Fault::NotFound,
            format!("{peer} is not a member of flow {name}"),
        );
    }
    change(node, f).await
}

/// Asks a map trusted for flows (`map`, else the first) to let this node join `name` in
/// `role`, as `as_name` if it has no name there.
pub async fn join(
    node: &Arc<Node>,
    name: &str,
    role: Role,
    (as_name, map): (Option<String>, Option<String>),
) -> Response {
    let asked = (role, as_name.as_deref().unwrap_or(""));
    match node.join_flow(map.as_deref(), name, asked).await {
        Ok(true) => Response::Note(format!(
            "joined flow {name}: it runs here as soon as the map's table arrives (`warp flow`)"
        )),
        Ok(false) => Response::Note(format!(
            "asked to join flow {name}: the request waits for the map's operator to approve it"
        )),
        Err(e) => Response::fail(Fault::Refused, e.to_string()),
    }
}

/// Checks `new`, applies it to the running node and keeps it as a command-line flow.
async fn change(node: &Arc<Node>, new: Flow) -> Response {
    let name = new.name.clone();
    if let Err(e) = new.check() {
        return Response::invalid(e);
    }
    for (member, _) in new.roles() {
        if member != SELF {
            if let Err(e) = node.resolve(member) {
                return Response::fail((&e).into(), format!("flow {name}: {e}"));
            }
        }
    }
    let origin = (crate::flow_book::Origin::Command, Default::default());
    if let Err(e) = crate::node::flows::apply(node, new.clone(), origin).await {
        return Response::error(&e);
    }
    match node.flows.book.put(&new) {
        Ok(()) => Response::Ok,
        Err(e) => Response::error(&e),
    }
}

fn from_the_file(name: &str) -> Response {
    Response::fail(
        Fault::Conflict,
        format!("flow {name} comes from the configuration file: change it there"),
    )
}

/// Why the flow `name` cannot be changed from the command line.
fn not_ours(node: &Node, name: &str) -> Response {
    match node.flows.running().get(name) {
        Some(r) if r.origin == crate::flow_book::Origin::File => from_the_file(name),
        Some(r) if r.origin != crate::flow_book::Origin::Command => Response::fail(
            Fault::Conflict,
            format!("flow {name} comes from {}: change it there", r.origin),
        ),
        _ => Response::fail(
            Fault::NotFound,
            format!("no flow {name:?}: add it with `warp flow add`"),
        ),
    }
}
