//! WARP links across the tunnel: a client of node a links `/peer/bob/<node>` and gets the
//! lane of node b as if it were a's — value, map and supply lanes, sync, commands — as far
//! as b lets a (`warp peers set alice links none|read|write`, default none); refusals
//! come as `@unlinked` with the reason; b restarting unlinks the links, which link again
//! when it is back; two clients of a linked to one lane of b make one link on b.

mod support;

use std::time::Duration;

use support::ws::{connect, Client};
use support::TestNode;

/// Frames until one that starts with `prefix` (10 s at most), skipping others.
async fn until(c: &mut Client, prefix: &str) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let f = tokio::time::timeout_at(deadline, c.recv())
            .await
            .unwrap_or_else(|_| panic!("no frame starting {prefix:?} within 10 s"));
        if f.starts_with(prefix) {
            return f;
        }
    }
}

fn pair() -> (TestNode, TestNode) {
    let a = TestNode::start();
    let b = TestNode::start();
    a.meet("bob", &b, "alice");
    (a, b)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lane_on_bob_reads_and_writes_as_if_it_were_local() {
    let (a, b) = tokio::task::spawn_blocking(pair).await.unwrap();
    b.ok(&["peers", "set", "alice", "links", "write"]);
    let mut here = connect(&a, true).await;
    let mut there = connect(&b, true).await;

    // Bob's own client sets the value; a's client, linked through the tunnel, sees it.
    there
        .send(r#"@command(node:"/unit/1",lane:info)"from bob""#)
        .await;
    there.send(r#"@sync(node:"/unit/1",lane:info)"#).await;
    until(&mut there, "@synced").await;
    here.send(r#"@sync(node:"/peer/bob/unit/1",lane:info)"#)
        .await;
    assert_eq!(
        here.recv().await,
        r#"@linked(node:"/peer/bob/unit/1",lane:info)"#
    );
    assert_eq!(
        here.recv().await,
        r#"@event(node:"/peer/bob/unit/1",lane:info) "from bob""#
    );
    assert_eq!(
        here.recv().await,
        r#"@synced(node:"/peer/bob/unit/1",lane:info)"#
    );
    // A command from a's client changes bob's lane: bob's client sees it, and so does a's.
    here.send(r#"@command(node:"/peer/bob/unit/1",lane:info)"from alice""#)
        .await;
    assert_eq!(
        until(&mut there, "@event").await,
        r#"@event(node:"/unit/1",lane:info) "from alice""#
    );
    assert_eq!(
        until(&mut here, "@event").await,
        r#"@event(node:"/peer/bob/unit/1",lane:info) "from alice""#
    );

    // A map lane and a supply lane the same way.
    here.send(r#"@sync(node:"/peer/bob/unit/1",lane:map)"#)
        .await;
    until(&mut here, "@synced").await;
    there
        .send(r#"@command(node:"/unit/1",lane:map)@update(key:mode)auto"#)
        .await;
    assert_eq!(
        until(&mut here, "@event").await,
        r#"@event(node:"/peer/bob/unit/1",lane:map)@update(key:mode) auto"#
    );
    here.send(r#"@link(node:"/peer/bob/unit/1",lane:events)"#)
        .await;
    until(&mut here, "@linked").await;
    for line in ["one", "two"] {
        there
            .send(&format!(r#"@command(node:"/unit/1",lane:events){line}"#))
            .await;
    }
    assert_eq!(
        until(&mut here, "@event").await,
        r#"@event(node:"/peer/bob/unit/1",lane:events) one"#
    );
    assert_eq!(
        until(&mut here, "@event").await,
        r#"@event(node:"/peer/bob/unit/1",lane:events) two"#
    );

    // Bob's /hub can be read remotely; a missing lane is said so.
    here.send(r#"@sync(node:"/peer/bob/hub",lane:peers)"#).await;
    assert_eq!(
        here.recv().await,
        r#"@linked(node:"/peer/bob/hub",lane:peers)"#
    );
    here.send(r#"@link(node:"/peer/bob/unit/1",lane:nothing)"#)
        .await;
    assert_eq!(
        until(&mut here, "@unlinked").await,
        r#"@unlinked(node:"/peer/bob/unit/1",lane:nothing)@laneNotFound"#
    );
    here.send(r#"@unlink(node:"/peer/bob/unit/1",lane:info)"#)
        .await;
    assert_eq!(
        until(&mut here, "@unlinked").await,
        r#"@unlinked(node:"/peer/bob/unit/1",lane:info) "Link closed.""#
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bob_decides_what_alice_may_do_and_says_why() {
    let (a, b) = tokio::task::spawn_blocking(pair).await.unwrap();
    let mut here = connect(&a, true).await;
    // Default: nothing.
    here.send(r#"@link(node:"/peer/bob/unit/1",lane:info)"#)
        .await;
    let refused = until(&mut here, "@unlinked").await;
    assert!(
        refused.starts_with(r#"@unlinked(node:"/peer/bob/unit/1",lane:info)@refused("#)
            && refused.contains("links read"),
        "{refused}"
    );
    // Read: links, but a command is refused with the reason, and bob's lane unchanged.
    b.ok(&["peers", "set", "alice", "links", "read"]);
    here.send(r#"@sync(node:"/peer/bob/unit/1",lane:info)"#)
        .await;
    until(&mut here, "@synced").await;
    here.send(r#"@command(node:"/peer/bob/unit/1",lane:info)"sneaky""#)
        .await;
    let forbidden = until(&mut here, "@unlinked").await;
    assert!(
        forbidden.contains("@forbidden(") && forbidden.contains("links write"),
        "{forbidden}"
    );
    let mut there = connect(&b, true).await;
    there.send(r#"@sync(node:"/unit/1",lane:info)"#).await;
    until(&mut there, "@linked").await;
    assert_eq!(
        there.recv().await,
        r#"@event(node:"/unit/1",lane:info)"#,
        "bob's lane is unchanged"
    );
    // Taken away again: the open link is unlinked, and a new one refused.
    here.send(r#"@link(node:"/peer/bob/unit/2",lane:info)"#)
        .await;
    until(&mut here, "@linked").await;
    b.ok(&["peers", "set", "alice", "links", "none"]);
    let gone = until(&mut here, "@unlinked").await;
    assert!(gone.contains("/peer/bob/unit/2"), "{gone}");
    let refused = until(&mut here, "@unlinked").await;
    assert!(refused.contains("@refused("), "{refused}");
}

#[tokio::test(flavor = "multi_thread")]
async fn links_to_a_peer_that_restarts_are_unlinked_then_linked_again() {
    let (a, mut b) = tokio::task::spawn_blocking(pair).await.unwrap();
    b.ok(&["peers", "set", "alice", "links", "write"]);
    let mut here = connect(&a, true).await;
    here.send(r#"@sync(node:"/peer/bob/unit/1",lane:info)"#)
        .await;
    until(&mut here, "@synced").await;
    let mut b = tokio::task::spawn_blocking(move || {
        b.kill();
        b
    })
    .await
    .unwrap();
    let gone = until(&mut here, "@unlinked").await;
    assert!(
        gone.contains("@unreachable(") && gone.contains("linked again when it is back"),
        "{gone}"
    );
    // A client that links while bob is away hears so at once, and waits with the others.
    let mut late = connect(&a, true).await;
    late.send(r#"@link(node:"/peer/bob/unit/1",lane:info)"#)
        .await;
    let away = until(&mut late, "@unlinked").await;
    assert!(away.contains("@unreachable("), "{away}");
    let b = tokio::task::spawn_blocking(move || {
        b.spawn();
        b
    })
    .await
    .unwrap();
    for c in [&mut here, &mut late] {
        assert_eq!(
            until(c, "@linked").await,
            r#"@linked(node:"/peer/bob/unit/1",lane:info)"#
        );
    }
    let mut there = connect(&b, true).await;
    there
        .send(r#"@command(node:"/unit/1",lane:info)"back again""#)
        .await;
    for c in [&mut here, &mut late] {
        assert_eq!(
            until(c, "@event").await,
            r#"@event(node:"/peer/bob/unit/1",lane:info) "back again""#
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn many_clients_of_one_lane_make_one_link_on_the_peer() {
    let (a, b) = tokio::task::spawn_blocking(pair).await.unwrap();
    b.ok(&["peers", "set", "alice", "links", "read"]);
    let mut clients = Vec::new();
    for _ in 0..3 {
        let mut c = connect(&a, true).await;
        c.send(r#"@sync(node:"/peer/bob/unit/1",lane:info)"#).await;
        until(&mut c, "@synced").await;
        clients.push(c);
    }
    // Bob's /hub, read by its owner: the links peers hold to its lanes.
    let mut owner = connect(&b, true).await;
    owner.send(&format!("@auth {:?}", b.api_token())).await;
    assert_eq!(owner.recv().await, "@authed");
    owner.send(r#"@link(node:"/hub",lane:info)"#).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let f = until(&mut owner, "@event").await;
        if f.contains("peer_links:1") {
            break;
        }
        assert!(
            !f.contains("peer_links:2") && !f.contains("peer_links:3"),
            "one link per lane per peer: {f}"
        );
        assert!(tokio::time::Instant::now() < deadline, "{f}");
    }
    // Each of the three clients gets each event.
    let mut writer = connect(&b, true).await;
    writer
        .send(r#"@command(node:"/unit/1",lane:info)"to all""#)
        .await;
    for c in &mut clients {
        assert_eq!(
            until(c, "@event").await,
            r#"@event(node:"/peer/bob/unit/1",lane:info) "to all""#
        );
    }
    // The last client to unlink ends the link on bob.
    for c in &mut clients {
        c.send(r#"@unlink(node:"/peer/bob/unit/1",lane:info)"#)
            .await;
        until(c, "@unlinked").await;
    }
    loop {
        let f = until(&mut owner, "@event").await;
        if f.contains("peer_links:0") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline + Duration::from_secs(10),
            "{f}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_slow_client_of_a_remote_value_lane_gets_the_latest_value_not_every_one() {
    let (a, b) = tokio::task::spawn_blocking(pair).await.unwrap();
    b.ok(&["peers", "set", "alice", "links", "read"]);
    let mut slow = connect(&a, true).await;
    slow.send(r#"@sync(node:"/peer/bob/unit/3",lane:info)"#)
        .await;
    until(&mut slow, "@synced").await;
    // Bob's lane changes 20 000 times (40 MB of values, far more than socket buffers
    // hold) while the client reads nothing.
    let mut writer = connect(&b, true).await;
    let pad = "x".repeat(2000);
    for i in 0..20_000 {
        writer
            .send(&format!(r#"@command(node:"/unit/3",lane:info)"{pad} {i}""#))
            .await;
    }
    writer.send(r#"@sync(node:"/unit/3",lane:info)"#).await;
    until(&mut writer, "@synced").await;
    // Then it reads: the events it missed were conflated, the last one is there, and
    // the connection was never closed as too slow.
    let mut seen = 0;
    loop {
        let f = until(&mut slow, "@event").await;
        seen += 1;
        if f.ends_with(" 19999\"") {
            break;
        }
    }
    assert!(
        seen < 20_000,
        "every event came ({seen}): nothing was conflated"
    );
    slow.send(r#"@unlink(node:"/peer/bob/unit/3",lane:info)"#)
        .await;
    until(&mut slow, "@unlinked").await;
}
