//! The node's configuration file: gates from the file, applied again on every save,
//! one by one, with bad files reported and the running configuration kept.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use support::{echo_server, free_tcp, reset_by_gate, text, TestNode};

/// Sends a line on an open connection and reads the echo.
fn ask(conn: &mut TcpStream, msg: &[u8]) -> Vec<u8> {
    conn.write_all(msg).unwrap();
    let mut back = vec![0u8; msg.len()];
    conn.read_exact(&mut back).unwrap();
    back
}

/// Whether a fresh connection to `addr` gets `msg` echoed.
fn works(addr: &str) -> bool {
    let Ok(mut conn) = TcpStream::connect(addr) else {
        return false;
    };
    conn.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    if conn.write_all(b"ping").is_err() {
        return false;
    }
    let mut back = [0u8; 4];
    conn.read_exact(&mut back).is_ok() && &back == b"ping"
}

fn wait_until(what: &str, f: impl Fn() -> bool) {
    support::wait_until(what, Duration::from_secs(10), f)
}

fn write_config(node: &TestNode, text: &str) {
    node.write_config(text);
}

#[test]
fn saving_the_file_adds_and_removes_gates_while_others_keep_running() {
    let (e1, e2, e0) = (echo_server(), echo_server(), echo_server());
    let a = TestNode::start();
    let b = TestNode::start();
    a.meet("bob", &b, "alice");
    write_config(
        &b,
        &format!("[[gate.expose]]\nname = \"one\"\ntarget = \"{e1}\"\n[[gate.expose]]\nname = \"two\"\ntarget = \"{e2}\"\n"),
    );
    assert!(b.warp(&["gate", "expose", "zero", &e0]).status.success());

    let (l0, l1, l2) = (free_tcp(), free_tcp(), free_tcp());
    write_config(
        &a,
        &format!("[[gate.open]]\nlisten = \"{l1}\"\npeer = \"bob\"\nname = \"one\"\n"),
    );
    wait_until("the gate from the file works", || works(&l1));
    let listing = text(&a.warp(&["gate"]));
    assert!(
        listing.contains(&format!("open     tcp {l1:<16} -> one on bob  [config]")),
        "{listing}"
    );

    // An unrelated connection, through a gate opened from the command line.
    assert!(a
        .warp(&["gate", "open", &l0, "bob", "zero"])
        .status
        .success());
    let mut steady = TcpStream::connect(&l0).unwrap();
    steady
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    assert_eq!(ask(&mut steady, b"before"), b"before");
    // And one through the gate that the file keeps.
    let mut kept = TcpStream::connect(&l1).unwrap();
    kept.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    assert_eq!(ask(&mut kept, b"kept"), b"kept");

    // Save: add gate two, keep gate one unchanged.
    write_config(
        &a,
        &format!(
            "[[gate.open]]\nlisten = \"{l1}\"\npeer = \"bob\"\nname = \"one\"\n\
             [[gate.open]]\nlisten = \"{l2}\"\npeer = \"bob\"\nname = \"two\"\n"
        ),
    );
    wait_until("the added gate works", || works(&l2));
    assert_eq!(ask(&mut steady, b"during"), b"during");
    assert_eq!(ask(&mut kept, b"still"), b"still");

    // A bad file: reported, and nothing changes.
    write_config(&a, "[[gate.open]]\nlisten = 5\n");
    wait_until("the bad file is reported", || {
        a.log().contains("keeping the running configuration")
    });
    assert!(works(&l1) && works(&l2));

    // Save: remove gate one.
    write_config(
        &a,
        &format!("[[gate.open]]\nlisten = \"{l2}\"\npeer = \"bob\"\nname = \"two\"\n"),
    );
    wait_until("the removed gate stops listening", || {
        TcpStream::connect(&l1).is_err()
    });
    assert!(works(&l2));
    assert_eq!(ask(&mut steady, b"after"), b"after");

    // Save: change gate two to a service B does not expose; the changed gate restarts
    // and now leads nowhere.
    write_config(
        &a,
        &format!("[[gate.open]]\nlisten = \"{l2}\"\npeer = \"bob\"\nname = \"nope\"\n"),
    );
    // (Between the old gate's stop and the new one's start nothing listens: wait for a
    // listener that leads nowhere.)
    support::wait_until(
        "the changed gate leads to the new name",
        Duration::from_secs(30),
        || reset_by_gate(&l2).is_ok(),
    );
    // (A connection may also end for another reason — the link to bob replaced under
    // it — so each look tries the gate again.)
    wait_until("the peer's refusal is logged", || {
        let _ = reset_by_gate(&l2);
        a.log().contains("no gate \"nope\" is exposed on this node")
    });
    assert_eq!(ask(&mut steady, b"last"), b"last");
}
