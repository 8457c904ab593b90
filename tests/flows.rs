//! Flows end to end: four nodes, applications on 127.1.0.1, each mode delivering to
//! exactly the right members; refusals, congestion counters, the CLI, the REST API and
//! the configuration file.

mod support;

use std::collections::BTreeSet;
use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::{free_port, http, text, TestNode};

/// Nodes that all know each other as `n0`, `n1`, ...
fn mesh(n: usize) -> Vec<TestNode> {
    let nodes: Vec<TestNode> = (0..n).map(|_| TestNode::start()).collect();
    // Only the lower-numbered node of each pair dials (the other knows its id alone), so
    // no connection is replaced by the simultaneous-dial tie-break under a flow's first
    // datagrams; every pair is connected before the flows start.
    for (i, a) in nodes.iter().enumerate() {
        for (j, b) in nodes.iter().enumerate() {
            if i < j {
                a.add_peer(&format!("n{j}"), b);
            } else if i > j {
                a.ok(&["peers", "add", &format!("n{j}"), &b.id]);
            }
        }
    }
    for node in &nodes {
        support::wait_until("every peer connected", Duration::from_secs(20), || {
            let peers: serde_json::Value =
                serde_json::from_str(&node.ok(&["peers", "--json"])).unwrap_or_default();
            peers
                .as_array()
                .is_some_and(|l| l.len() == n - 1 && l.iter().all(|p| p["connected"] == true))
        });
    }
    nodes
}

/// An application on 127.1.0.1.
fn app() -> UdpSocket {
    let s = UdpSocket::bind("127.1.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    s
}

/// What `sock` receives: waits (at most 15 s) until `want` datagrams have come, then
/// `extra` longer for any that should not (a duplicate, a datagram from a member that
/// does not send to it).
fn receive(sock: &UdpSocket, want: usize, extra: Duration) -> Vec<String> {
    let mut got = Vec::new();
    let mut buf = [0u8; 2048];
    let deadline = Instant::now() + Duration::from_secs(15);
    while got.len() < want && Instant::now() < deadline {
        if let Ok(n) = sock.recv(&mut buf) {
            got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
    let until = Instant::now() + extra;
    while Instant::now() < until {
        if let Ok(n) = sock.recv(&mut buf) {
            got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
    got
}

/// Sets up flow `name` in `mode` on every node with a role (`send`, `recv` or `both`),
/// has every member's application send one datagram, and checks that each member got
/// exactly the datagrams of the members that send, other than itself — when it receives.
fn check_mode(nodes: &[TestNode], name: &str, mode: &str, roles: &[Option<&str>]) {
    let flag = |r: &str| match r {
        "send" => "--send",
        "recv" => "--recv",
        _ => "--member",
    };
    let mut apps = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        let Some(role) = roles[i] else {
            apps.push(None);
            continue;
        };
        let sock = app();
        let port = free_port().to_string();
        let deliver = sock.local_addr().unwrap().to_string();
        let mut args = vec![
            "flow".to_string(),
            "add".into(),
            name.into(),
            mode.into(),
            port.clone(),
            "--deliver".into(),
            deliver,
        ];
        for (j, r) in roles.iter().enumerate() {
            if let Some(r) = r {
                args.push(flag(r).into());
                args.push(if i == j {
                    "self".into()
                } else {
                    format!("n{j}")
                });
            }
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = node.warp(&args);
        assert!(out.status.success(), "{name} on n{i}: {}", text(&out));
        let _ = role;
        apps.push(Some((sock, format!("127.1.0.1:{port}"))));
    }
    for (i, a) in apps.iter().enumerate() {
        if let Some((sock, port)) = a {
            sock.send_to(format!("{name} from n{i}").as_bytes(), port)
                .unwrap();
        }
    }
    let sends = |r: &Option<&str>| matches!(r, Some("send" | "both"));
    let receives = |r: &Option<&str>| matches!(r, Some("recv" | "both"));
    let want_at = |j: usize| -> Vec<String> {
        (0..nodes.len())
            .filter(|&i| i != j && sends(&roles[i]) && receives(&roles[j]))
            .map(|i| format!("{name} from n{i}"))
            .collect()
    };
    let readers: Vec<_> = apps
        .into_iter()
        .enumerate()
        .map(|(j, a)| {
            let n = want_at(j).len();
            a.map(|(sock, _)| {
                std::thread::spawn(move || receive(&sock, n, Duration::from_millis(300)))
            })
        })
        .collect();
    for (j, reader) in readers.into_iter().enumerate() {
        let Some(reader) = reader else { continue };
        let got: Vec<String> = reader.join().unwrap();
        let want = want_at(j);
        let got_set: BTreeSet<_> = got.iter().cloned().collect();
        let want_set: BTreeSet<_> = want.iter().cloned().collect();
        assert_eq!(got_set, want_set, "{name} ({mode}): n{j} got {got:?}");
        assert_eq!(
            got.len(),
            want.len(),
            "{name}: n{j} got duplicates: {got:?}"
        );
    }
}

#[test]
fn each_mode_delivers_to_exactly_the_right_members() {
    let nodes = mesh(4);
    check_mode(
        &nodes,
        "pair",
        "1:1",
        &[Some("both"), Some("both"), None, None],
    );
    check_mode(
        &nodes,
        "video",
        "1:n",
        &[Some("send"), Some("recv"), Some("recv"), Some("recv")],
    );
    check_mode(
        &nodes,
        "telemetry",
        "n:1",
        &[Some("recv"), Some("send"), Some("send"), Some("send")],
    );
    check_mode(
        &nodes,
        "chat",
        "n:n",
        &[Some("both"), Some("both"), Some("both"), None],
    );

    // The counters agree with what happened: n0 sent one video datagram to each of three
    // members; n1, a receiver, sent one that went nowhere.
    let (status, body) = http(&nodes[0], "GET", "/v1/flows", None);
    assert_eq!(status, 200);
    let video = body
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["flow"]["name"] == "video")
        .unwrap();
    assert_eq!(video["from_apps"], 1, "{video}");
    for m in video["members"].as_array().unwrap() {
        assert_eq!(m["sent"], 1, "{m}");
        assert_eq!(m["dropped"], 0, "{m}");
        assert_eq!(m["state"], "connected", "{m}");
    }
    let out = nodes[1].warp(&["flow", "--json"]);
    let all: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let video1 = all
        .into_iter()
        .find(|f| f["flow"]["name"] == "video")
        .unwrap();
    assert_eq!(video1["not_sent"], 1, "{video1}");
    assert_eq!(video1["delivered"], 1, "{video1}");
    let n0 = &video1["members"].as_array().unwrap()[0];
    assert_eq!(
        (n0["peer"].as_str(), n0["received"].as_u64()),
        (Some("n0"), Some(1))
    );
}

#[test]
fn a_peer_outside_the_flow_is_refused() {
    let nodes = mesh(2);
    let (a, b) = (&nodes[0], &nodes[1]);
    let port_a = free_port().to_string();
    let port_b = free_port().to_string();
    let listener = app();
    let deliver = listener.local_addr().unwrap().to_string();
    // On a, the flow has only a sender that is not b.
    let c = TestNode::start();
    a.add_peer("c", &c);
    let out = a.warp(&[
        "flow",
        "add",
        "news",
        "n:1",
        &port_a,
        "--recv",
        "self",
        "--send",
        "c",
        "--deliver",
        &deliver,
    ]);
    assert!(out.status.success(), "{}", text(&out));
    // b thinks it may send to a.
    let out = b.warp(&[
        "flow", "add", "news", "1:1", &port_b, "--send", "self", "--recv", "n0",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let sender = app();
    let to = format!("127.1.0.1:{port_b}");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut state = String::new();
    while Instant::now() < deadline && !state.contains("does not send") {
        sender.send_to(b"sneaky", &to).unwrap();
        std::thread::sleep(Duration::from_millis(200));
        let out = b.warp(&["flow", "--json"]);
        let all: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let v = &all[0];
        state = v["members"][0]["state"].as_str().unwrap_or("").to_string();
    }
    assert!(state.contains("does not send to this node"), "{state}");
    // Nothing reaches the application while the refusal stands.
    let got = receive(&listener, 0, Duration::from_millis(500));
    assert!(got.is_empty(), "{got:?}");
    assert!(
        a.log()
            .contains(&format!("flow news: peer {} does not send", b.id)),
        "{}",
        a.log()
    );
}

#[test]
fn a_flow_past_its_capacity_reports_congestion_and_its_counters_add_up() {
    // Everything n0 sends leaves at 2 Mbit/s: a fast application overruns the flow.
    let a = TestNode::start_with(&["--impair", "rate=2mbit"]);
    let b = TestNode::start();
    a.add_peer("b", &b);
    b.add_peer("a", &a);
    let listener = app();
    let deliver = listener.local_addr().unwrap().to_string();
    let (pa, pb) = (free_port().to_string(), free_port().to_string());
    let out = b.warp(&[
        "flow",
        "add",
        "bulk",
        "1:1",
        &pb,
        "--recv",
        "self",
        "--send",
        "a",
        "--deliver",
        &deliver,
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let out = a.warp(&[
        "flow", "add", "bulk", "1:1", &pa, "--send", "self", "--recv", "b",
    ]);
    assert!(out.status.success(), "{}", text(&out));

    // The receiving application reads all along, so its own socket buffer drops nothing.
    let count = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let reader = {
        let (count, stop) = (count.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while !stop.load(Ordering::Relaxed) {
                if listener.recv(&mut buf).is_ok() {
                    count.fetch_add(1, Ordering::Relaxed);
                }
            }
        })
    };
    let sender = app();
    let to = format!("127.1.0.1:{pa}");
    let chunk = [9u8; 1000];
    let mut congested = false;
    let start = Instant::now();
    // 3000 datagrams of 1000 bytes in about 1.5 s: 16 Mbit/s into a 2 Mbit/s flow.
    for i in 0..3000 {
        sender.send_to(&chunk, &to).unwrap();
        if i % 100 == 99 {
            std::thread::sleep(Duration::from_millis(50));
        }
        if i % 1000 == 999 {
            let (_, body) = http(&a, "GET", "/v1/flows", None);
            congested |= body[0]["congested"] == true;
        }
    }
    let elapsed = start.elapsed();
    let (_, body) = http(&a, "GET", "/v1/flows", None);
    congested |= body[0]["congested"] == true;
    assert!(congested, "never congested in {elapsed:?}: {body}");
    let m = &body[0]["members"][0];
    let (from_apps, sent, dropped, queued) = (
        body[0]["from_apps"].as_u64().unwrap(),
        m["sent"].as_u64().unwrap(),
        m["dropped"].as_u64().unwrap(),
        m["queued"].as_u64().unwrap(),
    );
    assert!(dropped > 0, "{body}");
    // Loopback UDP into the node may itself drop a few; none is counted twice.
    assert!(
        sent + dropped + queued <= from_apps && from_apps <= 3000,
        "{body}"
    );
    // Loopback into the node drops only when the node falls far behind (a slow, shared
    // machine): most datagrams must have been read, or the counters above prove little.
    assert!(
        from_apps > 1500,
        "the node read only {from_apps} of 3000: {body}"
    );
    // Once the queue is empty, everything sent arrives; the receiver counts the same.
    let deadline = Instant::now() + Duration::from_secs(30);
    let sent = loop {
        let (_, body) = http(&a, "GET", "/v1/flows", None);
        let m = &body[0]["members"][0];
        if m["queued"] == 0 {
            break m["sent"].as_u64().unwrap();
        }
        assert!(Instant::now() < deadline, "the queue never emptied: {body}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while count.load(Ordering::Relaxed) < sent && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let (_, body_b) = http(&b, "GET", "/v1/flows", None);
    assert_eq!(
        body_b[0]["members"][0]["received"].as_u64(),
        Some(sent),
        "{body_b}"
    );
    assert_eq!(count.load(Ordering::Relaxed), sent, "{body_b}");
    stop.store(true, Ordering::Relaxed);
    reader.join().unwrap();
    let listing = text(&a.warp(&["flow"]));
    assert!(
        listing.contains("flow bulk  1:1") && listing.contains("dropped"),
        "{listing}"
    );
}

#[test]
fn the_api_the_cli_and_the_config_file_drive_the_same_flows() {
    let mut nodes = mesh(3);
    let port = free_port();
    let body =
        format!(r#"{{"name":"cam","mode":"1:n","port":{port},"send":["self"],"recv":["n1"]}}"#);
    let (status, reply) = http(&nodes[0], "POST", "/v1/flows", Some(&body));
    assert_eq!(status, 201, "{reply}");
    let (status, reply) = http(
        &nodes[0],
        "POST",
        "/v1/flows/cam/members",
        Some(r#"{"peer":"zed"}"#),
    );
    assert_eq!(status, 404, "{reply}");
    assert!(
        reply["error"]
            .as_str()
            .unwrap()
            .contains("unknown peer \"zed\""),
        "{reply}"
    );
    let (status, _) = http(
        &nodes[0],
        "POST",
        "/v1/flows/cam/members",
        Some(r#"{"peer":"n2"}"#),
    );
    assert_eq!(status, 201);
    let listing = text(&nodes[0].warp(&["flow"]));
    assert!(
        listing.contains(&format!("flow cam  1:n  udp 127.1.0.1:{port}")),
        "{listing}"
    );
    assert!(
        listing.contains("n2 ") && listing.contains("recv"),
        "{listing}"
    );
    let out = nodes[0].warp(&["flow", "member", "rm", "cam", "n2"]);
    assert!(out.status.success(), "{}", text(&out));
    let (_, flows) = http(&nodes[0], "GET", "/v1/flows", None);
    assert_eq!(
        flows[0]["flow"]["recv"],
        serde_json::json!(["n1"]),
        "{flows}"
    );
    // A mode's rules hold through the API too: a second sender in 1:n is refused.
    let (status, reply) = http(
        &nodes[0],
        "POST",
        "/v1/flows/cam/members",
        Some(r#"{"peer":"n1","role":"send"}"#),
    );
    assert_eq!(status, 400);
    assert!(
        reply["error"].as_str().unwrap().contains("mode 1:n needs"),
        "{reply}"
    );

    // Kept across a restart.
    nodes[0].kill();
    nodes[0].spawn();
    let listing = text(&nodes[0].warp(&["flow"]));
    assert!(listing.contains("flow cam  1:n"), "{listing}");

    // From the file: added on save, protected from the CLI, removed on save.
    let path = nodes[1].home.path().join("warp.toml");
    let cfg_port = free_port();
    std::fs::write(
        &path,
        format!("[[flow]]\nname = \"cam\"\nmode = \"1:n\"\nport = {cfg_port}\nsend = [\"n0\"]\nrecv = [\"self\"]\n"),
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut listing = String::new();
    while Instant::now() < deadline && !listing.contains("[config]") {
        std::thread::sleep(Duration::from_millis(100));
        listing = text(&nodes[1].warp(&["flow"]));
    }
    assert!(
        listing.contains("flow cam  1:n") && listing.contains("[config]"),
        "{listing}\nthe node's log:\n{}",
        nodes[1].log()
    );
    let out = nodes[1].warp(&["flow", "rm", "cam"]);
    assert!(text(&out).contains("configuration file"), "{}", text(&out));
    // The flow from the file works: n0's application reaches n1's.
    let receiver = app();
    receiver
        .send_to(b"hello", format!("127.1.0.1:{cfg_port}"))
        .unwrap();
    let sender = app();
    sender
        .send_to(b"frame", format!("127.1.0.1:{port}"))
        .unwrap();
    assert_eq!(
        receive(&receiver, 1, Duration::from_millis(300)),
        vec!["frame".to_string()]
    );
    // An empty file may be one cut short, and is ignored; a file that says nothing empties
    // the configuration.
    std::fs::write(&path, "# no flows\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline && listing.contains("flow cam") {
        std::thread::sleep(Duration::from_millis(100));
        listing = text(&nodes[1].warp(&["flow"]));
    }
    assert!(listing.starts_with("no flows"), "{listing}");
}
