//! TCP gates end to end: a real echo server behind one node, clients through another.

mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use support::{
    echo_server, free_port, free_tcp_port, reset_by_gate, tcp_server, text, until_reset_by_gate,
    wait_until, TestNode,
};

fn gate_pair() -> (TestNode, TestNode, String) {
    let a = TestNode::start();
    let b = TestNode::start();
    let echo = echo_server();
    let out = b.warp(&["gate", "expose", "echo", &echo]);
    assert!(out.status.success(), "{}", text(&out));
    a.meet("bob", &b, "alice");
    let listen = format!("127.0.0.1:{}", free_tcp_port());
    let out = a.warp(&["gate", "open", &listen, "bob", "echo"]);
    assert!(out.status.success(), "{}", text(&out));
    (a, b, listen)
}

/// Calls a non-blocking `write` (given how much it has taken so far) until it has been
/// held back (`WouldBlock`) for a whole second, at most until `limit` is taken or 30 s
/// pass; returns how much was taken and whether it was held back.
fn until_held_back(
    limit: usize,
    mut write: impl FnMut(usize) -> std::io::Result<usize>,
) -> (usize, bool) {
    let mut taken = 0usize;
    let mut last_progress = std::time::Instant::now();
    let deadline = last_progress + Duration::from_secs(30);
    while taken < limit && std::time::Instant::now() < deadline {
        match write(taken) {
            Ok(n) => {
                taken += n;
                last_progress = std::time::Instant::now();
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if last_progress.elapsed() > Duration::from_secs(1) {
                    return (taken, true);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => panic!("{e}"),
        }
    }
    (taken, false)
}

/// Sends `data`, half-closes, and reads everything back until the far end closes.
fn round_trip(addr: &str, data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut conn = TcpStream::connect(addr)?;
    conn.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut writer = conn.try_clone()?;
    let data = data.to_vec();
    let w = std::thread::spawn(move || {
        writer.write_all(&data)?;
        writer.shutdown(Shutdown::Write)
    });
    let mut back = Vec::new();
    conn.read_to_end(&mut back)?;
    w.join().unwrap()?;
    Ok(back)
}

#[test]
fn many_concurrent_connections_arrive_intact_with_half_close() {
    let (a, b, listen) = gate_pair();
    let clients: Vec<_> = (0..16u8)
        .map(|i| {
            let listen = listen.clone();
            std::thread::spawn(move || {
                let data: Vec<u8> = (0..256 * 1024u32)
                    .map(|n| (n.wrapping_mul(31) as u8) ^ i)
                    .collect();
                let back = round_trip(&listen, &data).unwrap();
                assert!(
                    back == data,
                    "client {i}: {} bytes back of {}",
                    back.len(),
                    data.len()
                );
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    let list = text(&a.warp(&["gate"]));
    assert!(
        list.contains(&format!("open     tcp {listen:<16} -> echo on bob")),
        "{list}"
    );
    let list = text(&b.warp(&["gate"]));
    assert!(list.contains("exposed  echo"), "{list}");
}

#[test]
fn a_gate_comes_back_after_a_restart_and_can_be_closed() {
    let (mut a, _b, listen) = gate_pair();
    a.kill();
    a.spawn();
    assert_eq!(round_trip(&listen, b"again").unwrap(), b"again");
    let out = a.warp(&["gate", "close", &listen]);
    assert!(out.status.success(), "{}", text(&out));
    // Closing waits for the listener to close: nothing listens once the command returns.
    let refused = TcpStream::connect(&listen).unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
}

#[test]
fn unknown_gates_and_blocked_peers_get_no_connection() {
    let (a, b, listen) = gate_pair();
    let nope = format!("127.0.0.1:{}", free_tcp_port());
    // The peer is asked when the gate opens: an unknown service is refused there, and
    // nothing listens.
    let out = a.warp(&["gate", "open", &nope, "bob", "nope"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("no gate \"nope\" is exposed on this node"),
        "{}",
        text(&out)
    );
    let refused = TcpStream::connect(&nope).unwrap_err();
    assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);

    b.add_peer("alice", &a);
    let out = b.warp(&["peers", "set", "alice", "policy", "block"]);
    assert!(out.status.success(), "{}", text(&out));
    // The gate still listens; what reaches it is reset, and the service hears nothing.
    until_reset_by_gate(&listen);
    // Alice's node dials again, and is refused at the door.
    let refused = format!("refused blocked peer alice ({})", a.id);
    wait_until("bob refuses alice's dial", Duration::from_secs(10), || {
        b.log().contains(&refused)
    });

    let out = b.warp(&["gate", "expose", "Bad Name", "127.0.0.1:1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).contains("cannot name a gate"), "{}", text(&out));
}

#[test]
fn a_reset_on_the_far_side_reaches_the_client_as_a_reset() {
    // A service that reads a little and then resets the connection.
    let target = tcp_server(|mut conn| {
        let mut buf = [0u8; 5];
        let _ = conn.read_exact(&mut buf);
        let _ = socket2::SockRef::from(&conn).set_linger(Some(Duration::ZERO));
    });
    let a = TestNode::start();
    let b = TestNode::start();
    assert!(b.warp(&["gate", "expose", "rst", &target]).status.success());
    a.meet("bob", &b, "alice");
    let listen = format!("127.0.0.1:{}", free_tcp_port());
    let out = a.warp(&["gate", "open", &listen, "bob", "rst"]);
    assert!(out.status.success(), "{}", text(&out));

    let mut conn = TcpStream::connect(&listen).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    conn.write_all(b"hello").unwrap();
    let mut buf = [0u8; 16];
    let got = conn.read(&mut buf);
    assert!(
        matches!(&got, Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset),
        "expected a reset, got {got:?}"
    );
}

#[test]
fn an_allow_list_admits_only_the_peers_on_it() {
    let echo = echo_server();
    let a = TestNode::start();
    let b = TestNode::start();
    let c = TestNode::start();
    b.add_peer("alice", &a);
    b.add_peer("carol", &c);
    // Both open the gate while it serves every peer in the book; then it gets a list.
    assert!(b.warp(&["gate", "expose", "echo", &echo]).status.success());
    let mut listens = Vec::new();
    for node in [&a, &c] {
        node.add_peer("bob", &b);
        let listen = format!("127.0.0.1:{}", free_tcp_port());
        let out = node.warp(&["gate", "open", &listen, "bob", "echo"]);
        assert!(out.status.success(), "{}", text(&out));
        listens.push(listen);
    }
    let out = b.warp(&["gate", "expose", "echo", &echo, "--allow", "alice"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&b.warp(&["gate"])).contains("(alice)"));
    assert_eq!(round_trip(&listens[0], b"hello").unwrap(), b"hello");
    reset_by_gate(&listens[1]).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let said = format!("peer {} is not on its allow list", c.id);
    while !b.log().contains(&said) {
        assert!(std::time::Instant::now() < deadline, "{}", b.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    // Opening it now is refused at once, with the reason.
    let listen = format!("127.0.0.1:{}", free_tcp_port());
    let out = c.warp(&["gate", "open", &listen, "bob", "echo"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("not on its allow list"),
        "{}",
        text(&out)
    );
}

#[test]
fn udp_datagrams_keep_their_boundaries_per_source() {
    // A UDP echo service that prefixes each datagram so replies are told apart.
    let server = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let target = server.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let mut buf = [0u8; 65_536];
        server
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        while let Ok((n, from)) = server.recv_from(&mut buf) {
            let mut reply = b"echo:".to_vec();
            reply.extend_from_slice(&buf[..n]);
            let _ = server.send_to(&reply, from);
        }
    });
    let a = TestNode::start();
    let b = TestNode::start();
    assert!(b
        .warp(&["gate", "expose", "echo", &target, "--udp"])
        .status
        .success());
    a.meet("bob", &b, "alice");
    let listen = format!("127.0.0.1:{}", free_port());
    let out = a.warp(&["gate", "open", &listen, "bob", "echo", "--udp"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&a.warp(&["gate"])).contains(&format!("open     udp {listen}")));

    // Two sources, datagrams of different sizes (including empty and large ones); each
    // source gets exactly its own replies, whole.
    let clients: Vec<_> = (0..2u8)
        .map(|c| {
            let listen = listen.clone();
            std::thread::spawn(move || {
                let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
                sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                for size in [0usize, 1, 100, 1400, 9000, 60_000] {
                    let dg: Vec<u8> = (0..size).map(|i| (i as u8) ^ c).collect();
                    // Loopback UDP can drop under load: a few tries, each answered or not.
                    let mut ok = false;
                    for _ in 0..5 {
                        sock.send_to(&dg, &listen).unwrap();
                        let mut buf = vec![0u8; 65_536];
                        if let Ok(n) = sock.recv(&mut buf) {
                            assert_eq!(&buf[..5], b"echo:");
                            assert_eq!(&buf[5..n], &dg[..], "client {c}, size {size}");
                            ok = true;
                            break;
                        }
                    }
                    assert!(ok, "client {c}: no reply to a {size}-byte datagram");
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    // A stream gate of that name does not exist: UDP and TCP gates are separate.
    let tcp_listen = format!("127.0.0.1:{}", free_tcp_port());
    let out = a.warp(&["gate", "open", &tcp_listen, "bob", "echo"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("no gate \"echo\" is exposed"),
        "{}",
        text(&out)
    );
}

#[test]
fn unix_socket_gates_carry_data_and_push_back_on_a_slow_service() {
    use std::os::unix::net::{UnixListener, UnixStream};
    let dir = tempfile::tempdir().unwrap();
    // Behind B: a Unix-socket service that echoes, and one that never reads.
    let echo_path = dir.path().join("echo.sock");
    let echo = UnixListener::bind(&echo_path).unwrap();
    std::thread::spawn(move || {
        for conn in echo.incoming().flatten() {
            std::thread::spawn(move || {
                let mut conn = conn;
                let mut buf = [0u8; 16 * 1024];
                while let Ok(n) = conn.read(&mut buf) {
                    if n == 0 || conn.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
                let _ = conn.shutdown(Shutdown::Write);
            });
        }
    });
    let stuck_path = dir.path().join("stuck.sock");
    let stuck = UnixListener::bind(&stuck_path).unwrap();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    std::thread::spawn(move || {
        let (mut conn, _) = stuck.accept().unwrap();
        let _ = release_rx.recv();
        let mut sink = Vec::new();
        let _ = conn.read_to_end(&mut sink);
    });

    let a = TestNode::start();
    let b = TestNode::start();
    a.meet("bob", &b, "alice");
    for (name, path) in [("echo", &echo_path), ("stuck", &stuck_path)] {
        let target = format!("unix:{}", path.display());
        let out = b.warp(&["gate", "expose", name, &target]);
        assert!(out.status.success(), "{}", text(&out));
    }
    let echo_gate = dir.path().join("to-echo.sock");
    let stuck_gate = dir.path().join("to-stuck.sock");
    for (name, path) in [("echo", &echo_gate), ("stuck", &stuck_gate)] {
        let listen = format!("unix:{}", path.display());
        let out = a.warp(&["gate", "open", &listen, "bob", name]);
        assert!(out.status.success(), "{}", text(&out));
    }

    // Data arrives intact, with half-close.
    let mut conn = UnixStream::connect(&echo_gate).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let data: Vec<u8> = (0..300_000u32).map(|i| i as u8).collect();
    let mut w = conn.try_clone().unwrap();
    let sent = data.clone();
    let writer = std::thread::spawn(move || {
        w.write_all(&sent).unwrap();
        w.shutdown(Shutdown::Write).unwrap();
    });
    let mut back = Vec::new();
    conn.read_to_end(&mut back).unwrap();
    writer.join().unwrap();
    assert!(back == data, "{} bytes back of {}", back.len(), data.len());

    // A service that does not read: the application's writes stop being taken once the
    // tunnel's buffers are full, instead of piling up in the node.
    let mut conn = UnixStream::connect(&stuck_gate).unwrap();
    conn.set_nonblocking(true).unwrap();
    let chunk = vec![7u8; 64 * 1024];
    let limit = 256 << 20;
    let (written, blocked) = until_held_back(limit, |_| conn.write(&chunk));
    assert!(blocked, "wrote {written} bytes without being held back");
    assert!(written < limit);
    release_tx.send(()).unwrap();
    conn.set_nonblocking(false).unwrap();
    conn.set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    conn.write_all(&chunk).unwrap();
}

#[test]
fn unix_datagram_gates_keep_boundaries_and_block_the_sender_under_back_pressure() {
    use std::os::unix::net::UnixDatagram;
    let dir = tempfile::tempdir().unwrap();
    // Behind B: a Unix datagram service that reads nothing until released, then checks
    // every datagram's sequence number and length and answers the sender with the count.
    let service_path = dir.path().join("service.sock");
    let service = UnixDatagram::bind(&service_path).unwrap();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<u32>();
    let checker = std::thread::spawn(move || {
        let expected = release_rx.recv().unwrap();
        service
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut buf = vec![0u8; 65_536];
        for seq in 0..expected {
            let (n, from) = service.recv_from(&mut buf).unwrap();
            let got = u32::from_be_bytes(buf[..4].try_into().unwrap());
            assert_eq!(got, seq, "datagrams out of order or lost");
            assert_eq!(
                n,
                4 + (seq as usize % 3000),
                "datagram {seq} lost its boundary"
            );
            if seq + 1 == expected {
                let reply = format!("got {expected}");
                service
                    .send_to_addr(reply.as_bytes(), &from)
                    .expect("answer the sender");
            }
        }
    });

    let a = TestNode::start();
    let b = TestNode::start();
    a.meet("bob", &b, "alice");
    let target = format!("unix:{}", service_path.display());
    let out = b.warp(&["gate", "expose", "dg", &target, "--udp"]);
    assert!(out.status.success(), "{}", text(&out));
    let gate = dir.path().join("gate.sock");
    let listen = format!("unix:{}", gate.display());
    let out = a.warp(&["gate", "open", &listen, "bob", "dg", "--udp"]);
    assert!(out.status.success(), "{}", text(&out));

    // The application sends without blocking until the gate stops taking datagrams.
    let client = UnixDatagram::bind(dir.path().join("client.sock")).unwrap();
    client.connect(&gate).unwrap();
    client.set_nonblocking(true).unwrap();
    let (sent, blocked) = until_held_back(200_000, |n| {
        let mut dg = (n as u32).to_be_bytes().to_vec();
        dg.resize(4 + (n % 3000), 0x5a);
        client.send(&dg).map(|_| 1)
    });
    let sent = sent as u32;
    assert!(blocked, "sent {sent} datagrams without being held back");
    // More went through the tunnel than the kernel's own queues hold.
    assert!(sent > 1000, "only {sent} datagrams were taken");
    release_tx.send(sent).unwrap();
    checker.join().unwrap();
    client.set_nonblocking(false).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut buf = [0u8; 64];
    let n = client.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], format!("got {sent}").as_bytes());
}

#[test]
fn with_the_peer_down_a_gate_connection_is_refused_at_once() {
    let (a, mut b, listen) = gate_pair();
    assert_eq!(round_trip(&listen, b"up").unwrap(), b"up");
    b.kill();
    // Once a dial to bob has failed at every address, each connection is reset at once
    // with the reason in the log, instead of waiting for its own dial to time out.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !a.log().contains("refused at once") {
        assert!(
            std::time::Instant::now() < deadline,
            "never refused at once:\n{}",
            a.log()
        );
        let _ = round_trip(&listen, b"anyone?");
        std::thread::sleep(Duration::from_millis(100));
    }
    reset_by_gate(&listen).unwrap();
    assert!(
        a.log().contains("refused at once: cannot reach bob"),
        "{}",
        a.log()
    );
    // Bob comes back: the background reconnect finds him and the gate serves again.
    b.spawn();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while round_trip(&listen, b"back").ok().as_deref() != Some(b"back") {
        assert!(std::time::Instant::now() < deadline, "{}", a.log());
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_connection_held_back_by_a_slow_service_does_not_stall_the_others() {
    // Behind B: a service that stops reading a connection whose first byte is `S`, and
    // echoes every other.
    let target = tcp_server(|mut conn| {
        let mut first = [0u8; 1];
        if conn.read_exact(&mut first).is_err() {
            return;
        }
        if &first == b"S" {
            // Held open, never read, until the test is over (at most 2 min).
            std::thread::sleep(Duration::from_secs(120));
            return;
        }
        let _ = conn.write_all(&first);
        let mut buf = [0u8; 16 * 1024];
        while let Ok(n) = conn.read(&mut buf) {
            if n == 0 || conn.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = conn.shutdown(Shutdown::Write);
    });
    let a = TestNode::start();
    let b = TestNode::start();
    assert!(b.warp(&["gate", "expose", "svc", &target]).status.success());
    a.meet("bob", &b, "alice");
    let listen = format!("127.0.0.1:{}", free_tcp_port());
    let out = a.warp(&["gate", "open", &listen, "bob", "svc"]);
    assert!(out.status.success(), "{}", text(&out));

    let mut stuck = TcpStream::connect(&listen).unwrap();
    stuck.write_all(b"S").unwrap();
    stuck.set_nonblocking(true).unwrap();
    let chunk = vec![7u8; 64 * 1024];
    let (taken, held) = until_held_back(256 << 20, |_| stuck.write(&chunk));
    assert!(
        held,
        "the slow connection was never held back ({taken} bytes taken)"
    );
    // While it is held back, other connections through the same gate carry their bytes.
    for i in 0..3u8 {
        let msg = [b'h', b'i', b'0' + i];
        assert_eq!(round_trip(&listen, &msg).unwrap(), msg);
    }
}

#[test]
fn a_udp_session_ends_after_a_minute_without_a_datagram() {
    // A UDP service that answers each datagram with the source port it came from: a new
    // session on the far side shows as a new port.
    let server = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let target = server.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        server
            .set_read_timeout(Some(Duration::from_secs(120)))
            .unwrap();
        while let Ok((_, from)) = server.recv_from(&mut buf) {
            let _ = server.send_to(from.port().to_string().as_bytes(), from);
        }
    });
    let a = TestNode::start();
    let b = TestNode::start();
    assert!(b
        .warp(&["gate", "expose", "port", &target, "--udp"])
        .status
        .success());
    a.meet("bob", &b, "alice");
    let listen = format!("127.0.0.1:{}", free_port());
    let out = a.warp(&["gate", "open", &listen, "bob", "port", "--udp"]);
    assert!(out.status.success(), "{}", text(&out));
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let ask = || -> Option<String> {
        // Loopback UDP may drop under load: a few tries.
        let mut buf = [0u8; 64];
        (0..5).find_map(|_| {
            sock.send_to(b"which?", &listen).unwrap();
            let n = sock.recv(&mut buf).ok()?;
            Some(String::from_utf8_lossy(&buf[..n]).into_owned())
        })
    };
    let first = ask().expect("an answer through the gate");
    assert_eq!(
        ask().as_deref(),
        Some(first.as_str()),
        "one session, one port"
    );
    // A minute without a datagram ends the session on both sides, and says so.
    wait_until(
        "the far side ends the session",
        Duration::from_secs(90),
        || b.log().contains("session from alice") && b.log().contains("ended after 60s"),
    );
    wait_until(
        "this side ends the session",
        Duration::from_secs(10),
        || {
            a.log()
                .contains("session ended after 60s without a datagram")
        },
    );
    let second = ask().expect("an answer through a new session");
    assert_ne!(
        first, second,
        "the far side kept its socket past the idle limit"
    );
}
