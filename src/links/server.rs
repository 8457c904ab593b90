//! Accepting WebSocket connections: any path, with or without the `warp0` subprotocol
//! (echoed when the client offers it). Upgrades a browser could forge are refused: on a
//! loopback address `Host` must name loopback, and an `Origin` must be one of the node's
//! own pages. A handshake must finish within [`HANDSHAKE_TIMEOUT`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::header::{HOST, ORIGIN, SEC_WEBSOCKET_PROTOCOL};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tracing::{info, warn};

use super::Hub;
use crate::listen_error::ListenError;

/// The largest message accepted from a client.
pub const MAX_MESSAGE: usize = 1 << 20;

/// How long a client may take to finish the WebSocket handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Who may upgrade: what `Host` and `Origin` must be.
#[derive(Clone)]
struct Admission {
    /// The hub's port, when it listens on loopback (else `Host` is not checked: clients
    /// beyond loopback name the machine as they know it, and tokens guard the hub).
    loopback_port: Option<u16>,
    /// Ports of the node's own loopback servers, whose pages may link.
    own_ports: Vec<u16>,
}

/// Listens on `addr` and serves each connection in its own task.
pub async fn start(
    hub: Arc<Hub>,
    addr: SocketAddr,
    own_ports: Vec<u16>,
) -> Result<tokio::task::JoinHandle<()>, ListenError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| ListenError::Bind {
            server: "WARP link hub",
            addr,
            source,
        })?;
    info!("WARP link hub on ws://{addr}");
    let admission = Admission {
        loopback_port: addr.ip().is_loopback().then_some(addr.port()),
        own_ports,
    };
    Ok(tokio::spawn(async move {
        let mut backoff = crate::accept_backoff::AcceptBackoff::default();
        loop {
            let (tcp, from) = match listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    backoff.failed("WARP link hub", &e).await;
                    continue;
                }
            };
            backoff.succeeded();
            let hub = hub.clone();
            let admission = admission.clone();
            tokio::spawn(async move {
                let _ = tcp.set_nodelay(true);
                let mut config = WebSocketConfig::default();
                config.max_message_size = Some(MAX_MESSAGE);
                config.max_frame_size = Some(MAX_MESSAGE);
                // The signature is tungstenite's handshake callback; its error is large.
                #[allow(clippy::result_large_err)]
                let check = move |req: &Request, resp| admit(&admission, req, resp);
                let handshake =
                    tokio_tungstenite::accept_hdr_async_with_config(tcp, check, Some(config));
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
                    Ok(Ok(ws)) => super::conn::serve(hub, ws).await,
                    Ok(Err(e)) => warn!("WebSocket handshake from {from}: {e}"),
                    Err(_) => warn!(
                        "WebSocket handshake from {from}: not finished within {HANDSHAKE_TIMEOUT:?}"
                    ),
                }
            });
        }
    }))
}

/// Refuses a forged upgrade (403); answers `warp0` when the client offers it.
// The signature is tungstenite's handshake callback; its error type is large.
#[allow(clippy::result_large_err)]
fn admit(a: &Admission, req: &Request, mut resp: Response) -> Result<Response, ErrorResponse> {
    let header = |name| req.headers().get(name).and_then(|v| v.to_str().ok());
    if let Some(port) = a.loopback_port {
        if !header(HOST).is_some_and(|h| crate::loopback::host_ok(h, port)) {
            return Err(forbidden(
                "the Host header must name loopback and this port",
            ));
        }
    }
    if req.headers().contains_key(ORIGIN)
        && !header(ORIGIN).is_some_and(|o| crate::loopback::origin_ok(o, &a.own_ports))
    {
        return Err(forbidden(
            "cross-origin upgrades are refused: only the node's own pages may link",
        ));
    }
    let offered = req
        .headers()
        .get_all(SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == "warp0");
    if offered {
        resp.headers_mut()
            .insert(SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static("warp0"));
    }
    Ok(resp)
}

fn forbidden(why: &str) -> ErrorResponse {
    let mut r = ErrorResponse::new(Some(why.to_string()));
    *r.status_mut() = StatusCode::FORBIDDEN;
    r
}
