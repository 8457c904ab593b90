//! Several paths per peer, between two hosts joined by two links in network namespaces
//! (made and removed here; needs root, `ip` and `tc`), each link shaped with `tbf` and,
//! where a round trip is wanted, delayed by `--impair` scoped to that link's addresses:
//!
//! - two equal 50 Mbit/s links: one channel over both (`aggregate`) against one channel
//!   over one of them (the same nodes' books naming one address);
//! - unequal links, 50 Mbit/s with a 10 ms round trip and 20 Mbit/s with 60 ms: both
//!   against the sum of each alone and against the faster link alone;
//! - a TCP gate in `failover` mode carrying 4 MB/s while the busiest link is cut ten
//!   times (down 1 s, up 2 s): the longest stall at the receiver around each cut;
//! - a flow in `redundant` mode while a link is cut five times: datagrams lost and
//!   delivered twice.
//!
//! `cargo bench --bench paths` prints a Markdown table. Throughput is `warp speed
//! --no-verify` (the channel alone), 32 MiB a run, the better of two runs.

use std::io::{Read, Write};
use std::time::{Duration, Instant};

#[path = "../tests/support/mod.rs"]
mod support;

use support::netns::TwoLinks;
use support::paths::{
    busiest_link, gate_across, numbered, redundant_flow, two_nodes_with, tx_by_path,
};
use support::TestNode;

/// `warp speed` to bob, Mbit/s, the better of two runs.
fn speed(a: &TestNode) -> f64 {
    (0..2)
        .map(|_| {
            let out = a.ok(&["speed", "bob", "-n", "32M", "--no-verify", "--json"]);
            let doc: serde_json::Value = serde_json::from_str(&out).expect("speed's JSON");
            doc["mbit_per_s"].as_f64().unwrap_or_default()
        })
        .fold(0.0, f64::max)
}

/// Links shaped to `mbit`, each with `rtt_ms` of round trip (half added by each node's
/// `--impair`); the speed over the links `paths` names.
fn shaped(mbit: [u32; 2], rtt_ms: [u32; 2], paths: &[u8]) -> f64 {
    let links = TwoLinks::new();
    links.rate(1, mbit[0]);
    links.rate(2, mbit[1]);
    let impair = |host: u8| -> Vec<String> {
        (1..=2u8)
            .filter(|&k| rtt_ms[k as usize - 1] > 0)
            .flat_map(|k| {
                let to = if host == 1 {
                    links.b_addr(k)
                } else {
                    links.a_addr(k)
                };
                let half = rtt_ms[k as usize - 1] / 2;
                ["--impair".to_string(), format!("to={to},delay={half}ms")]
            })
            .collect()
    };
    let (ia, ib) = (impair(1), impair(2));
    let ia: Vec<&str> = ia.iter().map(String::as_str).collect();
    let ib: Vec<&str> = ib.iter().map(String::as_str).collect();
    let (a, _b, _) = two_nodes_with(&links, (&ia, &ib), paths);
    speed(&a)
}

/// The longest gap between two reads of `reads` that ends within 2 s after `cut`.
fn stall_after(reads: &[Instant], cut: Instant) -> Duration {
    reads
        .windows(2)
        .filter(|w| w[1] > cut && w[1] < cut + Duration::from_secs(2))
        .map(|w| w[1] - w[0])
        .max()
        .unwrap_or_default()
}

/// Ten cuts of the busiest link under a failover gate: each one's stall.
fn failover_stalls() -> Vec<Duration> {
    let links = TwoLinks::new();
    links.rate(1, 50);
    links.rate(2, 50);
    let (a, b, remotes) = two_nodes_with(&links, (&[], &[]), &[1, 2]);
    let (listener, mut client) = gate_across(&links, (&a, &b), "failover");
    let reader = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut reads = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        while let Ok(n) = s.read(&mut buf) {
            if n == 0 {
                break;
            }
            reads.push(Instant::now());
        }
        reads
    });
    let writer = std::thread::spawn(move || {
        // 4 MB/s for 32 s.
        let chunk = vec![7u8; 16 * 1024];
        let start = Instant::now();
        for i in 0..8_000u64 {
            if client.write_all(&chunk).is_err() {
                break;
            }
            let due = start + Duration::from_micros(4_000 * (i + 1));
            std::thread::sleep(due.saturating_duration_since(Instant::now()));
        }
    });
    std::thread::sleep(Duration::from_secs(1));
    let mut cuts = Vec::new();
    for _ in 0..10 {
        let before = tx_by_path(&a, "bob");
        std::thread::sleep(Duration::from_millis(300));
        let (busiest, _) = busiest_link(&a, &remotes, &before);
        links.down(busiest);
        cuts.push(Instant::now());
        std::thread::sleep(Duration::from_secs(1));
        links.up(busiest);
        std::thread::sleep(Duration::from_millis(1_700));
    }
    writer.join().unwrap();
    let reads = reader.join().unwrap();
    cuts.iter().map(|&c| stall_after(&reads, c)).collect()
}

/// Five cuts under a redundant flow of 1 000 datagrams a second: (sent, lost, twice).
fn redundant_losses() -> (u32, usize, usize) {
    let links = TwoLinks::new();
    links.rate(1, 50);
    links.rate(2, 50);
    let (a, b, _) = two_nodes_with(&links, (&[], &[]), &[1, 2]);
    let (sender, receiver) = redundant_flow(&links, &a, &b);
    const COUNT: u32 = 15_000;
    let seen = numbered((&sender, receiver), COUNT, |i| {
        // A cut every 3 s, 1 s long, alternating links.
        let k = 1 + (i / 3_000) % 2;
        if i % 3_000 == 1_000 {
            links.down(k as u8);
        }
        if i % 3_000 == 2_000 {
            links.up(k as u8);
        }
    });
    let lost = seen.iter().filter(|&&n| n == 0).count();
    let twice = seen.iter().filter(|&&n| n > 1).count();
    (COUNT, lost, twice)
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    println!("| paths | one channel | against | ratio |");
    println!("|---|---|---|---|");
    let one = shaped([50, 50], [0, 0], &[1]);
    let both = shaped([50, 50], [0, 0], &[1, 2]);
    println!(
        "| 2 × 50 Mbit/s, aggregate | {both:.1} Mbit/s | one path {one:.1} Mbit/s | **{:.2}×** |",
        both / one
    );
    let faster = shaped([50, 20], [10, 60], &[1]);
    let slower = shaped([50, 20], [10, 60], &[2]);
    let both = shaped([50, 20], [10, 60], &[1, 2]);
    println!(
        "| 50 Mbit/s 10 ms + 20 Mbit/s 60 ms, aggregate | {both:.1} Mbit/s | each alone {faster:.1} + {slower:.1} Mbit/s | **{:.2}×** the faster, **{:.2}×** the sum |",
        both / faster,
        both / (faster + slower)
    );
    let mut stalls = failover_stalls();
    stalls.sort();
    println!(
        "| 2 × 50 Mbit/s, failover gate at 4 MB/s, 10 cuts of the busiest link | stall p50 {:.0} ms, max {:.0} ms | | |",
        stalls[stalls.len() / 2].as_secs_f64() * 1e3,
        stalls[stalls.len() - 1].as_secs_f64() * 1e3
    );
    let (sent, lost, twice) = redundant_losses();
    println!(
        "| 2 × 50 Mbit/s, redundant flow, 5 cuts | {sent} datagrams: {lost} lost, {twice} twice | | |"
    );
}
