//! The map: `warp map` keeps nodes' signed records; two nodes that know only each
//! other's id find each other through it; the map keeps a node's own record only, as
//! its key signed it, and never lets an older record replace a newer one. On loopback.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use protocols::map::frame::{SERVICE, VERSION};
use protocols::map::{Frame, Record};
use support::map::MapServer;
use support::{text, TestNode};
use warp::identity::Identity;
use warp::transport::{Endpoint, Peer};

fn status(node: &TestNode) -> serde_json::Value {
    serde_json::from_str(&node.ok(&["status", "--json"])).unwrap()
}

#[test]
fn nodes_that_know_only_each_others_id_find_each_other_through_a_map() {
    let mut map = MapServer::start();
    let a = TestNode::bare(&["--map", &map.addr]);
    let b = TestNode::bare(&["--map", &map.addr]);
    for n in [&a, &b] {
        support::wait_until("registered", Duration::from_secs(20), || {
            status(n)["maps"][0]["registered_until"].is_u64()
        });
        let s = status(n);
        let m = &s["maps"][0];
        assert_eq!(m["observed"], n.addr(), "{s}");
        // The map's second port saw the same mapping: no NAT between them.
        assert_eq!(m["nat"], "EndpointIndependent", "{s}");
        assert!(m["error"].is_null(), "{s}");
    }
    // No --addr: the book has only the ids.
    a.ok(&["peers", "add", "bob", &b.id]);
    b.ok(&["peers", "add", "alice", &a.id]);
    let out = a.warp(&["ping", "bob", "-c", "1"]);
    assert!(out.status.success(), "{}\n{}", text(&out), a.log());
    // The map relays at once; the direct path, once up, takes the traffic.
    support::wait_until("a direct path up", Duration::from_secs(20), || {
        let peers: serde_json::Value =
            serde_json::from_str(&a.ok(&["peers", "--json"])).unwrap_or_default();
        peers[0]["paths"].as_array().is_some_and(|l| {
            l.iter()
                .any(|p| p["kind"] == "direct" && p["state"] == "up")
        })
    });
    let out = a.warp(&["ping", "bob", "-c", "1"]);
    assert!(
        text(&out).contains(&format!("via {}", b.addr())),
        "{}",
        text(&out)
    );

    // Ctrl-C stops the map cleanly.
    let sent = Command::new("kill")
        .args(["-INT", &map.child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    let stopped = loop {
        if let Some(s) = map.child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "the map ignored Ctrl-C");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(stopped.success(), "{stopped}");
}

/// A node's own key, signing a record of `id` (its own, or not).
fn record(signer: &Identity, id: [u8; 32], seq: u64) -> Record {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut r = Record {
        id,
        seq,
        expires: now + 300,
        addrs: vec!["192.0.2.1:7470".parse().unwrap()],
        signature: [0; 64],
    };
    r.signature = signer.sign(&r.signed_bytes());
    r
}

/// Sends `req` on a new `map` channel of `peer`; the answer.
async fn ask(peer: &Peer, req: &Frame) -> Frame {
    let mut ch = peer.open(SERVICE, VERSION).await.unwrap();
    ch.write(&req.encode()).await.unwrap();
    ch.read(Frame::decode).await.unwrap().unwrap()
}

/// A key kept in `dir`/`name`.
fn key(dir: &tempfile::TempDir, name: &str) -> Identity {
    std::fs::create_dir_all(dir.path().join(name)).unwrap();
    Identity::load_or_create(&dir.path().join(name)).unwrap()
}

#[test]
fn a_map_keeps_a_nodes_own_record_as_its_key_signed_it_and_never_an_older_one() {
    let map = MapServer::start();
    let dir = tempfile::tempdir().unwrap();
    let (me, other) = (key(&dir, "me"), key(&dir, "other"));
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let endpoint =
            Endpoint::bind("127.0.0.1:0".parse().unwrap(), me.clone(), Vec::new()).unwrap();
        let path = endpoint.dial_any(map.addr.parse().unwrap()).await.unwrap();
        let peer = Peer::new(path, me.peer_id());
        let mine = me.peer_id().0;

        // Another node's record, even signed by that node, is not mine to register.
        let theirs = record(&other, other.peer_id().0, 1);
        assert_eq!(
            ask(&peer, &Frame::Register(theirs)).await,
            Frame::Refused("a node registers its own record only".into())
        );
        // My id, signed by another key.
        let forged = record(&other, mine, 1);
        assert_eq!(
            ask(&peer, &Frame::Register(forged)).await,
            Frame::Refused("a record not signed by its key".into())
        );
        assert_eq!(
            ask(&peer, &Frame::Lookup(mine)).await,
            Frame::NotFound(mine)
        );

        let newer = record(&me, mine, 5);
        assert!(matches!(
            ask(&peer, &Frame::Register(newer.clone())).await,
            Frame::Registered(_)
        ));
        // A replayed older record is refused; the newer one stays.
        let older = record(&me, mine, 4);
        let Frame::Refused(why) = ask(&peer, &Frame::Register(older)).await else {
            panic!("an older record was kept");
        };
        assert!(why.contains("sequence number 5"), "{why}");
        assert_eq!(ask(&peer, &Frame::Lookup(mine)).await, Frame::Found(newer));

        // Where it sees me, and its other address to ask from.
        let Frame::Observed { addr, others } = ask(&peer, &Frame::Observe).await else {
            panic!("no observation");
        };
        assert_eq!(addr, endpoint.local_addr().unwrap());
        assert_eq!(others, vec![map.second]);

        // A malformed request ends its channel with a reason; the map goes on.
        let mut ch = peer.open(SERVICE, VERSION).await.unwrap();
        ch.write(&[0x7f, 0, 0]).await.unwrap();
        let Some(Frame::Refused(why)) = ch.read(Frame::decode).await.unwrap() else {
            panic!("no refusal");
        };
        assert!(why.contains("unknown map frame code"), "{why}");
        assert!(matches!(
            ask(&peer, &Frame::Lookup(mine)).await,
            Frame::Found(_)
        ));
    });
}

#[test]
fn a_pairing_code_finds_its_sender_through_a_map() {
    let map = MapServer::start();
    // No local network: only the map can tell the receiver where the code waits.
    let a = TestNode::bare(&["--map", &map.addr]);
    let b = TestNode::bare(&["--map", &map.addr]);
    let files = tempfile::tempdir().unwrap();
    let file = files.path().join("notes.txt");
    std::fs::write(&file, b"through the map").unwrap();
    let mut share = Command::new(env!("CARGO_BIN_EXE_warp"))
        .args(["share", file.to_str().unwrap()])
        .env("WARP_HOME", a.home.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(share.stdout.take().unwrap()).lines();
    let code = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix("code: ").map(str::to_string))
        .expect("a code is printed");
    let into = tempfile::tempdir().unwrap();
    let out = b.warp(&["receive", &code, "--to", into.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}\n{}", text(&out), b.log());
    assert_eq!(
        std::fs::read(into.path().join("notes.txt")).unwrap(),
        b"through the map"
    );
    let rest: String = lines.map_while(Result::ok).collect::<Vec<_>>().join("\n");
    assert!(share.wait().unwrap().success(), "{rest}");
    assert!(rest.contains("completed"), "{rest}");
}

#[test]
fn maps_in_the_configuration_file_are_applied_on_save() {
    let map = MapServer::start();
    let node = TestNode::bare(&[]);
    assert_eq!(status(&node)["maps"], serde_json::json!([]));
    let config = node.home.path().join("warp.toml");
    std::fs::write(&config, format!("[node]\nmap = [\"{}\"]\n", map.addr)).unwrap();
    support::wait_until("registered after the save", Duration::from_secs(20), || {
        status(&node)["maps"][0]["registered_until"].is_u64()
    });
    assert_eq!(status(&node)["maps"][0]["addr"], map.addr);
    std::fs::write(&config, "[node]\nmap = []\n").unwrap();
    support::wait_until(
        "no map after the next save",
        Duration::from_secs(20),
        || status(&node)["maps"] == serde_json::json!([]),
    );
}

/// Whether anything comes back to `sock` within half a second.
fn answered(sock: &std::net::UdpSocket) -> bool {
    sock.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let mut buf = [0u8; 2048];
    sock.recv_from(&mut buf).is_ok()
}

#[test]
fn the_maps_relay_forwards_only_for_keys_that_asked_and_answers_strangers_nothing() {
    use protocols::map::relay::{Datagram, TOKEN_LEN};
    let map = MapServer::start();
    let dir = tempfile::tempdir().unwrap();
    let (me, other) = (key(&dir, "me"), key(&dir, "other"));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let at: std::net::SocketAddr = map.addr.parse().unwrap();
    let token = rt.block_on(async {
        let connect = |id: &Identity| {
            let e = Endpoint::bind("127.0.0.1:0".parse().unwrap(), id.clone(), Vec::new()).unwrap();
            let id = id.peer_id();
            async move { Peer::new(e.dial_any(at).await.unwrap(), id) }
        };
        let (mine, theirs) = (connect(&me).await, connect(&other).await);
        // The other node never asks for me: the map refuses after its wait.
        let Frame::Refused(why) = ask(&mine, &Frame::Relay(other.peer_id().0)).await else {
            panic!("relayed to a node that did not ask");
        };
        assert!(why.contains("did not ask"), "{why}");
        // Both ask: both are granted, each with its own token.
        let (to_other, to_me) = (
            Frame::Relay(other.peer_id().0),
            Frame::Relay(me.peer_id().0),
        );
        let (a, b) = tokio::join!(ask(&mine, &to_other), ask(&theirs, &to_me));
        let (
            Frame::Relaying {
                peer: pa,
                token: ta,
            },
            Frame::Relaying {
                peer: pb,
                token: tb,
            },
        ) = (a, b)
        else {
            panic!("not granted");
        };
        assert_eq!((pa, pb), (other.peer_id().0, me.peer_id().0));
        assert_ne!(ta, tb);
        ta
    });
    let send = |token: &[u8; TOKEN_LEN]| {
        let mut d = Vec::new();
        Datagram::Send {
            token,
            to: &other.peer_id().0,
            packet: &[0x40; 1200],
        }
        .encode_into(&mut d);
        d
    };
    // A stranger with a token the map never gave, and one with my token from another
    // address: no byte comes back to either.
    for t in [[7u8; TOKEN_LEN], token] {
        let stranger = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        stranger.send_to(&send(&t), at).unwrap();
        assert!(!answered(&stranger), "the relay answered a stranger");
    }
    // Nor to one-byte punches or short headers.
    let stranger = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for d in [&[0u8][..], &[0, 1, 2, 3], &[0, 2, 0, 0]] {
        stranger.send_to(d, at).unwrap();
    }
    assert!(!answered(&stranger), "the relay answered a short datagram");
}
