//! Accepting WebSocket connections: any path, with or without the `warp0` subprotocol
//! (echoed when the client offers it).

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::header::SEC_WEBSOCKET_PROTOCOL;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tracing::{info, warn};

use super::Hub;

/// The largest frame accepted from a client.
const MAX_FRAME: usize = 1 << 20;

/// Listens on `addr` and serves each connection in its own task.
pub async fn start(hub: Arc<Hub>, addr: SocketAddr) -> Result<tokio::task::JoinHandle<()>, String> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| format!("WARP link hub on {addr}: {e}"))?;
    info!("WARP link hub on ws://{addr}");
    Ok(tokio::spawn(async move {
        while let Ok((tcp, from)) = listener.accept().await {
            let hub = hub.clone();
            tokio::spawn(async move {
                let _ = tcp.set_nodelay(true);
                let mut config = WebSocketConfig::default();
                config.max_message_size = Some(MAX_FRAME);
                config.max_frame_size = Some(MAX_FRAME);
                match tokio_tungstenite::accept_hdr_async_with_config(tcp, echo_warp0, Some(config))
                    .await
                {
                    Ok(ws) => super::conn::serve(hub, ws).await,
                    Err(e) => warn!("WebSocket handshake from {from}: {e}"),
                }
            });
        }
    }))
}

/// Answers `warp0` when the client offers it; accepts the upgrade either way.
// The signature is tungstenite's handshake callback; its error type is large.
#[allow(clippy::result_large_err)]
fn echo_warp0(req: &Request, mut resp: Response) -> Result<Response, ErrorResponse> {
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
