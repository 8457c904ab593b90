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
    /// Its key, as `warp map` prints it.
    pub id: String,
    home: tempfile::TempDir,
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
        cmd.args(["map", "--listen", addr, "--listen", second]);
        // No REST API unless asked for: tests run maps side by side.
        if !extra.contains(&"--api") {
            cmd.args(["--api", "off"]);
        }
        let mut child = cmd
            .args(extra)
            .env("WARP_HOME", home.path())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(home.path().join("map.log")).unwrap())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = lines.next().expect("the map prints its id").unwrap();
        assert!(first.starts_with("map "), "{first}");
        let id = first.split_whitespace().nth(1).unwrap().to_string();
        std::thread::spawn(move || lines.for_each(drop));
        MapServer {
            child,
            addr: addr.to_string(),
            second: second.parse().unwrap(),
            id,
            home,
        }
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.home.path().join("map.log")).unwrap_or_default()
    }

    /// The token of its REST API.
    pub fn token(&self) -> String {
        let path = self.home.path().join("map").join("api.token");
        std::fs::read_to_string(path).unwrap().trim().to_string()
    }
}

impl Drop for MapServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
