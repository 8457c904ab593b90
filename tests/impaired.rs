//! The tunnel on a bad network: both nodes run with `--impair`.

mod support;

use std::time::Duration;

use support::{text, TestNode};

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

    let mut bulk = a.spawn_warp(&["speed", "bob", "-n", "50M", "--seed", "5"]);
    std::thread::sleep(Duration::from_millis(300));
    let ping = a.warp(&["ping", "bob", "-c", "3", "-i", "0.02", "-s", "100"]);
    let bulk_still_running = bulk.try_wait().unwrap().is_none();

    let pt = text(&ping);
    assert!(ping.status.success(), "{pt}");
    assert!(pt.contains("3 probes transmitted, 3 received"), "{pt}");
    // Each probe crossed a 10 ms (±5 ms) delay each way.
    assert!(!pt.contains("time=0."), "{pt}");

    let out = bulk.wait_with_output().unwrap();
    let bt = text(&out);
    assert!(out.status.success(), "{bt}");
    assert!(
        bt.contains("sent 50.0 MiB to bob") && bt.contains("SHA-256 verified"),
        "{bt}"
    );
    assert!(
        bulk_still_running,
        "the bulk channel ended before the pings: nothing overlapped\n{bt}"
    );
}
