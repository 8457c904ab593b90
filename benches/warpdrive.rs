//! warpdrive benchmarks, in one run on loopback: a 1 GiB file with `warp share` next to
//! `scp` (OpenSSH on 127.0.0.1, cipher aes256-gcm) and next to the tunnel's raw channel
//! (`warp speed --no-verify`); 10 000 files of 4 KiB next to `scp -r`; peak RSS of both
//! nodes. `warp share` is timed as a user sees it: hashing, offer, transfer, verification
//! and the receiver's confirmation (the receiver trusts the sender, so no one types).
//! Every row is wall time around one command, on one clock; both receivers write into
//! the same directory tree under `target/tmp` (one file system, reported below), and
//! both end on the disk: warp's receiver flushes the file system (`syncfs`) before it
//! reports an offer complete, and scp's row includes `sync -f` of its destination
//! (warp writes large files with `O_DIRECT`, past the page cache; scp writes through
//! it). scp uses aes256-gcm, the cipher two warp nodes negotiate
//! (rustls prefers TLS13_AES_256_GCM_SHA384).
//!
//! The tools a user would pick instead run beside it, each doing the same work: the file
//! (or the tree) from one directory into an empty one on the same disk, ended by
//! `sync -f`, timed from starting the sender until the receiver has it — magic-wormhole
//! with its own mailbox server and transit relay on loopback (a code agreed in advance,
//! `--accept-file`), and iroh's `sendme` (its ticket read from the sender). And the time
//! from `warp share` of a file not read before until the receiver writes its first bytes.
//!
//! `cargo bench --bench warpdrive` prints a Markdown table. Needs Debian's
//! openssh-server for the scp rows; for the others (each left out when missing):
//!
//! ```sh
//! python3 -m venv target/bench-venv
//! target/bench-venv/bin/pip install magic-wormhole magic-wormhole-mailbox-server \
//!     magic-wormhole-transit-relay
//! cargo install sendme --locked --root target/bench-tools
//! ```

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

#[path = "../tests/support/mod.rs"]
mod support;

use support::rivals::{self, Wormhole};
use support::sshd::Sshd;
use support::TestNode;

const BIG: u64 = 1 << 30;
const SMALL_FILES: usize = 10_000;
const SMALL: usize = 4096;
const ROUNDS: usize = 3;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let data = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let big = data.path().join("big.bin");
    write_random(&big, BIG);
    let small = data.path().join("small");
    std::fs::create_dir(&small).unwrap();
    for i in 0..SMALL_FILES {
        let dir = small.join(format!("d{:02}", i % 100));
        std::fs::create_dir_all(&dir).unwrap();
        let mut f = std::fs::File::create(dir.join(format!("f{i:05}"))).unwrap();
        f.write_all(&vec![(i % 251) as u8; SMALL]).unwrap();
    }

    // The receiver downloads beside scp's destination: the same file system.
    let incoming = data.path().join("warp-dest");
    let a = TestNode::bare(&[]);
    let b = TestNode::bare(&["--incoming", incoming.to_str().unwrap()]);
    a.ok(&["peers", "add", "bob", &b.id, "--addr", &b.addr()]);
    b.ok(&["peers", "add", "alice", &a.id, "--addr", &a.addr()]);
    b.ok(&["peers", "set", "alice", "policy", "trust"]);

    let share = |path: &Path| {
        let _ = std::fs::remove_dir_all(&incoming);
        let t = Instant::now();
        let out = a.ok(&["share", "bob", path.to_str().unwrap()]);
        let secs = t.elapsed().as_secs_f64();
        assert!(out.contains("completed"), "{out}");
        secs
    };
    let sshd = Sshd::start();
    let scp = |path: &Path, recursive: bool| -> Option<f64> {
        let s = sshd.as_ref()?;
        let dest = data.path().join("scp-dest");
        let _ = std::fs::remove_dir_all(&dest);
        std::fs::create_dir(&dest).unwrap();
        let t = Instant::now();
        let mut cmd = Command::new("scp");
        cmd.args(["-q", "-c", "aes256-gcm@openssh.com", "-P", &s.port])
            .args(s.client_options());
        if recursive {
            cmd.arg("-r");
        }
        let ok = cmd
            .arg(path)
            .arg(format!("{}:{}", s.target(), dest.display()))
            .stdin(Stdio::null())
            .status()
            .unwrap();
        assert!(ok.success());
        // The same durability as warp's receiver: on the disk before it is done.
        let synced = Command::new("sync").arg("-f").arg(&dest).status().unwrap();
        assert!(synced.success());
        Some(t.elapsed().as_secs_f64())
    };

    // The same, timing also when the receiver has written its first bytes.
    let share_first_byte = |path: &Path| -> (f64, f64) {
        let _ = std::fs::remove_dir_all(&incoming);
        let t = Instant::now();
        let mut child = a.spawn_warp(&["share", "bob", path.to_str().unwrap()]);
        let mut first = None;
        while first.is_none() && child.try_wait().unwrap().is_none() {
            let wrote = std::fs::read_dir(&incoming)
                .into_iter()
                .flatten()
                .flatten()
                .any(|e| e.metadata().is_ok_and(|m| m.len() > 0));
            if wrote {
                first = Some(t.elapsed().as_secs_f64());
            }
            std::thread::sleep(std::time::Duration::from_micros(500));
        }
        let out = child.wait_with_output().unwrap();
        let total = t.elapsed().as_secs_f64();
        assert!(String::from_utf8_lossy(&out.stdout).contains("completed"));
        (first.unwrap_or(total), total)
    };
    let fresh_dest = |name: &str| {
        let dest = data.path().join(name);
        let _ = std::fs::remove_dir_all(&dest);
        std::fs::create_dir(&dest).unwrap();
        dest
    };
    let wormhole = Wormhole::start();
    let sendme = rivals::sendme();

    let _ = share(&small); // warm-up: connects the nodes
    let mut rows = Vec::new();
    // A first offer of the file hashes it; touching it (new mtime and ctime) makes every
    // round a first offer. Then the same file offered again, its hashes cached.
    let touch = |p: &Path| {
        let f = std::fs::File::options().write(true).open(p).unwrap();
        f.set_modified(std::time::SystemTime::now()).unwrap();
    };
    let (first_byte, warp_big): (Vec<f64>, Vec<f64>) = (0..ROUNDS)
        .map(|_| {
            touch(&big);
            share_first_byte(&big)
        })
        .unzip();
    let warp_again: Vec<f64> = (0..ROUNDS).map(|_| share(&big)).collect();
    let scp_big: Vec<f64> = (0..ROUNDS).filter_map(|_| scp(&big, false)).collect();
    // Wall time around the command, as for the other rows (`warp speed` also reports its
    // own time from the first byte, which leaves out setting up the channel).
    let raw: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            let t = Instant::now();
            a.ok(&["speed", "bob", "-n", "1G", "--no-verify"]);
            t.elapsed().as_secs_f64()
        })
        .collect();
    let warp_small: Vec<f64> = (0..ROUNDS).map(|_| share(&small)).collect();
    let scp_small: Vec<f64> = (0..ROUNDS).filter_map(|_| scp(&small, true)).collect();
    let codes = ["7-orbit-velvet", "8-amber-canyon", "9-cobalt-meadow"];
    let wormhole_runs = |path: &Path| -> Vec<f64> {
        let Some(w) = wormhole.as_ref() else {
            return Vec::new();
        };
        (0..ROUNDS)
            .map(|i| w.send(path, &fresh_dest("wormhole-dest"), codes[i % codes.len()]))
            .collect()
    };
    let sendme_runs = |path: &Path| -> Vec<f64> {
        let Some(bin) = sendme.as_ref() else {
            return Vec::new();
        };
        (0..ROUNDS)
            .map(|_| rivals::sendme_send(bin, path, &fresh_dest("sendme-dest")))
            .collect()
    };
    let wormhole_big = wormhole_runs(&big);
    let sendme_big = sendme_runs(&big);
    let wormhole_small = wormhole_runs(&small);
    let sendme_small = sendme_runs(&small);

    let mbs = |secs: f64, bytes: u64| bytes as f64 / secs / 1e6;
    rows.push((
        "1 GiB file, MB/s",
        "warp share (first offer: hashed)",
        runs(&warp_big, BIG, mbs),
    ));
    rows.push((
        "",
        "warp share (offered again: hashes cached)",
        runs(&warp_again, BIG, mbs),
    ));
    rows.push(("", "scp aes256-gcm", runs(&scp_big, BIG, mbs)));
    rows.push((
        "",
        "magic-wormhole (local mailbox and relay)",
        runs(&wormhole_big, BIG, mbs),
    ));
    rows.push(("", "sendme", runs(&sendme_big, BIG, mbs)));
    rows.push((
        "",
        "raw channel (warp speed --no-verify)",
        runs(&raw, BIG, mbs),
    ));
    let small_bytes = (SMALL_FILES * SMALL) as u64;
    let files = |secs: f64, _| SMALL_FILES as f64 / secs;
    rows.push((
        "10 000 × 4 KiB, files/s",
        "warp share",
        runs(&warp_small, small_bytes, files),
    ));
    rows.push((
        "",
        "scp -r aes256-gcm",
        runs(&scp_small, small_bytes, files),
    ));
    rows.push((
        "",
        "magic-wormhole (zips the tree)",
        runs(&wormhole_small, small_bytes, files),
    ));
    rows.push(("", "sendme", runs(&sendme_small, small_bytes, files)));
    let ms = |secs: f64, _| secs * 1e3;
    rows.push((
        "first offer, ms",
        "from `warp share` until the receiver wrote its first bytes",
        runs(&first_byte, 0, ms),
    ));

    println!(
        "destinations: {} ({})",
        data.path().display(),
        file_system(data.path())
    );
    println!("| what | path | median (runs) |");
    println!("|---|---|---|");
    for (what, path, (median, all)) in &rows {
        if !all.is_empty() {
            println!("| {what} | {path} | {median:.1} ({all}) |");
        }
    }
    let med = |v: &[f64]| median(v);
    if !scp_big.is_empty() {
        println!(
            "\nratios: big file warp/scp {:.2} (again {:.2}), warp/raw channel {:.2} (again {:.2}); small files warp/scp {:.2}",
            med(&scp_big) / med(&warp_big),
            med(&scp_big) / med(&warp_again),
            med(&raw) / med(&warp_big),
            med(&raw) / med(&warp_again),
            med(&scp_small) / med(&warp_small)
        );
    } else {
        println!(
            "\n(sshd not found: no scp rows) big file warp/raw channel {:.2}",
            med(&raw) / med(&warp_big)
        );
    }
    let versus = |name: &str, big: &[f64], small: &[f64]| {
        if !big.is_empty() {
            println!(
                "{name}: big file warp (first offer) {:.2}x as fast, small files {:.2}x",
                med(big) / med(&warp_big),
                med(small) / med(&warp_small)
            );
        }
    };
    versus("magic-wormhole", &wormhole_big, &wormhole_small);
    versus("sendme", &sendme_big, &sendme_small);
    println!(
        "peak RSS: sender {:.1} MiB, receiver {:.1} MiB",
        a.peak_rss_kib() as f64 / 1024.0,
        b.peak_rss_kib() as f64 / 1024.0
    );
}

/// The type of the file system holding `p` (`ext4`, `tmpfs`...), from `df`.
fn file_system(p: &Path) -> String {
    Command::new("df")
        .args(["--output=fstype"])
        .arg(p)
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.lines().nth(1).map(|l| l.trim().to_string()))
        .unwrap_or_else(|| "unknown".into())
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|x, y| x.partial_cmp(y).unwrap());
    s[s.len() / 2]
}

/// The median rate and every run's rate, formatted.
fn runs(secs: &[f64], bytes: u64, rate: impl Fn(f64, u64) -> f64) -> (f64, String) {
    if secs.is_empty() {
        return (0.0, String::new());
    }
    let all = secs
        .iter()
        .map(|s| format!("{:.1}", rate(*s, bytes)))
        .collect::<Vec<_>>()
        .join("/");
    (rate(median(secs), bytes), all)
}

fn write_random(path: &Path, len: u64) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut x = 0x9e3779b97f4a7c15u64;
    let mut buf = vec![0u8; 1 << 20];
    for _ in 0..len >> 20 {
        for c in buf.chunks_exact_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            c.copy_from_slice(&x.to_le_bytes());
        }
        f.write_all(&buf).unwrap();
    }
}
