//! `/v1/peers`: the book with connection state, add, remove, set a policy.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use super::{call, reply, Reply};
use crate::control::Request;
use crate::node::Node;
use crate::store::Policy;

/// `GET /v1/peers`.
pub async fn list(State(node): State<Arc<Node>>) -> Reply {
    reply(call(node, Request::Peers).await, StatusCode::OK)
}

/// The body of `POST /v1/peers`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPeer {
    alias: String,
    id: String,
    #[serde(default)]
    addrs: Vec<String>,
}

/// `POST /v1/peers`: 201 with the entry; 409 when the alias or the key is taken.
pub async fn add(State(node): State<Arc<Node>>, Json(p): Json<NewPeer>) -> Reply {
    let req = Request::PeerAdd {
        alias: p.alias,
        id: p.id,
        addrs: p.addrs,
    };
    reply(call(node, req).await, StatusCode::CREATED)
}

/// `DELETE /v1/peers/{peer}`: 404 when no such peer.
pub async fn remove(State(node): State<Arc<Node>>, Path(peer): Path<String>) -> Reply {
    reply(
        call(node, Request::PeerRemove { peer }).await,
        StatusCode::OK,
    )
}

/// The body of `PUT /v1/peers/{peer}/policy`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPolicy {
    policy: Policy,
}

/// The body of `PUT /v1/peers/{peer}/links`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewLinks {
    links: crate::store::LinkAccess,
}

/// `PUT /v1/peers/{peer}/links`: none, read or write.
pub async fn set_links(
    State(node): State<Arc<Node>>,
    Path(peer): Path<String>,
    Json(l): Json<NewLinks>,
) -> Reply {
    let req = Request::PeerLinks {
        peer,
        links: l.links,
    };
    reply(call(node, req).await, StatusCode::OK)
}

/// `PUT /v1/peers/{peer}/policy`: trust, ask or block (which closes its connection).
pub async fn set_policy(
    State(node): State<Arc<Node>>,
    Path(peer): Path<String>,
    Json(p): Json<NewPolicy>,
) -> Reply {
    let req = Request::PeerPolicy {
        peer,
        policy: p.policy,
    };
    reply(call(node, req).await, StatusCode::OK)
}
