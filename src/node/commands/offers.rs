//! Requests about warpdrive offers: share, list, listen, accept, reject, cancel. Share
//! and accept may follow their offer to its end, a line per change.

use std::path::PathBuf;
use std::time::Duration;

use tokio::sync::broadcast::{error::RecvError, Receiver};
use warpdrive::Offer;

use super::Replies;
use crate::control::Response;
use crate::node::Node;

/// Offers `paths` to `peer`, waiting for it `expires` seconds (a week when `None`) if it
/// cannot be reached; follows the offer when `wait`.
pub async fn share(
    node: &Node,
    peer: &str,
    (paths, expires): (Vec<String>, Option<u64>),
    wait: bool,
    tx: &Replies,
) {
    if let Err(e) = node.resolve(peer) {
        let _ = tx.send(Response::error(&e));
        return;
    }
    let drive = node.drive().clone();
    let events = drive.subscribe();
    let paths = paths.into_iter().map(PathBuf::from).collect();
    let expires = expires.map_or(warpdrive::offer::WAIT_FOR_PEER, Duration::from_secs);
    match drive.share_for(peer, paths, expires).await {
        Ok(o) => follow(events, o, wait, tx).await,
        Err(e) => {
            let _ = tx.send(Response::error(&e));
        }
    }
}

/// Every offer.
pub fn list(node: &Node) -> Response {
    Response::OfferList(node.drive().list())
}

/// Every change to any offer, until the client goes away.
pub async fn listen(node: &Node, tx: &Replies) {
    let mut events = node.drive().subscribe();
    loop {
        match events.recv().await {
            Ok(o) => {
                if tx.send(Response::OfferUpdate(o)).is_err() {
                    return;
                }
            }
            Err(RecvError::Lagged(_)) => continue,
            Err(_) => return,
        }
    }
}

/// Accepts an incoming offer into `to` (or the default directory); follows it when
/// `wait`.
pub async fn accept(node: &Node, id: &str, to: Option<String>, wait: bool, tx: &Replies) {
    let drive = node.drive().clone();
    let events = drive.subscribe();
    match drive.accept(id, to.map(PathBuf::from)) {
        Ok(o) => follow(events, o, wait, tx).await,
        Err(e) => {
            let _ = tx.send(Response::error(&e));
        }
    }
}

/// Declines an incoming offer.
pub async fn reject(node: &Node, id: &str) -> Response {
    match node.drive().reject(id).await {
        Ok(o) => Response::OfferDone(o),
        Err(e) => Response::error(&e),
    }
}

/// Withdraws an offer, or stops a download.
pub async fn cancel(node: &Node, id: &str) -> Response {
    match node.drive().cancel(id).await {
        Ok(o) => Response::OfferDone(o),
        Err(e) => Response::error(&e),
    }
}

/// Sends `first`, then, when `wait`, every change to that offer until it ends (or the
/// client goes away); the last line is final.
pub(super) async fn follow(mut events: Receiver<Offer>, first: Offer, wait: bool, tx: &Replies) {
    if !wait || first.status.is_final() {
        let _ = tx.send(Response::OfferDone(first));
        return;
    }
    let id = first.id.clone();
    if tx.send(Response::OfferUpdate(first)).is_err() {
        return;
    }
    loop {
        match events.recv().await {
            Ok(o) if o.id == id => {
                if o.status.is_final() {
                    let _ = tx.send(Response::OfferDone(o));
                    return;
                }
                if tx.send(Response::OfferUpdate(o)).is_err() {
                    return;
                }
            }
            Ok(_) | Err(RecvError::Lagged(_)) => {}
            Err(_) => return,
        }
    }
}
