//! The tools a user would pick instead of `warp share`, run on loopback for the warpdrive
//! benchmark: magic-wormhole with its own mailbox server and transit relay (PyPI, in the
//! virtual environment `target/bench-venv`), and iroh's `sendme` (crates.io, installed
//! under `target/bench-tools`). Each is `None` when it is not installed; the commands that
//! install them are in `benches/warpdrive.rs`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The workspace's `target` directory.
fn target() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target")
}

/// Waits until something accepts TCP connections on `port` of loopback.
fn wait_listening(port: u16) -> bool {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Flushes the file system holding `dir`, for the same durability as warp's receiver.
fn sync(dir: &Path) {
    let ok = Command::new("sync").arg("-f").arg(dir).status().unwrap();
    assert!(ok.success());
}

/// A mailbox server and a transit relay of magic-wormhole on loopback, stopped on drop.
pub struct Wormhole {
    bin: PathBuf,
    servers: Vec<Child>,
    mailbox: u16,
    relay: u16,
    /// Where the servers keep their databases (the mailbox writes `relay.sqlite`).
    _dir: tempfile::TempDir,
}

impl Wormhole {
    /// Starts both servers; `None` without the virtual environment.
    pub fn start() -> Option<Wormhole> {
        let venv = target().join("bench-venv/bin");
        if !venv.join("wormhole").exists() {
            return None;
        }
        let (mailbox, relay) = (super::free_tcp_port(), super::free_tcp_port());
        let dir = tempfile::tempdir().unwrap();
        let serve = |what: &str, port: u16| {
            Command::new(venv.join("twist"))
                .current_dir(dir.path())
                .arg(what)
                .arg(format!("--port=tcp:{port}:interface=127.0.0.1"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        };
        let servers = vec![
            serve("wormhole-mailbox", mailbox),
            serve("transitrelay", relay),
        ];
        let w = Wormhole {
            bin: venv.join("wormhole"),
            servers,
            mailbox,
            relay,
            _dir: dir,
        };
        (wait_listening(mailbox) && wait_listening(relay)).then_some(w)
    }

    fn command(&self) -> Command {
        let mut c = Command::new(&self.bin);
        c.args([
            "--relay-url",
            &format!("ws://127.0.0.1:{}/v1", self.mailbox),
        ])
        .args(["--transit-helper", &format!("tcp:127.0.0.1:{}", self.relay)])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        c
    }

    /// Sends `path` into the empty directory `dest` with a code, as two users would:
    /// seconds from starting both commands until the receiver has the file on the disk.
    pub fn send(&self, path: &Path, dest: &Path, code: &str) -> f64 {
        let t = Instant::now();
        let mut sender = self
            .command()
            .args(["send", "--code", code])
            .arg(path)
            .spawn()
            .unwrap();
        let ok = self
            .command()
            .args(["receive", "--accept-file", code])
            .current_dir(dest)
            .status()
            .unwrap();
        assert!(ok.success(), "wormhole receive failed");
        sync(dest);
        let secs = t.elapsed().as_secs_f64();
        assert!(sender.wait().unwrap().success(), "wormhole send failed");
        secs
    }
}

impl Drop for Wormhole {
    fn drop(&mut self) {
        for s in &mut self.servers {
            let _ = s.kill();
            let _ = s.wait();
        }
    }
}

/// iroh's `sendme`: `None` when it is not installed.
pub fn sendme() -> Option<PathBuf> {
    let bin = target().join("bench-tools/bin/sendme");
    bin.exists().then_some(bin)
}

/// Sends `path` into the empty directory `dest` with `sendme`: seconds from starting the
/// sender (which hashes the file and prints a ticket) until the receiver has the file on
/// the disk. Both sides run without relay servers (none can be reached from here; on
/// loopback the ticket's addresses connect them directly).
pub fn sendme_send(bin: &Path, path: &Path, dest: &Path) -> f64 {
    use std::io::BufRead;
    let t = Instant::now();
    let mut sender = Command::new(bin)
        .args(["send", "--relay", "disabled", "--ticket-type", "addresses"])
        .arg("--no-progress")
        .arg(path)
        .current_dir(path.parent().unwrap())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let out = std::io::BufReader::new(sender.stdout.take().unwrap());
    let ticket = out
        .lines()
        .map_while(Result::ok)
        .find_map(|l| {
            l.split_whitespace()
                .skip_while(|w| *w != "receive")
                .nth(1)
                .map(str::to_string)
        })
        .expect("a ticket from sendme send");
    let ok = Command::new(bin)
        .args(["receive", "--relay", "disabled", "--no-progress", &ticket])
        .current_dir(dest)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(ok.success(), "sendme receive failed");
    sync(dest);
    let secs = t.elapsed().as_secs_f64();
    // Ctrl-C, so the sender removes its blob store.
    let _ = Command::new("kill")
        .args(["-INT", &sender.id().to_string()])
        .status();
    let _ = sender.wait();
    secs
}
