//! The map's REST API (`warp map --api`, loopback by default): its flows and their
//! members — listed with which members are connected and congested, added, changed and
//! removed — and requests to join, granted or held for approval. Changes are written into
//! the flows file. The OpenAPI description is `docs/map-openapi.json`, also served at
//! `/openapi.json`.
//!
//! Every `/v1` call needs the map's token (`Authorization: Bearer`, from `api.token` in
//! the map's data directory), wherever the API listens: loopback is not a trust boundary
//! (any local user, any page a browser opens can reach it). On loopback `Host` must name
//! loopback (no DNS rebinding); a request from a browser (`Origin`) is refused anywhere,
//! as the map serves no pages.

mod flows;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request as HttpRequest, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::Response as HttpResponse;
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde_json::json;

use crate::api_token::ApiToken;
use crate::http_api::Reply;
use crate::map_server::flows::Flows;

/// The OpenAPI description of this API.
pub const OPENAPI: &str = include_str!("../../../docs/map-openapi.json");

/// Where the API listens when not told: loopback, port 7485.
pub const DEFAULT_ADDR: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 7485);

/// What every request is checked against.
#[derive(Clone)]
struct Guard {
    /// The address the API listens on.
    addr: SocketAddr,
    token: ApiToken,
}

use crate::http_api::refusal;

/// Refuses a browser's request, a loopback API's request whose `Host` is not loopback,
/// and a `/v1` call without the map's token.
async fn guard(State(g): State<Guard>, req: HttpRequest, next: Next) -> HttpResponse {
    let h = req.headers();
    if h.contains_key(header::ORIGIN) {
        return refusal(
            StatusCode::FORBIDDEN,
            "requests from web pages are refused: the map serves no pages",
        );
    }
    let host = h.get(header::HOST).and_then(|v| v.to_str().ok());
    if g.addr.ip().is_loopback()
        && !host.is_some_and(|h| crate::loopback::host_ok(h, g.addr.port()))
    {
        return refusal(
            StatusCode::FORBIDDEN,
            "the Host header must name loopback (localhost, 127.0.0.1 or [::1]) and this port",
        );
    }
    if req.uri().path().starts_with("/v1") {
        let whose = "the map's token: `Authorization: Bearer <token>`, with the token from api.token in the map's data directory";
        if let Some(refused) = crate::http_api::bearer_refusal(h, |t| g.token.matches(t), whose) {
            return refused;
        }
    }
    next.run(req).await
}

/// Serves the API on `listener` in a task, the token from `token`.
pub fn start(
    flows: Arc<Flows>,
    listener: tokio::net::TcpListener,
    token: ApiToken,
) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let guard_state = Guard {
        addr: listener.local_addr()?,
        token,
    };
    let app = Router::new()
        .route("/", get(root))
        .route("/openapi.json", get(openapi))
        .route("/v1/flows", get(flows::list).post(flows::put))
        .route("/v1/flows/{name}", delete(flows::remove))
        .route(
            "/v1/flows/{name}/members/{member}",
            put(flows::member_set).delete(flows::member_remove),
        )
        .route("/v1/flows/{name}/join", post(flows::join))
        .route("/v1/requests", get(flows::requests))
        .route("/v1/requests/{n}/approve", post(flows::approve))
        .route("/v1/requests/{n}/deny", post(flows::deny))
        .with_state(flows)
        .layer(axum::middleware::from_fn_with_state(guard_state, guard))
        .layer(axum::middleware::map_response(crate::http_api::wrap_errors));
    Ok(tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    }))
}

async fn openapi() -> HttpResponse {
    crate::http_api::openapi(OPENAPI)
}

/// `GET /`: what this server is (no token needed; nothing secret).
async fn root() -> Reply {
    (
        StatusCode::OK,
        Json(json!({
            "service": "warp map REST API",
            "version": env!("CARGO_PKG_VERSION"),
            "openapi": "/openapi.json",
            "auth": "every /v1 call needs `Authorization: Bearer <token>`, the token in api.token in the map's data directory",
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
        assert!(routes.len() >= 7, "{routes:?}");
        for r in routes {
            assert!(
                spec["paths"][r].is_object(),
                "{r} is not in docs/map-openapi.json"
            );
        }
    }
}
