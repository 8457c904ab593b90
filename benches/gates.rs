//! TCP gate benchmarks, in one run on loopback: throughput (1 GiB one way) and 1-byte
//! request/response latency through a warp TCP gate, next to OpenSSH port forwarding
//! (`ssh -L`, default cipher) and a direct connection.
//!
//! `cargo bench --bench gates` prints a Markdown table. Needs `sshd` and `ssh` (Debian's
//! openssh-server and openssh-client); without them the ssh column is left out.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod support;

use support::Node;

const BYTES: u64 = 1 << 30;
const ROUNDS: usize = 3;
const TRIPS: usize = 10_000;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let sink = sink_server();
    let echo = echo_server();

    let a = Node::start();
    let b = Node::start();
    b.warp(&["gate", "expose", "sink", &sink]);
    b.warp(&["gate", "expose", "echo", &echo]);
    a.warp(&["peers", "add", "bob", &b.id, "--addr", &b.addr()]);
    b.warp(&["peers", "add", "alice", &a.id, "--addr", &a.addr()]);
    let (warp_sink, warp_echo) = (free_addr(), free_addr());
    a.warp(&["gate", "open", &warp_sink, "bob", "sink"]);
    a.warp(&["gate", "open", &warp_echo, "bob", "echo"]);

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

fn free_addr() -> String {
    format!(
        "127.0.0.1:{}",
        TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    )
}

/// Counts what each connection sends; answers the count once the sender half-closes.
fn sink_server() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for c in l.incoming().flatten() {
            std::thread::spawn(move || {
                let mut c = c;
                let mut buf = vec![0u8; 256 * 1024];
                let mut n = 0u64;
                while let Ok(k) = c.read(&mut buf) {
                    if k == 0 {
                        break;
                    }
                    n += k as u64;
                }
                let _ = c.write_all(&n.to_be_bytes());
            });
        }
    });
    addr
}

fn echo_server() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for c in l.incoming().flatten() {
            std::thread::spawn(move || {
                let mut c = c;
                let _ = c.set_nodelay(true);
                let mut buf = [0u8; 64];
                while let Ok(k) = c.read(&mut buf) {
                    if k == 0 || c.write_all(&buf[..k]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
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
    _daemon: support::Sshd,
    client: Child,
    sink: String,
    echo: String,
}

impl Ssh {
    fn start(sink: &str, echo: &str) -> Option<Ssh> {
        let daemon = support::Sshd::start()?;
        let (ls, le) = (free_addr(), free_addr());
        let client = Command::new("ssh")
            .arg("-N")
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
