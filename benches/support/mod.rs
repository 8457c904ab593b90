//! A `warp node` process for the end-to-end benchmarks: its own data directory and
//! loopback port, no REST API, killed when dropped.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A node under measurement.
pub struct Node {
    home: tempfile::TempDir,
    port: u16,
    /// Its peer id.
    pub id: String,
    child: Child,
}

/// A free UDP port on loopback.
pub fn free_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Node {
    /// Creates the identity and starts the node.
    pub fn start() -> Node {
        let home = tempfile::tempdir().unwrap();
        let id = run(home.path(), &["id"]).trim().to_string();
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_warp"))
            .args([
                "node",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--api",
                "off",
            ])
            .env("WARP_HOME", home.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let sock = home.path().join("control.sock");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::os::unix::net::UnixStream::connect(&sock).is_err() {
            assert!(Instant::now() < deadline, "node did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Node {
            home,
            port,
            id,
            child,
        }
    }

    /// The address peers dial.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Runs a `warp` command against this node; its standard output.
    pub fn warp(&self, args: &[&str]) -> String {
        run(self.home.path(), args)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `warp` with `home` as its data directory; panics on failure.
pub fn run(home: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_warp"))
        .args(args)
        .env("WARP_HOME", home)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "warp {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}
