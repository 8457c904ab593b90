//! Tunnel benchmarks, end to end, in one run on loopback:
//! - one channel's throughput between two `warp node` processes (`warp speed`, SHA-256
//!   checked on both sides) next to one plain quinn stream between two processes: the
//!   node's own transport settings (BBR, windows, MTU ceiling, 4 MiB socket buffers, the
//!   same worker count) and one warm connection, as the nodes have; both timed from the
//!   first byte to the receiver's count;
//! - `warp ping` round trips next to a plain UDP echo between two processes.
//!
//! `cargo bench --bench tunnel` prints a Markdown table. Bounded: 3 rounds of 1 GiB each
//! way, 500 round trips each.

use std::net::{SocketAddr, UdpSocket};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "../tests/support/mod.rs"]
mod support;

use support::measure::{ping_ms, speed_secs};
use support::{free_port, TestNode};

const BYTES: u64 = 1 << 30;
const ROUNDS: usize = 3;
const PINGS: usize = 500;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("--quinn-sink") => return quinn_sink(&args[2]),
        Some("--udp-echo") => return udp_echo(args[2].parse().unwrap()),
        _ => {}
    }
    if args.iter().any(|a| a == "--list") {
        return;
    }
    let a = TestNode::bare(&[]);
    let b = TestNode::bare(&[]);
    a.ok(&["peers", "add", "bob", &b.id, "--addr", &b.addr()]);
    b.ok(&["peers", "add", "alice", &a.id, "--addr", &a.addr()]);
    a.ok(&["ping", "bob", "-c", "3", "-i", "0.05"]);

    let mut warp_rates = Vec::new();
    let mut checked_rates = Vec::new();
    let mut quinn_rates = Vec::new();
    let quinn = PlainQuinn::start();
    quinn.stream(64 << 20); // warm-up, as the ping above warms the nodes' connection
    for _ in 0..ROUNDS {
        warp_rates.push(warp_speed(&a, false));
        checked_rates.push(warp_speed(&a, true));
        quinn_rates.push(quinn.stream(BYTES));
    }
    drop(quinn);
    let warp_rtt = warp_ping(&a);
    let udp_rtt = udp_ping();

    let (w, q) = (median(&mut warp_rates), median(&mut quinn_rates));
    let c = median(&mut checked_rates);
    println!("| what | warp | plain quinn / UDP | ratio |");
    println!("|---|---|---|---|");
    println!(
        "| one channel, 1 GiB, MB/s (median of {ROUNDS}; runs {}) | {w:.0} | {q:.0} | {:.2} |",
        fmt_runs(&warp_rates, &quinn_rates),
        w / q
    );
    println!(
        "| same, SHA-256 of every byte on both sides | {c:.0} | {q:.0} | {:.2} |",
        c / q
    );
    println!(
        "| 1-byte round trip p50 / p99, µs | {:.0} / {:.0} | {:.0} / {:.0} | +{:.0} µs at p50 |",
        warp_rtt.0,
        warp_rtt.1,
        udp_rtt.0,
        udp_rtt.1,
        warp_rtt.0 - udp_rtt.0
    );
}

fn fmt_runs(w: &[f64], q: &[f64]) -> String {
    let f = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x:.0}"))
            .collect::<Vec<_>>()
            .join("/")
    };
    format!("warp {}, quinn {}", f(w), f(q))
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

/// MB/s of `warp speed` (decimal megabytes, as the anchors in the specs); with `verify`
/// both sides also hash every byte with SHA-256.
fn warp_speed(a: &TestNode, verify: bool) -> f64 {
    let n = BYTES.to_string();
    let mut args = vec!["speed", "bob", "-n", &n];
    if !verify {
        args.push("--no-verify");
    }
    let out = a.ok(&args);
    assert!(out.contains(" verified"), "{out}");
    BYTES as f64 / speed_secs(&out) / 1e6
}

fn warp_ping(a: &TestNode) -> (f64, f64) {
    let out = a.ok(&[
        "ping",
        "bob",
        "-c",
        &PINGS.to_string(),
        "-i",
        "0.002",
        "-s",
        "1",
    ]);
    let mut us: Vec<f64> = ping_ms(&out).into_iter().map(|ms| ms * 1000.0).collect();
    assert_eq!(us.len(), PINGS, "{out}");
    (percentile(&mut us, 0.5), percentile(&mut us, 0.99))
}

fn udp_ping() -> (f64, f64) {
    let port = free_port();
    let mut server = Command::new(std::env::current_exe().unwrap())
        .args(["--udp-echo", &port.to_string()])
        .spawn()
        .unwrap();
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.connect(("127.0.0.1", port)).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut buf = [0u8; 16];
    let mut us = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while us.len() < PINGS && Instant::now() < deadline {
        let t = Instant::now();
        sock.send(&[1]).unwrap();
        if sock.recv(&mut buf).is_ok() {
            us.push(t.elapsed().as_secs_f64() * 1e6);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let _ = server.kill();
    let _ = server.wait();
    (percentile(&mut us, 0.5), percentile(&mut us, 0.99))
}

fn udp_echo(port: u16) {
    let sock = UdpSocket::bind(("127.0.0.1", port)).unwrap();
    let mut buf = [0u8; 1500];
    sock.set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    while let Ok((n, from)) = sock.recv_from(&mut buf) {
        let _ = sock.send_to(&buf[..n], from);
    }
}

/// Plain quinn gets the worker count the node uses (half the cores, at least one, or
/// `--threads N` from `WARP_NODE_ARGS`), so the ratio measures the tunnel, not the
/// runtime.
fn rt() -> tokio::runtime::Runtime {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let args = std::env::var("WARP_NODE_ARGS").unwrap_or_default();
    let words: Vec<&str> = args.split_whitespace().collect();
    let asked = words
        .windows(2)
        .find(|w| w[0] == "--threads")
        .and_then(|w| w[1].parse().ok());
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(asked.unwrap_or((cores / 2).max(1)))
        .enable_all()
        .build()
        .unwrap()
}

/// The ceiling: plain quinn to a sink in another process, over one connection with the
/// node's transport settings and sockets.
struct PlainQuinn {
    rt: tokio::runtime::Runtime,
    conn: quinn::Connection,
    _endpoint: quinn::Endpoint,
    server: std::process::Child,
}

/// An endpoint on a loopback socket made as the node makes its own.
fn endpoint(server: Option<quinn::ServerConfig>) -> quinn::Endpoint {
    let socket = warp::transport::endpoint::bind_udp("127.0.0.1:0".parse().unwrap()).unwrap();
    let runtime: Arc<dyn quinn::Runtime> = Arc::new(quinn::TokioRuntime);
    quinn::Endpoint::new(
        warp::transport::endpoint::endpoint_config(),
        server,
        socket,
        runtime,
    )
    .unwrap()
}

impl PlainQuinn {
    /// Starts the sink process and connects to it.
    fn start() -> PlainQuinn {
        let port_file = tempfile::NamedTempFile::new().unwrap();
        let server = Command::new(std::env::current_exe().unwrap())
            .args(["--quinn-sink", port_file.path().to_str().unwrap()])
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let port: u16 = loop {
            if let Ok(p) = std::fs::read_to_string(port_file.path())
                .unwrap()
                .trim()
                .parse()
            {
                break p;
            }
            assert!(Instant::now() < deadline, "the quinn sink did not start");
            std::thread::sleep(Duration::from_millis(20));
        };
        let rt = rt();
        let (conn, endpoint) = rt.block_on(async move {
            let mut client = rustls::ClientConfig::builder_with_provider(Arc::new(
                rustls::crypto::ring::default_provider(),
            ))
            .with_protocol_versions(&[&rustls::version::TLS13])
            .unwrap()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny))
            .with_no_client_auth();
            client.alpn_protocols = vec![b"bench".to_vec()];
            let quic = quinn::crypto::rustls::QuicClientConfig::try_from(client).unwrap();
            let mut cfg = quinn::ClientConfig::new(Arc::new(quic));
            cfg.transport_config(warp::transport::endpoint::transport());
            let endpoint = endpoint(None);
            let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
            let conn = endpoint
                .connect_with(cfg, addr, "bench")
                .unwrap()
                .await
                .unwrap();
            (conn, endpoint)
        });
        PlainQuinn {
            rt,
            conn,
            _endpoint: endpoint,
            server,
        }
    }

    /// MB/s of one stream of `bytes`, from the first byte to the sink's count.
    fn stream(&self, bytes: u64) -> f64 {
        let conn = self.conn.clone();
        self.rt.block_on(async move {
            let (mut send, mut recv) = conn.open_bi().await.unwrap();
            let chunk = vec![7u8; 64 * 1024];
            let started = Instant::now();
            let mut left = bytes;
            while left > 0 {
                let n = left.min(chunk.len() as u64) as usize;
                send.write_all(&chunk[..n]).await.unwrap();
                left -= n as u64;
            }
            send.finish().unwrap();
            let got = recv.read_to_end(16).await.unwrap();
            assert_eq!(u64::from_be_bytes(got[..8].try_into().unwrap()), bytes);
            bytes as f64 / started.elapsed().as_secs_f64() / 1e6
        })
    }
}

impl Drop for PlainQuinn {
    fn drop(&mut self) {
        self.conn.close(0u32.into(), b"done");
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

/// The sink: accepts one connection and counts each stream, answering its length; writes
/// its port to `port_file` once it listens.
fn quinn_sink(port_file: &str) {
    rt().block_on(async move {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["bench".into()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let mut server = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
        server.alpn_protocols = vec![b"bench".to_vec()];
        let quic = quinn::crypto::rustls::QuicServerConfig::try_from(server).unwrap();
        let mut cfg = quinn::ServerConfig::with_crypto(Arc::new(quic));
        cfg.transport_config(warp::transport::endpoint::transport());
        let endpoint = endpoint(Some(cfg));
        let port = endpoint.local_addr().unwrap().port();
        std::fs::write(port_file, port.to_string()).unwrap();
        let conn = endpoint.accept().await.unwrap().await.unwrap();
        while let Ok((mut send, mut recv)) = conn.accept_bi().await {
            let mut buf = vec![0u8; 64 * 1024];
            let mut total = 0u64;
            while let Some(n) = recv.read(&mut buf).await.unwrap() {
                total += n as u64;
            }
            send.write_all(&total.to_be_bytes()).await.unwrap();
            send.finish().unwrap();
        }
    });
}

#[derive(Debug)]
struct AcceptAny;

impl rustls::client::danger::ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &[rustls::pki_types::CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }
    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &rustls::pki_types::CertificateDer<'_>,
        _: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Ok(rustls::client::danger::HandshakeSignatureValid::assertion())
    }
    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        rustls::crypto::ring::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}
