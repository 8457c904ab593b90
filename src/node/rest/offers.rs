//! `/v1/offers`: list, share (answers once the offer is sent), accept, reject, cancel.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::{call, reply, Reply};
use crate::control::Request;
use crate::node::Node;

/// `GET /v1/offers`.
pub async fn list(State(node): State<Arc<Node>>) -> Reply {
    reply(call(node, Request::Offers).await, StatusCode::OK)
}

/// The body of `POST /v1/offers`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewOffer {
    peer: String,
    paths: Vec<String>,
    /// Seconds the offer waits for a peer that cannot be reached (default a week).
    #[serde(default)]
    expires: Option<u64>,
}

/// `POST /v1/offers`: offers absolute `paths` to `peer`; 201 with the offer as the
/// peer's answer left it (awaiting, accepted, or failed with the reason).
pub async fn share(State(node): State<Arc<Node>>, Json(o): Json<NewOffer>) -> Reply {
    if let Some(p) = o
        .paths
        .iter()
        .find(|p| !std::path::Path::new(p).is_absolute())
    {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": format!("{p}: paths must be absolute") })),
        );
    }
    let req = Request::Share {
        peer: o.peer,
        paths: o.paths,
        wait: false,
        expires: o.expires,
    };
    reply(call(node, req).await, StatusCode::CREATED)
}

/// The body of `POST /v1/offers/{id}/accept`.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Accept {
    #[serde(default)]
    to: Option<String>,
}

/// `POST /v1/offers/{id}/accept`: starts the download (into `to`, an absolute path, or
/// the node's incoming directory); 404 for no such offer, 409 when it cannot be accepted.
pub async fn accept(
    State(node): State<Arc<Node>>,
    Path(id): Path<String>,
    body: Option<Json<Accept>>,
) -> Reply {
    let to = body.map(|Json(a)| a.to).unwrap_or_default();
    if let Some(t) = to
        .as_ref()
        .filter(|t| !std::path::Path::new(t).is_absolute())
    {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": format!("{t}: the directory must be absolute") })),
        );
    }
    let req = Request::OfferAccept {
        id,
        to,
        wait: false,
    };
    reply(call(node, req).await, StatusCode::OK)
}

/// `POST /v1/offers/{id}/reject`.
pub async fn reject(State(node): State<Arc<Node>>, Path(id): Path<String>) -> Reply {
    reply(
        call(node, Request::OfferReject { id }).await,
        StatusCode::OK,
    )
}

/// `POST /v1/offers/{id}/cancel`.
pub async fn cancel(State(node): State<Arc<Node>>, Path(id): Path<String>) -> Reply {
    reply(
        call(node, Request::OfferCancel { id }).await,
        StatusCode::OK,
    )
}
