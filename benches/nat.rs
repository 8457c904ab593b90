//! Time to the first answer through NATs: hosts behind nftables routers in network
//! namespaces (made and removed here; needs root, `ip` and `nft`), a map on the public
//! network, every node knowing its peer by id alone. For each pair of places, from the
//! moment the pinging node is told its peer's id (both registered with the map, the peer
//! knowing it already), the time until `warp ping PEER -c 1` first answers (a ping that fails is tried again at once, for at most 20 s), and
//! whether the answer came over a direct path (the peer's public address). Three rounds
//! each, each on a fresh network; the median and the worst.
//!
//! `cargo bench --bench nat` prints a Markdown table. No relay exists yet, so pairs that
//! need one are reported as not reached.

use std::time::{Duration, Instant};

#[path = "../tests/support/mod.rs"]
mod support;

use support::map::MapServer;
use support::nat::{Internet, Kind};
use support::{text, TestNode};

const ROUNDS: usize = 3;

/// Where a node runs.
#[derive(Clone, Copy)]
enum Place {
    Public,
    Behind(Kind),
}

impl Place {
    fn name(self) -> &'static str {
        match self {
            Place::Public => "public",
            Place::Behind(Kind::Cone) => "cone",
            Place::Behind(Kind::Symmetric) => "symmetric",
        }
    }
}

fn registered(node: &TestNode) {
    support::wait_until("registered", Duration::from_secs(30), || {
        let s: serde_json::Value =
            serde_json::from_str(&node.ok(&["status", "--json"])).unwrap_or_default();
        s["maps"][0]["registered_until"].is_u64()
    });
}

/// One round: the time to the first answer from `to` to a ping from `from`, and the
/// address it came through (`None`: no answer within 20 s).
fn round(from: Place, to: Place) -> Option<(Duration, String)> {
    let kind = |p: Place| match p {
        Place::Behind(k) => k,
        Place::Public => Kind::Cone,
    };
    let net = Internet::new(kind(from), kind(to));
    let map = MapServer::in_netns(&net.wan, "203.0.113.1");
    let ns = |p: Place, home: &str| match p {
        Place::Public => net.wan.clone(),
        Place::Behind(_) => home.to_string(),
    };
    let a = TestNode::in_netns_with(&ns(from, &net.ha), &["--map", &map.addr]);
    let b = TestNode::in_netns_with(&ns(to, &net.hb), &["--map", &map.addr]);
    registered(&a);
    registered(&b);
    // The peer knows the pinging node first (so it answers the map's introduction); the
    // clock starts when the pinging node learns the peer's id.
    b.ok(&["peers", "add", "a", &a.id]);
    let started = Instant::now();
    a.ok(&["peers", "add", "b", &b.id]);
    let deadline = started + Duration::from_secs(20);
    loop {
        let out = a.warp(&["ping", "b", "-c", "1"]);
        if out.status.success() {
            let said = text(&out);
            let via = said
                .split("via ")
                .nth(1)
                .and_then(|s| s.split(':').next())
                .unwrap_or_default()
                .to_string();
            return Some((started.elapsed(), via));
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn main() {
    let pairs = [
        (Place::Behind(Kind::Cone), Place::Public),
        (Place::Public, Place::Behind(Kind::Cone)),
        (Place::Behind(Kind::Cone), Place::Behind(Kind::Cone)),
        (Place::Behind(Kind::Symmetric), Place::Behind(Kind::Cone)),
        (Place::Behind(Kind::Cone), Place::Behind(Kind::Symmetric)),
        (
            Place::Behind(Kind::Symmetric),
            Place::Behind(Kind::Symmetric),
        ),
    ];
    println!("| from → to | first answer, median / worst of {ROUNDS} | through |");
    println!("|---|---|---|");
    for (from, to) in pairs {
        let mut times = Vec::new();
        let mut via = String::new();
        let mut missed = 0;
        for _ in 0..ROUNDS {
            match round(from, to) {
                Some((t, v)) => {
                    times.push(t);
                    via = v;
                }
                None => missed += 1,
            }
        }
        times.sort();
        let cell = match (times.get(times.len() / 2), times.last()) {
            (Some(m), Some(w)) => format!("{} / {} ms", m.as_millis(), w.as_millis()),
            _ => "not reached within 20 s".to_string(),
        };
        let through = match (via.as_str(), missed) {
            ("", _) => "— (needs the relay)".to_string(),
            (v, 0) => format!("direct, {v}"),
            (v, m) => format!("direct, {v}; {m} of {ROUNDS} rounds not reached"),
        };
        println!("| {} → {} | {cell} | {through} |", from.name(), to.name());
    }
}
