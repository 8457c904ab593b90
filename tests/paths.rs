//! Paths to a peer, between two hosts joined by two links in network namespaces (made
//! and removed by each test; nothing leaves them).

mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener};
use std::time::{Duration, Instant};

use support::netns::TwoLinks;
use support::paths::{
    busiest_link, gate_across, numbered, path_states, redundant_flow, two_nodes_with, tx_by_path,
};
use support::{text, wait_until, TestNode};

/// Two nodes in `links`' namespaces, each knowing both addresses of the other, with
/// both paths up.
fn two_nodes(links: &TwoLinks) -> (TestNode, TestNode, [String; 2]) {
    let (a, b, addrs) = two_nodes_with(links, (&[], &[]), &[1, 2]);
    let [b1, b2]: [String; 2] = addrs.try_into().unwrap();
    (a, b, [b1, b2])
}

/// Accepts one connection on `listener` and reads it to its end, checking that byte `i`
/// is `i % 251`: the bytes read, the first offset that was wrong, and the longest wait
/// between two reads.
fn check_pattern(listener: TcpListener) -> (u64, Option<u64>, Duration) {
    let (mut s, _) = listener.accept().unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    let (mut count, mut wrong, mut longest) = (0u64, None, Duration::ZERO);
    let mut last: Option<Instant> = None;
    loop {
        let n = match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => panic!("after {count} bytes: {e}"),
        };
        let now = Instant::now();
        if let Some(at) = last {
            longest = longest.max(now - at);
        }
        last = Some(now);
        for &byte in &buf[..n] {
            if wrong.is_none() && byte != (count % 251) as u8 {
                wrong = Some(count);
            }
            count += 1;
        }
    }
    (count, wrong, longest)
}

/// The bytes from offset `from` of the pattern [`check_pattern`] expects.
fn pattern(from: u64, len: usize) -> Vec<u8> {
    (from..from + len as u64).map(|i| (i % 251) as u8).collect()
}

#[test]
fn each_link_is_a_path_and_a_dead_one_shows_down_then_rejoins() {
    let links = TwoLinks::new();
    let (a, _b, [b1, b2]) = two_nodes(&links);
    links.down(1);
    let cut = Instant::now();
    // Down while the connection still exists: its silence was noticed, long before the
    // 4 s idle timeout would have ended it.
    wait_until("path 1 down", Duration::from_secs(3), || {
        path_states(&a, "bob").contains(&(b1.clone(), "down".to_string()))
    });
    eprintln!("path 1 down {:?} after its link", cut.elapsed());
    assert!(path_states(&a, "bob").contains(&(b2.clone(), "up".to_string())));
    let out = a.warp(&["ping", "bob", "-c", "2", "-i", "0.05"]);
    assert!(out.status.success(), "{}", text(&out));
    links.up(1);
    wait_until("path 1 back up", Duration::from_secs(20), || {
        path_states(&a, "bob")
            == vec![
                (b1.clone(), "up".to_string()),
                (b2.clone(), "up".to_string()),
            ]
    });
}

/// Carries about 8 MB/s for 3 s through a gate opened with `--mode mode`, cuts the link
/// that carried the most after 1 s, and checks that every byte arrived in order; the longest stall.
fn transfer_across_a_cut(mode: &str) -> Duration {
    let links = TwoLinks::new();
    let (a, b, remotes) = two_nodes(&links);
    let (listener, mut client) = gate_across(&links, (&a, &b), mode);
    let server = std::thread::spawn(move || check_pattern(listener));
    const CHUNK: usize = 32 * 1024;
    const CHUNKS: u64 = 750;
    let start = Instant::now();
    let mut before = None;
    for i in 0..CHUNKS {
        client.write_all(&pattern(i * CHUNK as u64, CHUNK)).unwrap();
        if i == CHUNKS / 6 {
            before = Some(tx_by_path(&a, "bob"));
        }
        if i == CHUNKS / 3 {
            // The link whose path carried the most since then goes down.
            let before = before.take().unwrap();
            let (busiest, carried) = busiest_link(&a, &remotes, &before);
            assert!(
                carried > 1 << 20,
                "{mode}: {carried} bytes on link {busiest}"
            );
            links.down(busiest);
        }
        let due = start + Duration::from_millis(4 * (i + 1));
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
    }
    client.shutdown(Shutdown::Write).unwrap();
    let (count, wrong, longest) = server.join().unwrap();
    assert_eq!(wrong, None, "{mode}: a byte out of place");
    assert_eq!(count, CHUNKS * CHUNK as u64, "{mode}: {}", a.log());
    longest
}

#[test]
fn a_gate_connection_survives_a_link_going_down_mid_transfer() {
    for mode in ["aggregate", "failover"] {
        let longest = transfer_across_a_cut(mode);
        eprintln!("{mode}: longest stall at the receiver {longest:?}");
    }
}

#[test]
fn an_aggregate_channel_carries_its_bytes_over_both_paths() {
    let links = TwoLinks::new();
    links.rate(1, 20);
    links.rate(2, 20);
    let (a, _b, [b1, b2]) = two_nodes(&links);
    let before = tx_by_path(&a, "bob");
    let out = a.warp(&["speed", "bob", "-n", "16M", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(result["verified"], true, "{result}");
    let after = tx_by_path(&a, "bob");
    let sent = |k: &String| after[k] - before[k];
    let total = 16u64 << 20;
    // Two equal paths: each carries a good share of one channel's bytes.
    for k in [&b1, &b2] {
        assert!(sent(k) > total / 4, "{k} carried {} of {total}", sent(k));
    }
    eprintln!(
        "over 2 x 20 Mbit/s: {} and {} bytes, {:.1} Mbit/s",
        sent(&b1),
        sent(&b2),
        result["mbit_per_s"].as_f64().unwrap_or_default()
    );
}

#[test]
fn a_redundant_flow_loses_nothing_and_delivers_nothing_twice_when_a_link_is_cut() {
    let links = TwoLinks::new();
    let (a, b, _) = two_nodes(&links);
    let (sender, receiver) = redundant_flow(&links, &a, &b);
    // 1500 numbered datagrams, one a millisecond; link 1 is cut at a moment that
    // differs from run to run.
    let cut_at = 300 + Instant::now().elapsed().subsec_nanos() % 900;
    let seen = numbered((&sender, receiver), 1500, |i| {
        if i == cut_at {
            links.down(1);
        }
    });
    let lost: Vec<usize> = (0..seen.len()).filter(|&i| seen[i] == 0).collect();
    let twice: Vec<usize> = (0..seen.len()).filter(|&i| seen[i] > 1).collect();
    assert!(lost.is_empty(), "cut at {cut_at}: lost {lost:?}");
    assert!(
        twice.is_empty(),
        "cut at {cut_at}: delivered twice {twice:?}"
    );
}

#[test]
fn two_uplinks_to_one_peer_address_are_two_paths_and_interface_restricts_them() {
    let links = TwoLinks::new();
    let shared = format!("{}:7470", links.shared_b_addr());
    let b = TestNode::in_netns(&links.b);
    // Two interfaces route to Bob's one address: a path through each.
    let a = TestNode::in_netns(&links.a);
    let out = a.warp(&["peers", "add", "bob", &b.id, "--addr", &shared]);
    assert!(out.status.success(), "{}", text(&out));
    let out = b.warp(&["peers", "add", "alice", &a.id]);
    assert!(out.status.success(), "{}", text(&out));
    let locals = |node: &TestNode| -> Vec<(String, String)> {
        let out = node.warp(&["peers", "--json"]);
        let all: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        let mut v: Vec<(String, String)> = all[0]["paths"]
            .as_array()
            .map(|p| {
                p.iter()
                    .map(|p| {
                        let ip = p["local"].as_str().unwrap_or_default();
                        let ip = ip.rsplit_once(':').map_or(ip, |(ip, _)| ip).to_string();
                        (ip, p["state"].as_str().unwrap_or_default().to_string())
                    })
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    let up = |ip: &str| (ip.to_string(), "up".to_string());
    wait_until(
        "a path through each uplink",
        Duration::from_secs(20),
        || locals(&a) == vec![up("10.1.0.1"), up("10.2.0.1")],
    );
    let out = a.warp(&["speed", "bob", "-n", "4M"]);
    assert!(out.status.success(), "{}", text(&out));
    drop(a);
    // Told to use link 2 only: one path, through it.
    let a = TestNode::in_netns_with(&links.a, &["--interface", "link2"]);
    let out = a.warp(&["peers", "add", "bob", &b.id, "--addr", &shared]);
    assert!(out.status.success(), "{}", text(&out));
    let out = b.warp(&["peers", "add", "alice2", &a.id]);
    assert!(out.status.success(), "{}", text(&out));
    let out = a.warp(&["ping", "bob", "-c", "1"]);
    assert!(out.status.success(), "{}\n{}", text(&out), a.log());
    assert_eq!(locals(&a), vec![up("10.2.0.1")]);
}
