//! The test kit, shared by the tests and the benchmarks (`benches/` include it by path):
//! real `warp node` processes, each with its own data directory and loopback ports, its
//! log kept in a file, killed when dropped; free ports; polling with a deadline; the
//! local servers gates lead to ([`servers`]); hostile clients ([`hostile`]); two hosts
//! joined by two links ([`netns`]) and the paths between nodes on them ([`paths`]); a
//! map ([`map`]), one that defines flows for nodes ([`fleet`]), and hosts behind NAT
//! routers ([`nat`]); what
//! benchmarks measure ([`measure`]) and compare with ([`sshd`], [`rivals`]).

// Each test and bench uses part of the kit.
#![allow(dead_code)]

pub mod fanout;
pub mod fleet;
pub mod hostile;
pub mod map;
pub mod measure;
pub mod nat;
pub mod netns;
pub mod paths;
pub mod python;
pub mod rivals;
pub mod servers;
pub mod sshd;
pub mod ws;

#[allow(unused_imports)]
pub use servers::{echo_server, sink_server, tcp_server};

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A node under test.
pub struct TestNode {
    pub home: tempfile::TempDir,
    pub port: u16,
    /// The REST API's loopback port.
    pub api_port: u16,
    /// The WARP link hub's loopback port.
    pub ws_port: u16,
    pub id: String,
    child: Option<Child>,
    extra: Vec<String>,
    /// Whether the node serves its REST API and link hub (tests) or neither (benchmarks).
    servers: bool,
    /// The network namespace it runs in, if not the host's.
    netns: Option<String>,
    /// Whether it announces itself and finds peers on its namespace's network (mDNS);
    /// off unless asked, so that tests count only the paths they set up.
    lan: bool,
}

/// A free UDP port on loopback (bound, read, released).
pub fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A free TCP port on loopback (bound, read, released).
pub fn free_tcp_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A free TCP address on loopback, `127.0.0.1:PORT`.
pub fn free_tcp() -> String {
    format!("127.0.0.1:{}", free_tcp_port())
}

/// Polls `f` every 100 ms until it holds; fails the test naming `what` after `limit`.
pub fn wait_until(what: &str, limit: Duration, f: impl Fn() -> bool) {
    let deadline = Instant::now() + limit;
    while !f() {
        assert!(Instant::now() < deadline, "never: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// What a gate does with a connection it cannot lead anywhere: it accepts it (it
/// listens) and resets it, with nothing from the service. `Err` says what happened
/// instead (refused, an answer, a clean close).
pub fn reset_by_gate(addr: &str) -> Result<(), String> {
    let mut conn = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // Written and half-closed, so a service that does answer ends the exchange at once.
    let wrote = conn.write_all(b"hello");
    let _ = conn.shutdown(std::net::Shutdown::Write);
    let mut back = Vec::new();
    let read = conn.read_to_end(&mut back);
    let reset = |e: &std::io::Error| {
        matches!(
            e.kind(),
            std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
        )
    };
    if !back.is_empty() {
        return Err(format!("the service answered {back:?}"));
    }
    match (&wrote, &read) {
        (Err(e), _) | (_, Err(e)) if reset(e) => Ok(()),
        _ => Err(format!("no reset: write {wrote:?}, read {read:?}")),
    }
}

/// Polls [`reset_by_gate`] until the gate resets connections, for at most 10 s.
pub fn until_reset_by_gate(addr: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match reset_by_gate(addr) {
            Ok(()) => return,
            Err(e) => assert!(Instant::now() < deadline, "{e}"),
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs `warp` with `home` as its data directory.
pub fn warp(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_warp"))
        .args(args)
        .env("WARP_HOME", home)
        .env("RUST_LOG", "info")
        .output()
        .expect("warp runs")
}

/// One HTTP/1.1 request to the node's API: status code and JSON body.
pub fn http(
    node: &TestNode,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> (u16, serde_json::Value) {
    http_to(node.api_port, &node.api_token(), (method, path), body)
}

/// One HTTP/1.1 request to an API on loopback port `port` with `token`: status code and
/// JSON body.
pub fn http_to(
    port: u16,
    token: &str,
    (method, path): (&str, &str),
    body: Option<&str>,
) -> (u16, serde_json::Value) {
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let body = body.unwrap_or("");
    write!(
        conn,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut raw = String::new();
    conn.read_to_string(&mut raw).unwrap();
    let status: u16 = raw.split(' ').nth(1).unwrap().parse().unwrap();
    let json = raw.split("\r\n\r\n").nth(1).unwrap_or("");
    (
        status,
        serde_json::from_str(json).unwrap_or(serde_json::Value::Null),
    )
}

/// stdout and stderr of a finished command, for assertions and messages.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

impl TestNode {
    /// Creates the identity and starts the node.
    pub fn start() -> TestNode {
        TestNode::start_with(&[])
    }

    /// Creates the identity and starts the node with extra `warp node` arguments.
    pub fn start_with(extra: &[&str]) -> TestNode {
        TestNode::launch(extra, true, None)
    }

    /// A node for benchmarks: no REST API and no link hub unless `extra` asks for one,
    /// so nothing but the measured work runs. `WARP_NODE_ARGS` (split on spaces) adds
    /// arguments, so a variant (`--threads 2`) is measured with the same bench.
    pub fn bare(extra: &[&str]) -> TestNode {
        let from_env = std::env::var("WARP_NODE_ARGS").unwrap_or_default();
        let mut args: Vec<&str> = extra.to_vec();
        args.extend(from_env.split_whitespace());
        TestNode::launch(&args, false, None)
    }

    /// A node in network namespace `ns` (see [`netns`]), listening on port 7470 of every
    /// address there, with no REST API and no link hub (their loopback would be the
    /// namespace's). Its peers name its addresses with `--addr`.
    pub fn in_netns(ns: &str) -> TestNode {
        TestNode::launch(&[], false, Some(ns.to_string()))
    }

    /// [`TestNode::in_netns`] with `extra` arguments to `warp node`.
    pub fn in_netns_with(ns: &str, extra: &[&str]) -> TestNode {
        TestNode::launch(extra, false, Some(ns.to_string()))
    }

    /// [`TestNode::in_netns`], announcing itself and finding peers on the namespace's
    /// links by mDNS.
    pub fn in_netns_on_lan(ns: &str) -> TestNode {
        TestNode::launch_on(&[], false, Some(ns.to_string()), true)
    }

    fn launch(extra: &[&str], servers: bool, netns: Option<String>) -> TestNode {
        TestNode::launch_on(extra, servers, netns, false)
    }

    fn launch_on(extra: &[&str], servers: bool, netns: Option<String>, lan: bool) -> TestNode {
        let home = tempfile::tempdir().unwrap();
        let out = warp(home.path(), &["id"]);
        assert!(out.status.success(), "{}", text(&out));
        let id = String::from_utf8(out.stdout).unwrap().trim().to_string();
        let mut node = TestNode {
            home,
            port: if netns.is_some() { 7470 } else { free_port() },
            api_port: free_tcp_port(),
            ws_port: free_tcp_port(),
            id,
            child: None,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            servers,
            netns,
            lan,
        };
        // A port found free may be taken by another test before the node binds it: then
        // the node says so and exits, and it starts again on other ports (a few times).
        for _ in 0..5 {
            match node.try_spawn() {
                Ok(()) => return node,
                Err(log) if log.contains("Address already in use") => {
                    node.port = free_port();
                    node.api_port = free_tcp_port();
                    node.ws_port = free_tcp_port();
                }
                Err(log) => panic!("node did not start: {log}"),
            }
        }
        panic!("node did not start: no free ports: {}", node.log())
    }

    /// The owner's API token (made by the node at its first start).
    pub fn api_token(&self) -> String {
        std::fs::read_to_string(self.home.path().join("api.token"))
            .expect("the node made its API token")
            .trim()
            .to_string()
    }

    /// Adds `other` as `alias` here and this node as `back` there: both know each other.
    pub fn meet(&self, alias: &str, other: &TestNode, back: &str) {
        self.add_peer(alias, other);
        other.add_peer(back, self);
    }

    /// Saves the node's `warp.toml`: written then renamed, as editors do, so the node
    /// never reads half a file.
    pub fn write_config(&self, text: &str) {
        let tmp = self.home.path().join("warp.toml.tmp");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, self.home.path().join("warp.toml")).unwrap();
    }

    /// The address peers dial.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn log_path(&self) -> PathBuf {
        self.home.path().join("test-node.log")
    }

    /// The node's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Starts (or restarts) the node process and waits for its control socket.
    pub fn spawn(&mut self) {
        if let Err(log) = self.try_spawn() {
            panic!("node did not start: {log}");
        }
    }

    /// Starts the node process and waits for its control socket; the log so far if the
    /// node exits first or does not answer within 10 s.
    fn try_spawn(&mut self) -> Result<(), String> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap();
        let mut cmd = match &self.netns {
            None => Command::new(env!("CARGO_BIN_EXE_warp")),
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, env!("CARGO_BIN_EXE_warp")]);
                c
            }
        };
        match self.netns {
            None => cmd.args(["node", "--listen", &self.addr()]),
            Some(_) => cmd.args(["node", "--listen", &format!("0.0.0.0:{}", self.port)]),
        };
        if !self.lan {
            cmd.arg("--no-lan");
        }
        let asked = |flag: &str| self.extra.iter().any(|a| a == flag);
        for (flag, port) in [("--api", self.api_port), ("--ws", self.ws_port)] {
            if !asked(flag) {
                let at = format!("127.0.0.1:{port}");
                cmd.args([flag, if self.servers { &at } else { "off" }]);
            }
        }
        let child = cmd
            .args(&self.extra)
            .env("WARP_HOME", self.home.path())
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("warp node starts");
        self.child = Some(child);
        let sock = self.home.path().join("control.sock");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::os::unix::net::UnixStream::connect(&sock).is_err() {
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
                .is_some();
            if exited {
                self.child = None;
                return Err(self.log());
            }
            if Instant::now() > deadline {
                return Err(format!("no control socket within 10 s: {}", self.log()));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// The node process's id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("the node runs").id()
    }

    /// Kills the node with SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts a `warp` command against this node without waiting for it.
    pub fn spawn_warp(&self, args: &[&str]) -> Child {
        Command::new(env!("CARGO_BIN_EXE_warp"))
            .args(args)
            .env("WARP_HOME", self.home.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("warp runs")
    }

    /// Sends SIGINT (Ctrl-C) and waits for the node to exit; its exit status.
    pub fn interrupt(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("the node runs");
        let sent = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the node ignored Ctrl-C");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Runs a `warp` command against this node.
    pub fn warp(&self, args: &[&str]) -> Output {
        warp(self.home.path(), args)
    }

    /// Runs a `warp` command that must succeed; its standard output.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.warp(args);
        assert!(out.status.success(), "warp {args:?}: {}", text(&out));
        String::from_utf8(out.stdout).unwrap()
    }

    /// Resident memory of the node process now, in KiB.
    pub fn rss_kib(&self) -> u64 {
        measure::rss_kib(self.pid())
    }

    /// Peak resident memory of the node process so far, in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        measure::peak_rss_kib(self.pid())
    }

    /// Adds `other` to this node's book under `alias`, with its address.
    pub fn add_peer(&self, alias: &str, other: &TestNode) {
        let out = self.warp(&["peers", "add", alias, &other.id, "--addr", &other.addr()]);
        assert!(out.status.success(), "{}", text(&out));
    }

    /// Polls `warp peers` until the line for `alias` satisfies `f`, for at most `limit`.
    pub fn wait_peer_line(&self, alias: &str, limit: Duration, f: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let out = self.warp(&["peers"]);
            let all = text(&out);
            if let Some(line) = all.lines().find(|l| l.starts_with(&format!("{alias} "))) {
                if f(line) {
                    return line.to_string();
                }
                if Instant::now() > deadline {
                    panic!("peer line never matched: {line}");
                }
            } else if Instant::now() > deadline {
                panic!("no line for {alias}: {all}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
