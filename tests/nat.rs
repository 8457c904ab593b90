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

/// Waits until `node` is registered with its map; its map status.
fn registered(node: &TestNode) -> serde_json::Value {
    support::wait_until("registered with the map", Duration::from_secs(30), || {
        status(node)["maps"][0]["registered_until"].is_u64()
    });
    status(node)["maps"][0].clone()
}

#[test]
fn a_node_behind_a_nat_learns_its_public_address_and_how_the_nat_maps() {
    let net = Internet::new(Kind::Cone, Kind::Symmetric);
    let map = MapServer::in_netns(&net.wan, "203.0.113.1");
    let a = TestNode::in_netns_with(&net.ha, &["--map", &map.addr]);
    let b = TestNode::in_netns_with(&net.hb, &["--map", &map.addr]);

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
    let net = Internet::new(Kind::Cone, Kind::Cone);
    let map = MapServer::in_netns(&net.wan, "203.0.113.1");
    let public = TestNode::in_netns_with(&net.wan, &["--map", &map.addr]);
    let home = TestNode::in_netns_with(&net.ha, &["--map", &map.addr]);
    registered(&public);
    registered(&home);
    home.ok(&["peers", "add", "server", &public.id]);
    public.ok(&["peers", "add", "laptop", &home.id]);
    let out = home.warp(&["ping", "server", "-c", "1"]);
    assert!(out.status.success(), "{}\n{}", text(&out), home.log());
    assert!(
        text(&out).contains("via 203.0.113.1:7470"),
        "{}",
        text(&out)
    );
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
