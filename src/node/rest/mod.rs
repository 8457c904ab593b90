//! The REST API on loopback: peers, gates, flows and their members, and offers — one
//! file of handlers per feature. Every call is the same request the CLI sends over the
//! control socket, applied by the same command layer, so the two always agree; a failure's
//! kind gives the status (400 invalid, 404 not found, 409 conflict, 403 refused, 503
//! unavailable). The
//! OpenAPI description is `docs/openapi.json`, also served at `/openapi.json`.
//!
//! Every request must name loopback in `Host` (no DNS rebinding) and, when it comes from a
//! browser, carry the `Origin` of one of the node's own servers; every `/v1` call needs
//! the owner's token (`Authorization: Bearer`, from `api.token` in the data directory).
//! See docs/security.md.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request as HttpRequest, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::Response as HttpResponse;
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde_json::{json, Value as Json_};

use super::Node;
use crate::control::{Fault, Request, Response};
use crate::listen_error::ListenError;

/// The OpenAPI description of this API.
pub const OPENAPI: &str = include_str!("../../../docs/openapi.json");

/// A status and a JSON body.
type Reply = (StatusCode, Json<Json_>);

mod flows;
mod gates;
mod offers;
mod page;
mod peers;

/// What every request is checked against before it reaches a handler.
#[derive(Clone)]
struct Guard {
    /// The API's own port: `Host` must carry it (or none).
    port: u16,
    /// Ports of the node's own loopback servers, whose pages may call the API.
    own_ports: Vec<u16>,
    token: crate::api_token::ApiToken,
    /// The page's sessions, which count as the owner's token.
    logins: std::sync::Arc<crate::page_login::Logins>,
}

use crate::http_api::refusal;

/// Refuses requests a browser could forge or a stranger could send: a `Host` that is not
/// loopback, a foreign `Origin`, or a `/v1` call without the owner's token.
async fn guard(State(g): State<Guard>, req: HttpRequest, next: Next) -> HttpResponse {
    let h = req.headers();
    let text = |name| {
        h.get(name)
            .and_then(|v: &axum::http::HeaderValue| v.to_str().ok())
    };
    if !text(header::HOST).is_some_and(|host| crate::loopback::host_ok(host, g.port)) {
        return refusal(
            StatusCode::FORBIDDEN,
            "the Host header must name loopback (localhost, 127.0.0.1 or [::1]) and this port",
        );
    }
    if let Some(origin) = h.get(header::ORIGIN) {
        let ok = origin
            .to_str()
            .is_ok_and(|o| crate::loopback::origin_ok(o, &g.own_ports));
        if !ok {
            return refusal(
                StatusCode::FORBIDDEN,
                "cross-origin requests are refused: only the node's own pages may call the API",
            );
        }
    }
    if req.uri().path().starts_with("/v1/") || req.uri().path() == "/v1" {
        let whose = "the owner's token: `Authorization: Bearer <token>`, with the token from api.token in the node's data directory";
        if let Some(refused) =
            crate::http_api::bearer_refusal(h, |t| g.token.matches(t) || g.logins.valid(t), whose)
        {
            return refused;
        }
    }
    next.run(req).await
}

/// Serves the API on `addr` (loopback only) in a task. `own_ports` are the ports of the
/// node's loopback servers whose pages may call it.
pub async fn start(
    node: Arc<Node>,
    addr: SocketAddr,
    own_ports: Vec<u16>,
) -> Result<tokio::task::JoinHandle<()>, ListenError> {
    if !addr.ip().is_loopback() {
        return Err(ListenError::ApiNotLoopback(addr));
    }
    let guard_state = Guard {
        port: addr.port(),
        own_ports,
        token: node.api_token.clone(),
        logins: node.hub.logins.clone(),
    };
    let app = Router::new()
        .route("/", get(page::root))
        .route("/page.js", get(page::script))
        .route("/page.css", get(page::style))
        .route("/session", post(page::session))
        .route("/openapi.json", get(openapi))
        .route("/v1/info", get(info))
        .route("/v1/peers", get(peers::list).post(peers::add))
        .route("/v1/peers/{peer}", delete(peers::remove))
        .route("/v1/peers/{peer}/policy", put(peers::set_policy))
        .route("/v1/peers/{peer}/links", put(peers::set_links))
        .route("/v1/gates", get(gates::list))
        .route("/v1/gates/expose", post(gates::expose))
        .route("/v1/gates/expose/{name}", delete(gates::unexpose))
        .route("/v1/gates/open", post(gates::open).delete(gates::close))
        .route("/v1/flows", get(flows::list).post(flows::add))
        .route("/v1/flows/{name}", delete(flows::remove))
        .route("/v1/flows/{name}/members", post(flows::member_add))
        .route(
            "/v1/flows/{name}/members/{peer}",
            delete(flows::member_remove),
        )
        .route("/v1/offers", get(offers::list).post(offers::share))
        .route("/v1/offers/{id}/accept", post(offers::accept))
        .route("/v1/offers/{id}/reject", post(offers::reject))
        .route("/v1/offers/{id}/cancel", post(offers::cancel))
        .with_state(node)
        .layer(axum::middleware::from_fn_with_state(guard_state, guard))
        .layer(axum::middleware::map_response(crate::http_api::wrap_errors));
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| ListenError::Bind {
            server: "REST API",
            addr,
            source,
        })?;
    Ok(tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    }))
}

/// Runs one control request and returns its final answer.
async fn call(node: Arc<Node>, req: Request) -> Response {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(super::commands::handle(node, req, tx));
    let mut last = Response::fail(Fault::Unavailable, "the node is stopping");
    while let Some(r) = rx.recv().await {
        let done = r.is_final();
        last = r;
        if done {
            break;
        }
    }
    last
}

/// The final answer as a status and body: `ok` on success, with what the answer carries
/// (a peer, a listing, an offer) as the body, untagged.
fn reply(r: Response, ok: StatusCode) -> Reply {
    let body = match r {
        Response::Error(f) => {
            let status = match f.fault {
                Fault::Invalid => StatusCode::BAD_REQUEST,
                Fault::NotFound => StatusCode::NOT_FOUND,
                Fault::Conflict => StatusCode::CONFLICT,
                Fault::Refused => StatusCode::FORBIDDEN,
                Fault::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            };
            return (status, Json(json!({ "error": f.message })));
        }
        Response::Ok => json!({}),
        Response::Note(n) => json!({ "note": n }),
        // Every other answer is a variant with a payload, `{"Variant": payload}`.
        other => match serde_json::to_value(&other) {
            Ok(Json_::Object(tagged)) if tagged.len() == 1 => tagged
                .into_iter()
                .next()
                .map(|(_, v)| v)
                .unwrap_or_default(),
            Ok(v) => v,
            Err(_) => Json_::Null,
        },
    };
    (ok, Json(body))
}

async fn openapi() -> HttpResponse {
    crate::http_api::openapi(OPENAPI)
}

/// `GET /v1/info`: the node's id, version and addresses.
async fn info(State(node): State<Arc<Node>>) -> Reply {
    let o = &node.own;
    (
        StatusCode::OK,
        Json(json!({
            "id": node.id.to_string(),
            "version": env!("CARGO_PKG_VERSION"),
            "quic": o.quic.to_string(),
            "api": o.api.map(|a| a.to_string()),
            "ws": o.ws.map(|a| a.to_string()),
            "data_dir": o.dir.display().to_string(),
        })),
    )
}

#[cfg(test)]
mod tests {
    /// Every route the router serves is described in the OpenAPI document.
    #[test]
    fn every_route_is_in_the_openapi_description() {
        let spec: serde_json::Value = serde_json::from_str(super::OPENAPI).unwrap();
        let routes = crate::http_api::routes(include_str!("mod.rs"));
        assert!(
            routes.contains(&"/v1/flows/{name}/members/{peer}") && routes.len() >= 16,
            "{routes:?}"
        );
        for r in routes {
            assert!(
                spec["paths"][r].is_object(),
                "{r} is not in docs/openapi.json"
            );
        }
    }
}
