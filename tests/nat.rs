//! Nodes behind NAT routers (nftables masquerade in network namespaces the tests make,
//! see `support::nat`) and a map on the public network: each node learns its public
//! address and its NAT's behaviour from the map's two addresses, and a node behind a NAT
//! reaches a public node that it knows by id alone.

mod support;

use std::time::Duration;

use support::map::MapServer;
use support::nat::{Internet, Kind};
use support::{text, TestNode};

fn status(node: &TestNode) -> serde_json::Value {
    serde_json::from_str(&node.ok(&["status", "--json"])).unwrap()
}

/// Pings `alias` from `node` until a probe answers (both sides dial when both know each
/// other, and the tie-break may close the first connection under a ping), for at most
/// 20 s; whether one did, and the last output.
fn ping_until_answered(node: &TestNode, alias: &str) -> (bool, String) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let out = node.warp(&["ping", alias, "-c", "1"]);
        if out.status.success() || std::time::Instant::now() > deadline {
            return (out.status.success(), text(&out));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Two homes behind routers of kinds `a` and `b`, and a map on the public network.
fn internet(a: Kind, b: Kind) -> (Internet, MapServer) {
    let net = Internet::new(a, b);
    let map = MapServer::in_netns(&net.wan, "203.0.113.1");
    (net, map)
}

/// A node in namespace `ns` that uses `map` (with `extra` arguments), once registered.
fn node_on(map: &MapServer, ns: &str, extra: &[&str]) -> TestNode {
    let mut args = vec!["--map", map.addr.as_str()];
    args.extend_from_slice(extra);
    let node = TestNode::in_netns_with(ns, &args);
    registered(&node);
    node
}

/// Alice behind router a and Bob behind router b, registered with `map`, each with the
/// other in its book by id alone.
fn alice_and_bob(net: &Internet, map: &MapServer) -> (TestNode, TestNode) {
    let a = node_on(map, &net.ha, &[]);
    let b = node_on(map, &net.hb, &[]);
    a.ok(&["peers", "add", "bob", &b.id]);
    b.ok(&["peers", "add", "alice", &a.id]);
    (a, b)
}

/// Waits until `node` is registered with its map; its map status.
fn registered(node: &TestNode) -> serde_json::Value {
    support::wait_until("registered with the map", Duration::from_secs(30), || {
        status(node)["maps"][0]["registered_until"].is_u64()
    });
    status(node)["maps"][0].clone()
}

#[test]
fn a_node_behind_a_nat_learns_its_public_address_and_how_the_nat_maps() {
    let (net, map) = internet(Kind::Cone, Kind::Symmetric);
    let a = node_on(&map, &net.ha, &[]);
    let b = node_on(&map, &net.hb, &[]);

    let seen = registered(&a);
    // A cone router keeps the port: the map sees the router's address and the node's port.
    assert_eq!(
        seen["observed"],
        format!("{}:7470", net.public_a()),
        "{seen}"
    );
    assert_eq!(seen["nat"], "EndpointIndependent", "{seen}");

    let seen = registered(&b);
    let observed = seen["observed"].as_str().unwrap_or_default().to_string();
    assert!(
        observed.starts_with(&format!("{}:", net.public_b())),
        "{seen}"
    );
    assert_eq!(seen["nat"], "EndpointDependent", "{seen}");
}

#[test]
fn a_node_behind_a_nat_reaches_a_public_node_known_by_id_alone() {
    let (net, map) = internet(Kind::Cone, Kind::Cone);
    let public = node_on(&map, &net.wan, &[]);
    let home = node_on(&map, &net.ha, &[]);
    home.ok(&["peers", "add", "server", &public.id]);
    public.ok(&["peers", "add", "laptop", &home.id]);
    let (ok, said) = ping_until_answered(&home, "server");
    assert!(ok, "{said}\n{}", home.log());
    // Relayed at once, direct as soon as the dial is answered.
    support::wait_until("a direct path up", Duration::from_secs(20), || {
        paths(&home, "server")
            .iter()
            .any(|p| p["kind"] == "direct" && p["state"] == "up")
    });
    let said = home.ok(&["ping", "server", "-c", "1"]);
    assert!(said.contains("via 203.0.113.1:7470"), "{said}");
    // The public node sees the connection come from the router's public address.
    let peers: serde_json::Value = serde_json::from_str(&public.ok(&["peers", "--json"])).unwrap();
    let laptop = peers
        .as_array()
        .and_then(|l| l.iter().find(|p| p["entry"]["alias"] == "laptop"))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        laptop["paths"][0]["remote"],
        format!("{}:7470", net.public_a()),
        "{peers}"
    );
}

#[test]
fn two_nodes_behind_cone_nats_reach_each_other_directly_by_id() {
    let (net, map) = internet(Kind::Cone, Kind::Cone);
    let (a, b) = alice_and_bob(&net, &map);
    // The map relays at once. Each router drops what its host did not ask for: only
    // the map's introduction, which makes bob send towards alice too, opens both for a
    // direct path, which then carries the traffic, the relay standing by.
    let (ok, said) = ping_until_answered(&a, "bob");
    assert!(ok, "{said}\n{}\n{}", a.log(), b.log());
    support::wait_until(
        "a direct path up beside the relay",
        Duration::from_secs(20),
        || {
            let paths = paths(&a, "bob");
            paths
                .iter()
                .any(|p| p["kind"] == "direct" && p["state"] == "up")
                && paths.iter().any(|p| p["kind"] == "relay")
        },
    );
    assert_eq!(path_kinds(&a, "bob"), ["direct", "relay"]);
    let said = a.ok(&["ping", "bob", "-c", "1"]);
    assert!(
        said.contains(&format!("via {}:7470", net.public_b())),
        "{said}"
    );
    // And back, on the same direct path.
    let (ok, said) = ping_until_answered(&b, "alice");
    assert!(ok, "{said}");
}

#[test]
fn a_node_that_would_never_dial_is_reached_behind_its_nat_through_the_maps_introduction() {
    let (net, map) = internet(Kind::Cone, Kind::Cone);
    let public = node_on(&map, &net.wan, &[]);
    // The laptop does not know the server (nothing makes it dial), but lets unknown keys
    // offer files; its router drops what it did not ask for.
    let home = node_on(&map, &net.ha, &["--unknown", "ask"]);
    public.ok(&["peers", "add", "laptop", &home.id]);
    let files = tempfile::tempdir().unwrap();
    let file = files.path().join("hello.txt");
    std::fs::write(&file, b"hello").unwrap();
    public.ok(&["share", "laptop", file.to_str().unwrap(), "--no-wait"]);
    support::wait_until("the offer arrives", Duration::from_secs(30), || {
        let offers: serde_json::Value =
            serde_json::from_str(&home.ok(&["offers", "--json"])).unwrap_or_default();
        offers.as_array().is_some_and(|l| {
            l.iter()
                .any(|o| o["incoming"] == true && o["peer"] == public.id)
        })
    });
}

/// Starts `warp share path` against `node` and reads the code it prints.
fn share_by_code(node: &TestNode, path: &std::path::Path) -> (std::process::Child, String) {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_warp"))
        .args(["share", path.to_str().unwrap()])
        .env("WARP_HOME", node.home.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let code = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix("code: ").map(str::to_string))
        .expect("a code is printed");
    std::thread::spawn(move || lines.for_each(drop));
    (child, code)
}

#[test]
fn a_pairing_code_works_between_two_homes_behind_nats() {
    let (net, map) = internet(Kind::Cone, Kind::Cone);
    let a = node_on(&map, &net.ha, &[]);
    let b = node_on(&map, &net.hb, &[]);
    let files = tempfile::tempdir().unwrap();
    let file = files.path().join("photo.bin");
    let body: Vec<u8> = (0..500_000u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(&file, &body).unwrap();
    let (mut sharing, code) = share_by_code(&a, &file);
    let into = tempfile::tempdir().unwrap();
    let out = b.warp(&["receive", &code, "--to", into.path().to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}\n{}\n{}",
        text(&out),
        a.log(),
        b.log()
    );
    assert_eq!(std::fs::read(into.path().join("photo.bin")).unwrap(), body);
    assert!(sharing.wait().unwrap().success());
}

/// The kinds of `node`'s paths to the peer `alias` (`direct`, `relay`), best first.
fn path_kinds(node: &TestNode, alias: &str) -> Vec<String> {
    paths(node, alias)
        .iter()
        .filter_map(|p| p["kind"].as_str().map(str::to_string))
        .collect()
}

/// `node`'s paths to the peer `alias`, best first.
fn paths(node: &TestNode, alias: &str) -> Vec<serde_json::Value> {
    let peers: serde_json::Value = serde_json::from_str(&node.ok(&["peers", "--json"])).unwrap();
    peers
        .as_array()
        .and_then(|l| l.iter().find(|p| p["entry"]["alias"] == alias))
        .and_then(|p| p["paths"].as_array())
        .cloned()
        .unwrap_or_default()
}

#[test]
fn two_nodes_behind_symmetric_nats_reach_each_other_through_the_maps_relay() {
    let (net, map) = internet(Kind::Symmetric, Kind::Symmetric);
    let (a, b) = alice_and_bob(&net, &map);
    // No direct path can open between two routers that pick a new port per destination:
    // the map forwards the peers' QUIC.
    let (ok, said) = ping_until_answered(&a, "bob");
    assert!(ok, "{said}\n{}\n{}", a.log(), b.log());
    assert!(said.contains(&format!("via {}", map.addr)), "{said}");
    assert_eq!(path_kinds(&a, "bob"), ["relay"]);
    assert_eq!(path_kinds(&b, "alice"), ["relay"]);
    // Each relay request introduced the other side once, not back and forth.
    let told = b.log().matches("wants to reach this node").count();
    // (Once by alice's relay request, once per retry round — three at most by now; told
    // back and forth, it was 8 within half a second.)
    assert!(told <= 5, "bob was told {told} times\n{}", b.log());
    // Bytes, not only pings, and the answer back.
    let out = a.ok(&["speed", "bob", "--bytes", "2000000"]);
    assert!(out.contains("SHA-256 verified"), "{out}");
    let (ok, said) = ping_until_answered(&b, "alice");
    assert!(ok, "{said}");
}

/// Bytes sent on `node`'s path of `kind` to `alias`.
fn sent_on(node: &TestNode, alias: &str, kind: &str) -> u64 {
    paths(node, alias)
        .iter()
        .find(|p| p["kind"] == kind)
        .and_then(|p| p["tx_bytes"].as_u64())
        .unwrap_or(0)
}

#[test]
fn a_transfer_goes_on_over_the_relay_when_the_direct_path_is_cut_and_comes_back() {
    let (net, map) = internet(Kind::Cone, Kind::Cone);
    let (a, _b) = alice_and_bob(&net, &map);
    let (ok, said) = ping_until_answered(&a, "bob");
    assert!(ok, "{said}");
    let direct_up = || {
        paths(&a, "bob")
            .iter()
            .any(|p| p["kind"] == "direct" && p["state"] == "up")
    };
    support::wait_until("a direct path up", Duration::from_secs(20), direct_up);
    // 400 MiB, SHA-256 checked at the end: every byte, once, in order.
    let mut speed = a.spawn_warp(&["speed", "bob", "--bytes", "400M", "--json"]);
    support::wait_until("bytes on the direct path", Duration::from_secs(20), || {
        sent_on(&a, "bob", "direct") > 20_000_000
    });
    let relayed_before = sent_on(&a, "bob", "relay");
    net.cut_between_homes();
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(s) = speed.try_wait().unwrap() {
            break s;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the transfer stalled after the cut\n{}",
            a.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = speed.wait_with_output().unwrap();
    let said = text(&out);
    assert!(status.success(), "{said}\n{}", a.log());
    let doc: serde_json::Value = serde_json::from_str(said.trim()).expect("speed --json");
    assert_eq!(doc["verified"], true, "{doc}");
    assert_eq!(doc["bytes"], 400u64 << 20, "{doc}");
    // The rest went through the map.
    assert!(
        sent_on(&a, "bob", "relay") > relayed_before + 10_000_000,
        "{:?}",
        paths(&a, "bob")
    );
    // Once the cut is mended, a direct path comes back and takes the traffic again.
    net.mend_between_homes();
    support::wait_until("a direct path up again", Duration::from_secs(30), direct_up);
    assert_eq!(path_kinds(&a, "bob")[0], "direct");
}

/// Alice behind a router of kind `a`, Bob behind one of kind `b`: relayed at once, then
/// a direct path up, which carries the pings.
fn relayed_then_direct(a: Kind, b: Kind) {
    let (net, map) = internet(a, b);
    let (alice, bob) = alice_and_bob(&net, &map);
    let (ok, said) = ping_until_answered(&alice, "bob");
    assert!(ok, "{said}");
    support::wait_until("a direct path up", Duration::from_secs(30), || {
        paths(&alice, "bob")
            .iter()
            .any(|p| p["kind"] == "direct" && p["state"] == "up")
    });
    assert_eq!(path_kinds(&alice, "bob")[0], "direct");
    let said = alice.ok(&["ping", "bob", "-c", "1"]);
    assert!(
        said.contains(&format!("via {}:", net.public_b())),
        "{said}\n{}\n{}",
        alice.log(),
        bob.log()
    );
}

#[test]
fn a_cone_nat_reaches_a_symmetric_nat_directly_by_probing_its_ports() {
    relayed_then_direct(Kind::Cone, Kind::Symmetric);
}

#[test]
fn a_symmetric_nat_reaches_a_cone_nat_directly_by_opening_many_ports() {
    relayed_then_direct(Kind::Symmetric, Kind::Cone);
}

#[test]
fn a_node_whose_udp_to_the_map_is_blocked_registers_and_is_relayed_over_tcp() {
    let net = Internet::new(Kind::Cone, Kind::Cone);
    net.block_udp_to_the_map_from_a();
    let map = MapServer::in_netns(&net.wan, "203.0.113.1");
    let (a, b) = alice_and_bob(&net, &map);
    let seen = registered(&a);
    assert_eq!(seen["tcp"], true, "{seen}");
    assert!(seen["observed"].is_null(), "{seen}");
    assert_eq!(registered(&b)["tcp"], false);
    // Either side reaches the other, through the relay (alice's record has no public
    // address to punch towards).
    let (ok, said) = ping_until_answered(&a, "bob");
    assert!(ok, "{said}\n{}\n{}", a.log(), b.log());
    assert!(said.contains(&format!("via {}", map.addr)), "{said}");
    let (ok, said) = ping_until_answered(&b, "alice");
    assert!(ok, "{said}");
    let out = a.ok(&["speed", "bob", "--bytes", "2000000"]);
    assert!(out.contains("SHA-256 verified"), "{out}");
}
