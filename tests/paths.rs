//! Paths to a peer, between two hosts joined by two links in network namespaces (made
//! and removed by each test; nothing leaves them).

mod support;

use std::time::{Duration, Instant};

use support::netns::TwoLinks;
use support::{text, TestNode};

/// The remote address of `alias`'s first path, as `warp peers --json` says; `None` when
/// not connected.
fn path_to(node: &TestNode, alias: &str) -> Option<String> {
    let out = node.warp(&["peers", "--json"]);
    let all: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    let peer = all
        .as_array()?
        .iter()
        .find(|p| p["entry"]["alias"] == alias)?
        .clone();
    peer["paths"][0]["remote"].as_str().map(str::to_string)
}

#[test]
fn a_peer_with_two_addresses_is_reached_over_the_second_when_the_first_link_goes_down() {
    let links = TwoLinks::new();
    let a = TestNode::in_netns(&links.a);
    let b = TestNode::in_netns(&links.b);
    let on = |addr: String| format!("{addr}:7470");
    let (b1, b2) = (on(links.b_addr(1)), on(links.b_addr(2)));
    let (a1, a2) = (on(links.a_addr(1)), on(links.a_addr(2)));
    let out = a.warp(&["peers", "add", "bob", &b.id, "--addr", &b1, "--addr", &b2]);
    assert!(out.status.success(), "{}", text(&out));
    let out = b.warp(&["peers", "add", "alice", &a.id, "--addr", &a1, "--addr", &a2]);
    assert!(out.status.success(), "{}", text(&out));
    let out = a.warp(&["ping", "bob", "-c", "1"]);
    assert!(out.status.success(), "{}\n{}", text(&out), a.log());
    assert_eq!(path_to(&a, "bob").as_deref(), Some(b1.as_str()));

    // The first link goes down: the connection over it dies, and the node reaches Bob
    // over the second.
    links.down(1);
    let cut = Instant::now();
    let deadline = cut + Duration::from_secs(30);
    while path_to(&a, "bob").as_deref() != Some(b2.as_str()) {
        assert!(
            Instant::now() < deadline,
            "never over link 2: {:?}\n{}",
            path_to(&a, "bob"),
            a.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("over link 2 {:?} after link 1 went down", cut.elapsed());
    let out = a.warp(&["ping", "bob", "-c", "1"]);
    assert!(out.status.success(), "{}", text(&out));
}
