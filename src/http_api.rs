//! What warp's HTTP APIs (the node's, the map's) share: every error as a JSON body
//! `{"error": "..."}` (axum's own rejections come as plain text or nothing, and are
//! wrapped here), the bearer-token check, and the OpenAPI document served as it is.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response as HttpResponse};
use axum::Json;
use serde_json::json;

/// A status and a JSON body: what a handler answers.
pub type Reply = (StatusCode, Json<serde_json::Value>);

/// A refusal as the APIs' usual JSON error.
pub fn refusal(status: StatusCode, msg: &str) -> HttpResponse {
    (status, Json(json!({ "error": msg }))).into_response()
}

/// `None` when `headers` carry `Authorization: Bearer <token>` with a token `accept`
/// takes; else the 401 answer, whose text says where the token is (`whose`: "the
/// owner's token ... node's data directory").
pub fn bearer_refusal(
    headers: &HeaderMap,
    accept: impl Fn(&str) -> bool,
    whose: &str,
) -> Option<HttpResponse> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    if given.is_some_and(accept) {
        return None;
    }
    let msg = format!("this call needs {whose}");
    let mut r = refusal(StatusCode::UNAUTHORIZED, &msg);
    r.headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    Some(r)
}

/// An OpenAPI document as the answer to `GET /openapi.json`.
pub fn openapi(doc: &'static str) -> HttpResponse {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        doc,
    )
        .into_response()
}

/// The paths a router's source names in `.route("...")` (on the line or, as rustfmt
/// wraps a long one, the next), but `/`, `/openapi.json` and a page's scripts and styles:
/// for the test that each is described in the API's OpenAPI document.
pub fn routes(source: &str) -> Vec<&str> {
    let router = &source[..source.find("#[cfg(test)]").unwrap_or(source.len())];
    router
        .split(".route(")
        .skip(1)
        .filter_map(|s| s.trim_start().strip_prefix('"')?.split('"').next())
        .filter(|r| *r != "/openapi.json" && *r != "/")
        .filter(|r| !r.ends_with(".js") && !r.ends_with(".css"))
        .collect()
}

/// Largest error text passed on from a rejection.
const MAX_ERROR_TEXT: usize = 4096;

/// Every error as the API's JSON error: axum's own rejections (no or wrong
/// `Content-Type` 415, JSON that does not parse or does not fit the body's shape 400, an
/// unknown path 404, a wrong method 405) come as plain text or nothing, and are wrapped.
pub async fn wrap_errors(r: HttpResponse) -> HttpResponse {
    let status = r.status();
    let is_json = r
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return r;
    }
    // A body that does not fit is a JSON shape error like any other: 400.
    let status = match status {
        StatusCode::UNPROCESSABLE_ENTITY => StatusCode::BAD_REQUEST,
        s => s,
    };
    let (parts, body) = r.into_parts();
    let text = axum::body::to_bytes(body, MAX_ERROR_TEXT)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
        .unwrap_or_default();
    let text = match (text.is_empty(), status) {
        (false, _) => text,
        (true, StatusCode::NOT_FOUND) => "no such endpoint: GET / lists where to look".into(),
        (true, StatusCode::METHOD_NOT_ALLOWED) => "this endpoint does not take that method".into(),
        (true, s) => s.canonical_reason().unwrap_or("error").to_string(),
    };
    let mut out = (status, Json(json!({ "error": text }))).into_response();
    if let Some(allow) = parts.headers.get(header::ALLOW) {
        out.headers_mut().insert(header::ALLOW, allow.clone());
    }
    out
}
