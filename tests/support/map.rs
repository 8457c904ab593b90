//! A `warp map` process for tests: on two addresses (so nodes can tell their NAT's
//! behaviour), on loopback or inside a network namespace, stopped when dropped.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A running map.
pub struct MapServer {
    /// The process.
    pub child: Child,
    /// Its first address, as nodes name it with `--map`.
    pub addr: String,
    /// Its second address.
    pub second: std::net::SocketAddr,
    _home: tempfile::TempDir,
}

impl MapServer {
    /// A map on two free loopback ports.
    pub fn start() -> MapServer {
        MapServer::start_with(&[])
    }

    /// [`MapServer::start`] with `extra` arguments to `warp map`.
    pub fn start_with(extra: &[&str]) -> MapServer {
        let (a, b) = (super::free_port(), super::free_port());
        let (a, b) = (format!("127.0.0.1:{a}"), format!("127.0.0.1:{b}"));
        MapServer::launch(None, (&a, &b), extra)
    }

    /// A map in namespace `ns` on ports 7475 and 7476 of `ip`.
    pub fn in_netns(ns: &str, ip: &str) -> MapServer {
        let (a, b) = (format!("{ip}:7475"), format!("{ip}:7476"));
        MapServer::launch(Some(ns), (&a, &b), &[])
    }

    fn launch(ns: Option<&str>, (addr, second): (&str, &str), extra: &[&str]) -> MapServer {
        let home = tempfile::tempdir().unwrap();
        let mut cmd = match ns {
            None => Command::new(env!("CARGO_BIN_EXE_warp")),
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, env!("CARGO_BIN_EXE_warp")]);
                c
            }
        };
        let mut child = cmd
            .args(["map", "--listen", addr, "--listen", second])
            .args(extra)
            .env("WARP_HOME", home.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().expect("the map prints its id").unwrap();
        assert!(first.starts_with("map "), "{first}");
        std::thread::spawn(move || lines.for_each(drop));
        MapServer {
            child,
            addr: addr.to_string(),
            second: second.parse().unwrap(),
            _home: home,
        }
    }
}

impl Drop for MapServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
