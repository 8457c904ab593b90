//! A map that defines flows (`--flows`, with its REST API) and nodes that trust it for
//! them, on loopback: each node binds flows at its own loopback address (`flow_ip`), as
//! nodes on one machine must.

use std::path::PathBuf;

use super::map::MapServer;
use super::{free_tcp_port, http_to, TestNode};

/// A map with a flows file and a REST API, and nodes that trust it for flows.
pub struct Fleet {
    /// The map.
    pub map: MapServer,
    /// Its flows file.
    pub file: PathBuf,
    /// Its REST API's port.
    pub api: u16,
    /// The nodes, `n0`, `n1`, ...
    pub nodes: Vec<TestNode>,
    _dir: tempfile::TempDir,
}

/// The loopback address node `i` binds its flows at.
pub fn ip(i: usize) -> String {
    format!("127.1.0.{}", 10 + i)
}

/// `warp.toml` of a node that trusts `map` for flows, binding them at `ip(i)`.
pub fn trusting(map: &MapServer, key: &str, i: usize) -> String {
    format!(
        "[node]\nflow_ip = \"{}\"\nmap = [{{ addr = \"{}\", key = \"{key}\", flows = true }}]\n",
        ip(i),
        map.addr
    )
}

impl Fleet {
    /// `n` nodes named `n0`.. in the file's `[names]` (the first `named` of them), with
    /// `flows` after the names.
    pub fn start(n: usize, named: usize, flows: &str) -> Fleet {
        Fleet::of((0..n).map(|_| TestNode::start()).collect(), named, flows)
    }

    /// [`Fleet::start`] with nodes already started.
    pub fn of(nodes: Vec<TestNode>, named: usize, flows: &str) -> Fleet {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("flows.toml");
        let mut text = String::from("# flows of the test fleet\n[names]\n");
        for (i, node) in nodes.iter().enumerate().take(named) {
            text.push_str(&format!("n{i} = \"{}\"\n", node.id));
        }
        text.push_str(flows);
        std::fs::write(&file, text).unwrap();
        let api = free_tcp_port();
        let map = MapServer::start_with(&[
            "--flows",
            file.to_str().unwrap(),
            "--api",
            &format!("127.0.0.1:{api}"),
        ]);
        for (i, node) in nodes.iter().enumerate() {
            node.write_config(&trusting(&map, &map.id, i));
        }
        Fleet {
            map,
            file,
            api,
            nodes,
            _dir: dir,
        }
    }

    pub fn rest(&self, method: &str, path: &str, body: Option<&str>) -> (u16, serde_json::Value) {
        http_to(self.api, &self.map.token(), (method, path), body)
    }

    /// Replaces the flows file (as an editor saves: written beside, then renamed).
    pub fn save(&self, text: &str) {
        let tmp = self.file.with_extension("tmp");
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, &self.file).unwrap();
    }
}
