//! Two nodes on the two hosts of a [`TwoLinks`], what `warp peers --json` says of the
//! paths between them, and a flow of numbered datagrams across them.

use std::collections::BTreeMap;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use super::netns::{in_ns, TwoLinks};
use super::{text, wait_until, TestNode};

/// The peer `alias` as `node` lists it (`warp peers --json`); `Null` when absent.
fn peer(node: &TestNode, alias: &str) -> serde_json::Value {
    let out = node.warp(&["peers", "--json"]);
    let all: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    all.as_array()
        .and_then(|a| a.iter().find(|p| p["entry"]["alias"] == alias).cloned())
        .unwrap_or_default()
}

/// The state of each path to `alias`, by remote address, sorted.
pub fn path_states(node: &TestNode, alias: &str) -> Vec<(String, String)> {
    let peer = peer(node, alias);
    let mut states: Vec<(String, String)> = peer["paths"]
        .as_array()
        .map(|paths| {
            paths
                .iter()
                .map(|p| {
                    let s = |k: &str| p[k].as_str().unwrap_or_default().to_string();
                    (s("remote"), s("state"))
                })
                .collect()
        })
        .unwrap_or_default();
    states.sort();
    states
}

/// Bytes sent on each path to `alias` so far, by remote address.
pub fn tx_by_path(node: &TestNode, alias: &str) -> BTreeMap<String, u64> {
    let peer = peer(node, alias);
    peer["paths"]
        .as_array()
        .map(|paths| {
            paths
                .iter()
                .map(|p| {
                    let remote = p["remote"].as_str().unwrap_or_default().to_string();
                    (remote, p["tx_bytes"].as_u64().unwrap_or_default())
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Node `a` (alias alice) on host a and `b` (bob) on host b, started with `extra_a` and
/// `extra_b`, each knowing the other's addresses on the links `paths` names (1, 2 or
/// both); returns once that many paths are up each way, with bob's addresses.
pub fn two_nodes_with(
    links: &TwoLinks,
    (extra_a, extra_b): (&[&str], &[&str]),
    paths: &[u8],
) -> (TestNode, TestNode, Vec<String>) {
    let a = TestNode::in_netns_with(&links.a, extra_a);
    let b = TestNode::in_netns_with(&links.b, extra_b);
    let on = |addr: String| format!("{addr}:7470");
    let b_addrs: Vec<String> = paths.iter().map(|&k| on(links.b_addr(k))).collect();
    let a_addrs: Vec<String> = paths.iter().map(|&k| on(links.a_addr(k))).collect();
    for (node, alias, id, addrs) in [(&a, "bob", &b.id, &b_addrs), (&b, "alice", &a.id, &a_addrs)] {
        let mut args = vec!["peers", "add", alias, id.as_str()];
        for addr in addrs {
            args.extend(["--addr", addr.as_str()]);
        }
        let out = node.warp(&args);
        assert!(out.status.success(), "{}", text(&out));
    }
    let all_up = |node: &TestNode, alias: &str, addrs: &[String]| {
        let want: Vec<(String, String)> = addrs
            .iter()
            .map(|a| (a.clone(), "up".to_string()))
            .collect();
        path_states(node, alias) == want
    };
    wait_until("every path up each way", Duration::from_secs(20), || {
        all_up(&a, "bob", &b_addrs) && all_up(&b, "alice", &a_addrs)
    });
    (a, b, b_addrs)
}

/// A 1:1 flow `cam` from alice's application to bob's (`127.1.0.1:5600` on host a to
/// `127.1.0.1:5601` on host b), in `redundant` mode over their paths, carrying already:
/// the sending application's socket and the receiving one's.
pub fn redundant_flow(links: &TwoLinks, a: &TestNode, b: &TestNode) -> (UdpSocket, UdpSocket) {
    let flow = |node: &TestNode, args: &[&str]| {
        let mut all = vec!["flow", "add", "cam", "1:1", "5600", "--paths", "redundant"];
        all.extend_from_slice(args);
        let out = node.warp(&all);
        assert!(out.status.success(), "{}", text(&out));
    };
    flow(a, &["--send", "self", "--recv", "bob"]);
    flow(
        b,
        &[
            "--send",
            "alice",
            "--recv",
            "self",
            "--deliver",
            "127.1.0.1:5601",
        ],
    );
    let receiver = in_ns(&links.b, || UdpSocket::bind("127.1.0.1:5601").unwrap());
    receiver
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let sender = in_ns(&links.a, || UdpSocket::bind("127.1.0.1:0").unwrap());
    // The flow's channel opens with the first datagram: warm it up.
    wait_until("the flow carries", Duration::from_secs(10), || {
        sender.send_to(b"warm", "127.1.0.1:5600").unwrap();
        matches!(receiver.recv(&mut [0u8; 64]), Ok(4))
    });
    while receiver.recv(&mut [0u8; 64]).is_ok() {}
    (sender, receiver)
}

/// Sends datagrams `0` to `count - 1` (their numbers as text) into the flow, one a
/// millisecond, calling `after(i)` after each; how many times each number reached
/// `receiver` — counted until all came and then 500 ms more (a copy would come soon
/// after), or 20 s after the last was sent.
pub fn numbered(
    (sender, receiver): (&UdpSocket, UdpSocket),
    count: u32,
    mut after: impl FnMut(u32),
) -> Vec<u32> {
    let counter = std::thread::spawn(move || {
        let mut seen = vec![0u32; count as usize];
        let mut buf = [0u8; 64];
        let mut until: Option<Instant> = None;
        let deadline =
            Instant::now() + Duration::from_millis(u64::from(count)) + Duration::from_secs(20);
        while Instant::now() < until.unwrap_or(deadline).min(deadline) {
            if let Ok(n) = receiver.recv(&mut buf) {
                let number = std::str::from_utf8(&buf[..n])
                    .ok()
                    .and_then(|s| s.parse::<usize>().ok());
                if let Some(slot) = number.and_then(|i| seen.get_mut(i)) {
                    *slot += 1;
                }
            }
            if until.is_none() && !seen.contains(&0) {
                until = Some(Instant::now() + Duration::from_millis(500));
            }
        }
        seen
    });
    let start = Instant::now();
    for i in 0..count {
        sender
            .send_to(i.to_string().as_bytes(), "127.1.0.1:5600")
            .unwrap();
        after(i);
        let due = start + Duration::from_millis(u64::from(i) + 1);
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
    }
    counter.join().unwrap()
}

/// A TCP gate across the two hosts in `mode`: bob exposes `sink` (a listener on
/// 127.0.0.1:9000 in host b, returned), alice opens it on 127.0.0.1:9001 in host a,
/// and an application there connects (returned, writes failing after 20 s stuck).
pub fn gate_across(
    links: &TwoLinks,
    (a, b): (&TestNode, &TestNode),
    mode: &str,
) -> (TcpListener, TcpStream) {
    let listener = in_ns(&links.b, || TcpListener::bind("127.0.0.1:9000").unwrap());
    let out = b.warp(&["gate", "expose", "sink", "127.0.0.1:9000"]);
    assert!(out.status.success(), "{}", text(&out));
    let open = [
        "gate",
        "open",
        "127.0.0.1:9001",
        "bob",
        "sink",
        "--mode",
        mode,
    ];
    let out = a.warp(&open);
    assert!(out.status.success(), "{}", text(&out));
    let client = in_ns(&links.a, || TcpStream::connect("127.0.0.1:9001").unwrap());
    client
        .set_write_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    (listener, client)
}

/// Of bob's addresses `remotes` (links 1 and 2), the link whose path carried the most
/// since `before` (a [`tx_by_path`] of alice), and how many bytes it carried.
pub fn busiest_link(a: &TestNode, remotes: &[String], before: &BTreeMap<String, u64>) -> (u8, u64) {
    let now = tx_by_path(a, "bob");
    let carried =
        |k: usize| now.get(&remotes[k]).unwrap_or(&0) - before.get(&remotes[k]).unwrap_or(&0);
    match carried(0) >= carried(1) {
        true => (1, carried(0)),
        false => (2, carried(1)),
    }
}
