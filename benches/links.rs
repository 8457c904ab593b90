//! WARP link hub benchmarks on loopback, against a `warp node` process:
//! - fan-out: 10 clients synced to one value lane while a writer sends 100 000 commands
//!   as fast as it can — events delivered per second (a value link conflates, so a slow
//!   reader gets fewer, newer events) — and again paced at 10 000 commands/s, with the
//!   latency from command sent to event received (p50/p99);
//! - 100 000 links on one connection, each to a fresh node (`/unit/<n>`, lane `info`):
//!   time until every `@linked` is back, and the node's RSS growth per link.
//!
//! `cargo bench --bench links` prints a Markdown table.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

mod support;

use support::Node;

const CLIENTS: usize = 10;
const COMMANDS: u64 = 100_000;
const PACED_RATE: u64 = 10_000;
const LINKS: usize = 100_000;

type Ws = WebSocketStream<TcpStream>;

async fn connect(port: u16) -> Ws {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(tcp) = TcpStream::connect(("127.0.0.1", port)).await {
            let _ = tcp.set_nodelay(true);
            let (ws, _) = tokio_tungstenite::client_async(format!("ws://127.0.0.1:{port}/"), tcp)
                .await
                .unwrap();
            return ws;
        }
        assert!(Instant::now() < deadline, "no link hub");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

/// The sequence number and microsecond stamp of an event body `{s:SEQ,t:STAMP}`.
fn stamp(frame: &str) -> Option<(u64, u64)> {
    let body = frame.rsplit_once("{s:")?.1.strip_suffix('}')?;
    let (seq, t) = body.split_once(",t:")?;
    Some((seq.parse().ok()?, t.parse().ok()?))
}

struct FanOut {
    events: u64,
    secs: f64,
    latencies: Vec<u64>,
    /// Clients the node closed as too slow.
    closed: usize,
}

/// `COMMANDS` commands to one lane, paced at `rate` per second (0: unpaced), read by
/// `CLIENTS` synced clients, each until it sees the last command's event (or is closed).
async fn fan_out(port: u16, lane: &str, rate: u64) -> FanOut {
    let node = "/unit/bench";
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
                        if seq == COMMANDS - 1 {
                            closed = false;
                            break;
                        }
                    }
                }
            }
            (lat, closed, Instant::now())
        }));
    }
    let mut writer = connect(port).await;
    let start = Instant::now();
    for i in 0..COMMANDS {
        let frame = Message::Text(
            format!(
                r#"@command(node:"{node}",lane:{lane}){{s:{i},t:{}}}"#,
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

fn pct(v: &[u64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v[((v.len() - 1) as f64 * p) as usize] as f64 / 1000.0
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let node = Node::start_with(&["--ws", &format!("127.0.0.1:{port}")]);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let unpaced = fan_out(port, "info", 0).await;
        let unpaced_supply = fan_out(port, "events", 0).await;
        let paced = fan_out(port, "info", PACED_RATE).await;

        // 100 000 links on one connection, each to a fresh node.
        let before = node.rss_kib();
        let mut ws = connect(port).await;
        let start = Instant::now();
        let (mut tx, mut rx) = ws.split();
        let sender = tokio::spawn(async move {
            for n in 0..LINKS {
                tx.feed(Message::Text(format!(r#"@link(node:"/unit/{n}",lane:info)"#).into()))
                    .await
                    .unwrap();
            }
            tx.flush().await.unwrap();
            tx
        });
        let mut linked = 0;
        while linked < LINKS {
            match rx.next().await {
                Some(Ok(Message::Text(t))) if t.as_str().starts_with("@linked") => linked += 1,
                Some(Ok(_)) => {}
                other => panic!("{other:?}"),
            }
        }
        let link_secs = start.elapsed().as_secs_f64();
        let _tx = sender.await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        let after = node.rss_kib();
        ws = _tx.reunite(rx).unwrap();
        drop(ws);

        println!("| what | warp |");
        println!("|---|---|");
        println!(
            "| fan-out, value lane, {COMMANDS} commands unpaced to {CLIENTS} synced clients: events/s delivered | {:.0} ({} events in {:.2} s; conflated) |",
            unpaced.events as f64 / unpaced.secs,
            unpaced.events,
            unpaced.secs
        );
        println!(
            "| same on a supply lane (every event to every client): events/s | {:.0} ({} events in {:.2} s; {} of {CLIENTS} clients closed as too slow) |",
            unpaced_supply.events as f64 / unpaced_supply.secs,
            unpaced_supply.events,
            unpaced_supply.secs,
            unpaced_supply.closed
        );
        println!(
            "| paced at {PACED_RATE}/s: command → event latency p50 / p99 | {:.2} ms / {:.2} ms ({} events) |",
            pct(&paced.latencies, 0.5),
            pct(&paced.latencies, 0.99),
            paced.events
        );
        println!(
            "| {LINKS} links on one connection to fresh nodes: time to link all | {link_secs:.2} s |"
        );
        println!(
            "| RSS growth per link (node and lane made on first link) | {:.0} bytes ({} KiB → {} KiB) |",
            (after.saturating_sub(before)) as f64 * 1024.0 / LINKS as f64,
            before,
            after
        );
    });
}
