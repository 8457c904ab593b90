//! The tunnel on a bad network: both nodes run with `--impair`.

mod support;

use std::time::Duration;

use support::measure::ping_ms;
use support::{text, TestNode};
use warp::control::{Client, Request, Response};

const IMPAIR: &str = "loss=10%,delay=10ms,jitter=5ms";

#[test]
fn fifty_mib_arrive_intact_while_a_second_channel_keeps_flowing() {
    let a = TestNode::start_with(&["--impair", &format!("{IMPAIR},seed=11")]);
    let b = TestNode::start_with(&["--impair", &format!("{IMPAIR},seed=12")]);
    a.meet("bob", &b, "alice");
    assert!(
        a.log().contains("impairing every datagram sent: loss=10%"),
        "{}",
        a.log()
    );

    // The bulk transfer asked of the node directly, so its progress can be read: the
    // pings go out once bytes are moving, and bytes still move after they are back.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let asked = std::time::Instant::now();
    let mut bulk = rt
        .block_on(Client::request(
            a.home.path(),
            &Request::Speed {
                peer: "bob".into(),
                bytes: 50 << 20,
                seed: 5,
                verify: true,
                mode: Default::default(),
            },
        ))
        .unwrap();
    let mut next = || {
        rt.block_on(async { tokio::time::timeout(Duration::from_secs(60), bulk.next()).await })
            .expect("the node reports on the transfer")
            .unwrap()
    };
    let moving = |r: &Response| matches!(r, Response::SpeedProgress { bytes, .. } if *bytes > 0);
    let mut r = next();
    for _ in 0..1000 {
        if moving(&r) || r.is_final() {
            break;
        }
        r = next();
    }
    assert!(moving(&r), "the bulk transfer never moved: {r:?}");

    let ping = a.warp(&["ping", "bob", "-c", "3", "-i", "0.02", "-s", "100"]);
    let pt = text(&ping);
    assert!(ping.status.success(), "{pt}");
    assert!(pt.contains("3 probes transmitted, 3 received"), "{pt}");
    // Each probe crossed a 10 ms (±5 ms) delay each way.
    assert!(!pt.contains("time=0."), "{pt}");

    let pings_done = asked.elapsed();

    // The bulk transfer arrives intact, and it ended after the pings did: its first byte
    // came after it was asked for, so it ended at least its own duration after that.
    let mut last = next();
    for _ in 0..10_000 {
        if last.is_final() {
            break;
        }
        last = next();
    }
    let Response::SpeedDone {
        bytes,
        micros,
        verified,
    } = last
    else {
        panic!("{last:?}");
    };
    assert_eq!(bytes, 50 << 20);
    assert!(verified, "the bytes did not arrive intact");
    assert!(
        Duration::from_micros(micros) > pings_done,
        "the bulk channel ended before the pings: nothing overlapped"
    );
}

#[test]
fn an_impairment_scoped_to_one_path_leaves_the_others_alone() {
    let b = TestNode::start();
    let c = TestNode::start();
    // Everything Alice sends to Bob's address waits 300 ms; what she sends to Carol
    // does not.
    let a = TestNode::start_with(&["--impair", &format!("delay=300ms,to={}", b.addr())]);
    assert!(
        a.log()
            .contains(&format!("impairing every datagram sent to {}", b.addr())),
        "{}",
        a.log()
    );
    // Only Alice dials (Bob and Carol know her without an address): one connection each,
    // with no tie-break between two dials to replace it under the pings.
    a.add_peer("bob", &b);
    a.add_peer("carol", &c);
    for other in [&b, &c] {
        let out = other.warp(&["peers", "add", "alice", &a.id]);
        assert!(out.status.success(), "{}", text(&out));
    }
    let to_bob = a.warp(&["ping", "bob", "-c", "3", "-i", "0.05"]);
    let to_carol = a.warp(&["ping", "carol", "-c", "3", "-i", "0.05"]);
    let (tb, tc) = (text(&to_bob), text(&to_carol));
    assert!(
        to_bob.status.success() && to_carol.status.success(),
        "{tb}{tc}"
    );
    let (bob, carol) = (ping_ms(&tb), ping_ms(&tc));
    assert_eq!((bob.len(), carol.len()), (3, 3), "{tb}{tc}");
    assert!(bob.iter().all(|&ms| ms >= 300.0), "{tb}");
    assert!(carol.iter().all(|&ms| ms < 300.0), "{tc}");
}
