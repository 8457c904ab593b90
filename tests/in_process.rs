//! Nodes in this test's own process, through the library (`warp::node::start`): no `warp`
//! binary, no child process. Each stops when its shutdown future completes.

use std::path::Path;
use std::time::Duration;

use tokio::sync::oneshot;
use warp::control::{Client, Request, Response};
use warp::node::{start, NodeHandle, NodeOptions};

/// Starts a node on `dir`, listening on loopback only, with no REST API and no hub; it
/// stops when the returned sender is used (or dropped).
async fn node(dir: &Path) -> (NodeHandle, oneshot::Sender<()>) {
    let (stop, stopped) = oneshot::channel::<()>();
    let opts = NodeOptions {
        listen: "127.0.0.1:0".parse().unwrap(),
        impair: Vec::new(),
        interfaces: Vec::new(),
        incoming: dir.join("incoming"),
        config: dir.join("warp.toml"),
        ws: None,
        ws_public: false,
        api: None,
        unknown: None,
        lan: false,
        maps: Vec::new(),
    };
    let shutdown = async move {
        let _ = stopped.await;
    };
    let handle = start(dir.to_path_buf(), opts, shutdown).await.unwrap();
    (handle, stop)
}

/// Sends `req` to the node on `dir`; every answer up to the final one.
async fn ask(dir: &Path, req: &Request) -> Vec<Response> {
    let mut client = Client::request(dir, req).await.unwrap();
    let mut answers = Vec::new();
    loop {
        let r = tokio::time::timeout(Duration::from_secs(20), client.next())
            .await
            .expect("the node answers")
            .unwrap();
        let done = r.is_final();
        answers.push(r);
        if done {
            return answers;
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_nodes_in_one_process_exchange_a_channel_and_stop_cleanly() {
    let (da, db) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, stop_a) = node(da.path()).await;
    let (b, stop_b) = node(db.path()).await;
    assert_ne!(a.id, b.id);
    for (here, alias, there) in [(&a, "bob", &b), (&b, "alice", &a)] {
        let add = Request::PeerAdd {
            alias: alias.into(),
            id: there.id.to_string(),
            addrs: vec![there.quic.to_string()],
        };
        let answers = ask(&here.dir, &add).await;
        assert!(
            matches!(answers.last(), Some(Response::Peer(_))),
            "{answers:?}"
        );
    }

    // A ping channel from a to b: two probes come back.
    let ping = Request::Ping {
        peer: "bob".into(),
        count: 2,
        interval_ms: 10,
        size: 64,
    };
    let answers = ask(&a.dir, &ping).await;
    match answers.first() {
        Some(Response::PingStart { id, remote }) => {
            assert_eq!(*id, b.id.to_string());
            assert_eq!(*remote, b.quic.to_string());
        }
        other => panic!("{other:?}"),
    }
    let replies: Vec<u32> = answers
        .iter()
        .filter_map(|r| match r {
            Response::PingReply { seq, size, .. } if *size == 64 => Some(*seq),
            _ => None,
        })
        .collect();
    assert_eq!(replies.len(), 2, "{answers:?}");
    assert!(
        matches!(answers.last(), Some(Response::PingDone)),
        "{answers:?}"
    );

    // A long speed run reports how far it got before its result.
    let speed = Request::Speed {
        peer: "bob".into(),
        bytes: 1 << 30,
        seed: 1,
        verify: false,
        mode: Default::default(),
    };
    let answers = ask(&a.dir, &speed).await;
    let progress: Vec<u64> = answers
        .iter()
        .filter_map(|r| match r {
            Response::SpeedProgress { bytes, .. } => Some(*bytes),
            _ => None,
        })
        .collect();
    assert!(!progress.is_empty(), "{answers:?}");
    assert!(progress.windows(2).all(|w| w[0] <= w[1]), "{progress:?}");
    assert!(progress.iter().all(|b| *b < 1 << 30), "{progress:?}");
    match answers.last() {
        Some(Response::SpeedDone {
            bytes, verified, ..
        }) => assert_eq!((*bytes, *verified), (1 << 30, true)),
        other => panic!("{other:?}"),
    }

    // Shutdown is the future we gave: each node stops, removes its control socket and
    // frees its data directory for the next node.
    let _ = stop_b.send(());
    b.stopped().await.unwrap();
    assert!(Client::connect(db.path()).await.is_none());
    let a_id = a.id;
    let _ = stop_a.send(());
    a.stopped().await.unwrap();
    assert!(!da.path().join("control.sock").exists());
    // The same directory serves again in this process, with the same identity and book.
    let (again, stop) = node(da.path()).await;
    assert_eq!(again.id, a_id);
    let answers = ask(&again.dir, &Request::Peers).await;
    assert!(format!("{answers:?}").contains("bob"), "{answers:?}");
    let _ = stop.send(());
    again.stopped().await.unwrap();
}
