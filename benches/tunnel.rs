//! Tunnel benchmarks, end to end, in one run on loopback:
//! - one channel's throughput between two `warp node` processes (`warp speed`, SHA-256
//!   checked on both sides) next to one plain quinn stream between two processes with
//!   quinn's default settings (the ceiling);
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

use support::measure::speed_secs;
use support::{free_port, TestNode};

const BYTES: u64 = 1 << 30;
const ROUNDS: usize = 3;
const PINGS: usize = 500;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("--quinn-sink") => return quinn_sink(args[2].parse().unwrap()),
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
    for _ in 0..ROUNDS {
        warp_rates.push(warp_speed(&a, false));
        checked_rates.push(warp_speed(&a, true));
        quinn_rates.push(plain_quinn());
    }
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
    let mut us: Vec<f64> = out
        .lines()
        .filter_map(|l| l.split("time=").nth(1))
        .map(|t| t.trim_end_matches(" ms").parse::<f64>().unwrap() * 1000.0)
        .collect();
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

/// Plain quinn gets the worker count the node uses (half the cores, at least one), so
/// the ratio measures the tunnel, not the runtime.
fn rt() -> tokio::runtime::Runtime {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads((cores / 2).max(1))
        .enable_all()
        .build()
        .unwrap()
}

/// The ceiling: one quinn stream carrying 1 GiB to another process, default settings.
fn plain_quinn() -> f64 {
    let port = free_port();
    let mut server = Command::new(std::env::current_exe().unwrap())
        .args(["--quinn-sink", &port.to_string()])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let rate = rt().block_on(async move {
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
        let mut endpoint = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
        endpoint.set_default_client_config(quinn::ClientConfig::new(Arc::new(quic)));
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let conn = endpoint.connect(addr, "bench").unwrap().await.unwrap();
        let (mut send, mut recv) = conn.open_bi().await.unwrap();
        let chunk = vec![7u8; 64 * 1024];
        let started = Instant::now();
        let mut left = BYTES;
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            send.write_all(&chunk[..n]).await.unwrap();
            left -= n as u64;
        }
        send.finish().unwrap();
        let got = recv.read_to_end(16).await.unwrap();
        assert_eq!(u64::from_be_bytes(got[..8].try_into().unwrap()), BYTES);
        let secs = started.elapsed().as_secs_f64();
        conn.close(0u32.into(), b"done");
        BYTES as f64 / secs / 1e6
    });
    let _ = server.kill();
    let _ = server.wait();
    rate
}

fn quinn_sink(port: u16) {
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
        let endpoint = quinn::Endpoint::server(
            quinn::ServerConfig::with_crypto(Arc::new(quic)),
            format!("127.0.0.1:{port}").parse().unwrap(),
        )
        .unwrap();
        let conn = endpoint.accept().await.unwrap().await.unwrap();
        let (mut send, mut recv) = conn.accept_bi().await.unwrap();
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0u64;
        while let Some(n) = recv.read(&mut buf).await.unwrap() {
            total += n as u64;
        }
        send.write_all(&total.to_be_bytes()).await.unwrap();
        send.finish().unwrap();
        conn.closed().await;
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
