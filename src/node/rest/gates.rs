//! `/v1/gates`: list, expose, unexpose, open, close.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use super::{call, reply, Reply};
use crate::control::Request;
use crate::gate_book::{Exposed, Opened};
use crate::node::Node;

/// `GET /v1/gates`.
pub async fn list(State(node): State<Arc<Node>>) -> Reply {
    reply(call(node, Request::Gates).await, StatusCode::OK)
}

/// `POST /v1/gates/expose`.
pub async fn expose(State(node): State<Arc<Node>>, Json(g): Json<Exposed>) -> Reply {
    reply(
        call(node, Request::GateExpose(g)).await,
        StatusCode::CREATED,
    )
}

/// `DELETE /v1/gates/expose/{name}`.
pub async fn unexpose(State(node): State<Arc<Node>>, Path(name): Path<String>) -> Reply {
    reply(
        call(node, Request::GateUnexpose { name }).await,
        StatusCode::OK,
    )
}

/// `POST /v1/gates/open`.
pub async fn open(State(node): State<Arc<Node>>, Json(g): Json<Opened>) -> Reply {
    reply(call(node, Request::GateOpen(g)).await, StatusCode::CREATED)
}

/// The query of `DELETE /v1/gates/open`.
#[derive(Deserialize)]
pub struct Listen {
    listen: String,
}

/// `DELETE /v1/gates/open?listen=ADDR`.
pub async fn close(State(node): State<Arc<Node>>, Query(q): Query<Listen>) -> Reply {
    reply(
        call(node, Request::GateClose { listen: q.listen }).await,
        StatusCode::OK,
    )
}
