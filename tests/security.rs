//! Attacks on running nodes (docs/security.md): forged and unauthenticated REST calls,
//! cross-origin WebSocket upgrades, keys that are not in the book, gates that lead back
//! into the node, a cut-short configuration file, set-id modes in an offer, and accept
//! loops starved of file descriptors.

mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use support::{echo_server, free_tcp, text, wait_until, TestNode};

/// Sends `request` (a whole HTTP/1.1 request) to `port` on loopback; the status code and
/// the whole answer.
fn raw_http(port: u16, request: &str) -> (u16, String) {
    let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    conn.write_all(request.as_bytes()).unwrap();
    let mut raw = Vec::new();
    // An upgrade that succeeds keeps the connection open: read what came.
    let _ = conn.read_to_end(&mut raw);
    let raw = String::from_utf8_lossy(&raw).to_string();
    let status = raw
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, raw)
}

/// A JSON POST to the node's API with the given extra headers.
fn post(node: &TestNode, path: &str, headers: &str, body: &str) -> (u16, String) {
    let req = format!(
        "POST {path} HTTP/1.1\r\n{headers}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    raw_http(node.api_port, &req)
}

/// What a fresh connection through `addr` gets back for `msg`: `Ok` with the echo, or the
/// error (a reset, a close with nothing) otherwise.
fn echoed(addr: &str, msg: &[u8]) -> Result<Vec<u8>, String> {
    let mut conn = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    conn.set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    conn.write_all(msg).map_err(|e| format!("write: {e}"))?;
    let _ = conn.shutdown(Shutdown::Write);
    let mut back = Vec::new();
    conn.read_to_end(&mut back)
        .map_err(|e| format!("read: {e}"))?;
    if back.is_empty() {
        return Err("closed with nothing".into());
    }
    Ok(back)
}

fn write_config(node: &TestNode, text: &str) {
    node.write_config(text);
}

/// Alice and bob know each other; bob exposes an echo service as `echo` and alice opens
/// it on the returned address, which works.
fn echo_gate() -> (TestNode, TestNode, String) {
    let echo = echo_server();
    let a = TestNode::start();
    let b = TestNode::start();
    a.meet("bob", &b, "alice");
    assert!(b.warp(&["gate", "expose", "echo", &echo]).status.success());
    let listen = free_tcp();
    assert!(a
        .warp(&["gate", "open", &listen, "bob", "echo"])
        .status
        .success());
    wait_until("the gate works", Duration::from_secs(10), || {
        echoed(&listen, b"x").is_ok()
    });
    (a, b, listen)
}

#[test]
fn forged_and_unauthenticated_rest_calls_change_nothing() {
    let a = TestNode::start();
    let token = a.api_token();
    let port = a.api_port;
    let mode = std::os::unix::fs::MetadataExt::mode(
        &std::fs::metadata(a.home.path().join("api.token")).unwrap(),
    );
    assert_eq!(mode & 0o777, 0o600, "the token file is the owner's alone");
    let sock = a.home.path().join("control.sock");
    let rebound = format!(r#"{{"name":"rebound","target":"unix:{}"}}"#, sock.display());
    let harmless = r#"{"name":"web","target":"127.0.0.1:8080"}"#;
    let auth = format!("Authorization: Bearer {token}\r\n");

    // DNS rebinding: the page's own name in Host, even with the right token.
    let (status, body) = post(
        &a,
        "/v1/gates/expose",
        &format!("Host: evil.example:{port}\r\n{auth}"),
        harmless,
    );
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("Host"), "{body}");
    // A cross-origin page.
    let (status, body) = post(
        &a,
        "/v1/gates/expose",
        &format!("Host: 127.0.0.1:{port}\r\nOrigin: http://evil.example\r\n{auth}"),
        harmless,
    );
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("cross-origin"), "{body}");
    // No credential, or a wrong one (another local user cannot read api.token).
    for creds in ["", "Authorization: Bearer 0000\r\n"] {
        let (status, body) = post(
            &a,
            "/v1/gates/expose",
            &format!("Host: 127.0.0.1:{port}\r\n{creds}"),
            harmless,
        );
        assert_eq!(status, 401, "{body}");
        assert!(body.contains("api.token"), "{body}");
    }
    // Reads need it too: the peer book is nobody else's business.
    let (status, _) = raw_http(
        port,
        &format!("GET /v1/peers HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n\r\n"),
    );
    assert_eq!(status, 401);

    // The owner cannot point a gate at the node itself either.
    let owner = format!("Host: 127.0.0.1:{port}\r\n{auth}");
    let (status, body) = post(&a, "/v1/gates/expose", &owner, &rebound);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("data directory"), "{body}");
    let api_gate = format!(r#"{{"name":"api","target":"localhost:{port}"}}"#);
    let (status, body) = post(&a, "/v1/gates/expose", &owner, &api_gate);
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("REST API"), "{body}");
    let out = a.warp(&["gate", "expose", "ctl", &format!("unix:{}", sock.display())]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));

    // An opened gate beyond loopback needs the explicit flag (to a peer in the book, so
    // the flag is what is refused).
    let other = tempfile::tempdir().unwrap();
    let x = text(&support::warp(other.path(), &["id"]))
        .trim()
        .to_string();
    assert!(a.warp(&["peers", "add", "x", &x]).status.success());
    let (status, body) = post(
        &a,
        "/v1/gates/open",
        &owner,
        r#"{"listen":"0.0.0.0:0","peer":"x","name":"web"}"#,
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("--gateway"), "{body}");

    // Only the owner's loopback call went through.
    let (status, body) = post(&a, "/v1/gates/expose", &owner, harmless);
    assert_eq!(status, 201, "{body}");
    let (status, gates) = support::http(&a, "GET", "/v1/gates", None);
    assert_eq!(status, 200);
    let names: Vec<&str> = gates["exposed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["web"]);
}

#[test]
fn a_stranger_gets_no_connection_and_with_ask_only_offers_and_public_gates() {
    let echo = echo_server();
    let a = TestNode::start();
    let s = TestNode::start();
    let out = a.warp(&["gate", "expose", "echo", &echo]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("every peer in the book"),
        "expose says who can reach it: {}",
        text(&out)
    );
    let out = a.warp(&["gate", "expose", "pub", &echo, "--public"]);
    assert!(text(&out).contains("ANY key"), "{}", text(&out));
    s.add_peer("a", &a);
    let (private, public) = (free_tcp(), free_tcp());
    assert!(s
        .warp(&["gate", "open", &private, "a", "echo"])
        .status
        .success());
    assert!(s
        .warp(&["gate", "open", &public, "a", "pub"])
        .status
        .success());

    // By default a key not in the book is refused at the connection: no gate, public or
    // not, and no ping.
    assert!(echoed(&private, b"hello").is_err());
    assert!(echoed(&public, b"hello").is_err());
    let out = s.warp(&["ping", "a", "-c", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("not in the peer's book"),
        "{}",
        text(&out)
    );
    assert!(
        a.log().contains(&format!("refused {}", s.id)),
        "{}",
        a.log()
    );

    // unknown = "ask": it connects, may offer files (which wait) and use the public gate;
    // the private gate and ping stay shut.
    write_config(&a, "unknown = \"ask\"\n");
    wait_until("the stranger connects", Duration::from_secs(15), || {
        echoed(&public, b"hello").is_ok_and(|b| b == b"hello")
    });
    let err = echoed(&private, b"hello");
    assert!(err.is_err(), "{err:?}");
    assert!(
        a.log().contains(&format!(
            "{} is not in the peer book (the gate is not public)",
            s.id
        )),
        "{}",
        a.log()
    );
    let out = s.warp(&["ping", "a", "-c", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("does not know your key"),
        "{}",
        text(&out)
    );
    let file = s.home.path().join("note.txt");
    std::fs::write(&file, b"hi").unwrap();
    let out = s.warp(&["share", "a", file.to_str().unwrap(), "--no-wait"]);
    assert!(out.status.success(), "{}", text(&out));
    let offers = text(&a.warp(&["offers", "--json"]));
    assert!(
        offers.contains("\"awaiting\"") || offers.contains("awaiting"),
        "the offer waits for the user: {offers}"
    );
    let peers = text(&a.warp(&["peers"]));
    let line = peers
        .lines()
        .find(|l| l.contains(&s.id))
        .unwrap_or_else(|| panic!("the connected stranger is listed: {peers}"));
    assert!(
        line.starts_with("(unknown)") && line.contains("connected"),
        "{line}"
    );

    // Back to block: the stranger's connection is closed.
    write_config(&a, "unknown = \"block\"\n");
    wait_until(
        "the stranger is disconnected",
        Duration::from_secs(10),
        || !text(&a.warp(&["peers"])).contains(&s.id),
    );
    // `peers set` takes an id that is not in the book yet.
    let out = a.warp(&["peers", "set", &s.id, "policy", "trust"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("policy trust"), "{}", text(&out));
    wait_until(
        "the gate serves the peer now in the book",
        Duration::from_secs(15),
        || echoed(&private, b"again").is_ok_and(|b| b == b"again"),
    );
}

/// An upgrade request to the hub with the given `Host` and `Origin`; the status.
fn upgrade(node: &TestNode, host: &str, origin: Option<&str>) -> u16 {
    let origin = origin.map_or(String::new(), |o| format!("Origin: {o}\r\n"));
    let req = format!(
        "GET / HTTP/1.1\r\nHost: {host}\r\n{origin}Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    let mut conn = TcpStream::connect(("127.0.0.1", node.ws_port)).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    conn.write_all(req.as_bytes()).unwrap();
    let mut head = [0u8; 12];
    conn.read_exact(&mut head).unwrap();
    String::from_utf8_lossy(&head[9..12]).parse().unwrap()
}

#[test]
fn the_hub_refuses_forged_upgrades() {
    let a = TestNode::start();
    let port = a.ws_port;
    let own = format!("127.0.0.1:{port}");
    assert_eq!(upgrade(&a, &own, None), 101, "a plain client links");
    let page = format!("http://127.0.0.1:{}", a.api_port);
    assert_eq!(
        upgrade(&a, &own, Some(&page)),
        101,
        "the node's own page links"
    );
    assert_eq!(upgrade(&a, &own, Some("http://evil.example")), 403);
    assert_eq!(upgrade(&a, &own, Some("null")), 403);
    assert_eq!(upgrade(&a, &format!("evil.example:{port}"), None), 403);
}

#[test]
fn a_half_open_handshake_is_dropped() {
    let a = TestNode::start();
    let mut conn = TcpStream::connect(("127.0.0.1", a.ws_port)).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 1];
    // The node closes it (0 bytes, or a reset) well before our own 30 s timeout.
    match conn.read(&mut buf) {
        Ok(0) => {}
        Ok(_) => panic!("the node answered a request never sent"),
        Err(e) => assert_ne!(e.kind(), std::io::ErrorKind::WouldBlock, "never closed"),
    }
    assert!(started.elapsed() < Duration::from_secs(25));
}

#[tokio::test(flavor = "multi_thread")]
async fn hub_tokens_survive_a_cut_short_or_missing_config() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    let mut a = TestNode::start();
    write_config(&a, "[links]\ntokens = [\"s3cret\"]\n");
    a.kill();
    a.spawn();
    // Is linking without a token refused (`@deauthed`)?
    let refused = |port: u16| async move {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let url = format!("ws://127.0.0.1:{port}/");
        let (mut ws, _) = tokio_tungstenite::client_async(url, tcp).await.unwrap();
        ws.send(Message::Text(r#"@sync(node:"/unit/1",lane:info)"#.into()))
            .await
            .unwrap();
        match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => t.as_str() == "@deauthed",
            other => panic!("no answer: {other:?}"),
        }
    };
    assert!(refused(a.ws_port).await);
    for cut in [
        "",
        "unknown = \"block\"\n",
        "[links]\n",
        "[links]\ntokens = [\"s3",
    ] {
        write_config(&a, cut);
        let log_len = a.log().len();
        let deadline = Instant::now() + Duration::from_secs(10);
        // Wait until the node has read the new file, then check.
        while a.log().len() == log_len && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(refused(a.ws_port).await, "tokens lost after {cut:?}");
    }
    std::fs::remove_file(a.home.path().join("warp.toml")).unwrap();
    wait_until(
        "the node sees the file gone",
        Duration::from_secs(10),
        || {
            a.log()
                .contains("warp.toml: gone; keeping the running configuration")
        },
    );
    assert!(refused(a.ws_port).await, "tokens lost with the file gone");

    // Only an explicit empty list opens the hub.
    write_config(&a, "[links]\ntokens = []\n");
    let deadline = Instant::now() + Duration::from_secs(10);
    while refused(a.ws_port).await {
        assert!(Instant::now() < deadline, "tokens = [] never applied");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // A file that cannot be read at start: the hub is not served at all.
    write_config(&a, "[links]\ntokens = [\"s3");
    a.kill();
    a.spawn();
    wait_until("the node says so", Duration::from_secs(10), || {
        a.log().contains("WARP link hub is not served")
    });
    assert!(
        TcpStream::connect(("127.0.0.1", a.ws_port)).is_err(),
        "the hub listens without its tokens"
    );
}

#[test]
fn received_files_never_keep_setuid_setgid_or_sticky_bits() {
    use std::os::unix::fs::PermissionsExt;
    let a = TestNode::start();
    let b = TestNode::start();
    a.meet("bob", &b, "alice");
    assert!(b
        .warp(&["peers", "set", "alice", "policy", "trust"])
        .status
        .success());
    let file = a.home.path().join("tool");
    std::fs::write(&file, b"#!/bin/sh\n").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o6777)).unwrap();
    let out = a.warp(&["share", "bob", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let got = b.home.path().join("incoming").join("tool");
    let mode = std::fs::metadata(&got).unwrap().permissions().mode();
    assert_eq!(mode & 0o7000, 0, "mode {mode:o}");
    assert_eq!(mode & 0o700, 0o700, "the owner's bits stay: {mode:o}");
}

#[test]
fn the_hub_and_a_gate_keep_accepting_after_running_out_of_descriptors() {
    let (a, _b, listen) = echo_gate();
    let limited = std::process::Command::new("prlimit")
        .args(["--nofile=160:160", "--pid", &a.pid().to_string()])
        .status()
        .expect("prlimit (util-linux) runs");
    assert!(limited.success());
    // Far more connections than descriptors: accept fails with EMFILE for a while.
    let ws = format!("127.0.0.1:{}", a.ws_port);
    let mut held = Vec::new();
    for i in 0..600 {
        let to: std::net::SocketAddr = if i % 2 == 0 { &ws } else { &listen }.parse().unwrap();
        // A full accept queue drops SYNs: do not wait for those.
        if let Ok(c) = TcpStream::connect_timeout(&to, Duration::from_millis(100)) {
            held.push(c);
        }
    }
    wait_until(
        "the node ran out of descriptors",
        Duration::from_secs(10),
        || a.log().contains("accept failed"),
    );
    drop(held);
    wait_until("the gate accepts again", Duration::from_secs(30), || {
        echoed(&listen, b"again").is_ok_and(|b| b == b"again")
    });
    let own = format!("127.0.0.1:{}", a.ws_port);
    assert_eq!(upgrade(&a, &own, None), 101, "the hub accepts again");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hostile_peer_flooding_warpdrive_frames_stays_under_the_memory_cap() {
    use support::hostile::HostileKey;
    use support::measure::rss_kib;
    let a = TestNode::start();
    let addr: std::net::SocketAddr = a.addr().parse().unwrap();

    // A key not in the book gets no channel at all.
    let stranger = HostileKey::new().connect(addr).await;
    if let Ok(s) = stranger {
        let r = s.channel("warpdrive", 1).await;
        assert!(r.is_err(), "a stranger got a channel: {:?}", r.map(|x| x.2));
    }

    // A key in the book that sends what it likes.
    let key = HostileKey::new();
    let out = a.warp(&["peers", "add", "mallory", &key.id]);
    assert!(out.status.success(), "{}", text(&out));
    let h = key.connect(addr).await.unwrap();
    let before = rss_kib(a.pid()) << 10;
    let (mut streams, mut refused) = (Vec::new(), 0);
    for _ in 0..24 {
        match h.channel("warpdrive", 1).await.unwrap() {
            (send, recv, protocols::channel::ChannelReply::Accepted) => streams.push((send, recv)),
            (_, _, protocols::channel::ChannelReply::Refused(why)) => {
                assert!(why.contains("warpdrive channels"), "{why}");
                refused += 1;
            }
            (_, _, other) => panic!("{other:?}"),
        }
    }
    assert_eq!(refused, 8, "16 warpdrive channels per peer");
    // Each declares an offer of 64 MiB and sends 48 MiB of it, then stalls.
    let declared: u32 = (64 << 20) - 1;
    let mut tasks = Vec::new();
    for (mut send, recv) in streams {
        tasks.push(tokio::spawn(async move {
            let _recv = recv;
            let mut head = vec![0x01];
            head.extend_from_slice(&declared.to_be_bytes());
            let chunk = vec![0u8; 1 << 20];
            let flood = async {
                send.write_all(&head).await?;
                for _ in 0..48 {
                    send.write_all(&chunk).await?;
                }
                Ok::<_, quinn::WriteError>(())
            };
            let _ = tokio::time::timeout(Duration::from_secs(15), flood).await;
            send
        }));
    }
    let pid = a.pid();
    let mut peak = 0;
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline && tasks.iter().any(|t| !t.is_finished()) {
        peak = peak.max(rss_kib(pid) << 10);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    peak = peak.max(rss_kib(pid) << 10);
    // The cap (docs/security.md): 128 MiB of large frames in flight, plus the QUIC
    // receive window and the node's own working memory.
    let grown = peak.saturating_sub(before);
    eprintln!(
        "RSS {} MiB before the flood, {} MiB at its peak",
        before >> 20,
        peak >> 20
    );
    assert!(grown < 320 << 20, "the node grew by {} MiB", grown >> 20);
    // The node still answers its owner.
    let out = a.warp(&["peers"]);
    assert!(
        out.status.success() && text(&out).contains("mallory"),
        "{}",
        text(&out)
    );
}

#[test]
fn ping_answers_while_a_gate_is_saturated() {
    let (a, _b, listen) = echo_gate();
    // 300 connections held open, each proven spliced by one echo: the gate carries 256 at
    // once and resets the rest.
    let (mut held, mut reset) = (Vec::new(), 0);
    for _ in 0..300 {
        let mut c = TcpStream::connect(&listen).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        let mut one = [0u8; 1];
        match c.write_all(b"y").and_then(|_| c.read_exact(&mut one)) {
            Ok(()) => held.push(c),
            Err(_) => reset += 1,
        }
    }
    assert_eq!((held.len(), reset), (256, 44));
    let out = a.warp(&["ping", "bob", "-c", "2", "-i", "0.2"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        a.log().contains("256 connections are open already"),
        "{}",
        a.log()
    );
    drop(held);
    wait_until("the gate serves again", Duration::from_secs(10), || {
        echoed(&listen, b"z").is_ok_and(|b| b == b"z")
    });
}

/// A WebSocket client of the node's link hub.
async fn ws_client(node: &TestNode) -> tokio_tungstenite::WebSocketStream<tokio::net::TcpStream> {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", node.ws_port))
        .await
        .unwrap();
    let url = format!("ws://127.0.0.1:{}/", node.ws_port);
    tokio_tungstenite::client_async(url, tcp).await.unwrap().0
}

/// Bytes of every file under `dir`.
fn du(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| match e.file_type() {
                    Ok(t) if t.is_dir() => du(&e.path()),
                    _ => e.metadata().map_or(0, |m| m.len()),
                })
                .sum()
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_flooding_durable_lanes_stays_under_the_caps() {
    use futures_util::SinkExt;
    use support::measure::rss_kib;
    use tokio_tungstenite::tungstenite::Message;
    let a = TestNode::start();
    let mut ws = ws_client(&a).await;
    let before = rss_kib(a.pid()) << 10;
    let db = a.home.path().join("db");
    let db_before = du(&db);
    // 320 MiB of map entries over 320 agents, in commands of 1 MiB less a little.
    let big = "x".repeat((1 << 20) - 200);
    for i in 0..320 {
        let frame = format!(r#"@command(node:"/unit/{i}",lane:map)@update(key:{i})"{big}""#);
        ws.send(Message::Text(frame.into())).await.unwrap();
    }
    // A ping through the hub: answered once every command before it was applied.
    ws.send(Message::Text(
        r#"@sync(node:"/unit/last",lane:info)"#.into(),
    ))
    .await
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        use futures_util::StreamExt;
        let m = tokio::time::timeout(Duration::from_secs(60), ws.next())
            .await
            .expect("the hub answers")
            .unwrap()
            .unwrap();
        if let Message::Text(t) = m {
            if t.as_str().starts_with("@synced") {
                break;
            }
        }
        assert!(Instant::now() < deadline);
    }
    // sled writes its log in the background: wait until the files stop growing.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut size = du(&db);
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = du(&db);
        if now == size || Instant::now() > deadline {
            break;
        }
        size = now;
    }
    let (grown, db_grown) = (
        (rss_kib(a.pid()) << 10).saturating_sub(before),
        du(&db) - db_before,
    );
    eprintln!(
        "after 320 MiB of durable writes: RSS +{} MiB, db/ +{} MiB",
        grown >> 20,
        db_grown >> 20
    );
    assert!(grown < 200 << 20, "RSS grew {} MiB", grown >> 20);
    assert!(db_grown < 250 << 20, "db/ grew {} MiB", db_grown >> 20);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_never_reads_is_closed_before_it_costs_much() {
    use futures_util::{SinkExt, StreamExt};
    use support::measure::rss_kib;
    use tokio_tungstenite::tungstenite::Message;
    let a = TestNode::start();
    let mut sleeper = ws_client(&a).await;
    sleeper
        .send(Message::Text(r#"@link(node:"/unit/1",lane:events)"#.into()))
        .await
        .unwrap();
    let mut writer = ws_client(&a).await;
    let before = rss_kib(a.pid()) << 10;
    let big = "y".repeat((1 << 20) - 200);
    let mut peak = 0;
    for _ in 0..200 {
        let frame = format!(r#"@command(node:"/unit/1",lane:events)"{big}""#);
        writer.send(Message::Text(frame.into())).await.unwrap();
        peak = peak.max(rss_kib(a.pid()) << 10);
    }
    let grown = peak.saturating_sub(before);
    eprintln!(
        "200 MiB of events to a client that never reads: RSS +{} MiB",
        grown >> 20
    );
    assert!(grown < 120 << 20, "RSS grew {} MiB", grown >> 20);
    // The sleeper, once it reads, finds itself closed as too slow.
    let closed = async {
        while let Some(m) = sleeper.next().await {
            match m {
                Ok(Message::Close(Some(c))) => return Some(u16::from(c.code)),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
        None
    };
    let code = tokio::time::timeout(Duration::from_secs(30), closed)
        .await
        .expect("closed");
    assert_eq!(code, Some(1008));
}

#[test]
fn a_datagram_gate_carries_at_most_256_sources_at_once() {
    let server = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let target = server.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        server
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        while let Ok((n, from)) = server.recv_from(&mut buf) {
            let _ = server.send_to(&buf[..n], from);
        }
    });
    let a = TestNode::start();
    let b = TestNode::start();
    a.meet("bob", &b, "alice");
    assert!(b
        .warp(&["gate", "expose", "echo", &target, "--udp"])
        .status
        .success());
    let listen = format!("127.0.0.1:{}", support::free_port());
    let out = a.warp(&["gate", "open", &listen, "bob", "echo", "--udp"]);
    assert!(out.status.success(), "{}", text(&out));
    let sources: Vec<std::net::UdpSocket> = (0..300)
        .map(|_| {
            let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            s.set_nonblocking(true).unwrap();
            s
        })
        .collect();
    // One source after another (a burst would overflow the gate's socket buffer), each
    // answered through its own session.
    let answer = |i: usize, s: &std::net::UdpSocket, within: Duration| {
        let deadline = Instant::now() + within;
        let mut buf = [0u8; 64];
        loop {
            if let Ok(n) = s.recv(&mut buf) {
                assert_eq!(&buf[..n], format!("d{i}").as_bytes());
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    };
    for (i, s) in sources[..256].iter().enumerate() {
        s.send_to(format!("d{i}").as_bytes(), &listen).unwrap();
        assert!(
            answer(i, s, Duration::from_secs(10)),
            "source {i} unanswered"
        );
    }
    for (i, s) in sources.iter().enumerate().skip(256) {
        s.send_to(format!("d{i}").as_bytes(), &listen).unwrap();
    }
    wait_until("the node says why", Duration::from_secs(10), || {
        a.log().contains("256 sessions are open")
    });
    // The first sources' sessions still carry datagrams; the others got nothing.
    sources[0].send_to(b"d0", &listen).unwrap();
    assert!(answer(0, &sources[0], Duration::from_secs(10)));
    for (i, s) in sources.iter().enumerate().skip(256) {
        assert!(
            !answer(i, s, Duration::from_millis(10)),
            "source {i} got through"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_message_over_the_cap_closes_1009() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let a = TestNode::start();
    let mut ws = ws_client(&a).await;
    let big = format!(
        r#"@command(node:"/unit/1",lane:events)"{}""#,
        "x".repeat(2 << 20)
    );
    let _ = ws.send(Message::Text(big.into())).await;
    let code = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(m) = ws.next().await {
            match m {
                Ok(Message::Close(Some(c))) => return Some(u16::from(c.code)),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
        None
    })
    .await
    .expect("closed within 10 s");
    assert_eq!(code, Some(1009));
}

#[tokio::test(flavor = "multi_thread")]
async fn every_service_answers_a_version_it_does_not_speak_and_keeps_the_connection() {
    use protocols::channel::ChannelReply;
    use support::hostile::HostileKey;
    let a = TestNode::start();
    let key = HostileKey::new();
    let out = a.warp(&["peers", "add", "mallory", &key.id]);
    assert!(out.status.success(), "{}", text(&out));
    let h = key.connect(a.addr().parse().unwrap()).await.unwrap();
    for service in [
        "ping",
        "sink",
        "warpdrive",
        "gate/web",
        "dgram/dns",
        "gate-check/web",
        "dgram-check/dns",
        "flow/cam",
    ] {
        match h.channel(service, 99).await.unwrap() {
            (_, _, ChannelReply::UnsupportedVersion(why)) => {
                assert!(why.contains("not 99"), "{service}: {why}")
            }
            (_, _, other) => panic!("{service}: {other:?}"),
        }
    }
    // An unknown service is named as such; the connection stays up through all of it.
    match h.channel("teleport", 1).await.unwrap() {
        (_, _, ChannelReply::UnknownService(why)) => assert!(why.contains("teleport"), "{why}"),
        (_, _, other) => panic!("{other:?}"),
    }
    assert_eq!(h.closed(), None);
}
