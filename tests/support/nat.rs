//! A small internet in network namespaces the test makes and removes: a "public" network
//! (namespace `wan`, a bridge, 203.0.113.0/24, where a map or a public node runs at
//! 203.0.113.1) and two home networks, each a host behind a router that masquerades with
//! nftables and drops unsolicited inbound packets as home routers do:
//!
//! ```text
//! ha 10.1.0.2 ── ra 10.1.0.1 | 203.0.113.2 ──┐
//!                                             br0 203.0.113.1 (wan)
//! hb 10.2.0.2 ── rb 10.2.0.1 | 203.0.113.3 ──┘
//! ```
//!
//! A cone router keeps a socket's public port for every destination (masquerade is
//! port-preserving); a symmetric one picks a random port per destination
//! (`masquerade fully-random`). Needs root and `nft` (installed here when missing).

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use super::netns::ip;

static NEXT: AtomicU32 = AtomicU32::new(0);

/// How a router maps its hosts' sockets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// One public port per socket, whatever the destination.
    Cone,
    /// A public port per socket and destination.
    Symmetric,
}

/// The namespaces, removed when dropped.
pub struct Internet {
    /// The public network (the map's and public nodes' namespace, 203.0.113.1).
    pub wan: String,
    /// Host a, behind router a (10.1.0.2; public 203.0.113.2).
    pub ha: String,
    /// Host b, behind router b (10.2.0.2; public 203.0.113.3).
    pub hb: String,
    routers: Vec<String>,
}

/// Runs `cmd` inside namespace `ns`; panics with its output on failure.
fn exec(ns: &str, cmd: &[&str]) {
    let out = Command::new("ip")
        .args(["netns", "exec", ns])
        .args(cmd)
        .output()
        .expect("ip netns exec runs");
    assert!(
        out.status.success(),
        "{cmd:?} in {ns}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Installs nftables when `nft` is missing (once per test process).
fn ensure_nft() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        if Command::new("nft").arg("--version").output().is_ok() {
            return;
        }
        let ok = Command::new("sh")
            .args([
                "-c",
                "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q nftables",
            ])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "nftables could not be installed");
    });
}

impl Internet {
    /// Makes the public network and two home networks behind routers of kinds `a`, `b`.
    pub fn new(a: Kind, b: Kind) -> Internet {
        ensure_nft();
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let tag = format!("warp{}n{n}", std::process::id());
        let net = Internet {
            wan: format!("{tag}w"),
            ha: format!("{tag}ha"),
            hb: format!("{tag}hb"),
            routers: vec![format!("{tag}ra"), format!("{tag}rb")],
        };
        for ns in [&net.wan, &net.ha, &net.hb, &net.routers[0], &net.routers[1]] {
            ip(&["netns", "add", ns]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
        }
        ip(&["-n", &net.wan, "link", "add", "br0", "type", "bridge"]);
        ip(&[
            "-n",
            &net.wan,
            "addr",
            "add",
            "203.0.113.1/24",
            "dev",
            "br0",
        ]);
        ip(&["-n", &net.wan, "link", "set", "br0", "up"]);
        for (k, (router, host, kind)) in
            [(&net.routers[0], &net.ha, a), (&net.routers[1], &net.hb, b)]
                .into_iter()
                .enumerate()
        {
            let k = k + 1;
            let port = format!("r{k}");
            // The router's public side, on the bridge.
            ip(&[
                "link", "add", "wan", "netns", router, "type", "veth", "peer", "name", &port,
                "netns", &net.wan,
            ]);
            ip(&["-n", &net.wan, "link", "set", &port, "master", "br0"]);
            ip(&["-n", &net.wan, "link", "set", &port, "up"]);
            ip(&[
                "-n",
                router,
                "addr",
                "add",
                &format!("203.0.113.{}/24", k + 1),
                "dev",
                "wan",
            ]);
            ip(&["-n", router, "link", "set", "wan", "up"]);
            // The home side.
            ip(&[
                "link", "add", "lan", "netns", router, "type", "veth", "peer", "name", "eth0",
                "netns", host,
            ]);
            ip(&[
                "-n",
                router,
                "addr",
                "add",
                &format!("10.{k}.0.1/24"),
                "dev",
                "lan",
            ]);
            ip(&["-n", router, "link", "set", "lan", "up"]);
            ip(&[
                "-n",
                host,
                "addr",
                "add",
                &format!("10.{k}.0.2/24"),
                "dev",
                "eth0",
            ]);
            ip(&["-n", host, "link", "set", "eth0", "up"]);
            ip(&[
                "-n",
                host,
                "route",
                "add",
                "default",
                "via",
                &format!("10.{k}.0.1"),
            ]);
            exec(router, &["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
            let masquerade = match kind {
                Kind::Cone => "masquerade",
                Kind::Symmetric => "masquerade fully-random",
            };
            let rules = format!(
                "table ip nat {{\n  chain post {{\n    type nat hook postrouting priority 100;\n    oifname \"wan\" {masquerade}\n  }}\n}}\n\
                 table inet filter {{\n  chain input {{\n    type filter hook input priority 0;\n    iifname \"wan\" ct state new drop\n  }}\n\
                 \x20 chain forward {{\n    type filter hook forward priority 0;\n    iifname \"wan\" ct state new drop\n  }}\n}}\n"
            );
            let file = tempfile::NamedTempFile::new().unwrap();
            std::fs::write(file.path(), rules).unwrap();
            exec(router, &["nft", "-f", file.path().to_str().unwrap()]);
        }
        net
    }

    /// Host a's router's public address.
    pub fn public_a(&self) -> &'static str {
        "203.0.113.2"
    }

    /// Host b's router's public address.
    pub fn public_b(&self) -> &'static str {
        "203.0.113.3"
    }

    /// Router a drops everything between it and router b (the map stays reachable):
    /// a direct path between the two homes is cut.
    pub fn cut_between_homes(&self) {
        let rules = format!(
            "table inet cut {{\n  chain forward {{\n    type filter hook forward priority -10;\n    ip daddr {b} drop\n    ip saddr {b} drop\n  }}\n}}\n",
            b = self.public_b()
        );
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), rules).unwrap();
        exec(
            &self.routers[0],
            &["nft", "-f", file.path().to_str().unwrap()],
        );
    }

    /// Router a drops every UDP datagram to the public network's host (203.0.113.1, the
    /// map): host a reaches it by TCP only.
    pub fn block_udp_to_the_map_from_a(&self) {
        let rules = "table inet noudp {\n  chain forward {\n    type filter hook forward priority -10;\n    ip daddr 203.0.113.1 meta l4proto udp drop\n  }\n}\n";
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), rules).unwrap();
        exec(
            &self.routers[0],
            &["nft", "-f", file.path().to_str().unwrap()],
        );
    }

    /// Undoes [`Internet::cut_between_homes`].
    pub fn mend_between_homes(&self) {
        exec(&self.routers[0], &["nft", "delete", "table", "inet", "cut"]);
    }
}

impl Drop for Internet {
    fn drop(&mut self) {
        for ns in [&self.wan, &self.ha, &self.hb]
            .into_iter()
            .chain(self.routers.iter())
        {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}
