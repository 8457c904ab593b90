//! Peers found on the local network by key alone: two hosts in network namespaces joined
//! by two links (made and removed by the test; nothing leaves them), each node told only
//! the other's id. mDNS announcements give the addresses; the QUIC handshake proves the
//! key.

mod support;

use std::time::{Duration, Instant};

use support::netns::TwoLinks;
use support::{text, TestNode};

/// Pings `alias` from `node` until one probe answers, for at most `limit`; the last
/// output.
fn ping_until_answered(node: &TestNode, alias: &str, limit: Duration) -> (bool, String) {
    let deadline = Instant::now() + limit;
    loop {
        let out = node.warp(&["ping", alias, "-c", "1"]);
        if out.status.success() || Instant::now() > deadline {
            return (out.status.success(), text(&out));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_peer_added_by_its_id_alone_is_found_on_the_local_network() {
    let links = TwoLinks::new();
    // Bob does not announce itself: Alice has nothing to dial, and says where to look.
    let quiet = TestNode::in_netns(&links.b);
    let a = TestNode::in_netns_on_lan(&links.a);
    a.ok(&["peers", "add", "quiet", &quiet.id]);
    let out = a.warp(&["ping", "quiet", "-c", "1"]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("was not found on the local network"),
        "{}",
        text(&out)
    );
    drop(quiet);

    // Bob announces itself: found at both of its addresses, each a path.
    let b = TestNode::in_netns_on_lan(&links.b);
    a.ok(&["peers", "add", "bob", &b.id]);
    b.ok(&["peers", "add", "alice", &a.id]);
    let (ok, said) = ping_until_answered(&a, "bob", Duration::from_secs(20));
    assert!(ok, "{said}\n{}", a.log());
    let deadline = Instant::now() + Duration::from_secs(10);
    let remotes = loop {
        let out = a.warp(&["peers", "--json"]);
        let all: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        let bob = all
            .as_array()
            .and_then(|l| l.iter().find(|p| p["entry"]["alias"] == "bob"))
            .cloned()
            .unwrap_or_default();
        let mut remotes: Vec<String> = bob["paths"]
            .as_array()
            .map(|p| {
                p.iter()
                    .map(|p| p["remote"].as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default();
        remotes.sort();
        if remotes.len() == 2 || Instant::now() > deadline {
            break remotes;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        remotes,
        vec![
            format!("{}:7470", links.b_addr(1)),
            format!("{}:7470", links.b_addr(2))
        ],
        "{}",
        a.log()
    );
    // Each side found the other (whichever dialed first).
    for (node, other) in [(&a, &b), (&b, &a)] {
        let found = format!("found {} on the local network", other.id);
        support::wait_until("the peer announced", Duration::from_secs(20), || {
            node.log().contains(&found)
        });
    }
}
