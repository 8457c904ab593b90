//! One map under load: 100 000 nodes' records held (written into the map's store before
//! it starts, each signed and verified as a registration would be), then, over QUIC on
//! loopback against the `warp map` process, look-ups of random keys and registrations
//! (each client its own key, registering a newer record again and again), from 32
//! clients at once, each one request at a time on its own channel. Reports requests per
//! second, the map's resident memory, and how long the store took to fill.
//!
//! `cargo bench --bench map` prints a Markdown table. No other tool is measured beside
//! it: nothing a user would pick instead serves signed peer records over QUIC.

use std::sync::Arc;
use std::time::{Duration, Instant};

use ed25519_dalek::{Signer, SigningKey};
use protocols::map::frame::{SERVICE, VERSION};
use protocols::map::{Frame, Record};
use rand::{Rng, RngCore};

#[path = "../tests/support/mod.rs"]
mod support;

const NODES: usize = 100_000;
const CLIENTS: usize = 32;
const REQUESTS_PER_CLIENT: usize = 2_000;

/// What a client asks, request `i` of it, with its key.
type Work = Arc<dyn Fn(&SigningKey, usize) -> Frame + Send + Sync>;

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A record of `key`, signed by it.
fn record(key: &SigningKey, seq: u64) -> Record {
    let mut r = Record {
        id: key.verifying_key().to_bytes(),
        seq,
        expires: now() + 3000,
        addrs: vec![
            "203.0.113.7:7470".parse().unwrap(),
            "10.0.0.7:7470".parse().unwrap(),
        ],
        signature: [0; 64],
    };
    r.signature = key.sign(&r.signed_bytes()).to_bytes();
    r
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// One client: its own key and connection; `work` builds each request.
async fn client(
    map: std::net::SocketAddr,
    key: SigningKey,
    n: usize,
    work: Work,
) -> (usize, Duration) {
    let dir = tempfile::tempdir().unwrap();
    let identity = {
        use ed25519_dalek::pkcs8::EncodePrivateKey;
        let pem = key.to_pkcs8_pem(Default::default()).unwrap();
        std::fs::write(dir.path().join("identity.pem"), pem.as_bytes()).unwrap();
        warp::identity::Identity::load_or_create(dir.path()).unwrap()
    };
    let me = identity.peer_id();
    let endpoint =
        warp::transport::Endpoint::bind("127.0.0.1:0".parse().unwrap(), identity, Vec::new())
            .unwrap();
    let path = endpoint.dial_any(map).await.unwrap();
    let peer = warp::transport::Peer::new(path, me);
    let mut ch = peer.open(SERVICE, VERSION).await.unwrap();
    let mut ok = 0;
    let started = Instant::now();
    for i in 0..n {
        // The map answers at most 100 requests a second per channel (fairness between
        // clients, not capacity): a new channel every 90 requests measures the map.
        if i > 0 && i % 90 == 0 {
            ch = peer.open(SERVICE, VERSION).await.unwrap();
        }
        let req = work(&key, i);
        ch.write(&req.encode()).await.unwrap();
        match ch.read(Frame::decode).await.unwrap() {
            Some(Frame::Found(_)) | Some(Frame::Registered(_)) => ok += 1,
            other => panic!("answer {other:?}"),
        }
    }
    (ok, started.elapsed())
}

fn main() {
    let data = tempfile::tempdir().unwrap();
    let map_dir = data.path().join("map");
    std::fs::create_dir_all(&map_dir).unwrap();

    // 100 000 nodes' records, each verified as it is kept.
    let mut rng = rand::thread_rng();
    let keys: Vec<SigningKey> = (0..NODES)
        .map(|_| {
            let mut b = [0u8; 32];
            rng.fill_bytes(&mut b);
            SigningKey::from_bytes(&b)
        })
        .collect();
    let ids: Arc<Vec<[u8; 32]>> =
        Arc::new(keys.iter().map(|k| k.verifying_key().to_bytes()).collect());
    let fill = Instant::now();
    {
        let db = sled::open(map_dir.join("map.sled")).unwrap();
        let records = warp::map_server::Records::new(db.open_tree("records").unwrap());
        for k in &keys {
            records.keep(&record(k, 1), now()).unwrap();
        }
        assert_eq!(records.len(), NODES);
        db.flush().unwrap();
    }
    let fill = fill.elapsed();

    let (a, b) = (support::free_port(), support::free_port());
    let addr = format!("127.0.0.1:{a}");
    let mut map = std::process::Command::new(env!("CARGO_BIN_EXE_warp"))
        .args([
            "map",
            "--listen",
            &addr,
            "--listen",
            &format!("127.0.0.1:{b}"),
            "--data",
            map_dir.to_str().unwrap(),
        ])
        .env("WARP_HOME", data.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let at: std::net::SocketAddr = addr.parse().unwrap();
    {
        use std::io::BufRead;
        let mut lines = std::io::BufReader::new(map.stdout.take().unwrap()).lines();
        let first = lines.next().expect("the map prints its id").unwrap();
        assert!(first.starts_with("map "), "{first}");
        std::thread::spawn(move || lines.for_each(drop));
    }
    let rss_idle = rss_kib(map.id());

    let rt = tokio::runtime::Runtime::new().unwrap();
    let run = |work: Work| {
        rt.block_on(async {
            let started = Instant::now();
            let tasks: Vec<_> = (0..CLIENTS)
                .map(|_| {
                    let mut b = [0u8; 32];
                    rand::thread_rng().fill_bytes(&mut b);
                    let key = SigningKey::from_bytes(&b);
                    tokio::spawn(client(at, key, REQUESTS_PER_CLIENT, work.clone()))
                })
                .collect();
            let mut done = 0;
            for t in tasks {
                done += t.await.unwrap().0;
            }
            done as f64 / started.elapsed().as_secs_f64()
        })
    };
    let lookups = {
        let ids = ids.clone();
        run(Arc::new(move |_, _| {
            Frame::Lookup(ids[rand::thread_rng().gen_range(0..ids.len())])
        }))
    };
    let registrations = run(Arc::new(|key, i| {
        Frame::Register(record(key, i as u64 + 1))
    }));
    let rss_busy = rss_kib(map.id());
    let _ = map.kill();
    let _ = map.wait();

    println!("| one `warp map`, {NODES} records held | figure |");
    println!("|---|---|");
    println!(
        "| filling the store (sign, verify, keep) | {:.1} s ({:.0} records/s) |",
        fill.as_secs_f64(),
        NODES as f64 / fill.as_secs_f64()
    );
    println!("| look-ups of random keys, {CLIENTS} clients over QUIC | {lookups:.0}/s |");
    println!(
        "| registrations (each verified, newer than the last), {CLIENTS} clients | {registrations:.0}/s |"
    );
    println!(
        "| the map's resident memory: idle / after the runs | {:.1} / {:.1} MiB |",
        rss_idle as f64 / 1024.0,
        rss_busy as f64 / 1024.0
    );
}
