//! A `warp node` process for the end-to-end benchmarks: its own data directory and
//! loopback port, no REST API, killed when dropped; and a private sshd to compare with.

// Each bench uses part of this module.
#![allow(dead_code)]

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
    /// Creates the identity and starts the node (no link hub).
    pub fn start() -> Node {
        Node::start_with(&["--ws", "off"])
    }

    /// Creates the identity and starts the node with extra `warp node` arguments.
    pub fn start_with(extra: &[&str]) -> Node {
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
            .args(extra)
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

impl Node {
    /// The node's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory of the node process now, in KiB (`VmRSS`).
    pub fn rss_kib(&self) -> u64 {
        self.status_kib("VmRSS:")
    }

    fn status_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
            .unwrap_or(0)
    }

    /// The node's data directory.
    pub fn home(&self) -> &std::path::Path {
        self.home.path()
    }

    /// Peak resident memory of the node process so far, in KiB (`VmHWM`).
    pub fn peak_rss_kib(&self) -> u64 {
        self.status_kib("VmHWM:")
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Seconds from a `warp speed` line: `sent … in 1.23 s: …`.
pub fn speed_secs(out: &str) -> f64 {
    out.split(" in ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not a warp speed line: {out}"))
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

/// A private `sshd` on loopback with its own host and user keys (Debian's
/// openssh-server), for comparisons with `ssh -L` and `scp`. `None` without sshd.
pub struct Sshd {
    dir: tempfile::TempDir,
    daemon: Child,
    /// Its port.
    pub port: String,
}

impl Sshd {
    /// Starts one.
    pub fn start() -> Option<Sshd> {
        let sshd = ["/usr/sbin/sshd", "/usr/bin/sshd"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())?;
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for key in ["host", "user"] {
            let ok = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(d.join(key))
                .status()
                .ok()?;
            assert!(ok.success());
        }
        std::fs::copy(d.join("user.pub"), d.join("authorized_keys")).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
            .to_string();
        let config = format!(
            "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nAuthorizedKeysFile {}\nPermitRootLogin yes\nStrictModes no\nPasswordAuthentication no\nUsePAM no\nSubsystem sftp internal-sftp\nPidFile {}\n",
            d.join("host").display(),
            d.join("authorized_keys").display(),
            d.join("sshd.pid").display()
        );
        std::fs::write(d.join("sshd_config"), config).unwrap();
        let _ = std::fs::create_dir_all("/run/sshd");
        let daemon = Command::new(sshd)
            .args(["-D", "-e", "-f"])
            .arg(d.join("sshd_config"))
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(format!("127.0.0.1:{port}")).is_err() {
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(Sshd { dir, daemon, port })
    }

    /// Options every client command needs: the key, no host key checks, quiet.
    pub fn client_options(&self) -> Vec<String> {
        [
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "LogLevel=ERROR",
            "-i",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([self.dir.path().join("user").display().to_string()])
        .collect()
    }

    /// `user@127.0.0.1`.
    pub fn target(&self) -> String {
        let user = std::env::var("USER").unwrap_or_else(|_| "root".into());
        format!("{user}@127.0.0.1")
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}
