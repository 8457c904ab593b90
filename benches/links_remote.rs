//! WARP links across the tunnel: the fan-out of `benches/links.rs` with its readers on
//! node a linked to the lane on node b through the tunnel (`/peer/bob/unit/bench`), next
//! to the same readers linked to the lane on b directly, in one run. 10 clients synced
//! to one value lane; a writer on b sends 100 000 stamped commands — unpaced, then paced
//! at 10 000/s — and each client reads until the last one's event. Reported: events per
//! second over all clients and latency from command to event (p50, p99); the ratio is
//! remote / local events per second.
//!
//! Goal (issue 15): remote ≥ 0.5× local events/s, p99 under 5 ms at 10 000 commands/s.
//! `cargo bench --bench links_remote` prints a Markdown table.

#[path = "../tests/support/mod.rs"]
mod support;

use support::fanout::{fan_out, pct, FanOut, Hubs, CLIENTS};
use support::{free_tcp_port, TestNode};

const COMMANDS: u64 = 100_000;
const PACED_RATE: u64 = 10_000;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (pa, pb) = (free_tcp_port(), free_tcp_port());
    let a = TestNode::bare(&["--ws", &format!("127.0.0.1:{pa}")]);
    let b = TestNode::bare(&["--ws", &format!("127.0.0.1:{pb}")]);
    a.meet("bob", &b, "alice");
    b.ok(&["peers", "set", "alice", "links", "write"]);
    let node = "/unit/bench";
    let remote = Hubs {
        read: (pa, "/peer/bob/unit/bench"),
        write: (pb, node),
    };
    let local = Hubs::one(pb, node);
    // Local, then remote, twice over: the better of two rounds each.
    let mut rows: Vec<(u64, bool, FanOut)> = Vec::new();
    for _ in 0..2 {
        for rate in [0, PACED_RATE] {
            for (hubs, remote) in [(local, false), (remote, true)] {
                let f = rt.block_on(fan_out(hubs, "info", (COMMANDS, rate)));
                rows.push((rate, remote, f));
            }
        }
    }
    println!("| {CLIENTS} clients, one value lane, {COMMANDS} commands on b | linked on b | linked on a, through the tunnel | ratio (events/s) |");
    println!("|---|---|---|---|");
    for rate in [0, PACED_RATE] {
        let pick = |remote: bool| {
            rows.iter()
                .filter(|(r, m, _)| *r == rate && *m == remote)
                .map(|(_, _, f)| f)
                .max_by(|x, y| (x.events as f64 / x.secs).total_cmp(&(y.events as f64 / y.secs)))
                .unwrap()
        };
        let (l, r) = (pick(false), pick(true));
        let cell = |f: &FanOut| {
            format!(
                "{:.0} events/s ({} events), p50 {:.2} ms, p99 {:.2} ms",
                f.events as f64 / f.secs,
                f.events,
                pct(&f.latencies, 0.5),
                pct(&f.latencies, 0.99)
            )
        };
        let label = match rate {
            0 => "unpaced".to_string(),
            r => format!("paced at {r}/s"),
        };
        println!(
            "| {label} | {} | {} | {:.2} |",
            cell(l),
            cell(r),
            (r.events as f64 / r.secs) / (l.events as f64 / l.secs)
        );
    }
}
