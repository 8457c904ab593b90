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

impl Drop for TwoLinks {
    fn drop(&mut self) {
        // The veth pairs go with their namespaces.
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}
