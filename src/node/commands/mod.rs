//! The command layer: one `apply` per request, grouped in one file per feature. The
//! control socket, the REST API and the `/hub` agent all call [`handle`]; answers go out
//! as [`Response`] lines, the last one final, and failures carry a [`Fault`] that the
//! REST API turns into a status code.
//!
//! [`Fault`]: crate::control::Fault

mod flows;
mod gates;
mod offers;
mod pairing;
mod peers;
mod probes;
mod status;

use std::sync::Arc;

use super::Node;
use crate::control::{Request, Response};

/// Where the lines of an answer go.
pub(super) type Replies = tokio::sync::mpsc::UnboundedSender<Response>;

/// Applies `req` and sends its answer to `tx`.
pub(in crate::node) async fn handle(node: Arc<Node>, req: Request, tx: Replies) {
    let one = match req {
        Request::Gates => gates::list(&node),
        Request::GateExpose(g) => gates::expose(&node, g).await,
        Request::GateUnexpose { name } => gates::unexpose(&node, &name),
        Request::GateOpen(g) => gates::open(&node, g).await,
        Request::GateClose { listen } => gates::close(&node, &listen).await,
        Request::Flows => flows::list(&node),
        Request::FlowAdd(f) => flows::add(&node, f).await,
        Request::FlowRemove { name } => flows::remove(&node, &name).await,
        Request::FlowMemberAdd { name, peer, role } => {
            flows::add_member(&node, &name, &peer, role).await
        }
        Request::FlowMemberRemove { name, peer } => flows::remove_member(&node, &name, &peer).await,
        Request::FlowJoin {
            name,
            role,
            as_name,
            map,
        } => flows::join(&node, &name, role, (as_name, map)).await,
        Request::Share {
            peer,
            paths,
            wait,
            expires,
        } => return offers::share(&node, &peer, (paths, expires), wait, &tx).await,
        Request::ShareCode { paths, expires } => {
            return pairing::share(&node, paths, expires, &tx).await
        }
        Request::Receive { code, to, remember } => {
            return pairing::receive(&node, &code, (to, remember), &tx).await
        }
        Request::Offers => offers::list(&node),
        Request::OffersListen => return offers::listen(&node, &tx).await,
        Request::OfferAccept { id, to, wait } => {
            return offers::accept(&node, &id, to, wait, &tx).await
        }
        Request::OfferReject { id } => offers::reject(&node, &id).await,
        Request::OfferCancel { id } => offers::cancel(&node, &id).await,
        Request::Status => status::status(&node),
        Request::PageLogin => match (node.own.api, node.own.ws) {
            (Some(api), Some(_)) => Response::Note(format!(
                "http://127.0.0.1:{}/#login={}",
                api.port(),
                node.hub.logins.login()
            )),
            _ => Response::fail(
                crate::control::Fault::Unavailable,
                "the page needs the REST API and the link hub, and one is off (--api, --ws)",
            ),
        },
        Request::Peers => peers::list(&node),
        Request::PeerAdd { alias, id, addrs } => peers::add(&node, &alias, &id, addrs),
        Request::PeerRemove { peer } => peers::remove(&node, &peer),
        Request::PeerRename { peer, alias } => peers::rename(&node, &peer, &alias).await,
        Request::PeerPolicy { peer, policy } => peers::set_policy(&node, &peer, policy),
        Request::PeerLinks { peer, links } => peers::set_links(&node, &peer, links),
        Request::Speed {
            peer,
            bytes,
            seed,
            verify,
            mode,
        } => return probes::speed(&node, &peer, (bytes, seed, verify), mode, &tx).await,
        Request::Ping {
            peer,
            count,
            interval_ms,
            size,
        } => return probes::ping(&node, &peer, (count, interval_ms, size), &tx).await,
    };
    let _ = tx.send(one);
}
