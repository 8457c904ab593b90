//! The command line as people use it: pipes that close early, Ctrl-C, the peer book's
//! rules, errors that say which flag or directory, the node's start-up lines.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{echo_server, text, warp, TestNode};

fn warp_cmd(home: &std::path::Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_warp"));
    c.env("WARP_HOME", home);
    c
}

/// What a starting node prints, up to and with the line to paste on the other machine;
/// the node is stopped then.
fn start_up_lines(mut child: std::process::Child) -> Vec<String> {
    let mut seen = Vec::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.expect("the node prints its lines");
        let done = line.starts_with("On the other machine:");
        seen.push(line);
        if done {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        seen.last()
            .is_some_and(|l| l.starts_with("On the other machine:")),
        "{seen:?}"
    );
    seen
}

#[test]
fn a_closed_pipe_ends_a_command_quietly() {
    let home = tempfile::tempdir().unwrap();
    let input = home.path().join("big.recon");
    let items: Vec<String> = (0..100_000).map(|i| format!("item{i}:{i}")).collect();
    std::fs::write(&input, format!("{{{}}}", items.join(","))).unwrap();
    let mut child = warp_cmd(home.path())
        .args(["recon", "--pretty", input.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 16];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut first)
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.signal(), Some(libc::SIGPIPE), "{:?}", out.status);
}

#[test]
fn commands_that_need_a_node_name_the_directory_they_looked_in() {
    let home = tempfile::tempdir().unwrap();
    let out = warp(home.path(), &["ping", "bob", "-c", "1"]);
    assert_eq!(out.status.code(), Some(2));
    let t = text(&out);
    assert!(
        t.contains("no node is running") && t.contains(&home.path().display().to_string()),
        "{t}"
    );
}

#[test]
fn the_book_refuses_a_second_alias_its_own_id_and_suggests_names() {
    let a = TestNode::start();
    let b = TestNode::start();
    a.add_peer("bob", &b);
    let out = a.warp(&["peers", "add", "bob2", &b.id]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("is in the book as bob"),
        "{}",
        text(&out)
    );
    let out = a.warp(&["peers", "add", "me", &a.id]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("own id"), "{}", text(&out));
    let out = a.warp(&["ping", "bbo", "-c", "1"]);
    assert!(text(&out).contains("did you mean bob?"), "{}", text(&out));
    let out = a.warp(&["peers", "rm", "bob"]);
    assert!(out.status.success());
    assert!(
        text(&out).starts_with(&format!("removed bob  {}", b.id)),
        "{}",
        text(&out)
    );
}

#[test]
fn a_renamed_peer_keeps_its_gates() {
    let echo = echo_server();
    let a = TestNode::start();
    let b = TestNode::start();
    a.meet("bob", &b, "alice");
    assert!(b.warp(&["gate", "expose", "echo", &echo]).status.success());
    let listen = support::free_tcp();
    assert!(a
        .warp(&["gate", "open", &listen, "bob", "echo"])
        .status
        .success());
    let out = a.warp(&["peers", "rename", "bob", "robert"]);
    assert!(out.status.success(), "{}", text(&out));
    let listing = text(&a.warp(&["gate"]));
    assert!(listing.contains("echo on robert"), "{listing}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = std::net::TcpStream::connect(&listen).and_then(|mut c| {
            c.set_read_timeout(Some(Duration::from_secs(5)))?;
            c.write_all(b"hi")?;
            let mut back = [0u8; 2];
            c.read_exact(&mut back)?;
            Ok(back)
        });
        if got.as_ref().is_ok_and(|b| b == b"hi") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the gate stopped working: {got:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_node_prints_its_addresses_and_the_line_to_paste() {
    let home = tempfile::tempdir().unwrap();
    let port = support::free_port();
    let child = warp_cmd(home.path())
        .args(["node", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--api", "off", "--ws", "off"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut seen = start_up_lines(child);
    let paste = seen.pop().unwrap();
    assert!(
        seen.iter()
            .any(|l| l.contains(&format!("udp 127.0.0.1:{port}"))),
        "{seen:?}"
    );
    assert!(
        paste.contains("warp peers add <name> ")
            && paste.ends_with(&format!("--addr 127.0.0.1:{port}")),
        "{paste}"
    );
}

#[test]
fn a_port_in_use_names_the_flag_that_moves_it() {
    let a = TestNode::start();
    let home = tempfile::tempdir().unwrap();
    let out = warp_cmd(home.path())
        .args([
            "node",
            "--listen",
            &format!("127.0.0.1:{}", support::free_port()),
        ])
        .args(["--api", "off", "--ws", &format!("127.0.0.1:{}", a.ws_port)])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let t = text(&out);
    assert!(
        t.contains("Address already in use") && t.contains("--ws"),
        "{t}"
    );
}

#[test]
fn ping_without_a_count_runs_until_ctrl_c_and_prints_the_summary() {
    let a = TestNode::start();
    let b = TestNode::start();
    a.meet("bob", &b, "alice");
    let mut ping = a.spawn_warp(&["ping", "bob", "-i", "0.1"]);
    let mut lines = BufReader::new(ping.stdout.take().unwrap()).lines();
    let mut replies = 0;
    while replies < 3 {
        let line = lines.next().expect("ping prints").unwrap();
        if line.contains("bytes from bob") {
            replies += 1;
        }
    }
    let sent = Command::new("kill")
        .args(["-INT", &ping.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = ping.wait().unwrap();
    assert_eq!(status.code(), Some(0), "{rest:?}");
    assert!(
        rest.iter().any(|l| l == "--- bob ping statistics ---"),
        "{rest:?}"
    );
    assert!(
        rest.iter().any(|l| l.contains("probes transmitted")),
        "{rest:?}"
    );
}

#[test]
fn recon_reads_json_when_told_and_says_so_when_not() {
    let home = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        let mut child = warp_cmd(home.path())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(br#"{"a": [1, 2, {"b": null}]}"#)
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let out = run(&["recon", "--from", "json"]);
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "{a:{1,2,{b:}}}\n");
    let out = run(&["recon"]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("use --from json"),
        "{}",
        text(&out)
    );
}

#[test]
fn completions_and_the_manual_page_are_printed() {
    let home = tempfile::tempdir().unwrap();
    for (args, expect) in [
        (&["completions", "bash"][..], "_warp()"),
        (&["completions", "zsh"][..], "#compdef warp"),
        (&["completions", "fish"][..], "complete -c warp"),
        (&["man"][..], ".TH warp 1"),
    ] {
        let out = warp(home.path(), args);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        let got = String::from_utf8_lossy(&out.stdout);
        assert!(
            got.contains(expect),
            "{args:?}: {}",
            &got[..got.len().min(200)]
        );
        assert!(got.contains("peers"), "{args:?} names the subcommands");
    }
    let help = text(&warp(home.path(), &["--help"]));
    assert!(help.contains("WARP_HOME"), "{help}");
}

#[test]
fn a_gate_on_a_bare_port_listens_on_loopback_and_an_unreachable_peer_is_said() {
    let echo = echo_server();
    let a = TestNode::start();
    let mut b = TestNode::start();
    a.meet("bob", &b, "alice");
    assert!(b.warp(&["gate", "expose", "echo", &echo]).status.success());
    let port = support::free_tcp()["127.0.0.1:".len()..].to_string();
    let out = a.warp(&["gate", "open", &port, "bob", "echo"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&a.warp(&["gate"])).contains(&format!("open     tcp 127.0.0.1:{port}")));
    b.kill();
    let port2 = support::free_tcp()["127.0.0.1:".len()..].to_string();
    let out = a.warp(&["gate", "open", &port2, "bob", "echo"]);
    assert!(out.status.success(), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot be asked about echo now"), "{err}");
}

#[test]
fn listings_print_one_json_document_and_empty_ones_print_an_empty_array() {
    let a = TestNode::start();
    let b = TestNode::start();
    let parse = |args: &[&str]| -> serde_json::Value {
        let out = a.warp(args);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", text(&out)))
    };
    for empty in [
        &["peers", "--json"][..],
        &["offers", "--json"],
        &["flow", "--json"],
    ] {
        assert_eq!(parse(empty), serde_json::json!([]), "{empty:?}");
    }
    a.add_peer("bob", &b);
    let peers = parse(&["peers", "--json"]);
    assert_eq!(peers[0]["entry"]["alias"], "bob");
    assert_eq!(peers[0]["entry"]["id"], b.id.as_str());
    assert!(peers[0]["connected"].is_boolean());
    let gates = parse(&["gate", "--json"]);
    assert_eq!(gates["exposed"], serde_json::json!([]));
    assert_eq!(gates["opened"], serde_json::json!([]));
    assert_eq!(parse(&["id", "--json"])["id"], a.id.as_str());
}

#[test]
fn the_offers_table_has_a_header_aliases_and_plain_english() {
    let a = TestNode::start();
    let b = TestNode::start();
    a.meet("bob", &b, "alice");
    let mut listen = b.spawn_warp(&["offers", "listen"]);
    let listened = BufReader::new(listen.stdout.take().unwrap());
    let (lines_tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in listened.lines().map_while(Result::ok) {
            let _ = lines_tx.send(l);
        }
    });
    let file = a.home.path().join("note.txt");
    std::fs::write(&file, b"hello").unwrap();
    let out = a.warp(&["share", "bob", file.to_str().unwrap(), "--no-wait"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("offering 1 path to bob")
            && text(&out).contains(": 1 entry, 5 B to bob"),
        "{}",
        text(&out)
    );
    // The receiver's stream names the sender by its alias too (offered again until the
    // stream, which may have subscribed after the first offer, sees one).
    let mut line = None;
    for _ in 0..5 {
        if let Ok(l) = lines.recv_timeout(Duration::from_secs(3)) {
            line = Some(l);
            break;
        }
        let out = a.warp(&["share", "bob", file.to_str().unwrap(), "--no-wait"]);
        assert!(out.status.success(), "{}", text(&out));
    }
    let line = line.expect("offers listen printed a line");
    assert!(
        line.contains(" alice ") && line.contains("note.txt"),
        "{line}"
    );
    let _ = listen.kill();
    let _ = listen.wait();
    let table = text(&a.warp(&["offers"]));
    let mut lines = table.lines();
    let header = lines.next().unwrap();
    assert!(
        header.starts_with("ID") && header.contains("PEER") && header.ends_with("NAMES"),
        "{table}"
    );
    let row = lines.next().unwrap();
    assert!(
        row.contains(" bob ") && row.contains("1 entry ") && row.ends_with("note.txt"),
        "{table}"
    );
    let out = a.warp(&["offers", "cancel", "ab"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).contains("at least 4 characters"),
        "{}",
        text(&out)
    );
}

#[test]
fn gates_flows_and_offers_are_listed_with_no_node_running() {
    let mut a = TestNode::start();
    let b = TestNode::start();
    a.meet("bob", &b, "alice");
    assert!(a
        .warp(&["gate", "expose", "web", "127.0.0.1:8080"])
        .status
        .success());
    let file = a.home.path().join("note.txt");
    std::fs::write(&file, b"hello").unwrap();
    let out = a.warp(&["share", "bob", file.to_str().unwrap(), "--no-wait"]);
    assert!(out.status.success(), "{}", text(&out));
    let port = support::free_port().to_string();
    let out = a.warp(&[
        "flow", "add", "cam", "1:1", &port, "--send", "self", "--recv", "bob",
    ]);
    assert!(out.status.success(), "{}", text(&out));
    a.interrupt();
    let out = a.warp(&["flow"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("flow cam  1:1") && text(&out).contains("node not running"),
        "{}",
        text(&out)
    );
    let out = a.warp(&["gate"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("exposed  web"), "{}", text(&out));
    let out = a.warp(&["offers", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let offers: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(offers[0]["names"][0], "note.txt", "{offers}");
    // Changing needs the node, and says where it looked.
    let out = a.warp(&["gate", "unexpose", "web"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("no node is running"), "{}", text(&out));
}

#[test]
fn the_nodes_flags_can_live_in_warp_toml() {
    let home = tempfile::tempdir().unwrap();
    let port = support::free_port();
    std::fs::write(
        home.path().join("warp.toml"),
        format!("[node]\nlisten = \"127.0.0.1:{port}\"\napi = \"off\"\nws = \"off\"\n"),
    )
    .unwrap();
    let child = warp_cmd(home.path())
        .arg("node")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let seen = start_up_lines(child);
    assert!(
        seen.iter()
            .any(|l| l.contains(&format!("udp 127.0.0.1:{port}"))),
        "{seen:?}"
    );
    assert!(
        !seen
            .iter()
            .any(|l| l.contains("REST API") || l.contains("WARP links")),
        "{seen:?}"
    );
    // A flag wins over the file; a bad value in the file names it.
    std::fs::write(
        home.path().join("warp.toml"),
        "[node]\napi = \"0.0.0.0:1\"\n",
    )
    .unwrap();
    let out = warp_cmd(home.path())
        .args(["node", "--ws", "off"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("[node] api"), "{}", text(&out));
}

#[test]
fn ping_and_speed_print_json_that_parses() {
    let a = TestNode::start();
    let b = TestNode::start();
    a.meet("bob", &b, "alice");
    let out = a.warp(&["ping", "bob", "-c", "2", "-i", "0.05", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert_eq!(lines[0]["id"], b.id.as_str());
    for (i, probe) in lines[1..3].iter().enumerate() {
        assert_eq!(probe["seq"], i as u64, "{probe}");
        assert!(probe["rtt_us"].as_u64().is_some(), "{probe}");
    }
    assert_eq!(lines[3]["transmitted"], 2);
    assert_eq!(lines[3]["received"], 2);
    assert!(lines[3]["rtt_ms"]["avg"].as_f64().is_some(), "{}", lines[3]);

    let out = a.warp(&["speed", "bob", "-n", "1M", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["bytes"], 1 << 20);
    assert_eq!(doc["verified"], true);
    assert_eq!(doc["check"], "sha256");
    assert!(doc["mbit_per_s"].as_f64().unwrap() > 0.0, "{doc}");

    // The node at a glance.
    let out = a.warp(&["status", "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["id"], a.id.as_str());
    assert_eq!(s["quic"], a.addr().as_str());
    assert_eq!(
        (s["peers"].as_u64(), s["connected"].as_u64()),
        (Some(1), Some(1)),
        "{s}"
    );
    let out = a.warp(&["status"]);
    assert!(
        text(&out).contains("1 peer in the book, 1 connected"),
        "{}",
        text(&out)
    );
}
