//! The tunnel core end to end: `warp node` processes on loopback, driven by the CLI.

mod support;

use std::time::Duration;

use support::{text, wait_until, TestNode};

#[test]
fn ping_reaches_a_peer_by_alias_and_by_id() {
    let a = TestNode::start();
    let b = TestNode::start();
    a.meet("bob", &b, "alice");

    let out = a.warp(&["ping", "bob", "-c", "3", "-i", "0.05", "-s", "1000"]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains(&format!("PING bob ({})", b.id)), "{t}");
    assert_eq!(t.matches("1000 bytes from bob: seq=").count(), 3, "{t}");
    assert!(
        t.contains("3 probes transmitted, 3 received, 0% loss"),
        "{t}"
    );
    assert!(t.contains("rtt min/avg/max/mdev = "), "{t}");

    let out = a.warp(&["ping", &b.id, "-c", "1"]);
    assert!(out.status.success(), "{}", text(&out));

    // B learned A's id from its key and logs it with the alias its book gives it.
    assert!(
        b.log()
            .contains(&format!("peer alice ({}) connected", a.id)),
        "{}",
        b.log()
    );
    let line = a.wait_peer_line("bob", Duration::from_secs(5), |l| {
        l.contains("connected") && !l.contains("not connected")
    });
    assert!(line.contains(&b.addr()) && line.contains(" ms"), "{line}");
}

#[test]
fn a_peer_with_the_wrong_key_is_refused_on_both_sides() {
    let a = TestNode::start();
    let b = TestNode::start();
    let impostor = "a".repeat(52);
    let out = a.warp(&["peers", "add", "mallory", &impostor, "--addr", &b.addr()]);
    assert!(out.status.success(), "{}", text(&out));

    let out = a.warp(&["ping", "mallory", "-c", "1"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let t = text(&out);
    assert!(
        t.contains(&format!("peer presented key {}, expected {impostor}", b.id)),
        "{t}"
    );
    assert!(t.contains("certificate refused"), "{t}");
    // B's side: A refused its certificate with access denied, a certificate error, not
    // an internal one.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !b.log().contains("refused connection from 127.0.0.1") {
        assert!(std::time::Instant::now() < deadline, "{}", b.log());
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        b.log()
            .contains("certificate refused: the peer refused this node's certificate"),
        "{}",
        b.log()
    );
}

#[test]
fn a_blocked_peer_is_refused() {
    let a = TestNode::start();
    let b = TestNode::start();
    a.add_peer("bob", &b);
    b.add_peer("alice", &a);
    let out = b.warp(&["peers", "set", "alice", "policy", "block"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("policy block"));

    let out = a.warp(&["ping", "bob", "-c", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("blocked by the peer's policy"),
        "{}",
        text(&out)
    );
    assert!(
        b.log()
            .contains(&format!("refused blocked peer alice ({})", a.id)),
        "{}",
        b.log()
    );

    // Our own block: we do not even dial.
    let out = b.warp(&["ping", "alice", "-c", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("alice is blocked"), "{}", text(&out));
}

#[test]
fn unknown_peers_and_services_get_clear_errors() {
    let a = TestNode::start();
    let out = a.warp(&["ping", "nobody", "-c", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("unknown peer \"nobody\""),
        "{}",
        text(&out)
    );

    let b = TestNode::start();
    let out = a.warp(&["peers", "add", "bob", &b.id]);
    assert!(out.status.success());
    let out = a.warp(&["ping", "bob", "-c", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("has no address"), "{}", text(&out));

    let mut c = TestNode::start();
    a.add_peer("carol", &c);
    c.kill();
    let out = a.warp(&["ping", "carol", "-c", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("cannot reach carol"), "{}", text(&out));
}

#[test]
fn a_second_node_on_the_same_data_directory_refuses() {
    let a = TestNode::start();
    let out = a.warp(&["node", "--listen", "127.0.0.1:0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("another warp node is already running"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_killed_peer_is_noticed_and_a_restarted_one_reconnected() {
    let a = TestNode::start();
    let mut b = TestNode::start();
    a.meet("bob", &b, "alice");
    a.wait_peer_line("bob", Duration::from_secs(10), |l| {
        l.contains(" connected") && !l.contains("not connected")
    });

    // Keepalives every second and a 4 s idle timeout: noticed well inside the 10 s allowed.
    b.kill();
    a.wait_peer_line("bob", Duration::from_secs(10), |l| {
        l.contains("not connected")
    });

    b.spawn();
    a.wait_peer_line("bob", Duration::from_secs(15), |l| {
        l.contains(" connected") && !l.contains("not connected")
    });
    let out = a.warp(&["ping", "bob", "-c", "2", "-i", "0.05"]);
    assert!(out.status.success(), "{}", text(&out));
    // An ordinary reconnect warns of nothing on either side.
    for log in [a.log(), b.log()] {
        let warned: Vec<&str> = log.lines().filter(|l| l.contains(" WARN ")).collect();
        assert!(warned.is_empty(), "{warned:#?}");
    }
}

#[test]
fn the_identity_is_kept_and_the_control_socket_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let a = TestNode::start();
    let again = a.warp(&["id"]);
    assert_eq!(String::from_utf8_lossy(&again.stdout).trim(), a.id);
    for file in ["identity.pem", "control.sock"] {
        let mode = std::fs::metadata(a.home.path().join(file))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file}");
    }
}

#[test]
fn ctrl_c_shuts_the_node_down_cleanly_and_the_peer_notices() {
    let a = TestNode::start();
    let mut b = TestNode::start();
    a.meet("bob", &b, "alice");
    assert!(a.warp(&["ping", "bob", "-c", "1"]).status.success());
    let status = b.interrupt();
    assert!(status.success(), "{status:?}\n{}", b.log());
    assert!(!b.home.path().join("control.sock").exists());
    assert!(b.log().contains("shutting down"), "{}", b.log());
    // The close reaches A at once: no idle timeout needed.
    let line = a.wait_peer_line("bob", Duration::from_secs(3), |l| {
        l.contains("not connected")
    });
    assert!(line.contains("not connected"));
    assert!(a.log().contains("node shutting down"), "{}", a.log());
}

/// The paths of `alias` as `node` sees them (`warp peers --json`).
fn paths_of(node: &TestNode, alias: &str) -> Vec<serde_json::Value> {
    let out = node.warp(&["peers", "--json"]);
    let all: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    all.as_array()
        .unwrap()
        .iter()
        .find(|p| p["entry"]["alias"] == alias)
        .and_then(|p| p["paths"].as_array().cloned())
        .unwrap_or_default()
}

#[test]
fn when_both_sides_dial_the_same_addresses_one_path_is_kept() {
    let a = TestNode::start();
    let b = TestNode::start();
    // Both know each other's address, so both dial (often at the same moment): the two
    // connections join the same two sockets, and only one of them may stay.
    a.meet("bob", &b, "alice");
    let out = a.warp(&["ping", "bob", "-c", "1"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = b.warp(&["ping", "alice", "-c", "1"]);
    assert!(out.status.success(), "{}", text(&out));
    for (node, alias) in [(&a, "bob"), (&b, "alice")] {
        wait_until("one path each way", Duration::from_secs(10), || {
            paths_of(node, alias).len() == 1
        });
    }
    // Pings still answer on the one kept.
    let out = a.warp(&["ping", "bob", "-c", "3", "-i", "0.05"]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(paths_of(&a, "bob").len(), 1);
    assert_eq!(paths_of(&b, "alice").len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_connection_from_another_address_is_another_path_of_the_same_peer() {
    use support::hostile::HostileKey;
    let a = TestNode::start();
    let b = TestNode::start();
    let out = a.warp(&["peers", "add", "bob", &b.id]);
    assert!(out.status.success(), "{}", text(&out));
    b.add_peer("alice", &a);
    let out = b.warp(&["ping", "alice", "-c", "1"]);
    assert!(out.status.success(), "{}", text(&out));
    // Alice's key dials Bob from another socket: not a duplicate, a second path.
    let as_alice = HostileKey::of_node(a.home.path())
        .connect(b.addr().parse().unwrap())
        .await
        .unwrap();
    wait_until("a second path", Duration::from_secs(5), || {
        paths_of(&b, "alice").len() == 2
    });
    let paths = paths_of(&b, "alice");
    let remotes: Vec<&str> = paths
        .iter()
        .map(|p| p["remote"].as_str().unwrap())
        .collect();
    assert!(remotes.contains(&a.addr().as_str()), "{remotes:?}");
    assert_eq!(as_alice.closed(), None, "the second path was closed");
    // The second path ends; the peer stays, on its first path.
    drop(as_alice);
    wait_until("back to one path", Duration::from_secs(10), || {
        paths_of(&b, "alice").len() == 1
    });
    let out = b.warp(&["ping", "alice", "-c", "2", "-i", "0.05"]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn warp_peers_shows_each_path_with_its_ends_state_round_trip_and_bytes() {
    let a = TestNode::start();
    let mut b = TestNode::start();
    a.meet("bob", &b, "alice");
    let out = a.warp(&["ping", "bob", "-c", "3", "-i", "0.05", "-s", "1000"]);
    assert!(out.status.success(), "{}", text(&out));
    let bob = |a: &TestNode| -> serde_json::Value {
        let out = a.warp(&["peers", "--json"]);
        let all: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        all.as_array()
            .unwrap()
            .iter()
            .find(|p| p["entry"]["alias"] == "bob")
            .cloned()
            .unwrap_or_else(|| panic!("no bob: {all}"))
    };
    let p = bob(&a);
    let paths = p["paths"].as_array().unwrap();
    assert_eq!(paths.len(), 1, "{p}");
    let path = &paths[0];
    assert_eq!(path["remote"], b.addr().as_str(), "{p}");
    assert_eq!(path["local"], a.addr().as_str(), "{p}");
    assert_eq!(path["kind"], "direct");
    assert_eq!(path["state"], "up");
    assert!(path["rtt_ms"].as_f64().unwrap() > 0.0, "{p}");
    // Three probes of 1000 bytes went each way, with the handshake.
    assert!(path["tx_bytes"].as_u64().unwrap() > 3000, "{p}");
    assert!(path["rx_bytes"].as_u64().unwrap() > 3000, "{p}");
    // Loopback loses nothing; the send rate is a count of bytes per second.
    assert_eq!(path["loss_percent"].as_f64(), Some(0.0), "{p}");
    assert!(path["tx_rate"].as_u64().is_some(), "{p}");
    let table = text(&a.warp(&["peers"]));
    assert!(
        table.contains(&format!(
            "  path {} -> {}  direct up  rtt ",
            a.addr(),
            b.addr()
        )),
        "{table}"
    );
    // Bob goes away: no path once the connection is gone.
    b.kill();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let p = bob(&a);
        if p["connected"] == false {
            assert_eq!(p["paths"], serde_json::json!([]), "{p}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{p}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
