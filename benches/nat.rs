//! Time to the first answer through NATs: hosts behind nftables routers in network
//! namespaces (made and removed here; needs root, `ip` and `nft`), a map on the public
//! network, every node knowing its peer by id alone. For each pair of places, from the
//! moment the pinging node is told its peer's id (both registered with the map, the peer
//! knowing it already), the time until `warp ping PEER -c 1` first answers (a ping that
//! fails is tried again at once, for at most 20 s) and the path it took (the map's relay
//! or a direct path), then the time until a direct path is up (for at most 20 s more).
//! Three rounds each, each on a fresh network; the median and the worst.
//!
//! `cargo bench --bench nat` prints a Markdown table.

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

/// Whether `node` has a direct path up to its peer.
fn direct_up(node: &TestNode) -> bool {
    let peers: serde_json::Value =
        serde_json::from_str(&node.ok(&["peers", "--json"])).unwrap_or_default();
    peers[0]["paths"].as_array().is_some_and(|l| {
        l.iter()
            .any(|p| p["kind"] == "direct" && p["state"] == "up")
    })
}

/// What one round saw.
struct Round {
    /// Until the first answer.
    first: Duration,
    /// Whether it came through the relay.
    relayed: bool,
    /// Until a direct path was up, if one came within 20 s.
    direct: Option<Duration>,
}

/// One round: from `from` to `to` (`None`: no answer within 20 s).
fn round(from: Place, to: Place) -> Option<Round> {
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
            let first = started.elapsed();
            let relayed = text(&out).contains(&format!("via {}", map.addr));
            let until = Instant::now() + Duration::from_secs(20);
            let direct = loop {
                if direct_up(&a) {
                    break Some(started.elapsed());
                }
                if Instant::now() > until {
                    break None;
                }
                std::thread::sleep(Duration::from_millis(20));
            };
            return Some(Round {
                first,
                relayed,
                direct,
            });
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One cut: cone/cone with a direct path up and the relay beside it; pings every 20 ms
/// for 4 s, the direct path cut by router a after 1 s. The longest round trip of a ping
/// (a ping sent into the cut is answered once the relay carries it: its round trip is
/// the stall), how many got no answer within 2 s, and how long after the cut is mended a
/// direct path is up again.
fn cut_round() -> (Duration, usize, Option<Duration>) {
    let net = Internet::new(Kind::Cone, Kind::Cone);
    let map = MapServer::in_netns(&net.wan, "203.0.113.1");
    let a = TestNode::in_netns_with(&net.ha, &["--map", &map.addr]);
    let b = TestNode::in_netns_with(&net.hb, &["--map", &map.addr]);
    registered(&a);
    registered(&b);
    b.ok(&["peers", "add", "a", &a.id]);
    a.ok(&["peers", "add", "b", &b.id]);
    support::wait_until("direct and relay", Duration::from_secs(30), || {
        let _ = a.warp(&["ping", "b", "-c", "1"]);
        let peers: serde_json::Value =
            serde_json::from_str(&a.ok(&["peers", "--json"])).unwrap_or_default();
        let kinds: Vec<&str> = peers[0]["paths"]
            .as_array()
            .map(|l| l.iter().filter_map(|p| p["kind"].as_str()).collect())
            .unwrap_or_default();
        direct_up(&a) && kinds.contains(&"relay")
    });
    let ping = a.spawn_warp(&["ping", "b", "-i", "0.02", "-c", "200", "--json"]);
    std::thread::sleep(Duration::from_secs(1));
    net.cut_between_homes();
    let out = ping.wait_with_output().unwrap();
    let (mut longest, mut lost) = (Duration::ZERO, 0);
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
        if v["lost"] == true {
            lost += 1;
        }
        if let Some(us) = v["rtt_us"].as_u64() {
            longest = longest.max(Duration::from_micros(us));
        }
    }
    net.mend_between_homes();
    let mended = Instant::now();
    let back = loop {
        if direct_up(&a) {
            break Some(mended.elapsed());
        }
        if mended.elapsed() > Duration::from_secs(30) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (longest, lost, back)
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
    println!(
        "| from → to | first answer, median / worst of {ROUNDS} | first answer through | direct path up, median / worst |"
    );
    println!("|---|---|---|---|");
    let cell = |mut times: Vec<Duration>, of: usize| {
        times.sort();
        let missed = match of - times.len() {
            0 => String::new(),
            m => format!(" ({m} of {of} never)"),
        };
        match (times.get(times.len() / 2), times.last()) {
            (Some(m), Some(w)) => format!("{} / {} ms{missed}", m.as_millis(), w.as_millis()),
            _ => "never within 20 s".to_string(),
        }
    };
    for (from, to) in pairs {
        let rounds: Vec<Round> = (0..ROUNDS).filter_map(|_| round(from, to)).collect();
        let firsts = rounds.iter().map(|r| r.first).collect();
        let relayed = rounds.iter().filter(|r| r.relayed).count();
        let directs = rounds.iter().filter_map(|r| r.direct).collect();
        println!(
            "| {} → {} | {} | relay {relayed}, direct {} | {} |",
            from.name(),
            to.name(),
            cell(firsts, ROUNDS),
            rounds.len() - relayed,
            cell(directs, ROUNDS),
        );
    }
    println!();
    println!("| direct path cut under pings every 20 ms (cone/cone) | longest round trip | pings lost | direct again after the mend |");
    println!("|---|---|---|---|");
    for round in 1..=ROUNDS {
        let (longest, lost, back) = cut_round();
        let back = back.map_or("not within 30 s".to_string(), |d| {
            format!("{} ms", d.as_millis())
        });
        println!(
            "| round {round} | {} ms | {lost} of 200 | {back} |",
            longest.as_millis()
        );
    }
}
