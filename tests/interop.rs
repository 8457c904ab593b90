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
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("swimos-venv");
    let py = venv.join("bin/python");
    let ready = || {
        Command::new(&py)
            .args(["-c", "import swimos"])
            .status()
            .is_ok_and(|s| s.success())
    };
    if !ready() {
        let ok = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .expect("python3 runs");
        assert!(ok.success(), "python3 -m venv failed");
        let ok = Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--pre", SWIMOS, WEBSOCKETS])
            .status()
            .expect("pip runs");
        assert!(ok.success(), "pip install {SWIMOS} failed (needs PyPI)");
    }
    assert!(ready(), "swimos does not import");
    py
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
