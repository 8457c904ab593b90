//! Flows defined once, on a map (`warp map --flows FILE`): a map and four nodes on
//! loopback, none of which has another in its peer book. Each node trusts the map for
//! flows (`map = [{ addr, key, flows = true }]`) and binds flows at its own loopback
//! address (`flow_ip`), as nodes on one machine must. The file's flows reach every member
//! and carry datagrams in each mode; editing the file adds and removes members while the
//! others keep flowing; requests to join are granted or held then approved, through the
//! REST API and `warp flow join`; a node that does not trust the map, or trusts another
//! key at its address, runs none of its flows; a table signed by another key is refused.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::fleet::{ip, trusting, Fleet};
use support::map::MapServer;
use support::{free_port, http_to, text, wait_until, TestNode};

/// The flows node `node` runs, by name.
fn flows(node: &TestNode) -> BTreeMap<String, Value> {
    let out = node.warp(&["flow", "--json"]);
    let list: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap_or_default();
    list.into_iter()
        .map(|f| (f["flow"]["name"].as_str().unwrap_or("").to_string(), f))
        .collect()
}

/// Waits until `node` runs exactly the flows `names`.
fn wait_flows(node: &TestNode, names: &[&str]) {
    let want: BTreeSet<String> = names.iter().map(|s| s.to_string()).collect();
    wait_until(
        &format!("flows {want:?} on {}", node.id),
        Duration::from_secs(20),
        || flows(node).keys().cloned().collect::<BTreeSet<_>>() == want,
    );
}

/// An application of node `i`, on its flow address.
fn app(i: usize) -> UdpSocket {
    let s = UdpSocket::bind(format!("{}:0", ip(i))).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(5))).unwrap();
    s
}

/// Flow `name` on `port`, nodes in `roles` ("send", "recv", "both", or none): every
/// member's application says hello into the flow (so its node delivers to it), then
/// each sender sends its tag every 100 ms until every receiver has had the tag of every
/// other sender (20 s at most), and 300 ms more for any that should not come. Each member
/// must have had exactly the tags of the members that send, other than itself, when it
/// receives.
fn check_mode(name: &str, port: u16, roles: &[Option<&str>]) {
    let apps: Vec<Option<(UdpSocket, SocketAddr)>> = roles
        .iter()
        .enumerate()
        .map(|(i, r)| {
            r.map(|_| {
                let to: SocketAddr = format!("{}:{port}", ip(i)).parse().unwrap();
                (app(i), to)
            })
        })
        .collect();
    for (sock, to) in apps.iter().flatten() {
        sock.send_to(b"hello", to).unwrap();
    }
    let sends = |r: &Option<&str>| matches!(r, Some("send" | "both"));
    let receives = |r: &Option<&str>| matches!(r, Some("recv" | "both"));
    let want: Vec<BTreeSet<String>> = (0..roles.len())
        .map(|j| {
            (0..roles.len())
                .filter(|&i| i != j && sends(&roles[i]) && receives(&roles[j]))
                .map(|i| format!("{name} from n{i}"))
                .collect()
        })
        .collect();
    let mut got: Vec<BTreeSet<String>> = vec![BTreeSet::new(); roles.len()];
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut settle: Option<Instant> = None;
    let mut buf = [0u8; 2048];
    loop {
        let now = Instant::now();
        if settle.is_some_and(|s| now >= s) || now >= deadline {
            break;
        }
        for (i, a) in apps.iter().enumerate() {
            if let (Some((sock, to)), true) = (a, sends(&roles[i])) {
                let _ = sock.send_to(format!("{name} from n{i}").as_bytes(), to);
            }
        }
        let round = Instant::now() + Duration::from_millis(100);
        while Instant::now() < round {
            for (j, a) in apps.iter().enumerate() {
                let Some((sock, _)) = a else { continue };
                while let Ok(n) = sock.recv(&mut buf) {
                    let tag = String::from_utf8_lossy(&buf[..n]).into_owned();
                    if tag != "hello" {
                        got[j].insert(tag);
                    }
                }
            }
        }
        if settle.is_none() && (0..roles.len()).all(|j| want[j].is_subset(&got[j])) {
            settle = Some(Instant::now() + Duration::from_millis(300));
        }
    }
    for j in 0..roles.len() {
        assert_eq!(got[j], want[j], "flow {name}: n{j} got {:?}", got[j]);
    }
}

const FOUR_MODES: &str = r#"
[[flow]]
name = "pair"
mode = "1:1"
port = PAIR
members = ["n0", "n1"]

[[flow]]
name = "video"
mode = "1:n"
port = VIDEO
send = ["n0"]
recv = ["n1", "n2", "n3"]

[[flow]]
name = "telemetry"
mode = "n:1"
port = TELEMETRY
send = ["n1", "n2", "n3"]
recv = ["n0"]

[[flow]]
name = "chat"
mode = "n:n"
port = CHAT
members = ["n0", "n1", "n2", "n3"]
"#;

#[test]
fn a_flow_written_on_the_map_reaches_every_member_in_each_mode() {
    let ports: Vec<u16> = (0..4).map(|_| free_port()).collect();
    let file = FOUR_MODES
        .replace("PAIR", &ports[0].to_string())
        .replace("VIDEO", &ports[1].to_string())
        .replace("TELEMETRY", &ports[2].to_string())
        .replace("CHAT", &ports[3].to_string());
    let fleet = Fleet::start(4, 4, &file);
    let n = &fleet.nodes;
    wait_flows(&n[0], &["chat", "pair", "telemetry", "video"]);
    wait_flows(&n[1], &["chat", "pair", "telemetry", "video"]);
    wait_flows(&n[2], &["chat", "telemetry", "video"]);
    wait_flows(&n[3], &["chat", "telemetry", "video"]);

    // `warp flow` says where each came from and names members as the map does.
    let video = &flows(&n[0])["video"];
    assert_eq!(video["origin"]["map"], fleet.map.addr.as_str(), "{video}");
    let names: BTreeSet<&str> = video["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, BTreeSet::from(["n1", "n2", "n3"]), "{video}");
    let listing = text(&n[0].warp(&["flow"]));
    assert!(
        listing.contains(&format!("[map {}]", fleet.map.addr)),
        "{listing}"
    );

    check_mode("pair", ports[0], &[Some("both"), Some("both"), None, None]);
    check_mode(
        "video",
        ports[1],
        &[Some("send"), Some("recv"), Some("recv"), Some("recv")],
    );
    check_mode(
        "telemetry",
        ports[2],
        &[Some("recv"), Some("send"), Some("send"), Some("send")],
    );
    check_mode(
        "chat",
        ports[3],
        &[Some("both"), Some("both"), Some("both"), Some("both")],
    );

    // The map sees every member connected, none congested.
    let (status, list) = fleet.rest("GET", "/v1/flows", None);
    assert_eq!(status, 200, "{list}");
    let chat = list
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["flow"]["name"] == "chat")
        .unwrap();
    for m in chat["members"].as_array().unwrap() {
        assert_eq!(m["connected"], true, "{chat}");
        assert_eq!(m["congested"], false, "{chat}");
    }
}

#[test]
fn editing_the_file_adds_and_removes_members_while_the_others_keep_flowing() {
    let port = free_port();
    let mesh = |members: &str| {
        format!("[[flow]]\nname = \"mesh\"\nmode = \"n:n\"\nport = {port}\nmembers = [{members}]\n")
    };
    let fleet = Fleet::start(4, 4, &mesh("\"n0\", \"n1\", \"n2\""));
    let n = &fleet.nodes;
    for node in &n[..3] {
        wait_flows(node, &["mesh"]);
    }
    check_mode(
        "mesh",
        port,
        &[Some("both"), Some("both"), Some("both"), None],
    );
    let from_apps = |node: &TestNode| flows(node)["mesh"]["from_apps"].as_u64().unwrap();
    let before = from_apps(&n[0]);

    // n3 in, n2 out: saved by hand, as an operator would.
    let mut text = std::fs::read_to_string(&fleet.file).unwrap();
    text = text.replace("\"n0\", \"n1\", \"n2\"", "\"n0\", \"n1\", \"n3\"");
    fleet.save(&text);
    wait_flows(&n[3], &["mesh"]);
    wait_flows(&n[2], &[]);
    // n0's flow was changed in place, not restarted: its counters went on.
    wait_until("n0 knows n3", Duration::from_secs(10), || {
        let m = &flows(&n[0])["mesh"];
        m["members"].as_array().is_some_and(|l| {
            l.iter().any(|x| x["name"] == "n3") && !l.iter().any(|x| x["name"] == "n2")
        })
    });
    assert!(from_apps(&n[0]) >= before);
    check_mode(
        "mesh",
        port,
        &[Some("both"), Some("both"), None, Some("both")],
    );

    // A bad save is reported and the flows last read are kept.
    fleet.save(&text.replace("mode = \"n:n\"", "mode = \"sideways\""));
    wait_until(
        "the map reports the bad file",
        Duration::from_secs(10),
        || fleet.map.log().contains("keeping the flows last read"),
    );
    check_mode(
        "mesh",
        port,
        &[Some("both"), Some("both"), None, Some("both")],
    );
}

#[test]
fn requests_to_join_are_granted_when_open_and_held_until_approved() {
    let (open, guarded) = (free_port(), free_port());
    let flows_text = format!(
        "[[flow]]\nname = \"open-room\"\nmode = \"n:n\"\nport = {open}\nmembers = [\"n0\", \"n1\"]\njoin = \"open\"\n\n[[flow]]\nname = \"guarded\"\nmode = \"1:n\"\nport = {guarded}\nsend = [\"n0\"]\nrecv = [\"n1\"]\n"
    );
    // n2 and n3 are not in the file at all.
    let fleet = Fleet::start(4, 2, &flows_text);
    let n = &fleet.nodes;
    wait_flows(&n[0], &["guarded", "open-room"]);

    // Open: granted at once, under the name asked for.
    let out = n[2].warp(&[
        "flow",
        "join",
        "open-room",
        "--role",
        "both",
        "--as",
        "drone3",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("joined flow open-room"),
        "{}",
        text(&out)
    );
    wait_flows(&n[2], &["open-room"]);
    let saved = std::fs::read_to_string(&fleet.file).unwrap();
    assert!(
        saved.contains(&format!("drone3 = \"{}\"", n[2].id)),
        "{saved}"
    );
    assert!(saved.starts_with("# flows of the test fleet"), "{saved}");
    check_mode(
        "open-room",
        open,
        &[Some("both"), Some("both"), Some("both"), None],
    );

    // Approve: held, through the REST API and through `warp flow join`.
    let body = format!(r#"{{"id":"{}","role":"recv","name":"gcs4"}}"#, n[3].id);
    let (status, held) = fleet.rest("POST", "/v1/flows/guarded/join", Some(&body));
    assert_eq!(status, 202, "{held}");
    assert_eq!(held["granted"], false);
    let out = n[2].warp(&["flow", "join", "guarded", "--role", "recv"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("waits for the map's operator"),
        "{}",
        text(&out)
    );
    let (_, waiting) = fleet.rest("GET", "/v1/requests", None);
    let waiting = waiting.as_array().unwrap().clone();
    assert_eq!(waiting.len(), 2, "{waiting:?}");
    let number = |id: &str| {
        waiting
            .iter()
            .find(|r| r["id"] == id)
            .map(|r| r["n"].as_u64().unwrap())
            .unwrap()
    };
    // Held means not a member: neither runs the flow.
    assert!(!flows(&n[3]).contains_key("guarded"));
    assert!(!flows(&n[2]).contains_key("guarded"));

    let (status, r) = fleet.rest(
        "POST",
        &format!("/v1/requests/{}/approve", number(&n[3].id)),
        None,
    );
    assert_eq!(status, 200, "{r}");
    wait_flows(&n[3], &["guarded"]);
    let (status, r) = fleet.rest(
        "POST",
        &format!("/v1/requests/{}/deny", number(&n[2].id)),
        None,
    );
    assert_eq!(status, 200, "{r}");
    let (_, waiting) = fleet.rest("GET", "/v1/requests", None);
    assert_eq!(waiting, serde_json::json!([]));
    check_mode(
        "guarded",
        guarded,
        &[Some("send"), Some("recv"), None, Some("recv")],
    );
    assert!(!flows(&n[2]).contains_key("guarded"));

    // The REST API edits members too, and says what is wrong.
    let (status, e) = fleet.rest(
        "PUT",
        "/v1/flows/nothing/members/n1",
        Some(r#"{"role":"recv"}"#),
    );
    assert_eq!(status, 404, "{e}");
    let (status, e) = fleet.rest("DELETE", "/v1/flows/guarded/members/n1", None);
    assert_eq!(status, 200, "{e}");
    let (status, e) = fleet.rest("DELETE", "/v1/flows/guarded/members/gcs4", None);
    assert_eq!(status, 400, "1:n needs a receiver: {e}");
    wait_flows(&n[1], &["open-room"]);
    // Without the token, nothing.
    let (status, _) = http_to(fleet.api, "wrong", ("GET", "/v1/flows"), None);
    assert_eq!(status, 401);
}

#[test]
fn a_node_runs_a_maps_flows_only_when_it_trusts_that_key_for_them() {
    let port = free_port();
    let flows_text = format!(
        "[[flow]]\nname = \"mesh\"\nmode = \"n:n\"\nport = {port}\nmembers = [\"n0\", \"n1\", \"n2\"]\n"
    );
    let fleet = Fleet::start(3, 3, &flows_text);
    let n = &fleet.nodes;
    let other = MapServer::start();
    // n1 uses the map without trusting it for flows; n2 names another map's key for it.
    n[1].write_config(&format!(
        "[node]\nflow_ip = \"{}\"\nmap = [\"{}\"]\n",
        ip(1),
        fleet.map.addr
    ));
    n[2].write_config(&trusting(&fleet.map, &other.id, 2));
    wait_flows(&n[0], &["mesh"]);
    let status = |node: &TestNode| -> Value {
        serde_json::from_str(&node.ok(&["status", "--json"])).unwrap()
    };
    wait_until("n1 registered", Duration::from_secs(20), || {
        status(&n[1])["maps"][0]["registered_until"].is_u64()
    });
    wait_until("n2 refuses the map's key", Duration::from_secs(20), || {
        status(&n[2])["maps"][0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("answered with key"))
    });
    // The map sees neither on a flows channel; neither runs the flow.
    let (_, list) = fleet.rest("GET", "/v1/flows", None);
    let members = &list[0]["members"];
    for m in members.as_array().unwrap() {
        let connected = m["name"] == "n0";
        assert_eq!(m["connected"], connected, "{members}");
    }
    assert!(flows(&n[1]).is_empty());
    assert!(flows(&n[2]).is_empty());
}

/// A map at the trusted key that signs its tables with another key: the node refuses
/// every table and runs nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_signed_by_another_key_is_refused() {
    use protocols::channel::{ChannelOpen, ChannelReply};
    use protocols::map::flows::{parts, FlowDef, Member, Table};
    use protocols::map::Frame;
    use warp::identity::Identity;
    use warp::transport::{Endpoint, Peer};

    let dir = tempfile::tempdir().unwrap();
    for d in ["fake", "forger"] {
        std::fs::create_dir_all(dir.path().join(d)).unwrap();
    }
    let fake = Identity::load_or_create(&dir.path().join("fake")).unwrap();
    let forger = Identity::load_or_create(&dir.path().join("forger")).unwrap();
    let e = Endpoint::bind("127.0.0.1:0".parse().unwrap(), fake.clone(), Vec::new()).unwrap();
    let addr = e.local_addr().unwrap();
    let node = tokio::task::spawn_blocking(TestNode::start).await.unwrap();
    let node_id: warp::identity::PeerId = node.id.parse().unwrap();
    let fake_id = fake.peer_id();
    let served = tokio::spawn(async move {
        while let Some(incoming) = e.accept().await {
            let Ok(path) = incoming.handshake().await else {
                continue;
            };
            let peer = Peer::new(path, fake_id);
            let forger = forger.clone();
            tokio::spawn(async move {
                while let Some(mut ch) = peer.accept().await {
                    let forger = forger.clone();
                    tokio::spawn(async move {
                        let Ok(Some(_)) = ch.read(ChannelOpen::decode).await else {
                            return;
                        };
                        let _ = ch.write(&ChannelReply::Accepted.encode()).await;
                        while let Ok(Some(f)) = ch.read(Frame::decode).await {
                            if f != Frame::Flows {
                                let no = Frame::Refused("a fake map".into());
                                let _ = ch.write(&no.encode()).await;
                                continue;
                            }
                            let mut t = Table {
                                map: fake_id.0,
                                node: node_id.0,
                                seq: 1,
                                flows: vec![FlowDef {
                                    name: "forged".into(),
                                    mode: 3,
                                    paths: 0,
                                    port: 5999,
                                    ip: None,
                                    deliver: None,
                                    members: vec![
                                        Member {
                                            id: node_id.0,
                                            role: 3,
                                            name: "me".into(),
                                        },
                                        Member {
                                            id: [7; 32],
                                            role: 3,
                                            name: "x".into(),
                                        },
                                    ],
                                }],
                                signature: [0; 64],
                            };
                            t.signature = forger.sign(&t.signed_bytes());
                            let bytes = t.encode();
                            for (last, part) in parts(&bytes) {
                                let part = part.to_vec();
                                let _ = ch.write(&Frame::FlowTable { last, part }.encode()).await;
                            }
                        }
                    });
                }
            });
        }
    });
    let config = format!(
        "[node]\nflow_ip = \"{}\"\nmap = [{{ addr = \"{addr}\", key = \"{fake_id}\", flows = true }}]\n",
        ip(0)
    );
    let node = tokio::task::spawn_blocking(move || {
        node.write_config(&config);
        wait_until("the forged table refused", Duration::from_secs(20), || {
            node.log()
                .contains("a flow table not signed by the map's key: refused")
        });
        node
    })
    .await
    .unwrap();
    assert!(flows(&node).is_empty(), "{}", node.log());
    served.abort();
}

#[test]
fn the_map_shows_a_member_that_finds_its_flow_congested() {
    // Everything n0 sends leaves at 2 Mbit/s: a fast application overruns the flow.
    let nodes = vec![
        TestNode::start_with(&["--impair", "rate=2mbit"]),
        TestNode::start(),
    ];
    let port = free_port();
    let flows_text = format!(
        "[[flow]]\nname = \"bulk\"\nmode = \"1:1\"\nport = {port}\nsend = [\"n0\"]\nrecv = [\"n1\"]\n"
    );
    let fleet = Fleet::of(nodes, 2, &flows_text);
    let n = &fleet.nodes;
    wait_flows(&n[0], &["bulk"]);
    wait_flows(&n[1], &["bulk"]);
    let member = |name: &str| -> Value {
        let (_, list) = fleet.rest("GET", "/v1/flows", None);
        list[0]["members"]
            .as_array()
            .and_then(|l| l.iter().find(|m| m["name"] == name).cloned())
            .unwrap_or_default()
    };
    assert_eq!(member("n0")["congested"], false);
    let sender = app(0);
    let to = format!("{}:{port}", ip(0));
    let chunk = [9u8; 1000];
    let deadline = Instant::now() + Duration::from_secs(20);
    // About 16 Mbit/s into a 2 Mbit/s flow until the map says so.
    let congested = loop {
        for _ in 0..100 {
            let _ = sender.send_to(&chunk, &to);
        }
        std::thread::sleep(Duration::from_millis(50));
        if member("n0")["congested"] == true {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
    };
    assert!(congested, "{}", member("n0"));
    // The receiver is not congested, and once the sender stops, neither is n0.
    assert_eq!(member("n1")["congested"], false);
    wait_until("n0 no longer congested", Duration::from_secs(20), || {
        member("n0")["congested"] == false
    });
}

#[test]
fn a_node_restarted_while_its_map_is_down_runs_the_flows_it_had() {
    let port = free_port();
    let flows_text = format!(
        "[[flow]]\nname = \"pair\"\nmode = \"1:1\"\nport = {port}\nmembers = [\"n0\", \"n1\"]\n"
    );
    let mut fleet = Fleet::start(2, 2, &flows_text);
    wait_flows(&fleet.nodes[0], &["pair"]);
    wait_flows(&fleet.nodes[1], &["pair"]);
    // They meet through the map (n0 keeps n1's address from its record)...
    check_mode("pair", port, &[Some("both"), Some("both")]);
    // ...which then goes away, and n1 restarts knowing nothing but its kept table.
    fleet.map.child.kill().unwrap();
    fleet.map.child.wait().unwrap();
    let n1 = &mut fleet.nodes[1];
    n1.kill();
    n1.spawn();
    wait_flows(&fleet.nodes[1], &["pair"]);
    // Both run it from what they had, and it carries datagrams without the map.
    check_mode("pair", port, &[Some("both"), Some("both")]);
}
