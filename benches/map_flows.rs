//! Flows from a map: how soon a change reaches the members. A map and three nodes on
//! loopback; flow `feed` (1:n) has n0 sending a datagram every 2 ms to n2, and to n1
//! while it is a member (n1's application says hello into the flow about every
//! millisecond, so n1 delivers to it once it runs the flow). Each round:
//! - the file is saved with n1 added as a receiver: time until n1's application gets
//!   the first datagram (the map's look at the file, the tables to both nodes, n1 binding
//!   the flow, n0 opening its channel to n1 — which also connects the two nodes in the
//!   first round);
//! - the file is saved without n1: time until n1 no longer runs the flow (as `warp flow
//!   --json` on n1 says, polled every 10 ms: each look spawns the CLI);
//! - n1 asks to join through the REST API (`join = "open"`): time until its application
//!   gets a datagram; then the REST API removes it again.
//!
//! `cargo bench --bench map_flows` prints a Markdown table: median and worst of each over
//! the rounds. No tool a user would pick instead defines flows on a server, so there is
//! no ratio: the goal is the issue's "within a second of the save".

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[path = "../tests/support/mod.rs"]
mod support;

use support::fleet::{ip, Fleet};

const ROUNDS: usize = 10;

/// The file with `feed` from n0 to `receivers`.
fn file(port: u16, receivers: &[&str]) -> String {
    let recv: Vec<String> = receivers.iter().map(|r| format!("\"{r}\"")).collect();
    format!(
        "[[flow]]\nname = \"feed\"\nmode = \"1:n\"\nport = {port}\njoin = \"open\"\nsend = [\"n0\"]\nrecv = [{}]\n",
        recv.join(", ")
    )
}

/// n1's application: it says hello into n1's flow port whenever it looks for a
/// datagram (about every millisecond), so n1 delivers to it as soon as it runs the flow.
struct App {
    sock: UdpSocket,
    flow: String,
}

impl App {
    fn poll(&self) -> bool {
        let _ = self.sock.send_to(b"hello", &self.flow);
        let mut buf = [0u8; 64];
        self.sock.recv(&mut buf).is_ok()
    }
}

/// Empties the application's socket of what it holds from before: 20 ms with nothing
/// (5 s at most, or the measurement would be wrong).
fn drain(app: &App) {
    let until = Instant::now() + Duration::from_secs(5);
    let mut quiet = Instant::now();
    while quiet.elapsed() < Duration::from_millis(20) {
        if app.poll() {
            quiet = Instant::now();
        }
        assert!(Instant::now() < until, "datagrams kept coming to n1");
    }
}

/// Waits (20 s at most) until the application gets a datagram: the time since `from`.
fn first_datagram(app: &App, from: Instant) -> Duration {
    let deadline = from + Duration::from_secs(20);
    loop {
        if app.poll() {
            return from.elapsed();
        }
        assert!(Instant::now() < deadline, "no datagram within 20 s");
    }
}

/// Whether `node` runs flow `feed`.
fn runs_feed(node: &support::TestNode) -> bool {
    let out = node.warp(&["flow", "--json"]);
    String::from_utf8_lossy(&out.stdout).contains("\"feed\"")
}

fn main() {
    let port = support::free_port();
    // n2 is a receiver that is always there, so the flow is valid without n1.
    let fleet = Fleet::start(3, 3, &file(port, &["n2"]));
    let names = {
        let text = std::fs::read_to_string(&fleet.file).unwrap();
        text[..text.find("[[flow]]").unwrap()].to_string()
    };
    let save = |receivers: &[&str]| fleet.save(&format!("{names}{}", file(port, receivers)));
    let n = &fleet.nodes;
    support::wait_until("n0 runs feed", Duration::from_secs(20), || runs_feed(&n[0]));

    let app = App {
        sock: UdpSocket::bind(format!("{}:0", ip(1))).unwrap(),
        flow: format!("{}:{port}", ip(1)),
    };
    app.sock
        .set_read_timeout(Some(Duration::from_millis(1)))
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let sender = {
        let stop = stop.clone();
        let to = format!("{}:{port}", ip(0));
        std::thread::spawn(move || {
            let s = UdpSocket::bind(format!("{}:0", ip(0))).unwrap();
            while !stop.load(Ordering::Relaxed) {
                let _ = s.send_to(b"feed", &to);
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };

    let (mut added, mut removed, mut joined) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        drain(&app);
        let t = Instant::now();
        save(&["n1", "n2"]);
        added.push(first_datagram(&app, t));

        let t = Instant::now();
        save(&["n2"]);
        while runs_feed(&n[1]) {
            std::thread::sleep(Duration::from_millis(10));
            assert!(t.elapsed() < Duration::from_secs(20), "n1 kept the flow");
        }
        removed.push(t.elapsed());

        let body = format!(r#"{{"id":"{}","role":"recv"}}"#, n[1].id);
        drain(&app);
        let t = Instant::now();
        let (status, _) = fleet.rest("POST", "/v1/flows/feed/join", Some(&body));
        assert_eq!(status, 200);
        joined.push(first_datagram(&app, t));
        let (status, _) = fleet.rest("DELETE", "/v1/flows/feed/members/n1", None);
        assert_eq!(status, 200);
        support::wait_until("n1 left", Duration::from_secs(20), || !runs_feed(&n[1]));
    }
    stop.store(true, Ordering::Relaxed);
    sender.join().unwrap();
    let first = added[0];

    let ms = |d: &Duration| format!("{:.0}", d.as_secs_f64() * 1000.0);
    println!("| change ({ROUNDS} rounds) | median ms | worst ms |");
    println!("|---|---|---|");
    for (what, list) in [
        ("file saved with n1: n1's first datagram", &mut added),
        ("file saved without n1: n1's flow stopped", &mut removed),
        ("REST join (open): n1's first datagram", &mut joined),
    ] {
        list.sort();
        println!(
            "| {what} | {} | {} |",
            ms(&list[list.len() / 2]),
            ms(list.last().unwrap())
        );
    }
    println!("\nfirst round (connects the nodes): add {} ms", ms(&first));
}
