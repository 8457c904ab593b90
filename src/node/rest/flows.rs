//! `/v1/flows`: list, add, remove, and their members.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use super::{call, reply, Reply};
use crate::control::Request;
use crate::flow_book::{Flow, Role};
use crate::node::Node;

/// `GET /v1/flows`.
pub async fn list(State(node): State<Arc<Node>>) -> Reply {
    reply(call(node, Request::Flows).await, StatusCode::OK)
}

/// `POST /v1/flows`.
pub async fn add(State(node): State<Arc<Node>>, Json(f): Json<Flow>) -> Reply {
    reply(call(node, Request::FlowAdd(f)).await, StatusCode::CREATED)
}

/// `DELETE /v1/flows/{name}`.
pub async fn remove(State(node): State<Arc<Node>>, Path(name): Path<String>) -> Reply {
    reply(
        call(node, Request::FlowRemove { name }).await,
        StatusCode::OK,
    )
}

/// `POST /v1/flows/{name}/members` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewMember {
    peer: String,
    #[serde(default)]
    role: Option<Role>,
}

/// `POST /v1/flows/{name}/members`.
pub async fn member_add(
    State(node): State<Arc<Node>>,
    Path(name): Path<String>,
    Json(m): Json<NewMember>,
) -> Reply {
    let req = Request::FlowMemberAdd {
        name,
        peer: m.peer,
        role: m.role,
    };
    reply(call(node, req).await, StatusCode::CREATED)
}

/// `DELETE /v1/flows/{name}/members/{peer}`.
pub async fn member_remove(
    State(node): State<Arc<Node>>,
    Path((name, peer)): Path<(String, String)>,
) -> Reply {
    let req = Request::FlowMemberRemove { name, peer };
    reply(call(node, req).await, StatusCode::OK)
}
