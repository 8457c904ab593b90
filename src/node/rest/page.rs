//! The node's live page, served by the REST API: `GET /` gives a browser the page (a
//! client that does not ask for HTML gets the API's JSON description), `/page.js` and
//! `/page.css` its code and style — built into the binary, nothing from elsewhere — and
//! `POST /session` turns the one-time login `warp page` printed into a session token
//! (see `page_login.rs`). The page then links to `/hub` and calls the REST API with it.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response as HttpResponse};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use crate::node::Node;

const HTML: &str = include_str!("page/index.html");
const SCRIPT: &str = include_str!("page/page.js");
const STYLE: &str = include_str!("page/page.css");

/// What the page may load and connect to: itself, and the node's link hub.
fn policy(node: &Node) -> String {
    let ws = node
        .own
        .ws
        .map(|a| format!(" ws://127.0.0.1:{p} ws://localhost:{p}", p = a.port()))
        .unwrap_or_default();
    format!(
        "default-src 'self'; connect-src 'self'{ws}; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    )
}

fn asset(node: &Node, kind: &'static str, body: &'static str) -> HttpResponse {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, kind.to_string()),
            (header::CONTENT_SECURITY_POLICY, policy(node)),
            (header::X_FRAME_OPTIONS, "DENY".to_string()),
            (header::REFERRER_POLICY, "no-referrer".to_string()),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        body,
    )
        .into_response()
}

/// `GET /`: the page for a browser; the API's description for anything else.
pub async fn root(State(node): State<Arc<Node>>, headers: HeaderMap) -> HttpResponse {
    let html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    if html {
        return asset(&node, "text/html; charset=utf-8", HTML);
    }
    (
        StatusCode::OK,
        Json(json!({
            "service": "warp node REST API",
            "version": env!("CARGO_PKG_VERSION"),
            "openapi": "/openapi.json",
            "page": "/ (from a browser; `warp page` prints the address with a login)",
            "auth": "every /v1 call needs `Authorization: Bearer <token>`, the token in api.token in the node's data directory",
        })),
    )
        .into_response()
}

/// `GET /page.js`.
pub async fn script(State(node): State<Arc<Node>>) -> HttpResponse {
    asset(&node, "text/javascript; charset=utf-8", SCRIPT)
}

/// `GET /page.css`.
pub async fn style(State(node): State<Arc<Node>>) -> HttpResponse {
    asset(&node, "text/css; charset=utf-8", STYLE)
}

/// `POST /session` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    login: String,
}

/// `POST /session`: a session token for a login that waits (used up), and where the
/// link hub is.
pub async fn session(State(node): State<Arc<Node>>, Json(l): Json<Login>) -> HttpResponse {
    let Some(ws) = node.own.ws else {
        let msg = "the page needs the link hub, which is off (--ws)";
        return crate::http_api::refusal(StatusCode::SERVICE_UNAVAILABLE, msg);
    };
    match node.hub.logins.redeem(&l.login) {
        Some(s) => (
            StatusCode::OK,
            Json(json!({ "session": s, "ws": format!("ws://127.0.0.1:{}/", ws.port()) })),
        )
            .into_response(),
        None => crate::http_api::refusal(
            StatusCode::FORBIDDEN,
            "that login was used or has expired: run `warp page` again",
        ),
    }
}
