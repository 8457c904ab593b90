//! The WARP link fan-out the benchmarks measure: synced clients of one hub read one lane
//! while a writer (on the same hub or another node's) sends stamped commands to it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// Clients reading.
pub const CLIENTS: usize = 10;

/// A client's WebSocket.
pub type Ws = WebSocketStream<TcpStream>;

/// A client of the hub on loopback `port` (offering `warp0`).
pub async fn connect(port: u16) -> Ws {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(tcp) = TcpStream::connect(("127.0.0.1", port)).await {
            let _ = tcp.set_nodelay(true);
            // The reference server insists on the `warp0` subprotocol; warp takes either.
            let mut req = format!("ws://127.0.0.1:{port}/")
                .into_client_request()
                .unwrap();
            req.headers_mut()
                .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("warp0"));
            let (ws, _) = tokio_tungstenite::client_async(req, tcp).await.unwrap();
            return ws;
        }
        assert!(Instant::now() < deadline, "no link hub");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Microseconds since the epoch (clients and writer share the clock).
pub fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

/// The sequence number and microsecond stamp of an event body `@Stamp{s:SEQ,t:STAMP}`
/// (the form the reference server's `Stamp` type reads and writes).
fn stamp(frame: &str) -> Option<(u64, u64)> {
    let body = frame.rsplit_once("{s:")?.1.strip_suffix('}')?;
    let (seq, t) = body.split_once(",t:")?;
    Some((seq.parse().ok()?, t.parse().ok()?))
}

/// What a fan-out run saw.
pub struct FanOut {
    /// Events every client got, together.
    pub events: u64,
    /// From the first command to the last client's last event.
    pub secs: f64,
    /// Microseconds from command to event, sorted.
    pub latencies: Vec<u64>,
    /// Clients the node closed as too slow.
    pub closed: usize,
}

/// Where the clients read and the writer writes: a hub's port and the node URI there.
#[derive(Clone, Copy)]
pub struct Hubs<'a> {
    /// The readers' hub.
    pub read: (u16, &'a str),
    /// The writer's hub.
    pub write: (u16, &'a str),
}

impl<'a> Hubs<'a> {
    /// Readers and writer on one hub, one node.
    pub fn one(port: u16, node: &'a str) -> Hubs<'a> {
        Hubs {
            read: (port, node),
            write: (port, node),
        }
    }
}

/// `commands` commands to one lane, paced at `rate` per second (0: unpaced), read by
/// [`CLIENTS`] synced clients, each until it sees the last command's event (or is
/// closed).
pub async fn fan_out(hubs: Hubs<'_>, lane: &str, (commands, rate): (u64, u64)) -> FanOut {
    let (port, node) = hubs.read;
    let received = Arc::new(AtomicU64::new(0));
    let mut readers = Vec::new();
    for _ in 0..CLIENTS {
        let mut ws = connect(port).await;
        ws.send(Message::Text(
            format!(r#"@sync(node:"{node}",lane:{lane})"#).into(),
        ))
        .await
        .unwrap();
        // @linked, the state (if the lane has any), @synced.
        loop {
            if let Message::Text(t) = ws.next().await.unwrap().unwrap() {
                if t.as_str().starts_with("@synced") {
                    break;
                }
            }
        }
        let received = received.clone();
        readers.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut closed = true;
            while let Ok(Some(Ok(m))) =
                tokio::time::timeout(Duration::from_secs(30), ws.next()).await
            {
                if let Message::Text(t) = m {
                    if let Some((seq, ts)) = stamp(t.as_str()) {
                        lat.push(now_us().saturating_sub(ts));
                        received.fetch_add(1, Ordering::Relaxed);
                        if seq == commands - 1 {
                            closed = false;
                            break;
                        }
                    }
                }
            }
            (lat, closed, Instant::now())
        }));
    }
    let (port, node) = hubs.write;
    let mut writer = connect(port).await;
    let start = Instant::now();
    for i in 0..commands {
        let frame = Message::Text(
            format!(
                r#"@command(node:"{node}",lane:{lane})@Stamp{{s:{i},t:{}}}"#,
                now_us()
            )
            .into(),
        );
        if let Some(gap_us) = (1_000_000u64).checked_div(rate) {
            let due = start + Duration::from_micros(i * gap_us);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                tokio::time::sleep(wait).await;
            }
            writer.send(frame).await.unwrap();
        } else {
            writer.feed(frame).await.unwrap();
        }
    }
    writer.flush().await.unwrap();
    let mut latencies = Vec::new();
    let mut closed = 0;
    let mut end = start;
    for r in readers {
        let (lat, was_closed, at) = r.await.unwrap();
        latencies.extend(lat);
        closed += was_closed as usize;
        end = end.max(at);
    }
    latencies.sort_unstable();
    FanOut {
        events: received.load(Ordering::Relaxed),
        secs: (end - start).as_secs_f64(),
        latencies,
        closed,
    }
}

/// The `p` quantile of sorted microseconds, in milliseconds.
pub fn pct(v: &[u64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v[((v.len() - 1) as f64 * p) as usize] as f64 / 1000.0
}
