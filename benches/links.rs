//! WARP link hub benchmarks on loopback, against a `warp node` process:
//! - fan-out: 10 clients synced to one value lane while a writer sends 100 000 commands
//!   as fast as it can — the time until every client has seen the last command's event
//!   (a value link conflates, so how many events each client got along the way is
//!   reported, not compared) — and again paced at 10 000 commands/s, with the latency
//!   from command sent to event received (p50/p99); warp's supply lane (every event to
//!   every client) is reported alone: the reference has no such lane here;
//! - links on one connection, each to a fresh node (`/unit/<n>`, lane `info`): 10 000 on
//!   both servers (compared), and 100 000 on warp alone; time until every `@linked` is
//!   back, and the server's RSS growth per link.
//!
//! `cargo bench --bench links` prints a Markdown table.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::Message;

#[path = "../tests/support/mod.rs"]
mod support;

use support::fanout::{connect, fan_out, pct, FanOut, Hubs, CLIENTS};
use support::measure::rss_kib;
use support::{free_tcp_port, TestNode};

const COMMANDS: u64 = 100_000;
const PACED_RATE: u64 = 10_000;
const LINKS: usize = 100_000;

/// Links `n` fresh nodes (`/unit/<run>x<i>`) on one connection; seconds until every
/// `@linked` is back.
async fn links(port: u16, run: usize, n: usize) -> f64 {
    let ws = connect(port).await;
    let start = Instant::now();
    let (mut tx, mut rx) = ws.split();
    let sender = tokio::spawn(async move {
        for i in 0..n {
            tx.feed(Message::Text(
                format!(r#"@link(node:"/unit/{run}x{i}",lane:info)"#).into(),
            ))
            .await
            .unwrap();
        }
        tx.flush().await.unwrap();
        tx
    });
    let mut linked = 0;
    while linked < n {
        match rx.next().await {
            Some(Ok(Message::Text(t))) if t.as_str().starts_with("@linked") => linked += 1,
            Some(Ok(_)) => {}
            other => panic!("{other:?}"),
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let tx = sender.await.unwrap();
    drop(tx.reunite(rx));
    secs
}

/// Links opened: seconds until all were linked, and the server's RSS growth per link.
struct Links {
    n: usize,
    secs: f64,
    bytes_per_link: f64,
}

/// One server's figures.
struct Row {
    value: FanOut,
    supply: Option<FanOut>,
    paced: FanOut,
    links: Vec<Links>,
}

async fn measure(port: u16, pid: u32, link_counts: &[usize], supply: bool) -> Row {
    let value = fan_out(Hubs::one(port, "/unit/bench"), "info", (COMMANDS, 0)).await;
    let supply = if supply {
        Some(fan_out(Hubs::one(port, "/unit/bench"), "events", (COMMANDS, 0)).await)
    } else {
        None
    };
    let paced = fan_out(
        Hubs::one(port, "/unit/bench"),
        "info",
        (COMMANDS, PACED_RATE),
    )
    .await;
    let mut links_rows = Vec::new();
    for (run, &n) in link_counts.iter().enumerate() {
        let before = rss_kib(pid);
        let secs = links(port, run, n).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let after = rss_kib(pid);
        links_rows.push(Links {
            n,
            secs,
            bytes_per_link: after.saturating_sub(before) as f64 * 1024.0 / n as f64,
        });
    }
    Row {
        value,
        supply,
        paced,
        links: links_rows,
    }
}

/// The reference server (`benches/swimos-ref`, swimos 0.1.1), if built.
const REFERENCE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/benches/swimos-ref/target/release/swimos-ref"
);
/// Links opened on both servers and compared (the reference's agents are big).
const COMPARED_LINKS: usize = 10_000;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let port = free_tcp_port();
    let node = TestNode::bare(&["--ws", &format!("127.0.0.1:{port}")]);
    let warp = rt.block_on(measure(port, node.pid(), &[COMPARED_LINKS, LINKS], true));
    drop(node);
    let reference = if std::path::Path::new(REFERENCE).exists() {
        let port = free_tcp_port();
        let mut child = std::process::Command::new(REFERENCE)
            .arg(port.to_string())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let row = rt.block_on(measure(port, child.id(), &[COMPARED_LINKS], false));
        let _ = child.kill();
        let _ = child.wait();
        Some(row)
    } else {
        None
    };

    println!("| what | warp | swimos 0.1.1 (same run) | ratio (reference time / warp time) |");
    println!("|---|---|---|---|");
    let cell =
        |r: &Option<Row>, f: &dyn Fn(&Row) -> String| r.as_ref().map_or("not built".to_string(), f);
    let ratio = |r: &Option<Row>, f: &dyn Fn(&Row) -> f64, w: f64| {
        r.as_ref()
            .map_or(String::new(), |r| format!("{:.2}", f(r) / w))
    };
    println!(
        "| value lane, {COMMANDS} commands unpaced, {CLIENTS} synced clients: time until every client saw the last (events each got on the way) | {:.2} s ({} events) | {} | {} |",
        warp.value.secs,
        warp.value.events,
        cell(&reference, &|r| format!("{:.2} s ({} events)", r.value.secs, r.value.events)),
        ratio(&reference, &|r| r.value.secs, warp.value.secs),
    );
    if let Some(s) = &warp.supply {
        println!(
            "| supply lane, same (every event to every client): time until every client saw the last | {:.2} s ({} events, {} clients closed as too slow) | no supply lane | |",
            s.secs, s.events, s.closed,
        );
    }
    println!(
        "| paced {PACED_RATE}/s, value lane: latency p50 / p99 | {:.2} / {:.2} ms ({} events) | {} | |",
        pct(&warp.paced.latencies, 0.5),
        pct(&warp.paced.latencies, 0.99),
        warp.paced.events,
        cell(&reference, &|r| format!(
            "{:.2} / {:.2} ms ({} events)",
            pct(&r.paced.latencies, 0.5),
            pct(&r.paced.latencies, 0.99),
            r.paced.events
        )),
    );
    for (i, l) in warp.links.iter().enumerate() {
        let theirs = reference.as_ref().and_then(|r| r.links.get(i));
        println!(
            "| {} links to fresh nodes on one connection: time; RSS growth per link | {:.2} s; {:.0} bytes | {} | {} |",
            l.n,
            l.secs,
            l.bytes_per_link,
            match (&reference, theirs) {
                (None, _) => "not built".to_string(),
                (Some(_), None) => "not run (its agents are big)".to_string(),
                (Some(_), Some(t)) => format!("{:.2} s; {:.0} bytes", t.secs, t.bytes_per_link),
            },
            theirs.map_or(String::new(), |t| format!("{:.2}", t.secs / l.secs)),
        );
    }
    if reference.is_none() {
        println!("\n(reference server not built: cargo build --release --manifest-path benches/swimos-ref/Cargo.toml)");
    }
}
