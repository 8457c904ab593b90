//! warpdrive end to end with two node processes: trees arrive identical, policies hold,
//! `warp offers listen` sees everything, and downloads resume after either side is killed
//! or a `.part` file is altered, with the bytes sent again measured.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use sha2::{Digest, Sha256};
use support::{text, TestNode};

const MIB: u64 = 1 << 20;

/// Two nodes that know each other: `a` calls `b` "bob", `b` calls `a` "alice".
fn pair(a_args: &[&str]) -> (TestNode, TestNode) {
    let a = TestNode::start_with(a_args);
    let b = TestNode::start();
    a.add_peer("bob", &b);
    b.add_peer("alice", &a);
    (a, b)
}

/// Pseudo-random bytes (fast, reproducible).
fn write_random(path: &Path, len: u64, seed: u64) {
    let mut f = std::fs::File::create(path).unwrap();
    let mut x = seed | 1;
    let mut buf = vec![0u8; MIB as usize];
    let mut left = len;
    while left > 0 {
        for b in buf.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        let n = left.min(MIB) as usize;
        f.write_all(&buf[..n]).unwrap();
        left -= n as u64;
    }
}

fn sha(path: &Path) -> Vec<u8> {
    let mut h = Sha256::new();
    std::io::copy(&mut std::fs::File::open(path).unwrap(), &mut h).unwrap();
    h.finalize().to_vec()
}

/// Every offer of a node, as JSON.
fn offers(node: &TestNode) -> Vec<serde_json::Value> {
    let out = node.warp(&["offers", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    // One JSON document: an array, `[]` when there is none.
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Waits (bounded) until the node's only offer satisfies `f`; returns it.
fn wait_offer(
    node: &TestNode,
    limit: Duration,
    f: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = Instant::now() + limit;
    loop {
        let list = offers(node);
        if let Some(o) = list.last() {
            if f(o) {
                return o.clone();
            }
        }
        assert!(Instant::now() < deadline, "offer never got there: {list:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Relative paths of everything under `root`, sorted.
fn walk(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            out.push(p.strip_prefix(root).unwrap().to_path_buf());
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The same entries, bytes, modes and modification times (to the nanosecond).
fn assert_same_tree(a: &Path, b: &Path) {
    let (wa, wb) = (walk(a), walk(b));
    assert_eq!(wa, wb, "different entries");
    for rel in wa {
        let (pa, pb) = (a.join(&rel), b.join(&rel));
        let (ma, mb) = (
            std::fs::metadata(&pa).unwrap(),
            std::fs::metadata(&pb).unwrap(),
        );
        assert_eq!(ma.is_dir(), mb.is_dir(), "{}", rel.display());
        assert_eq!(
            ma.permissions().mode() & 0o7777,
            mb.permissions().mode() & 0o7777,
            "{}: mode",
            rel.display()
        );
        assert_eq!(
            (ma.mtime(), ma.mtime_nsec()),
            (mb.mtime(), mb.mtime_nsec()),
            "{}: mtime",
            rel.display()
        );
        if ma.is_file() {
            assert_eq!(sha(&pa), sha(&pb), "{}: content", rel.display());
        }
    }
}

#[test]
fn a_file_and_a_tree_arrive_identical_after_acceptance() {
    let (a, b) = pair(&[]);
    let src = tempfile::tempdir().unwrap();
    let tree = src.path().join("tree");
    std::fs::create_dir_all(tree.join("sub/deeper")).unwrap();
    std::fs::create_dir_all(tree.join("empty")).unwrap();
    write_random(&tree.join("big.bin"), 9 * MIB + 123, 1);
    write_random(&tree.join("sub/deeper/small"), 4000, 2);
    std::fs::write(tree.join("zero"), b"").unwrap();
    std::fs::write(tree.join("sub/script.sh"), b"#!/bin/sh\necho hi\n").unwrap();
    std::fs::set_permissions(
        tree.join("sub/script.sh"),
        std::fs::Permissions::from_mode(0o750),
    )
    .unwrap();
    std::fs::set_permissions(
        tree.join("sub/deeper"),
        std::fs::Permissions::from_mode(0o700),
    )
    .unwrap();
    let old = SystemTime::UNIX_EPOCH + Duration::new(1_500_000_000, 123_456_789);
    std::fs::File::open(tree.join("zero"))
        .unwrap()
        .set_times(std::fs::FileTimes::new().set_modified(old))
        .unwrap();
    write_random(&src.path().join("single.bin"), 5000, 3);

    let out = a.warp(&[
        "share",
        "bob",
        tree.to_str().unwrap(),
        src.path().join("single.bin").to_str().unwrap(),
        "--no-wait",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("awaiting acceptance"), "{}", text(&out));
    let offer = wait_offer(&b, Duration::from_secs(5), |o| o["status"] == "awaiting");
    assert_eq!(offer["entries"], 9, "{offer}");
    let id = offer["id"].as_str().unwrap().to_string();

    let dest = tempfile::tempdir().unwrap();
    let out = b.warp(&[
        "offers",
        "accept",
        &id[..8],
        "--to",
        dest.path().to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("completed: 9 entries"),
        "{}",
        text(&out)
    );
    // The receiver is told where the offer's top-level entries went.
    for top in ["tree", "single.bin"] {
        let line = format!("  {}\n", dest.path().join(top).display());
        assert!(text(&out).contains(&line), "{}", text(&out));
    }
    assert_same_tree(&tree, &dest.path().join("tree"));
    assert_eq!(
        sha(&src.path().join("single.bin")),
        sha(&dest.path().join("single.bin"))
    );
    // No partial file left behind, and the sender heard the receiver's verdict.
    assert!(walk(dest.path())
        .iter()
        .all(|p| !p.to_string_lossy().ends_with("part")));
    let sent = wait_offer(&a, Duration::from_secs(5), |o| o["status"] == "completed");
    assert_eq!(sent["bytes_done"], sent["bytes"]);
}

#[test]
fn trust_ask_and_block_policies_behave_as_stated() {
    let (a, b) = pair(&[]);
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("doc.txt");
    std::fs::write(&file, b"hello warpdrive").unwrap();

    // trust: accepted at once into the incoming directory; `share` follows it to the end.
    assert!(b
        .warp(&["peers", "set", "alice", "policy", "trust"])
        .status
        .success());
    let out = a.warp(&["share", "bob", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("completed"), "{}", text(&out));
    let landed = b.home.path().join("incoming/doc.txt");
    assert_eq!(std::fs::read(&landed).unwrap(), b"hello warpdrive");

    // ask: the offer waits.
    assert!(b
        .warp(&["peers", "set", "alice", "policy", "ask"])
        .status
        .success());
    let out = a.warp(&["share", "bob", file.to_str().unwrap(), "--no-wait"]);
    assert!(out.status.success(), "{}", text(&out));
    let waiting = wait_offer(&b, Duration::from_secs(5), |o| o["status"] != "completed");
    assert_eq!(waiting["status"], "awaiting", "{waiting}");
    // ... until rejected; the sender hears of it.
    let id = waiting["id"].as_str().unwrap().to_string();
    // Rejecting as asked succeeds.
    let out = b.warp(&["offers", "reject", &id]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    wait_offer(&a, Duration::from_secs(5), |o| o["status"] == "rejected");

    // block: refused, and nothing is recorded on the receiver.
    assert!(b
        .warp(&["peers", "set", "alice", "policy", "block"])
        .status
        .success());
    let before = offers(&b).len();
    let out = a.warp(&["share", "bob", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("failed"), "{}", text(&out));
    assert_eq!(offers(&b).len(), before);
}

#[test]
fn a_download_from_a_sender_that_blocks_us_fails_at_once_with_the_reason() {
    let (a, b) = pair(&[]);
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("doc.txt");
    std::fs::write(&file, b"hello warpdrive").unwrap();
    let out = a.warp(&["share", "bob", file.to_str().unwrap(), "--no-wait"]);
    assert!(out.status.success(), "{}", text(&out));
    let waiting = wait_offer(&b, Duration::from_secs(5), |o| o["status"] == "awaiting");
    // Alice blocks bob before he accepts: retrying cannot help, so his download fails
    // at once (it was retried 40 times over five minutes).
    let out = a.warp(&["peers", "set", "bob", "policy", "block"]);
    assert!(out.status.success(), "{}", text(&out));
    let id = waiting["id"].as_str().unwrap();
    let out = b.warp(&["offers", "accept", id, "--no-wait"]);
    assert!(out.status.success(), "{}", text(&out));
    let failed = wait_offer(&b, Duration::from_secs(15), |o| o["status"] == "failed");
    assert!(
        failed["reason"]
            .as_str()
            .unwrap()
            .contains("the peer blocks this node"),
        "{failed}"
    );
}

#[test]
fn offers_listen_sees_new_offers_and_status_changes() {
    let (a, b) = pair(&[]);
    let mut listen = b.spawn_warp(&["offers", "listen", "--json"]);
    let stdout = listen.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    // `listen` prints nothing until a change: offers are made until it has seen one (the
    // first may come before it subscribed), and the last one made is followed.
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("f.bin");
    write_random(&file, 3 * MIB, 9);
    let mut first = None;
    for _ in 0..20 {
        assert!(a
            .warp(&["share", "bob", file.to_str().unwrap(), "--no-wait"])
            .status
            .success());
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(500)) {
            first = Some(line);
            break;
        }
    }
    let first: serde_json::Value =
        serde_json::from_str(&first.expect("offers listen never saw an offer")).unwrap();
    assert_eq!(first["status"], "awaiting");
    // Anything still queued is about the same offers; the last made is the one to follow.
    while rx.recv_timeout(Duration::from_millis(300)).is_ok() {}
    let first = offers(&b).last().unwrap().clone();
    assert_eq!(first["status"], "awaiting", "{first}");
    let id = first["id"].as_str().unwrap().to_string();
    let dest = tempfile::tempdir().unwrap();
    assert!(b
        .warp(&[
            "offers",
            "accept",
            &id,
            "--to",
            dest.path().to_str().unwrap()
        ])
        .status
        .success());
    let mut seen = vec![];
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline && !seen.contains(&"completed".to_string()) {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            assert_eq!(v["id"], id.as_str());
            let s = v["status"].as_str().unwrap().to_string();
            if seen.last() != Some(&s) {
                seen.push(s);
            }
        }
    }
    let _ = listen.kill();
    let _ = listen.wait();
    assert_eq!(
        seen.first().map(String::as_str),
        Some("accepted"),
        "{seen:?}"
    );
    assert!(
        seen.contains(&"in_progress".to_string()) && seen.last().unwrap() == "completed",
        "{seen:?}"
    );
}

/// A 48 MiB file from a node whose sends are limited to 100 Mbit/s: about 4 s to cross.
fn slow_transfer() -> (TestNode, TestNode, tempfile::TempDir, PathBuf, String) {
    slow_transfer_into(None)
}

/// [`slow_transfer`], accepted into `to` (else the default folder).
fn slow_transfer_into(
    to: Option<&Path>,
) -> (TestNode, TestNode, tempfile::TempDir, PathBuf, String) {
    let (a, b) = pair(&["--impair", "rate=100mbit"]);
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("movie.bin");
    write_random(&file, 48 * MIB, 42);
    let out = a.warp(&["share", "bob", file.to_str().unwrap(), "--no-wait"]);
    assert!(out.status.success(), "{}", text(&out));
    let offer = wait_offer(&b, Duration::from_secs(5), |o| o["status"] == "awaiting");
    let id = offer["id"].as_str().unwrap().to_string();
    let mut accept = vec!["offers", "accept", &id, "--no-wait"];
    if let Some(to) = to {
        accept.extend(["--to", to.to_str().unwrap()]);
    }
    let out = b.warp(&accept);
    assert!(out.status.success(), "{}", text(&out));
    (a, b, src, file, id)
}

/// Waits until the receiver has a quarter of the file, then kills the receiver.
fn kill_midway(node: &mut TestNode) -> u64 {
    let o = wait_offer(node, Duration::from_secs(30), |o| {
        o["bytes_done"].as_u64().unwrap() >= 12 * MIB
    });
    node.kill();
    o["bytes_done"].as_u64().unwrap()
}

#[test]
fn a_receiver_killed_mid_transfer_resumes_after_restart_and_reaccept() {
    // Accepted into a folder of the user's choosing; accepted again without saying.
    let chosen = tempfile::tempdir().unwrap();
    let (a, mut b, _src, file, id) = slow_transfer_into(Some(chosen.path()));
    let had = kill_midway(&mut b);
    assert!(had < 48 * MIB, "finished before the kill");
    // The sender counts what the receiver said it had written, never more: not what it
    // handed to the network (which the kill lost).
    let part = chosen
        .path()
        .join(format!(".movie.bin.{}.warp-part", &id[..12]));
    let on_disk = std::fs::metadata(&part).unwrap().len();
    let sender = wait_offer(&a, Duration::from_secs(5), |o| {
        o["bytes_done"].as_u64() > Some(0)
    });
    let counted = sender["bytes_done"].as_u64().unwrap();
    assert!(
        (1..=on_disk).contains(&counted),
        "the sender counts {counted} bytes, the receiver wrote {on_disk}"
    );
    b.spawn();
    let o = wait_offer(&b, Duration::from_secs(5), |o| o["status"] == "interrupted");
    // The progress recorded before the kill survived it (writes reach the disk within
    // 100 ms, about 1.2 MiB at this rate).
    let kept = o["bytes_done"].as_u64().unwrap();
    assert!(
        (had.saturating_sub(4 * MIB)..48 * MIB).contains(&kept),
        "recorded {kept} bytes, had {had}"
    );
    let out = b.warp(&["offers", "accept", &id]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("completed"), "{}", text(&out));
    // It went on where it was going, not into the default folder.
    assert_eq!(sha(&file), sha(&chosen.path().join("movie.bin")));
    let default = b.home.path().join("incoming");
    let landed = match default.exists() {
        true => walk(&default),
        false => Vec::new(),
    };
    assert!(landed.is_empty(), "in the default folder: {landed:?}");
    let sent = wait_offer(&a, Duration::from_secs(5), |o| o["status"] == "completed");
    let again = sent["transferred"].as_u64().unwrap() - 48 * MIB;
    let log = b.log();
    let resumed_at: u64 = log
        .lines()
        .find_map(|l| {
            l.strip_suffix(" bytes verified, resuming there")?
                .rsplit(' ')
                .next()?
                .parse()
                .ok()
        })
        .expect("a resume line");
    eprintln!(
        "receiver killed with {:.1} MiB reported; resumed at {:.1} MiB; handed to the transport again: {:.1} MiB",
        had as f64 / MIB as f64,
        resumed_at as f64 / MIB as f64,
        again as f64 / MIB as f64
    );
    // What the receiver had written is kept, but for the one chunk it could not verify.
    assert!(
        resumed_at + 2 * MIB >= had,
        "resumed at {resumed_at}, had {had}"
    );
    assert!(
        again <= 16 * MIB,
        "sent again {again} bytes\n{}\n{}",
        a.log(),
        b.log()
    );
    assert!(
        b.log().contains("bytes verified, resuming there"),
        "{}",
        b.log()
    );
}

#[test]
fn a_sender_killed_mid_transfer_is_resumed_by_the_receiver() {
    let (mut a, b, _src, file, _id) = slow_transfer();
    wait_offer(&b, Duration::from_secs(30), |o| {
        o["bytes_done"].as_u64().unwrap() >= 12 * MIB
    });
    a.kill();
    // The receiver notices the sender is gone and keeps trying.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !b.log().contains("trying again in") {
        assert!(Instant::now() < deadline, "no retry: {}", b.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    a.spawn();
    let o = wait_offer(&b, Duration::from_secs(60), |o| o["status"] == "completed");
    assert_eq!(sha(&file), sha(&b.home.path().join("incoming/movie.bin")));
    let again = o["transferred"].as_u64().unwrap() - 48 * MIB;
    eprintln!(
        "sent again after the sender's restart: {:.1} MiB",
        again as f64 / MIB as f64
    );
    assert!(again <= 16 * MIB, "received again {again} bytes");
    wait_offer(&a, Duration::from_secs(5), |o| o["status"] == "completed");
}

#[test]
fn an_altered_part_file_is_detected_and_fetched_again() {
    let (_a, mut b, _src, file, id) = slow_transfer();
    kill_midway(&mut b);
    let part = b
        .home
        .path()
        .join(format!("incoming/.movie.bin.{}.warp-part", &id[..12]));
    let len = std::fs::metadata(&part).unwrap().len();
    assert!(len > 3 * MIB, "only {len} bytes in the .part");
    // Flip a byte inside the second chunk.
    let mut bytes = std::fs::read(&part).unwrap();
    bytes[(MIB + 77) as usize] ^= 0xff;
    std::fs::write(&part, &bytes).unwrap();
    b.spawn();
    wait_offer(&b, Duration::from_secs(5), |o| o["status"] == "interrupted");
    let out = b.warp(&["offers", "accept", &id]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(sha(&file), sha(&b.home.path().join("incoming/movie.bin")));
    assert!(
        b.log().contains("chunk 1 differs from the offer's hash"),
        "{}",
        b.log()
    );
    assert!(
        b.log().contains("fetching again from byte 1048576"),
        "{}",
        b.log()
    );
}

#[test]
fn cancelling_removes_the_partial_file_and_a_users_own_part_file_is_untouched() {
    let (_a, b, _src, _file, id) = slow_transfer();
    // The user's own file of the name an older warp would have used.
    let users = b.home.path().join("incoming/movie.bin.part");
    std::fs::create_dir_all(users.parent().unwrap()).unwrap();
    std::fs::write(&users, b"my notes").unwrap();
    wait_offer(&b, Duration::from_secs(30), |o| {
        o["bytes_done"].as_u64().unwrap() >= 4 * MIB
    });
    let part = b
        .home
        .path()
        .join(format!("incoming/.movie.bin.{}.warp-part", &id[..12]));
    assert!(part.exists(), "the partial file has warp's private name");
    let out = b.warp(&["offers", "cancel", &id]);
    assert!(text(&out).contains("cancelled here"), "{}", text(&out));
    assert_eq!(out.status.code(), Some(0), "cancelling as asked succeeds");
    assert!(
        !part.exists(),
        "the partial file (and its reserved disk) stayed"
    );
    assert_eq!(std::fs::read(&users).unwrap(), b"my notes");
    assert!(!b.home.path().join("incoming/movie.bin").exists());
}

#[test]
fn a_file_changed_on_the_sender_fails_the_offer_with_the_reason() {
    let (a, b) = pair(&[]);
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("report.txt");
    std::fs::write(&file, b"version 1").unwrap();
    assert!(a
        .warp(&["share", "bob", file.to_str().unwrap(), "--no-wait"])
        .status
        .success());
    let offer = wait_offer(&b, Duration::from_secs(5), |o| o["status"] == "awaiting");
    std::fs::write(&file, b"version 2, longer").unwrap();
    let dest = tempfile::tempdir().unwrap();
    let out = b.warp(&[
        "offers",
        "accept",
        offer["id"].as_str().unwrap(),
        "--to",
        dest.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("changed since the offer was made"),
        "{}",
        text(&out)
    );
    assert!(!dest.path().join("report.txt").exists());
    wait_offer(&a, Duration::from_secs(5), |o| o["status"] == "failed");
}

#[test]
fn a_full_disk_fails_the_offer_before_the_bytes_are_sent() {
    // A 2 MiB file system for a 5 MiB file (tmpfs; the tests run as root).
    let (a, b) = pair(&[]);
    let small_disk = tempfile::tempdir().unwrap();
    let ok = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=2m", "tmpfs"])
        .arg(small_disk.path())
        .status()
        .unwrap();
    assert!(ok.success(), "mounting a tmpfs needs root");
    struct Unmount<'a>(&'a Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(self.0).status();
        }
    }
    let _unmount = Unmount(small_disk.path());
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("video.bin");
    write_random(&file, 5 * MIB, 5);
    assert!(a
        .warp(&["share", "bob", file.to_str().unwrap(), "--no-wait"])
        .status
        .success());
    let offer = wait_offer(&b, Duration::from_secs(5), |o| o["status"] == "awaiting");
    let out = b.warp(&[
        "offers",
        "accept",
        offer["id"].as_str().unwrap(),
        "--to",
        small_disk.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("not enough free space"),
        "{}",
        text(&out)
    );
    let o = offers(&b).pop().unwrap();
    assert_eq!(
        o["transferred"], 0,
        "bytes were sent before the disk was found full: {o}"
    );
    wait_offer(&a, Duration::from_secs(5), |o| o["status"] == "failed");
}

#[test]
fn ctrl_c_on_share_says_the_offer_goes_on_and_how_to_cancel_it() {
    let (a, b) = pair(&[]);
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("notes.txt");
    std::fs::write(&file, b"for bob").unwrap();
    // Bob's policy is ask: the offer waits for him, and so does `warp share`.
    let mut share = a.spawn_warp(&["share", "bob", file.to_str().unwrap()]);
    let offer = wait_offer(&b, Duration::from_secs(5), |o| o["status"] == "awaiting");
    let id = offer["id"].as_str().unwrap().to_string();
    // Once the command says it is waiting for Bob, Ctrl-C.
    let stdout = share.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.contains("awaiting acceptance") => break,
            Ok(_) => {}
            Err(e) => panic!("no 'awaiting acceptance' from warp share: {e}"),
        }
    }
    // SAFETY: a signal to our own child.
    unsafe { libc::kill(share.id() as i32, libc::SIGINT) };
    let out = share.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{:?}", out.status);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("goes on in the node"), "{err}");
    assert!(
        err.contains(&format!("`warp offers cancel {id}` withdraws it")),
        "{err}"
    );
    // And it does go on: Bob can still take it.
    let out = b.warp(&["offers", "accept", &id]);
    assert!(out.status.success(), "{}", text(&out));
}

#[test]
fn an_offer_to_an_offline_peer_waits_and_is_delivered_when_it_starts() {
    let (a, mut b) = pair(&[]);
    b.kill();
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("letter.txt");
    std::fs::write(&file, b"for when you are back").unwrap();
    let out = a.warp(&["share", "bob", file.to_str().unwrap(), "--no-wait"]);
    assert!(out.status.success(), "{}", text(&out));
    let said = text(&out);
    assert!(
        said.contains("waiting for peer: ") && said.contains("delivered when bob can be reached"),
        "{said}"
    );
    let o = wait_offer(&a, Duration::from_secs(5), |o| {
        o["status"] == "waiting_for_peer"
    });
    assert_eq!(o["alias"], "bob");
    let id = o["id"].as_str().unwrap().to_string();
    // `warp offers` says so, with the peer's alias.
    let list = text(&a.warp(&["offers"]));
    assert!(
        list.contains("waiting for peer") && list.contains("bob"),
        "{list}"
    );
    // Bob comes back: the offer reaches it without anyone asking again.
    b.spawn();
    let got = wait_offer(&b, Duration::from_secs(30), |o| o["status"] == "awaiting");
    assert_eq!(got["id"], id.as_str());
    wait_offer(&a, Duration::from_secs(5), |o| o["status"] == "awaiting");
    let out = b.warp(&["offers", "accept", &id]);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        std::fs::read(b.home.path().join("incoming/letter.txt")).unwrap(),
        b"for when you are back"
    );
    wait_offer(&a, Duration::from_secs(5), |o| o["status"] == "completed");
    // An offer told to wait 2 s fails once they have passed, saying why.
    b.kill();
    let out = a.warp(&[
        "share",
        "bob",
        file.to_str().unwrap(),
        "--no-wait",
        "--expires",
        "2s",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    let o = wait_offer(&a, Duration::from_secs(30), |o| o["status"] == "failed");
    assert!(
        o["reason"]
            .as_str()
            .unwrap()
            .contains("could not be reached for 2 seconds"),
        "{o}"
    );
}

#[test]
fn share_and_accept_run_a_node_of_their_own_when_none_runs() {
    let (mut a, mut b) = pair(&[]);
    // Alice's node is not running; her settings keep the address bob knows her by.
    a.kill();
    a.write_config(&format!("[node]\nlisten = \"{}\"\n", a.addr()));
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("one-off.bin");
    write_random(&file, 3 * MIB, 7);
    // --no-wait leaves the transfer to a running node: refused, with why.
    let out = a.warp(&["share", "bob", file.to_str().unwrap(), "--no-wait"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("no node runs"), "{}", text(&out));
    // Without it, the command runs a node until bob has the file.
    let share = a.spawn_warp(&["share", "bob", file.to_str().unwrap()]);
    let o = wait_offer(&b, Duration::from_secs(20), |o| o["status"] == "awaiting");
    let id = o["id"].as_str().unwrap().to_string();
    // Bob's node stops too: accepting runs one of its own for the download.
    b.kill();
    b.write_config(&format!("[node]\nlisten = \"{}\"\n", b.addr()));
    let out = b.warp(&["offers", "accept", &id]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("this command runs one"),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("completed"), "{}", text(&out));
    assert_eq!(sha(&file), sha(&b.home.path().join("incoming/one-off.bin")));
    let out = share.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("completed"), "{}", text(&out));
    // Both commands stopped their nodes: nothing answers on the control sockets.
    for node in [&a, &b] {
        let out = node.warp(&["status"]);
        assert!(!out.status.success(), "{}", text(&out));
    }
}
