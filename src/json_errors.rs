//! Every error of warp's HTTP APIs (the node's, the map's) as a JSON body
//! `{"error": "..."}`: axum's own rejections come as plain text or nothing, and are
//! wrapped here.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response as HttpResponse};
use axum::Json;
use serde_json::json;

/// Largest error text passed on from a rejection.
const MAX_ERROR_TEXT: usize = 4096;

/// Every error as the API's JSON error: axum's own rejections (no or wrong
/// `Content-Type` 415, JSON that does not parse or does not fit the body's shape 400, an
/// unknown path 404, a wrong method 405) come as plain text or nothing, and are wrapped.
pub async fn wrap(r: HttpResponse) -> HttpResponse {
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
