//! The README's "two nodes, one minute", run as written on one machine: node A with the
//! embedded defaults (UDP 7470 on every address, REST 7480, links 9001) and node B on
//! 127.0.0.1:7471, each with its own data directory. Every command run here is checked to
//! appear in the README word for word, so the two cannot drift apart. The nodes run in a
//! network namespace of the test's own, with only a loopback: the machine's ports stay
//! free, and nothing node A announces on its network leaves the namespace (the commands
//! reach the nodes through their control sockets, which are files).

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::text;

/// A node process, killed when dropped.
struct Node(Child);

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Splits a README command (`WARP_HOME=/tmp/b warp ...` or `warp ...`) into its arguments
/// after `warp`, checking that it is in the README as written.
fn as_written<'a>(readme: &str, line: &'a str) -> Vec<&'a str> {
    assert!(readme.contains(line), "the README no longer says {line:?}");
    let words: Vec<&str> = line.split_whitespace().collect();
    let at = words.iter().position(|w| *w == "warp").unwrap();
    words[at + 1..].to_vec()
}

fn run(home: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_warp"))
        .args(args)
        .env("WARP_HOME", home)
        .output()
        .unwrap()
}

fn start(ns: &support::netns::Alone, home: &std::path::Path, args: &[&str]) -> Node {
    let child = ns
        .command(env!("CARGO_BIN_EXE_warp"))
        .args(args)
        .env("WARP_HOME", home)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::os::unix::net::UnixStream::connect(home.join("control.sock")).is_err() {
        assert!(Instant::now() < deadline, "{args:?} did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    Node(child)
}

#[test]
fn two_nodes_one_minute_works_as_written() {
    let readme = include_str!("../README.md");
    let (home_a, home_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (home_a.path(), home_b.path());
    let id = |home| {
        String::from_utf8(run(home, &["id"]).stdout)
            .unwrap()
            .trim()
            .to_string()
    };
    let (id_a, id_b) = (id(a), id(b));

    let ns = support::netns::Alone::new();
    let _node_a = start(&ns, a, &as_written(readme, "warp node  "));
    let _node_b = start(
        &ns,
        b,
        &as_written(
            readme,
            "WARP_HOME=/tmp/b warp node --listen 127.0.0.1:7471 --api off --ws off",
        ),
    );
    let add_bob = as_written(readme, "warp peers add bob <B's id> --addr 127.0.0.1:7471");
    let add_bob: Vec<&str> = add_bob
        .iter()
        .map(|w| if *w == "<B's" { id_b.as_str() } else { w })
        .filter(|w| *w != "id>")
        .collect();
    let out = run(a, &add_bob);
    assert!(out.status.success(), "{}", text(&out));
    let add_alice = as_written(readme, "WARP_HOME=/tmp/b warp peers add alice <A's id>");
    let add_alice: Vec<&str> = add_alice
        .iter()
        .map(|w| if *w == "<A's" { id_a.as_str() } else { w })
        .filter(|w| *w != "id>")
        .collect();
    let out = run(b, &add_alice);
    assert!(out.status.success(), "{}", text(&out));

    let out = run(a, &as_written(readme, "warp ping bob -c 3"));
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("3 probes transmitted, 3 received"),
        "{}",
        text(&out)
    );
    let out = run(a, &as_written(readme, "warp speed bob -n 1G"));
    assert!(out.status.success(), "{}", text(&out));
    let out = run(a, &as_written(readme, "warp peers  "));
    let line = text(&out)
        .lines()
        .find(|l| l.starts_with("bob "))
        .map(str::to_string);
    assert!(
        line.as_deref()
            .is_some_and(|l| l.contains("connected") && l.contains(&id_b)),
        "{}",
        text(&out)
    );
}
