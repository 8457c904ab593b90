//! TCP gate benchmarks, in one run on loopback: throughput (1 GiB one way) and 1-byte
//! request/response latency through a warp TCP gate, next to OpenSSH port forwarding
//! (`ssh -L`) and a direct connection. ssh is pinned to aes256-gcm, the cipher two warp
//! nodes negotiate (rustls prefers TLS13_AES_256_GCM_SHA384); OpenSSH's default would be
//! chacha20-poly1305.
//!
//! `cargo bench --bench gates` prints a Markdown table. Needs `sshd` and `ssh` (Debian's
//! openssh-server and openssh-client); without them the ssh column is left out.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[path = "../tests/support/mod.rs"]
mod support;

use support::sshd::Sshd;
use support::{echo_server, free_tcp, sink_server, TestNode};

const BYTES: u64 = 1 << 30;
const ROUNDS: usize = 3;
const TRIPS: usize = 10_000;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let sink = sink_server();
    let echo = echo_server();

    let a = TestNode::bare(&[]);
    let b = TestNode::bare(&[]);
    b.ok(&["gate", "expose", "sink", &sink]);
    b.ok(&["gate", "expose", "echo", &echo]);
    a.ok(&["peers", "add", "bob", &b.id, "--addr", &b.addr()]);
    b.ok(&["peers", "add", "alice", &a.id, "--addr", &a.addr()]);
    let (warp_sink, warp_echo) = (free_tcp(), free_tcp());
    a.ok(&["gate", "open", &warp_sink, "bob", "sink"]);
    a.ok(&["gate", "open", &warp_echo, "bob", "echo"]);

    let ssh = Ssh::start(&sink, &echo);

    let mut rows: Vec<(&str, Vec<f64>, (f64, f64))> = Vec::new();
    let mut paths: Vec<(&str, String, String)> = vec![
        ("direct", sink.clone(), echo.clone()),
        ("warp gate", warp_sink, warp_echo),
    ];
    if let Some(s) = &ssh {
        paths.push(("ssh -L", s.sink.clone(), s.echo.clone()));
    }
    for (name, s, e) in &paths {
        let _ = throughput(s); // warm-up: connects, dials the tunnel
        let rates = (0..ROUNDS).map(|_| throughput(s)).collect();
        rows.push((name, rates, latency(e)));
    }
    println!("| path | throughput, Gbit/s (median of {ROUNDS}; runs) | 1-byte round trip p50 / p99, µs |");
    println!("|---|---|---|");
    for (name, mut rates, (p50, p99)) in rows {
        let runs = rates
            .iter()
            .map(|r| format!("{r:.2}"))
            .collect::<Vec<_>>()
            .join("/");
        rates.sort_by(|x, y| x.partial_cmp(y).unwrap());
        println!(
            "| {name} | {:.2} ({runs}) | {p50:.0} / {p99:.0} |",
            rates[rates.len() / 2]
        );
    }
    if ssh.is_none() {
        println!("(sshd not found: no ssh -L row)");
    }
}

/// Gbit/s of 1 GiB sent one way and acknowledged by the sink.
fn throughput(addr: &str) -> f64 {
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(120))).unwrap();
    let chunk = vec![5u8; 256 * 1024];
    let t = Instant::now();
    let mut left = BYTES;
    while left > 0 {
        let k = left.min(chunk.len() as u64) as usize;
        c.write_all(&chunk[..k]).unwrap();
        left -= k as u64;
    }
    c.shutdown(std::net::Shutdown::Write).unwrap();
    let mut n = [0u8; 8];
    c.read_exact(&mut n).unwrap();
    assert_eq!(u64::from_be_bytes(n), BYTES);
    BYTES as f64 * 8.0 / t.elapsed().as_secs_f64() / 1e9
}

fn latency(addr: &str) -> (f64, f64) {
    let mut c = TcpStream::connect(addr).unwrap();
    c.set_nodelay(true).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut b = [0u8; 1];
    for _ in 0..50 {
        c.write_all(&[1]).unwrap();
        c.read_exact(&mut b).unwrap();
    }
    let mut us: Vec<f64> = (0..TRIPS)
        .map(|_| {
            let t = Instant::now();
            c.write_all(&[1]).unwrap();
            c.read_exact(&mut b).unwrap();
            t.elapsed().as_secs_f64() * 1e6
        })
        .collect();
    us.sort_by(|x, y| x.partial_cmp(y).unwrap());
    (us[us.len() / 2], us[us.len() * 99 / 100])
}

/// A private sshd on loopback and one `ssh -L` client forwarding to the two servers.
struct Ssh {
    _daemon: Sshd,
    client: Child,
    sink: String,
    echo: String,
}

impl Ssh {
    fn start(sink: &str, echo: &str) -> Option<Ssh> {
        let daemon = Sshd::start()?;
        let (ls, le) = (free_tcp(), free_tcp());
        let client = Command::new("ssh")
            .arg("-N")
            .args(["-c", "aes256-gcm@openssh.com"])
            .args(daemon.client_options())
            .args([
                "-p",
                &daemon.port,
                "-L",
                &format!("{ls}:{sink}"),
                "-L",
                &format!("{le}:{echo}"),
                &daemon.target(),
            ])
            .stdin(Stdio::null())
            .spawn()
            .ok()?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(&ls).is_err() || TcpStream::connect(&le).is_err() {
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(Ssh {
            _daemon: daemon,
            client,
            sink: ls,
            echo: le,
        })
    }
}

impl Drop for Ssh {
    fn drop(&mut self) {
        let _ = self.client.kill();
        let _ = self.client.wait();
    }
}
