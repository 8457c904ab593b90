//! Interop: a real SwimOS client library from a public registry — the Python client
//! (PyPI `swimos` 1.6.0a0, pinned) — drives value and map lanes of a node unchanged.
//! The test installs the client into a virtual environment under the target directory
//! the first time (needs python3 and PyPI).

mod support;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use support::TestNode;

const SWIMOS: &str = "swimos==1.6.0a0";
const WEBSOCKETS: &str = "websockets==17.4";

/// A Python with the SwimOS client, installed on first use.
fn python() -> PathBuf {
    support::python::venv("swimos-venv", "swimos", &["--pre", SWIMOS, WEBSOCKETS])
}

#[test]
fn the_swimos_python_client_works_unchanged() {
    let py = python();
    let node = TestNode::start();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", node.ws_port)).is_err() {
        assert!(Instant::now() < deadline, "the link hub never listened");
        std::thread::sleep(Duration::from_millis(50));
    }
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/interop/swimos_client.py"
    );
    let out = Command::new(py)
        .arg(script)
        .arg(node.ws_port.to_string())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("value and map downlinks OK"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
