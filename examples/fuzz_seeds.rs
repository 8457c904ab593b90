//! Writes the fuzz targets' seed inputs under the directory given (`fuzz/seeds` in CI):
//! every Recon conformance vector, WARP envelopes and hub sessions, frames of each kind
//! made by the real encoders (warpdrive, channel, bond), and REST bodies. The fuzzer starts from inputs that pass
//! the first checks instead of finding them by chance.
//!
//! `cargo run --example fuzz_seeds -- fuzz/seeds`

use std::path::Path;

use protocols::channel::{ChannelOpen, ChannelReply};
use protocols::warpdrive::{Info, Kind, Message, RelPath, ReplyCode, ReportStatus};

/// The inputs of the Recon conformance vectors: each `("...", value)` line of
/// `recon/tests/conformance.rs`, its Rust string literal unescaped.
fn recon_vectors() -> Vec<String> {
    let source = include_str!("../recon/tests/conformance.rs");
    source
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("(\""))
        .filter_map(literal)
        .collect()
}

/// The rest of a Rust string literal after its opening quote, unescaped; `None` when it
/// does not end on this line.
fn literal(rest: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                '0' => out.push('\0'),
                'u' => {
                    let hex: String = chars.by_ref().skip(1).take_while(|&c| c != '}').collect();
                    out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                }
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

const ENVELOPES: &[&str] = &[
    r#"@link(node:"/unit/1",lane:info)"#,
    r#"@sync(node:"/unit/1",lane:info,prio:0.5,rate:10)"#,
    r#"@unlink(node:"/unit/1",lane:info)"#,
    r#"@command(node:"/unit/1",lane:info){name:"pump",on:true}"#,
    r#"@command(node:"/unit/2",lane:map)@update(key:a){x:1,y:2}"#,
    r#"@command(node:"/unit/2",lane:map)@remove(key:a)"#,
    r#"@linked(node:"/unit/1",lane:info)"#,
    r#"@synced(node:"/unit/1",lane:info)"#,
    r#"@unlinked(node:"/unit/1",lane:info)@nodeNotFound"#,
    r#"@event(node:"/unit/1",lane:info) 5"#,
    r#"@auth{token:"t"}"#,
    "@authed",
    "@deauth",
    "@deauthed",
    r#"@event(node:"/hub",lane:ping)@result(peer:bob,rtt_us:120)"#,
];

const REST_BODIES: &[(u8, &str)] = &[
    (0, r#"{"name":"web","target":"127.0.0.1:8080"}"#),
    (
        0,
        r#"{"name":"dns","target":"127.0.0.1:53","udp":true,"allow":["bob"]}"#,
    ),
    (
        1,
        r#"{"listen":"127.0.0.1:2222","peer":"bob","name":"ssh"}"#,
    ),
    (
        1,
        r#"{"listen":"unix:/tmp/x.sock","peer":"bob","name":"db","gateway":false}"#,
    ),
    (
        2,
        r#"{"name":"cam","mode":"1:n","port":5000,"send":["self"],"recv":["n1"]}"#,
    ),
    (
        2,
        r#"{"name":"mesh","mode":"n:n","port":5001,"members":["self","b","c"]}"#,
    ),
    (3, r#"{"peer":"bob","paths":["/tmp/a"],"wait":false}"#),
];

fn warpdrive_frames() -> Vec<Vec<u8>> {
    let id = [7u8; 16];
    let file = Info {
        path: RelPath::parse("docs/report.txt").unwrap(),
        kind: Kind::File,
        mode: 0o644,
        mtime: 1_700_000_000,
        mtime_ns: 5,
        size: 5,
        sha256: [1; 32],
        chunks: vec![[1; 32]],
        streamed: false,
    };
    let dir = Info {
        path: RelPath::parse("docs").unwrap(),
        kind: Kind::Dir,
        mode: 0o755,
        mtime: 1_700_000_000,
        mtime_ns: 0,
        size: 0,
        sha256: [0; 32],
        chunks: vec![],
        streamed: false,
    };
    [
        Message::SendOffer {
            id,
            chunk_size: 1 << 20,
            files: vec![
                dir,
                file.clone(),
                Info {
                    path: RelPath::parse("docs/later.bin").unwrap(),
                    size: 3 << 20,
                    sha256: [0; 32],
                    chunks: vec![],
                    streamed: true,
                    ..file
                },
            ],
        },
        Message::Hash {
            index: 2,
            chunk: 0,
            sha256: [9; 32],
        },
        Message::Download {
            id,
            index: 1,
            offset: 0,
        },
        Message::Cancel {
            id,
            reason: "cancelled".into(),
        },
        Message::Reject {
            id,
            reason: "no".into(),
        },
        Message::Report {
            id,
            status: ReportStatus::Completed,
            reason: String::new(),
        },
        Message::Ping(3),
        Message::Received {
            id,
            bytes: 1 << 20,
            entries: 1,
        },
        Message::Pong(3),
        Message::End,
        Message::Done,
        Message::Reply {
            code: ReplyCode::Ok,
            message: String::new(),
        },
        Message::Failed {
            code: ReplyCode::Changed,
            message: "changed".into(),
        },
        Message::Data(vec![1, 2, 3, 4]),
    ]
    .iter()
    .map(|m| m.encode().expect("seed frames are within the limits"))
    .collect()
}

fn channel_frames() -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = ["ping", "warpdrive", "gate/web", "flow/cam"]
        .iter()
        .map(|s| {
            ChannelOpen {
                service: s.to_string(),
                version: 1,
            }
            .encode()
        })
        .collect();
    out.push(ChannelReply::Accepted.encode());
    out.push(ChannelReply::Refused("no".into()).encode());
    out.push(protocols::datagram::encode(b"hello").unwrap());
    out
}

/// A bonded channel's frames: segments out of order and twice, acknowledgements, the end.
fn bond_frames() -> Vec<Vec<u8>> {
    use protocols::bond::frame::Frame;
    let data = |seq: u64| Frame::Data {
        seq,
        payload: vec![seq as u8; 100],
    };
    let frames = [
        vec![data(0), data(1), data(2)],
        vec![data(2), data(0), data(1), data(1)],
        vec![
            Frame::Ack {
                next: 3,
                window: 65_536,
            },
            Frame::Fin { seq: 3 },
        ],
    ];
    frames
        .iter()
        .map(|fs| fs.iter().flat_map(|f| f.encode().unwrap()).collect())
        .collect()
}

fn write(dir: &Path, target: &str, seeds: impl IntoIterator<Item = Vec<u8>>) -> usize {
    let d = dir.join(target);
    std::fs::create_dir_all(&d).expect("the seed directory can be made");
    let mut n = 0;
    for (i, s) in seeds.into_iter().enumerate() {
        std::fs::write(d.join(format!("seed-{i:04}")), s).expect("a seed can be written");
        n += 1;
    }
    n
}

/// Pairing frames, a code as typed, and a key-exchange message.
fn pair_frames() -> Vec<Vec<u8>> {
    use protocols::pair::{Code, Exchange, Frame, Role};
    let code = Code::new(7, [1, 2]);
    let (_, msg) = Exchange::start(&code, Role::Receiver, b"s", b"r", rand::rngs::OsRng);
    let frames = [
        Frame::Pake {
            nameplate: 7,
            msg: msg.clone(),
        },
        Frame::Confirm([3; 32]),
        Frame::Refused("no offer waits at this code".into()),
    ];
    let mut seeds: Vec<Vec<u8>> = frames.iter().map(Frame::encode).collect();
    seeds.push(frames.iter().flat_map(Frame::encode).collect());
    seeds.push(b"7-orbit-velvet".to_vec());
    seeds.push(msg);
    seeds
}

/// Map frames of every kind, with a record signed as a node signs it.
fn map_frames() -> Vec<Vec<u8>> {
    use ed25519_dalek::{Signer, SigningKey};
    use protocols::map::{Frame, Record};
    let key = SigningKey::from_bytes(&[9; 32]);
    let mut record = Record {
        id: key.verifying_key().to_bytes(),
        seq: 1,
        expires: 1_800_000_000,
        addrs: vec![
            "203.0.113.5:7470".parse().unwrap(),
            "[2001:db8::5]:7470".parse().unwrap(),
        ],
        signature: [0; 64],
    };
    record.signature = key.sign(&record.signed_bytes()).to_bytes();
    let frames = [
        Frame::Observe,
        Frame::Register(record.clone()),
        Frame::Lookup(record.id),
        Frame::Observed {
            addr: "198.51.100.9:40000".parse().unwrap(),
            others: vec!["192.0.2.1:7475".parse().unwrap()],
        },
        Frame::Registered(1_800_000_000),
        Frame::Found(record.clone()),
        Frame::NotFound([4; 32]),
        Frame::Refused("a record not signed by its key".into()),
        Frame::Claim,
        Frame::Release(748),
        Frame::WhoHas(748),
        Frame::Claimed {
            nameplate: 748,
            until: 1_800_000_000,
        },
        Frame::Released(748),
        Frame::Watch,
        Frame::Watching,
        Frame::Introduce([4; 32]),
        Frame::Introduced([4; 32]),
        Frame::Wanted(record.clone()),
        Frame::Holder {
            nameplate: 748,
            id: record.id,
        },
    ];
    let mut seeds: Vec<Vec<u8>> = frames.iter().map(Frame::encode).collect();
    seeds.push(frames.iter().flat_map(Frame::encode).collect());
    seeds.push(record.encode());
    seeds
}

fn main() {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "fuzz/seeds".into());
    let dir = Path::new(&dir);
    let recon: Vec<Vec<u8>> = recon_vectors()
        .into_iter()
        .map(String::into_bytes)
        .collect();
    let envelopes: Vec<Vec<u8>> = ENVELOPES.iter().map(|e| e.as_bytes().to_vec()).collect();
    let mut written = vec![
        ("recon_parse", write(dir, "recon_parse", recon.clone())),
        (
            "recon_peel_header",
            write(dir, "recon_peel_header", envelopes.clone()),
        ),
        (
            "warp_envelope",
            write(dir, "warp_envelope", envelopes.clone()),
        ),
        (
            "hub_session",
            write(dir, "hub_session", vec![ENVELOPES.join("\n").into_bytes()]),
        ),
        (
            "warpdrive_frame",
            write(dir, "warpdrive_frame", warpdrive_frames()),
        ),
        (
            "channel_header",
            write(dir, "channel_header", channel_frames()),
        ),
    ];
    let rest = REST_BODIES.iter().map(|(which, body)| {
        let mut v = vec![*which];
        v.extend_from_slice(body.as_bytes());
        v
    });
    written.push(("rest_bodies", write(dir, "rest_bodies", rest)));
    written.push(("bond_frames", write(dir, "bond_frames", bond_frames())));
    written.push(("pair_frames", write(dir, "pair_frames", pair_frames())));
    written.push(("map_frames", write(dir, "map_frames", map_frames())));
    for (target, n) in written {
        println!("{target}: {n} seeds");
    }
    assert!(recon.len() > 200, "the conformance vectors were not found");
}
