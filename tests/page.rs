//! The node's live page in a real browser: Debian's `chromium` and `chromium-driver`
//! (installed by the test with apt when missing; it runs as root in CI) driven by
//! Selenium (installed into a virtual environment under the target directory). Node a
//! has a peer, bob, offering it a file at a limited rate; the page, opened at the address
//! `warp page --print` gives, shows a's id and bob connected, an accept button on the
//! incoming offer — clicked — a progress bar that moves, and the offer completed; its
//! flow and gate; a ping to bob from the page answered; the same address a second time
//! finds its login used up.

mod support;

use std::path::PathBuf;
use std::process::Command;

use support::{text, TestNode};

/// Chromium and its driver, installed with apt if missing.
fn browser() {
    let present = |p: &str| std::path::Path::new(p).exists();
    if present("/usr/bin/chromium") && present("/usr/bin/chromedriver") {
        return;
    }
    let install = || {
        Command::new("apt-get")
            .args(["install", "-y", "-q", "chromium", "chromium-driver"])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|s| s.success())
    };
    // A fresh machine may not have the package lists yet.
    let ok = install()
        || (Command::new("apt-get")
            .args(["update", "-q"])
            .status()
            .is_ok_and(|s| s.success())
            && install());
    assert!(ok, "apt-get install chromium chromium-driver failed");
}

#[test]
fn the_page_shows_the_node_and_accepts_an_offer_that_then_completes() {
    browser();
    let py = support::python::venv("selenium-venv", "selenium", &["selenium"]);
    let a = TestNode::start();
    // Bob sends at 40 Mbit/s: a 30 MB file takes about 6 s, long enough to see it move.
    let b = TestNode::start_with(&["--impair", "rate=40mbit"]);
    a.meet("bob", &b, "alice");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("video.bin");
    let data: Vec<u8> = (0..30_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    std::fs::write(&file, data).unwrap();
    let out = b.warp(&["share", "--no-wait", "alice", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    let port = support::free_port().to_string();
    a.ok(&[
        "flow", "add", "cam", "1:1", &port, "--send", "self", "--recv", "bob",
    ]);
    a.ok(&["gate", "expose", "web", "127.0.0.1:8080"]);
    let url = a.ok(&["page", "--print"]).trim().to_string();
    assert!(
        url.starts_with(&format!("http://127.0.0.1:{}/#login=", a.api_port)),
        "{url}"
    );
    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("page.png");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/page/drive.py");
    let out = Command::new(py)
        .args([script, &url, &a.id, "bob"])
        .arg(&shot)
        .output()
        .unwrap();
    let said = text(&out);
    assert!(out.status.success(), "{said}\n{}", a.log());
    for step in [
        "node id shown",
        "peer connected",
        "accepted",
        "progress moved",
        "completed",
        "flows and gates shown",
        "ping answered",
        "login used once",
    ] {
        assert!(said.contains(step), "{step}: {said}");
    }
    let offers: serde_json::Value = serde_json::from_str(&a.ok(&["offers", "--json"])).unwrap();
    assert_eq!(offers[0]["status"], "completed", "{offers}");
}
