//! A WebSocket client of a node's WARP link hub, for tests: frames sent and received as
//! text, with deadlines.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::TestNode;

/// A client.
pub struct Client {
    pub ws: WebSocketStream<TcpStream>,
    /// The subprotocol the server answered with.
    pub protocol: Option<String>,
}

/// Connects (retrying while the node starts), offering `warp0` or nothing.
pub async fn connect(node: &TestNode, warp0: bool) -> Client {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(tcp) = TcpStream::connect(("127.0.0.1", node.ws_port)).await {
            let mut req = format!("ws://127.0.0.1:{}/", node.ws_port)
                .into_client_request()
                .unwrap();
            if warp0 {
                req.headers_mut()
                    .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("warp0"));
            }
            let (ws, resp) = tokio_tungstenite::client_async(req, tcp).await.unwrap();
            let protocol = resp
                .headers()
                .get("Sec-WebSocket-Protocol")
                .map(|v| v.to_str().unwrap().to_string());
            return Client { ws, protocol };
        }
        assert!(Instant::now() < deadline, "the link hub never listened");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

impl Client {
    pub async fn send(&mut self, frame: &str) {
        self.ws.send(Message::Text(frame.into())).await.unwrap();
    }

    /// The next text frame (5 s at most).
    pub async fn recv(&mut self) -> String {
        loop {
            let m = tokio::time::timeout(Duration::from_secs(5), self.ws.next())
                .await
                .expect("a frame within 5 s")
                .expect("the connection is open")
                .unwrap();
            match m {
                Message::Text(t) => return t.to_string(),
                Message::Close(c) => panic!("closed: {c:?}"),
                _ => {}
            }
        }
    }

    /// Nothing arrives for `d`, and the connection stays open.
    pub async fn silent(&mut self, d: Duration) {
        match tokio::time::timeout(d, self.ws.next()).await {
            Err(_) => {}
            Ok(Some(Ok(m))) => panic!("unexpected frame {m:?}"),
            Ok(Some(Err(e))) => panic!("the connection failed: {e}"),
            Ok(None) => panic!("the connection closed"),
        }
    }

    /// Frames until the close; its code and reason.
    pub async fn closed(&mut self) -> (u16, String) {
        loop {
            match tokio::time::timeout(Duration::from_secs(10), self.ws.next())
                .await
                .expect("closed within 10 s")
            {
                Some(Ok(Message::Close(Some(c)))) => return (c.code.into(), c.reason.to_string()),
                Some(Ok(Message::Close(None))) | None | Some(Err(_)) => return (0, String::new()),
                Some(Ok(_)) => {}
            }
        }
    }
}
