//! Requests about pairing by code: offer files to whoever types the code this node
//! prints (`warp share PATH` with no peer), and pair by a code another node printed and
//! download its offer (`warp receive CODE`). Both follow the offer to its end.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use protocols::pair::Code;

use super::Replies;
use crate::control::{Fault, Response};
use crate::node::pair::{self, ReceiveError};
use crate::node::Node;

/// How long a code waits for the side that types it.
pub const CODE_LIFE: Duration = Duration::from_secs(3600);

/// Opens a code for `paths`, answers it, and when someone pairs by it, follows the
/// offer made to them. The code closes when the client goes away or after
/// [`CODE_LIFE`]; the offer, once made, waits `expires` seconds (a week when `None`) for
/// a peer that goes away.
pub async fn share(node: &Arc<Node>, paths: Vec<String>, expires: Option<u64>, tx: &Replies) {
    if node.lan.is_none() && !node.maps.any() {
        let _ = tx.send(Response::fail(
            Fault::Unavailable,
            ReceiveError::NoDiscovery,
        ));
        return;
    }
    let paths: Vec<PathBuf> = paths.into_iter().map(PathBuf::from).collect();
    if let Some(p) = paths.iter().find(|p| !p.exists()) {
        let _ = tx.send(Response::invalid(format!(
            "{}: no such file or directory",
            p.display()
        )));
        return;
    }
    let wait = expires.map_or(warpdrive::offer::WAIT_FOR_PEER, Duration::from_secs);
    let events = node.drive().subscribe();
    // With maps, a map hands out the number, so that nodes sharing through it never
    // wait with the same one; the local network is told too.
    let claimed = match node.maps.any() {
        false => None,
        true => match node.claim_code_number().await {
            Ok(c) => Some(c),
            Err(e) if node.lan.is_some() => {
                tracing::warn!(
                    "no code number from a map ({e}); the code works on the local network only"
                );
                None
            }
            Err(e) => {
                let _ = tx.send(Response::fail(Fault::Unavailable, e));
                return;
            }
        },
    };
    let (code, outcome) = match node
        .pairings
        .open(paths, wait, claimed.as_ref().map(|c| c.1))
    {
        Ok(c) => c,
        Err(e) => {
            if let Some((map, n)) = &claimed {
                node.release_code_number(map, *n).await;
            }
            let _ = tx.send(Response::fail(Fault::Conflict, e));
            return;
        }
    };
    node.announce_pairs();
    let outcome = wait_for_pairing(code, outcome, tx).await;
    if let Some((map, n)) = &claimed {
        node.release_code_number(map, *n).await;
    }
    let Some(outcome) = outcome else {
        node.pairings.close(code.nameplate);
        node.announce_pairs();
        return;
    };
    match outcome {
        Ok(Ok((peer, offer))) => {
            let paired = Response::Paired {
                peer: peer.to_string(),
                note: String::new(),
            };
            if tx.send(paired).is_ok() {
                super::offers::follow(events, offer, true, tx).await;
            }
        }
        Ok(Err(e)) => {
            let _ = tx.send(Response::fail(Fault::Refused, e));
        }
        Err(_) => {
            let _ = tx.send(Response::fail(
                Fault::Unavailable,
                "the pairing ended without an outcome",
            ));
        }
    }
}

/// Answers the code and waits for its outcome; `None` when the client went away or the
/// code expired (told).
async fn wait_for_pairing(
    code: protocols::pair::Code,
    outcome: tokio::sync::oneshot::Receiver<crate::node::pair_codes::Outcome>,
    tx: &Replies,
) -> Option<Result<crate::node::pair_codes::Outcome, tokio::sync::oneshot::error::RecvError>> {
    if tx.send(Response::PairCode(code.to_string())).is_err() {
        return None;
    }
    tokio::select! {
        o = outcome => Some(o),
        _ = tx.closed() => None,
        _ = tokio::time::sleep(CODE_LIFE) => {
            let _ = tx.send(Response::fail(
                Fault::Unavailable,
                format!("code {code} expired unused after {} min", CODE_LIFE.as_secs() / 60),
            ));
            None
        }
    }
}

/// Pairs by `code`, accepts the offer the other side makes into `to` (the incoming
/// directory when `None`), adds the other side to the book as `remember` if given, and
/// follows the download.
pub async fn receive(
    node: &Arc<Node>,
    code: &str,
    (to, remember): (Option<String>, Option<String>),
    tx: &Replies,
) {
    let code = match Code::parse(code) {
        Ok(c) => c,
        Err(e) => {
            let _ = tx.send(Response::invalid(e));
            return;
        }
    };
    let (peer, offer) = match pair::receive(node, &code).await {
        Ok(p) => p,
        Err(e) => {
            let fault = match e {
                ReceiveError::WrongCode | ReceiveError::Refused(_) => Fault::Refused,
                ReceiveError::NotFound(..) => Fault::NotFound,
                _ => Fault::Unavailable,
            };
            let _ = tx.send(Response::fail(fault, e));
            return;
        }
    };
    pair::hold_until_done(node, peer, offer.clone());
    // Remembering is a convenience: a clash is told, and the download goes on.
    let note = match remember {
        None => String::new(),
        Some(alias) => {
            let addrs = node
                .conns
                .get(&peer)
                .and_then(|p| p.paths().first().map(|i| i.remote.to_string()))
                .into_iter()
                .collect();
            match node.book.add(&alias, peer, addrs) {
                Ok(_) => format!("added to the peer book as {alias}"),
                Err(e) => format!("not added to the peer book: {e}"),
            }
        }
    };
    let paired = Response::Paired {
        peer: peer.to_string(),
        note,
    };
    if tx.send(paired).is_err() {
        return;
    }
    super::offers::accept(node, &offer, to, true, tx).await;
}
