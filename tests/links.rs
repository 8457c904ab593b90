//! The WARP link hub over real WebSockets against node processes: link, sync, command,
//! unlink on value, map and supply lanes; errors and close codes; auth; declared agents;
//! durability across a restart; the `/hub` agent; shutdown; a slow client.

mod support;

use std::time::{Duration, Instant};

use futures_util::SinkExt;
use support::ws::connect;
use support::{text, TestNode};
use tokio_tungstenite::tungstenite::Message;

#[tokio::test(flavor = "multi_thread")]
async fn value_lanes_link_sync_command_and_unlink_as_the_spec_says() {
    let node = TestNode::start();
    let mut a = connect(&node, true).await;
    assert_eq!(a.protocol.as_deref(), Some("warp0"));
    let mut b = connect(&node, false).await;
    assert_eq!(b.protocol, None, "no subprotocol offered, none answered");

    a.send(r#"@sync(node:"/unit/1",lane:info)"#).await;
    assert_eq!(a.recv().await, r#"@linked(node:"/unit/1",lane:info)"#);
    assert_eq!(a.recv().await, r#"@event(node:"/unit/1",lane:info)"#);
    assert_eq!(a.recv().await, r#"@synced(node:"/unit/1",lane:info)"#);
    b.send(r#"@link(node:"/unit/1",lane:info)"#).await;
    assert_eq!(b.recv().await, r#"@linked(node:"/unit/1",lane:info)"#);

    b.send(r#"@command(node:"/unit/1",lane:info){name:"pump",on:true}"#)
        .await;
    let event = r#"@event(node:"/unit/1",lane:info) {name:pump,on:true}"#;
    assert_eq!(a.recv().await, event);
    assert_eq!(b.recv().await, event);

    // A sync on an open link: the state again, and no second @linked.
    b.send(r#"@sync(node:"/unit/1",lane:info)"#).await;
    assert_eq!(b.recv().await, event);
    assert_eq!(b.recv().await, r#"@synced(node:"/unit/1",lane:info)"#);

    a.send(r#"@unlink(node:"/unit/1",lane:info)"#).await;
    assert_eq!(
        a.recv().await,
        r#"@unlinked(node:"/unit/1",lane:info) "Link closed.""#
    );
    a.send(r#"@unlink(node:"/unit/1",lane:info)"#).await;
    b.send(r#"@command(node:"/unit/1",lane:info)5"#).await;
    assert_eq!(b.recv().await, r#"@event(node:"/unit/1",lane:info) 5"#);
    // The event went to b's link at once; a, unlinked, hears nothing and stays connected.
    a.silent(Duration::from_millis(300)).await;
    a.send(r#"@sync(node:"/unit/1",lane:info)"#).await;
    assert_eq!(a.recv().await, r#"@linked(node:"/unit/1",lane:info)"#);
    assert_eq!(a.recv().await, r#"@event(node:"/unit/1",lane:info) 5"#);
}

#[tokio::test(flavor = "multi_thread")]
async fn map_and_supply_lanes_carry_their_events() {
    let node = TestNode::start();
    let mut c = connect(&node, true).await;
    c.send(r#"@command(node:"/unit/2",lane:map)@update(key:a){x:1,y:2}"#)
        .await;
    c.send(r#"@command(node:"/unit/2",lane:map)@update(key:b) 7"#)
        .await;
    c.send(r#"@sync(node:"/unit/2",lane:map)"#).await;
    assert_eq!(c.recv().await, r#"@linked(node:"/unit/2",lane:map)"#);
    assert_eq!(
        c.recv().await,
        r#"@event(node:"/unit/2",lane:map)@update(key:a){x:1,y:2}"#
    );
    assert_eq!(
        c.recv().await,
        r#"@event(node:"/unit/2",lane:map)@update(key:b) 7"#
    );
    assert_eq!(c.recv().await, r#"@synced(node:"/unit/2",lane:map)"#);
    c.send(r#"@command(node:"/unit/2",lane:map)@remove(key:a)"#)
        .await;
    assert_eq!(
        c.recv().await,
        r#"@event(node:"/unit/2",lane:map)@remove(key:a)"#
    );
    c.send(r#"@command(node:"/unit/2",lane:map)@update(key:c)3"#)
        .await;
    assert_eq!(
        c.recv().await,
        r#"@event(node:"/unit/2",lane:map)@update(key:c) 3"#
    );
    c.send(r#"@command(node:"/unit/2",lane:map)@drop(1)"#).await;
    assert_eq!(
        c.recv().await,
        r#"@event(node:"/unit/2",lane:map)@remove(key:b)"#
    );
    c.send(r#"@command(node:"/unit/2",lane:map)@clear"#).await;
    assert_eq!(c.recv().await, r#"@event(node:"/unit/2",lane:map)@clear"#);

    c.send(r#"@link(node:"/unit/2",lane:events)"#).await;
    assert_eq!(c.recv().await, r#"@linked(node:"/unit/2",lane:events)"#);
    for i in 0..3 {
        c.send(&format!(r#"@command(node:"/unit/2",lane:events){i}"#))
            .await;
    }
    for i in 0..3 {
        assert_eq!(
            c.recv().await,
            format!(r#"@event(node:"/unit/2",lane:events) {i}"#)
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_nodes_and_lanes_and_bad_frames_get_the_spec_answers() {
    let node = TestNode::start();
    let mut c = connect(&node, true).await;
    c.send(r#"@link(node:"/nope",lane:info)"#).await;
    assert_eq!(
        c.recv().await,
        r#"@unlinked(node:"/nope",lane:info)@nodeNotFound"#
    );
    c.send(r#"@sync(node:"/unit/3",lane:nope)"#).await;
    assert_eq!(
        c.recv().await,
        r#"@unlinked(node:"/unit/3",lane:nope)@laneNotFound"#
    );
    // A command to a missing lane is dropped, and the connection carries on.
    c.send(r#"@command(node:"/nope",lane:x)1"#).await;
    c.send(r#"@link(node:"/unit/3",lane:info)"#).await;
    assert_eq!(c.recv().await, r#"@linked(node:"/unit/3",lane:info)"#);

    c.send("{}").await;
    assert_eq!(
        c.closed().await,
        (1002, "Expected a valid Warp envelope.".to_string())
    );
    let mut c = connect(&node, false).await;
    c.send(r#"@unknown(node: "/node", lane: name)@body {a: 1}"#)
        .await;
    assert_eq!(c.closed().await.0, 1002);
    let mut c = connect(&node, false).await;
    c.ws.send(Message::Binary(vec![1, 2, 3].into()))
        .await
        .unwrap();
    assert_eq!(
        c.closed().await,
        (1002, "Expected string data.".to_string())
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_declared_agents_and_durable_lanes_survive_a_restart() {
    let mut node = TestNode::start();
    std::fs::write(
        node.home.path().join("warp.toml"),
        "[links]\ntokens = [\"s3cret\"]\n\n[[links.agent]]\nroute = \"/room/:id\"\nlanes = [{ name = \"topic\", kind = \"value\", durable = true }, { name = \"chat\", kind = \"supply\" }]\n",
    )
    .unwrap();
    node.kill();
    node.spawn();

    // Linking before @auth: @deauthed, close 1008.
    let mut c = connect(&node, true).await;
    c.send(r#"@link(node:"/room/1",lane:topic)"#).await;
    assert_eq!(c.recv().await, "@deauthed");
    assert_eq!(c.closed().await, (1008, "Unauthorized".to_string()));
    let mut c = connect(&node, true).await;
    c.send("@auth wrong").await;
    assert_eq!(c.recv().await, "@deauthed");
    assert_eq!(c.closed().await.0, 1008);

    let mut c = connect(&node, true).await;
    c.send(r#"@auth{token:"s3cret"}"#).await;
    assert_eq!(c.recv().await, "@authed");
    c.send(r#"@command(node:"/room/1",lane:topic)"rust meetup""#)
        .await;
    c.send(r#"@command(node:"/unit/9",lane:map)@update(key:k)v"#)
        .await;
    c.send(r#"@sync(node:"/room/1",lane:topic)"#).await;
    assert_eq!(c.recv().await, r#"@linked(node:"/room/1",lane:topic)"#);
    assert_eq!(
        c.recv().await,
        r#"@event(node:"/room/1",lane:topic) "rust meetup""#
    );

    // A clean restart (sled writes lanes in batches; a crash may lose the last half second).
    drop(c);
    assert!(node.interrupt().success());
    node.spawn();
    let mut c = connect(&node, true).await;
    c.send("@auth s3cret").await;
    assert_eq!(c.recv().await, "@authed");
    c.send(r#"@sync(node:"/room/1",lane:topic)"#).await;
    assert_eq!(c.recv().await, r#"@linked(node:"/room/1",lane:topic)"#);
    assert_eq!(
        c.recv().await,
        r#"@event(node:"/room/1",lane:topic) "rust meetup""#
    );
    assert_eq!(c.recv().await, r#"@synced(node:"/room/1",lane:topic)"#);
    c.send(r#"@sync(node:"/unit/9",lane:map)"#).await;
    assert_eq!(c.recv().await, r#"@linked(node:"/unit/9",lane:map)"#);
    assert_eq!(
        c.recv().await,
        r#"@event(node:"/unit/9",lane:map)@update(key:k) v"#
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_hub_agent_shows_the_node_and_pings_peers() {
    let a = TestNode::start();
    let b = TestNode::start();
    a.meet("bob", &b, "alice");
    let mut c = connect(&a, true).await;
    // Only the owner may use the node's own agent.
    c.send(r#"@sync(node:"/hub",lane:info)"#).await;
    assert_eq!(
        c.recv().await,
        r#"@unlinked(node:"/hub",lane:info)@nodeNotFound"#
    );
    c.send(&format!("@auth {:?}", a.api_token())).await;
    assert_eq!(c.recv().await, "@authed");
    c.send(r#"@sync(node:"/hub",lane:info)"#).await;
    assert_eq!(c.recv().await, r#"@linked(node:"/hub",lane:info)"#);
    let info = c.recv().await;
    assert!(info.contains(&a.id) && info.contains("uptime"), "{info}");
    c.send(r#"@unlink(node:"/hub",lane:info)"#).await;
    // Skip any info event sent before the unlink.
    while !c.recv().await.starts_with("@unlinked") {}

    c.send(r#"@sync(node:"/hub",lane:peers)"#).await;
    assert_eq!(c.recv().await, r#"@linked(node:"/hub",lane:peers)"#);
    // In the state, or within the next refresh (every second).
    let peers = loop {
        let f = c.recv().await;
        if f.contains("@update(key:bob)") {
            break f;
        }
    };
    assert!(peers.contains(&b.id), "{peers}");

    c.send(r#"@link(node:"/hub",lane:ping)"#).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut sent = false;
    loop {
        let f = c.recv().await;
        if f.starts_with(r#"@linked(node:"/hub",lane:ping)"#) && !sent {
            c.send(r#"@command(node:"/hub",lane:ping)bob"#).await;
            sent = true;
        }
        if f.starts_with(r#"@event(node:"/hub",lane:ping)"#) {
            assert!(f.contains("peer:bob") && f.contains("rtt_us"), "{f}");
            break;
        }
        assert!(Instant::now() < deadline, "no ping result");
    }
    // The read-only lanes ignore commands: the link stays open and the lane keeps the
    // node's own state.
    c.send(r#"@command(node:"/hub",lane:info)42"#).await;
    c.send(r#"@sync(node:"/hub",lane:info)"#).await;
    let mut info_frames = Vec::new();
    while !info_frames
        .last()
        .is_some_and(|f: &String| f.starts_with(r#"@synced(node:"/hub",lane:info)"#))
    {
        let f = c.recv().await;
        if f.contains(r#"lane:info)"#) {
            info_frames.push(f);
        }
    }
    assert_eq!(info_frames[0], r#"@linked(node:"/hub",lane:info)"#);
    let state = &info_frames[1];
    // An id that starts with a digit is written as a quoted text, not an identifier.
    let id = recon::to_string(&a.id).unwrap();
    let own = format!(r#"@event(node:"/hub",lane:info) {{id:{id},"#);
    assert!(state.starts_with(&own), "{info_frames:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stopping_node_unlinks_every_link_and_closes_1001() {
    let mut node = TestNode::start();
    let mut c = connect(&node, true).await;
    c.send(r#"@link(node:"/unit/4",lane:info)"#).await;
    assert_eq!(c.recv().await, r#"@linked(node:"/unit/4",lane:info)"#);
    let status = tokio::task::spawn_blocking(move || {
        let s = node.interrupt();
        (node, s)
    });
    assert_eq!(c.recv().await, r#"@unlinked(node:"/unit/4",lane:info)"#);
    assert_eq!(c.closed().await.0, 1001);
    let (_node, s) = status.await.unwrap();
    assert!(s.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_client_is_closed_without_slowing_a_fast_one() {
    let node = TestNode::start();
    let mut slow = connect(&node, true).await;
    let mut fast = connect(&node, true).await;
    slow.send(r#"@link(node:"/unit/5",lane:events)"#).await;
    assert_eq!(slow.recv().await, r#"@linked(node:"/unit/5",lane:events)"#);
    fast.send(r#"@link(node:"/unit/5",lane:events)"#).await;
    assert_eq!(fast.recv().await, r#"@linked(node:"/unit/5",lane:events)"#);
    let mut writer = connect(&node, true).await;
    // The writer stays at most 20 000 events ahead of the fast client (which keeps up by
    // definition), while the slow one reads nothing: its socket buffers fill, then its
    // queue passes the bound.
    const N: usize = 300_000;
    let received = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let seen = received.clone();
    let send = tokio::spawn(async move {
        for i in 0..N {
            while i > seen.load(std::sync::atomic::Ordering::Relaxed) + 20_000 {
                writer.ws.flush().await.unwrap();
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            writer
                .ws
                .feed(Message::Text(
                    format!(r#"@command(node:"/unit/5",lane:events){i}"#).into(),
                ))
                .await
                .unwrap();
        }
        writer.ws.flush().await.unwrap();
        writer
    });
    for i in 0..N {
        let f = fast.recv().await;
        assert_eq!(f, format!(r#"@event(node:"/unit/5",lane:events) {i}"#));
        received.store(i, std::sync::atomic::Ordering::Relaxed);
    }
    let _writer = send.await.unwrap();
    let (code, reason) = slow.closed().await;
    assert_eq!(code, 1008, "{reason}");
    assert!(reason.contains("too slow"), "{reason}");
}

#[test]
fn the_hub_refuses_to_listen_beyond_loopback_without_tokens() {
    let home = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_warp"))
        .args([
            "node",
            "--listen",
            "127.0.0.1:0",
            "--api",
            "off",
            "--ws",
            &format!("0.0.0.0:{port}"),
        ])
        .env("WARP_HOME", home.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--ws-public"), "{}", text(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_hub_offers_lane_follows_warpdrive_offers() {
    let a = TestNode::start();
    let b = TestNode::start();
    a.meet("bob", &b, "alice");
    let mut c = connect(&b, true).await;
    c.send(&format!("@auth {:?}", b.api_token())).await;
    assert_eq!(c.recv().await, "@authed");
    c.send(r#"@link(node:"/hub",lane:offers)"#).await;
    assert_eq!(c.recv().await, r#"@linked(node:"/hub",lane:offers)"#);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hello.txt");
    std::fs::write(&file, b"hi").unwrap();
    let out = a.warp(&["share", "bob", file.to_str().unwrap(), "--no-wait"]);
    assert!(out.status.success(), "{}", text(&out));
    let f = c.recv().await;
    assert!(
        f.starts_with(r#"@event(node:"/hub",lane:offers)@update(key:"#),
        "{f}"
    );
    assert!(
        f.contains("status:@awaiting") && f.contains("hello.txt"),
        "{f}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_text_frame_that_is_not_utf8_closes_1002_invalid_encoding() {
    use tokio::io::AsyncWriteExt;
    let node = TestNode::start();
    let mut c = connect(&node, true).await;
    // A masked text frame (FIN, opcode 1) carrying 0xff 0xfe, written under the client
    // library, which would not send it.
    let mask = [1u8, 2, 3, 4];
    let payload = [0xffu8, 0xfe];
    let mut frame = vec![0x81, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    c.ws.get_mut().write_all(&frame).await.unwrap();
    assert_eq!(c.closed().await, (1002, "Invalid encoding.".to_string()));
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_and_routes_follow_the_file_when_it_is_saved() {
    let node = TestNode::start();
    let mut c = connect(&node, true).await;
    c.send(r#"@link(node:"/lab/1",lane:temp)"#).await;
    assert_eq!(
        c.recv().await,
        r#"@unlinked(node:"/lab/1",lane:temp)@nodeNotFound"#
    );
    std::fs::write(
        node.home.path().join("warp.toml"),
        "[[links.agent]]\nroute = \"/lab/:id\"\nlanes = [{ name = \"temp\", kind = \"value\" }]\n",
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        c.send(r#"@link(node:"/lab/1",lane:temp)"#).await;
        let f = c.recv().await;
        if f == r#"@linked(node:"/lab/1",lane:temp)"# {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the new route never applied: {f}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Tokens added on save apply to new connections.
    std::fs::write(
        node.home.path().join("warp.toml"),
        "[links]\ntokens = [\"t\"]\n",
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut d = connect(&node, true).await;
        d.send(r#"@link(node:"/unit/1",lane:info)"#).await;
        if d.recv().await == "@deauthed" {
            assert_eq!(d.closed().await.0, 1008);
            break;
        }
        assert!(Instant::now() < deadline, "tokens never applied");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
