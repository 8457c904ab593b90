//! `/v1/flows` and `/v1/requests`: the map's flows, their members, and requests to join.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use crate::flow_book::Role;
use crate::http_api::Reply;
use crate::identity::PeerId;
use crate::map_server::flow_file::{Edit, EditError, MapFlow};
use crate::map_server::flows::{Flows, FlowsError, Joined};

/// An error as its status and JSON body.
fn failed(e: FlowsError) -> Reply {
    let status = match &e {
        FlowsError::NoFile => StatusCode::CONFLICT,
        FlowsError::NoFlow(_) | FlowsError::NoRequest(_) => StatusCode::NOT_FOUND,
        FlowsError::Edit(EditError::NoFlow(_) | EditError::NoMember(..)) => StatusCode::NOT_FOUND,
        FlowsError::Edit(EditError::NameTaken(_)) => StatusCode::CONFLICT,
        FlowsError::Edit(_) => StatusCode::BAD_REQUEST,
        FlowsError::Joins(_) => StatusCode::SERVICE_UNAVAILABLE,
        FlowsError::Write(..) => StatusCode::INTERNAL_SERVER_ERROR,
    };
    (status, Json(json!({ "error": e.to_string() })))
}

fn bad(msg: String) -> Reply {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": msg })))
}

/// `GET /v1/flows`: every flow with its members, each with its key, role, and whether it
/// is connected to the map and finds the flow congested.
pub async fn list(State(flows): State<Arc<Flows>>) -> Reply {
    let Some(file) = flows.file() else {
        return failed(FlowsError::NoFile);
    };
    let list: Vec<_> = file
        .flow
        .iter()
        .map(|f| {
            let members: Vec<_> = f
                .roles()
                .into_iter()
                .map(|(name, role)| {
                    let id = file.key_of(&name);
                    let presence = id.and_then(|id| flows.presence(&id));
                    json!({
                        "name": name,
                        "id": id.map(|i| i.to_string()),
                        "role": role,
                        "connected": presence.is_some(),
                        "congested": presence.is_some_and(|p| p.congested.contains(&f.name)),
                    })
                })
                .collect();
            json!({
                "flow": f,
                "join": file.join_rule(f),
                "members": members,
            })
        })
        .collect();
    (StatusCode::OK, Json(json!(list)))
}

/// `POST /v1/flows`: adds a flow, or replaces the one of its name.
pub async fn put(State(flows): State<Arc<Flows>>, Json(f): Json<MapFlow>) -> Reply {
    match flows.edit(&Edit::PutFlow(f)).await {
        Ok(_) => (StatusCode::CREATED, Json(json!({}))),
        Err(e) => failed(e),
    }
}

/// `DELETE /v1/flows/{name}`.
pub async fn remove(State(flows): State<Arc<Flows>>, Path(name): Path<String>) -> Reply {
    match flows.edit(&Edit::RemoveFlow(name)).await {
        Ok(_) => (StatusCode::OK, Json(json!({}))),
        Err(e) => failed(e),
    }
}

/// `PUT /v1/flows/{name}/members/{member}` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberBody {
    role: Role,
    /// The member's key, when `member` is a name the file does not have yet.
    #[serde(default)]
    id: Option<String>,
}

/// `PUT /v1/flows/{name}/members/{member}`: makes `member` a member in `role`.
pub async fn member_set(
    State(flows): State<Arc<Flows>>,
    Path((flow, member)): Path<(String, String)>,
    Json(m): Json<MemberBody>,
) -> Reply {
    let key = match m.id.as_deref().map(str::parse::<PeerId>) {
        None => None,
        Some(Ok(k)) => Some(k),
        Some(Err(e)) => return bad(e.to_string()),
    };
    let edit = Edit::SetMember {
        flow,
        member,
        role: m.role,
        key,
    };
    match flows.edit(&edit).await {
        Ok(_) => (StatusCode::OK, Json(json!({}))),
        Err(e) => failed(e),
    }
}

/// `DELETE /v1/flows/{name}/members/{member}`.
pub async fn member_remove(
    State(flows): State<Arc<Flows>>,
    Path((flow, member)): Path<(String, String)>,
) -> Reply {
    match flows.edit(&Edit::RemoveMember { flow, member }).await {
        Ok(_) => (StatusCode::OK, Json(json!({}))),
        Err(e) => failed(e),
    }
}

/// `POST /v1/flows/{name}/join` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinBody {
    id: String,
    role: Role,
    #[serde(default)]
    name: Option<String>,
}

/// `POST /v1/flows/{name}/join`: a node asks to join; granted (200) or held (202), as
/// the file's rule for the flow says.
pub async fn join(
    State(flows): State<Arc<Flows>>,
    Path(flow): Path<String>,
    Json(j): Json<JoinBody>,
) -> Reply {
    let id: PeerId = match j.id.parse() {
        Ok(id) => id,
        Err(e) => return bad(e.to_string()),
    };
    let name = j.name.unwrap_or_default();
    match flows.join(id, &flow, j.role, &name).await {
        Ok(Joined::Granted) => (StatusCode::OK, Json(json!({ "granted": true }))),
        Ok(Joined::Held(n)) => (
            StatusCode::ACCEPTED,
            Json(json!({ "granted": false, "request": n })),
        ),
        Err(e) => failed(e),
    }
}

/// `GET /v1/requests`: the requests that wait for approval.
pub async fn requests(State(flows): State<Arc<Flows>>) -> Reply {
    (StatusCode::OK, Json(json!(flows.joins.all())))
}

/// `POST /v1/requests/{n}/approve`.
pub async fn approve(State(flows): State<Arc<Flows>>, Path(n): Path<u64>) -> Reply {
    match flows.approve(n).await {
        Ok(r) => (StatusCode::OK, Json(json!(r))),
        Err(e) => failed(e),
    }
}

/// `POST /v1/requests/{n}/deny`.
pub async fn deny(State(flows): State<Arc<Flows>>, Path(n): Path<u64>) -> Reply {
    match flows.deny(n) {
        Ok(r) => (StatusCode::OK, Json(json!(r))),
        Err(e) => failed(e),
    }
}
