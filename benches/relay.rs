//! Relayed throughput next to direct, in one run, on loopback: a map (`--relay-rate 0`,
//! no limit) and three pairs of nodes. The relayed pair knows each other by id alone and
//! its sender drops every datagram it would send straight to the receiver (`--impair
//! to=ADDR,loss=100%`), so only the map's relay carries their QUIC (one path, kind
//! `relay`). The standby pair also knows each other by id alone through the map: a
//! direct path carries the traffic, the relay standing by (their channels are bonded so
//! they can move between the two). The direct pair knows each other's address and uses
//! no map (one direct path, plain QUIC streams). Each pair moves the same bytes with
//! `warp speed` (SHA-256 checked, aggregate mode), three rounds each, in turn; the median
//! MB/s and the ratios to the direct pair. Every sender runs with an `--impair` rule (the
//! others' for an address nobody uses), so all send through the same socket layer.
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
    // The other senders drop what they send to an address nobody uses, so that every
    // sender's datagrams pass the same impairment layer (which sends one datagram at a
    // time, without segmentation offload).
    let nowhere = "to=192.0.2.1:9,loss=100%";
    // The standby pair.
    let sb = TestNode::bare(&on_map);
    let sa = TestNode::bare(&["--map", &map.addr, "--impair", nowhere]);
    // The direct pair, without a map.
    let db = TestNode::bare(&[]);
    let da = TestNode::bare(&["--impair", nowhere]);
    for n in [&ra, &rb, &sa, &sb] {
        registered(n);
    }
    rb.ok(&["peers", "add", "a", &ra.id]);
    ra.ok(&["peers", "add", "b", &rb.id]);
    sb.ok(&["peers", "add", "a", &sa.id]);
    sa.ok(&["peers", "add", "b", &sb.id]);
    db.ok(&["peers", "add", "a", &da.id, "--addr", &da.addr()]);
    da.ok(&["peers", "add", "b", &db.id, "--addr", &db.addr()]);
    for n in [&ra, &sa, &da] {
        support::wait_until("connected", Duration::from_secs(20), || {
            n.warp(&["ping", "b", "-c", "1"]).status.success()
        });
    }
    support::wait_until("direct beside the relay", Duration::from_secs(20), || {
        kinds(&sa) == ["direct", "relay"]
    });
    assert_eq!(
        kinds(&ra),
        ["relay"],
        "the relayed pair found a direct path"
    );
    assert_eq!(kinds(&da), ["direct"]);
    let mut rounds: [Vec<f64>; 3] = Default::default();
    for _ in 0..ROUNDS {
        for (i, n) in [&da, &sa, &ra].into_iter().enumerate() {
            rounds[i].push(speed(n));
        }
    }
    let d = median(rounds[0].clone());
    println!("| path | MB/s, median of {ROUNDS} × {BYTES}B | rounds | / direct |");
    println!("|---|---|---|---|");
    let names = [
        "direct, no map",
        "direct, the relay standing by",
        "relayed through the map",
    ];
    for (name, r) in names.iter().zip(&rounds) {
        let m = median(r.clone());
        println!("| {name} | {m:.0} | {r:.0?} | {:.2}× |", m / d);
    }
}
