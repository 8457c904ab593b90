//! One WebSocket connection: a [`Session`] carried over the socket. The reader applies
//! frames as they come; the writer drains the session's outbox, so a slow client only
//! makes its own outbox conflate or fill — never a lane wait.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

use super::outbox::Sink;
use super::session::Session;
use super::Hub;

/// Frames written per flush.
const BATCH: usize = 256;
/// Frames applied before the reader lets other tasks (the writers) run.
const YIELD_EVERY: u32 = 32;

/// Serves a connection until the client leaves, breaks the protocol, or the node stops.
pub async fn serve(hub: Arc<Hub>, ws: WebSocketStream<TcpStream>) {
    let (write, mut read) = ws.split();
    let mut conn = Session::new(hub.clone());
    let writer = tokio::spawn(write_loop(write, conn.sink.clone()));
    let mut stopping = hub.stopping();
    let mut since_yield = 0u32;
    loop {
        tokio::select! {
            m = read.next() => match m {
                Some(Ok(Message::Text(t))) => {
                    if let Err(close) = conn.frame(t.as_str()) {
                        conn.close(close);
                        break;
                    }
                    // A burst of frames already read would otherwise be applied in one
                    // go before any connection's writer runs: let them send between.
                    since_yield += 1;
                    if since_yield == YIELD_EVERY {
                        since_yield = 0;
                        tokio::task::yield_now().await;
                    }
                }
                Some(Ok(Message::Binary(_))) => {
                    conn.close((1002, "Expected string data.".into()));
                    break;
                }
                Some(Ok(Message::Close(_))) | None => break,
                Some(Ok(_)) => {}
                Some(Err(WsError::Utf8)) => {
                    conn.close((1002, "Invalid encoding.".into()));
                    break;
                }
                Some(Err(WsError::Capacity(_))) => {
                    conn.close((1009, "Message too big.".into()));
                    break;
                }
                Some(Err(_)) => break,
            },
            _ = stopping.changed() => {
                conn.unlink_all();
                conn.close((1001, String::new()));
                break;
            }
        }
    }
    conn.drop_links();
    // Ends the writer once it has sent what is pending.
    conn.sink.push(|o| {
        if o.close.is_none() {
            o.close = Some((1000, String::new()));
        }
    });
    let _ = tokio::time::timeout(Duration::from_secs(5), writer).await;
}

/// Sends what the outbox holds, in batches, until a close frame is sent or the client
/// goes away. A client too slow to keep its queues under the bound is closed.
async fn write_loop<W>(mut write: W, sink: Arc<Sink>)
where
    W: futures_util::Sink<Message, Error = WsError> + Unpin,
{
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        let (close, overflowed) = sink.take(BATCH, &mut batch);
        if overflowed {
            let frame = CloseFrame {
                code: CloseCode::from(1008),
                reason: "Client too slow: its queued events passed the limit.".into(),
            };
            let _ = write.send(Message::Close(Some(frame))).await;
            return;
        }
        if batch.is_empty() && close.is_none() {
            sink.notify.notified().await;
            continue;
        }
        for f in batch.drain(..) {
            if write.feed(Message::Text(f)).await.is_err() {
                return;
            }
        }
        if write.flush().await.is_err() {
            return;
        }
        if let Some((code, reason)) = close {
            let frame = CloseFrame {
                code: CloseCode::from(code),
                reason: reason.into(),
            };
            let _ = write.send(Message::Close(Some(frame))).await;
            let _ = write.close().await;
            return;
        }
    }
}
