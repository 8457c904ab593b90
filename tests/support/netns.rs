//! Two hosts joined by two links, in network namespaces the test makes and removes: host
//! `a` is 10.1.0.1 and 10.2.0.1, host `b` 10.1.0.2 and 10.2.0.2, one veth pair per
//! subnet (`link1`, `link2` on both sides). Needs root (CI runs as root). Nothing is sent
//! outside the namespaces.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// Two namespaces and their two links, removed when dropped.
pub struct TwoLinks {
    /// Host a's namespace.
    pub a: String,
    /// Host b's namespace.
    pub b: String,
}

/// Runs `ip` with `args`; panics with its output on failure.
pub fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("ip runs");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl TwoLinks {
    /// Makes the namespaces and brings both links up.
    pub fn new() -> TwoLinks {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let tag = format!("warp{}x{n}", std::process::id());
        let links = TwoLinks {
            a: format!("{tag}a"),
            b: format!("{tag}b"),
        };
        ip(&["netns", "add", &links.a]);
        ip(&["netns", "add", &links.b]);
        for ns in [&links.a, &links.b] {
            ip(&["-n", ns, "link", "set", "lo", "up"]);
        }
        for k in 1..=2 {
            let name = format!("link{k}");
            ip(&[
                "link", "add", &name, "netns", &links.a, "type", "veth", "peer", "name", &name,
                "netns", &links.b,
            ]);
            for (ns, host) in [(&links.a, 1), (&links.b, 2)] {
                ip(&[
                    "-n",
                    ns,
                    "addr",
                    "add",
                    &format!("10.{k}.0.{host}/24"),
                    "dev",
                    &name,
                ]);
                ip(&["-n", ns, "link", "set", &name, "up"]);
            }
        }
        links
    }

    /// Host b's address on link `k` (1 or 2).
    pub fn b_addr(&self, k: u8) -> String {
        format!("10.{k}.0.2")
    }

    /// Host a's address on link `k`.
    pub fn a_addr(&self, k: u8) -> String {
        format!("10.{k}.0.1")
    }

    /// Takes link `k` down (on host a's side), as a cable pulled.
    pub fn down(&self, k: u8) {
        ip(&["-n", &self.a, "link", "set", &format!("link{k}"), "down"]);
    }

    /// Brings link `k` back up.
    pub fn up(&self, k: u8) {
        ip(&["-n", &self.a, "link", "set", &format!("link{k}"), "up"]);
    }
}

/// Runs `f` on a thread inside namespace `ns` and returns what it returns: sockets it
/// makes belong to that namespace, wherever they are used afterwards.
pub fn in_ns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    use std::os::fd::AsRawFd;
    let path = format!("/var/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).expect("the namespace exists");
        // SAFETY: setns on this thread only, with a namespace file we hold open.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
        f()
    })
    .join()
    .expect("the thread in the namespace ran")
}

impl TwoLinks {
    /// Limits link `k` to `mbit` megabits per second each way (a `tbf` queue on both
    /// ends, holding at most 50 ms of bytes).
    pub fn rate(&self, k: u8, mbit: u32) {
        let burst = (mbit * 1_000_000 / 8 / 100).max(16 * 1024);
        for ns in [&self.a, &self.b] {
            ip_tc(&[
                "-n",
                ns,
                "qdisc",
                "replace",
                "dev",
                &format!("link{k}"),
                "root",
                "tbf",
                "rate",
                &format!("{mbit}mbit"),
                "burst",
                &burst.to_string(),
                "latency",
                "50ms",
            ]);
        }
    }
}

impl TwoLinks {
    /// Gives host b a third address, 10.9.0.2, that host a reaches over either link (a
    /// route through each, link 1 preferred): two uplinks to one peer address. Replies
    /// arriving on the other link are let in (loose reverse-path filtering, as on any
    /// multi-homed host).
    pub fn shared_b_addr(&self) -> String {
        ip(&["-n", &self.b, "addr", "add", "10.9.0.2/32", "dev", "lo"]);
        for (k, metric) in [(1, "10"), (2, "20")] {
            ip(&[
                "-n",
                &self.a,
                "route",
                "add",
                "10.9.0.2/32",
                "via",
                &self.b_addr(k),
                "dev",
                &format!("link{k}"),
                "metric",
                metric,
            ]);
        }
        for ns in [&self.a, &self.b] {
            in_ns(ns, || {
                for dev in ["all", "default", "link1", "link2"] {
                    let key = format!("/proc/sys/net/ipv4/conf/{dev}/rp_filter");
                    std::fs::write(&key, "2").unwrap_or_else(|e| panic!("{key}: {e}"));
                }
            });
        }
        "10.9.0.2".into()
    }
}

/// Runs `tc` with `args`; panics with its output on failure.
fn ip_tc(args: &[&str]) {
    let out = Command::new("tc").args(args).output().expect("tc runs");
    assert!(
        out.status.success(),
        "tc {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Drop for TwoLinks {
    fn drop(&mut self) {
        // The veth pairs go with their namespaces.
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// One network namespace with only its loopback, removed when dropped: a machine of its
/// own for nodes that listen on every address (what they announce or bind stays inside).
pub struct Alone {
    /// Its name.
    pub name: String,
}

impl Alone {
    /// Makes it and brings its loopback up.
    pub fn new() -> Alone {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("warp{}y{n}", std::process::id());
        ip(&["netns", "add", &name]);
        ip(&["-n", &name, "link", "set", "lo", "up"]);
        Alone { name }
    }

    /// `program` run inside it (`ip netns exec`).
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }
}

impl Drop for Alone {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}
