//! Relayed throughput next to direct, in one run, on loopback: a map (`--relay-rate 0`,
//! no limit) and two pairs of nodes that know each other by id alone. In the relayed
//! pair, the sender drops every datagram it would send straight to the receiver
//! (`--impair to=ADDR,loss=100%`), so only the map's relay carries their QUIC; the direct
//! pair dials each other's address. Each pair moves the same bytes with `warp speed`
//! (SHA-256 checked, aggregate mode), three rounds each, alternating; the median MB/s and
//! the ratio relayed / direct.
//!
//! `cargo bench --bench relay` prints a Markdown table. The tool a user would pick
//! instead for a relay (a TURN server, iroh's relay) is not run beside it: none carries
//! warp's channels.

use std::time::Duration;

#[path = "../tests/support/mod.rs"]
mod support;

use support::map::MapServer;
use support::TestNode;

const BYTES: &str = "1G";
const ROUNDS: usize = 3;

fn registered(node: &TestNode) {
    support::wait_until("registered", Duration::from_secs(30), || {
        let s: serde_json::Value =
            serde_json::from_str(&node.ok(&["status", "--json"])).unwrap_or_default();
        s["maps"][0]["registered_until"].is_u64()
    });
}

/// The kinds of `node`'s paths to its only peer.
fn kinds(node: &TestNode) -> Vec<String> {
    let peers: serde_json::Value =
        serde_json::from_str(&node.ok(&["peers", "--json"])).unwrap_or_default();
    peers[0]["paths"]
        .as_array()
        .map(|l| {
            l.iter()
                .filter_map(|p| p["kind"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// MB/s of one `warp speed` from `from` to its peer `b`.
fn speed(from: &TestNode) -> f64 {
    let out = from.ok(&["speed", "b", "--bytes", BYTES, "--json"]);
    let doc: serde_json::Value = serde_json::from_str(out.trim()).expect("speed --json");
    assert_eq!(doc["verified"], true, "{doc}");
    doc["bytes"].as_f64().unwrap_or(0.0) / doc["seconds"].as_f64().unwrap_or(1.0) / 1e6
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let map = MapServer::start_with(&["--relay-rate", "0"]);
    let on_map = ["--map", map.addr.as_str()];
    // The relayed pair.
    let rb = TestNode::bare(&on_map);
    let cut = format!("to={},loss=100%", rb.addr());
    let ra = TestNode::bare(&["--map", &map.addr, "--impair", &cut]);
    // The direct pair.
    let db = TestNode::bare(&on_map);
    let da = TestNode::bare(&on_map);
    for n in [&ra, &rb, &da, &db] {
        registered(n);
    }
    rb.ok(&["peers", "add", "a", &ra.id]);
    ra.ok(&["peers", "add", "b", &rb.id]);
    db.ok(&["peers", "add", "a", &da.id]);
    da.ok(&["peers", "add", "b", &db.id]);
    for n in [&ra, &da] {
        support::wait_until("connected", Duration::from_secs(20), || {
            n.warp(&["ping", "b", "-c", "1"]).status.success()
        });
    }
    support::wait_until("a direct path up", Duration::from_secs(20), || {
        kinds(&da).first().is_some_and(|k| k == "direct")
    });
    assert_eq!(
        kinds(&ra),
        ["relay"],
        "the relayed pair found a direct path"
    );
    let (mut relayed, mut direct) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        relayed.push(speed(&ra));
        direct.push(speed(&da));
    }
    let (r, d) = (median(relayed.clone()), median(direct.clone()));
    println!("| path | MB/s, median of {ROUNDS} × {BYTES}B | rounds |");
    println!("|---|---|---|");
    println!("| direct | {d:.0} | {direct:.0?} |");
    println!("| relayed through the map | {r:.0} | {relayed:.0?} |");
    println!("\nrelayed / direct = {:.2}×", r / d);
}
