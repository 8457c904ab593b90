//! Pairing by code on a local network: `warp share PATH` prints a code, `warp receive
//! CODE` on another host finds the sender by mDNS, both run the key exchange over the
//! tunnel, and the files arrive verified. The two hosts are network namespaces joined by
//! links (made and removed by the test; nothing leaves them); neither runs a node: each
//! command runs one of its own.

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use support::netns::TwoLinks;
use support::text;

/// `warp` with data directory `home`, run inside network namespace `ns`.
fn warp_in(ns: &str, home: &Path, args: &[&str]) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns, env!("CARGO_BIN_EXE_warp")])
        .args(args)
        .env("WARP_HOME", home)
        .env("RUST_LOG", "info");
    c
}

/// A `warp share` waiting with a code: the process, the code, and its later output.
struct Sharing {
    child: Child,
    code: String,
    rest: mpsc::Receiver<String>,
}

impl Sharing {
    /// Starts `warp share path` in `ns` and reads the code it prints.
    fn start(ns: &str, home: &Path, path: &Path) -> Sharing {
        let mut child = warp_in(ns, home, &["share", path.to_str().unwrap()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, rx) = mpsc::channel();
        for out in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
        }
        let mut seen = String::new();
        let code = loop {
            match rx.recv_timeout(Duration::from_secs(30)) {
                Ok(line) => {
                    if let Some(code) = line.strip_prefix("code: ") {
                        break code.trim().to_string();
                    }
                    seen.push_str(&line);
                    seen.push('\n');
                }
                Err(_) => panic!("no code printed within 30 s:\n{seen}"),
            }
        };
        Sharing {
            child,
            code,
            rest: rx,
        }
    }

    /// Waits (at most 60 s) for the command to end: whether it succeeded, and what it
    /// printed after the code.
    fn finish(mut self) -> (bool, String) {
        let mut said = String::new();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            if std::time::Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("warp share did not end within 60 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        while let Ok(line) = self.rest.recv_timeout(Duration::from_millis(500)) {
            said.push_str(&line);
            said.push('\n');
        }
        (status.success(), said)
    }
}

fn receive(ns: &str, home: &Path, code: &str, extra: &[&str]) -> Output {
    let mut args = vec!["receive", code];
    args.extend_from_slice(extra);
    warp_in(ns, home, &args).output().unwrap()
}

#[test]
fn a_code_pairs_two_hosts_with_no_node_running_and_works_once() {
    let links = TwoLinks::new();
    let (alice, bob) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let files = tempfile::tempdir().unwrap();
    let report = files.path().join("report.bin");
    let body: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&report, &body).unwrap();
    let into = tempfile::tempdir().unwrap();

    let sharing = Sharing::start(&links.a, alice.path(), &report);
    let code = sharing.code.clone();
    let to = into.path().to_str().unwrap();
    let out = receive(
        &links.b,
        bob.path(),
        &code,
        &["--to", to, "--remember", "alice"],
    );
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert_eq!(std::fs::read(into.path().join("report.bin")).unwrap(), body);
    assert!(said.contains("added to the peer book as alice"), "{said}");
    assert!(
        said.contains(&into.path().join("report.bin").display().to_string()),
        "the receiver is told where the file went: {said}"
    );
    let (ok, shared) = sharing.finish();
    assert!(ok, "{shared}");
    assert!(shared.contains("completed"), "{shared}");

    // Bob remembers Alice by her id (read from the book; no node runs).
    let alice_id = String::from_utf8(support::warp(alice.path(), &["id"]).stdout).unwrap();
    let peers = support::warp(bob.path(), &["peers"]);
    let listed = text(&peers);
    assert!(
        listed.contains("alice") && listed.contains(alice_id.trim()),
        "{listed}"
    );

    // The code was used: nobody waits with it any more.
    let again = receive(&links.b, bob.path(), &code, &["--to", to]);
    assert!(!again.status.success());
    assert!(
        text(&again).contains("no node waiting with code number"),
        "{}",
        text(&again)
    );
}

#[test]
fn a_wrong_code_fails_on_both_sides_after_one_try() {
    let links = TwoLinks::new();
    let (alice, bob) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let files = tempfile::tempdir().unwrap();
    let note = files.path().join("note.txt");
    std::fs::write(&note, b"for bob only").unwrap();
    let into = tempfile::tempdir().unwrap();
    let to = into.path().to_str().unwrap();

    let sharing = Sharing::start(&links.a, alice.path(), &note);
    let code = protocols::pair::Code::parse(&sharing.code).unwrap();
    // The same number, another secret.
    let wrong = protocols::pair::Code::new(
        code.nameplate - 1,
        [code.secret[0].wrapping_add(1), code.secret[1]],
    );
    let out = receive(&links.b, bob.path(), &wrong.to_string(), &["--to", to]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("the code does not match the sender's"),
        "{}",
        text(&out)
    );
    let (ok, said) = sharing.finish();
    assert!(!ok, "{said}");
    assert!(said.contains("does not match"), "{said}");
    assert!(!into.path().join("note.txt").exists());

    // The right code after a wrong try: spent.
    let late = receive(&links.b, bob.path(), &code.to_string(), &["--to", to]);
    assert!(!late.status.success());
    assert!(
        text(&late).contains("no node waiting with code number"),
        "{}",
        text(&late)
    );
    assert!(!into.path().join("note.txt").exists());
}
