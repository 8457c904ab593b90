//! warpdrive frames: every message round-trips, every limit holds, random and crafted
//! bytes give errors, never panics.

use proptest::prelude::*;
use protocols::warpdrive::message::{HEADER_LEN, MAX_DATA};
use protocols::warpdrive::{DecodeError, Info, Kind, Message, RelPath, ReplyCode, ReportStatus};

fn file(path: &str, size: u64, chunk: u32) -> Info {
    let n = size.div_ceil(chunk as u64) as usize;
    Info {
        path: RelPath::parse(path).unwrap(),
        kind: Kind::File,
        mode: 0o644,
        mtime: 1_700_000_000,
        mtime_ns: 5,
        size,
        sha256: [7; 32],
        chunks: vec![[1; 32]; n],
        streamed: false,
    }
}

/// A file offered before it was read: its hashes come with its bytes.
fn streamed(path: &str, size: u64) -> Info {
    Info {
        sha256: [0; 32],
        chunks: vec![],
        streamed: true,
        ..file(path, size, 1 << 20)
    }
}

#[test]
fn an_offer_round_trips() {
    let offer = Message::SendOffer {
        id: [9; 16],
        chunk_size: 1 << 20,
        files: vec![
            Info {
                path: RelPath::parse("dir").unwrap(),
                kind: Kind::Dir,
                mode: 0o755,
                mtime: -5,
                mtime_ns: 0,
                size: 0,
                sha256: [0; 32],
                chunks: vec![],
                streamed: false,
            },
            file("dir/a.bin", 5 << 20, 1 << 20),
            file("dir/empty", 0, 1 << 20),
            file("big", 5 << 30, 1 << 20),
            streamed("dir/later.bin", 3 << 20),
        ],
    };
    let bytes = offer.encode().unwrap();
    assert_eq!(Message::decode(&bytes).unwrap(), Some((offer, bytes.len())));
    assert_eq!(Message::decode(&bytes[..bytes.len() - 1]).unwrap(), None);
}

/// An offer body written by hand, as a hostile peer would.
fn raw_offer(path: &[u8]) -> Vec<u8> {
    let mut body = vec![1u8; 16];
    body.extend_from_slice(&(1u32 << 20).to_be_bytes());
    body.extend_from_slice(&1u32.to_be_bytes());
    body.extend_from_slice(&(path.len() as u16).to_be_bytes());
    body.extend_from_slice(path);
    body.push(0);
    body.extend_from_slice(&0o644u32.to_be_bytes());
    body.extend_from_slice(&0u64.to_be_bytes());
    body.extend_from_slice(&0u32.to_be_bytes());
    body.extend_from_slice(&0u64.to_be_bytes());
    body.extend_from_slice(&[0; 32]);
    body.extend_from_slice(&0u32.to_be_bytes());
    let mut out = vec![0x01];
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

#[test]
fn crafted_paths_are_refused() {
    assert!(Message::decode(&raw_offer(b"fine/name")).unwrap().is_some());
    for bad in [
        &b"../etc/passwd"[..],
        b"/etc/passwd",
        b"a/../../b",
        b"C:/x",
        b"a\x00b",
        b"\xff\xfe",
    ] {
        let err = Message::decode(&raw_offer(bad)).unwrap_err();
        assert!(
            matches!(err, DecodeError::Path(_) | DecodeError::NotUtf8(_)),
            "{bad:?}: {err}"
        );
    }
}

#[test]
fn a_streamed_file_carries_no_hashes_and_a_lone_whole_file_hash_is_refused() {
    let mut f = streamed("s", 3 << 20);
    // Hashes a receiver filled in are not sent back out.
    f.chunks = vec![[4; 32]];
    let m = Message::SendOffer {
        id: [1; 16],
        chunk_size: 1 << 20,
        files: vec![f],
    };
    let bytes = m.encode().unwrap();
    let Some((Message::SendOffer { files, .. }, _)) = Message::decode(&bytes).unwrap() else {
        panic!("an offer")
    };
    assert_eq!(files, vec![streamed("s", 3 << 20)]);
    // No chunk hashes but a whole-file hash: neither a streamed nor a hashed file.
    let mut frame = raw_offer(b"x");
    let sizes = frame.len() - 4 - 32 - 8;
    frame[sizes..sizes + 8].copy_from_slice(&5u64.to_be_bytes());
    let sha = frame.len() - 4 - 32;
    frame[sha] = 1;
    let err = Message::decode(&frame).unwrap_err();
    assert!(
        matches!(err, DecodeError::Invalid(ref w) if w.contains("whole-file")),
        "{err}"
    );
    frame[sha] = 0;
    assert!(Message::decode(&frame).unwrap().is_some());
}

#[test]
fn limits_are_checked_before_reading() {
    // A Data frame claiming 2 MiB, an offer claiming a million entries in 30 bytes.
    let mut big = vec![0x81];
    big.extend_from_slice(&((MAX_DATA as u32) + 1).to_be_bytes());
    assert!(matches!(
        Message::decode(&big),
        Err(DecodeError::TooLarge { .. })
    ));
    let mut body = vec![0u8; 16];
    body.extend_from_slice(&(1u32 << 20).to_be_bytes());
    body.extend_from_slice(&1_000_000u32.to_be_bytes());
    let mut frame = vec![0x01];
    frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
    frame.extend_from_slice(&body);
    assert_eq!(Message::decode(&frame), Err(DecodeError::Truncated));
    // A chunk hash count that does not match the size.
    let mut wrong = file("x", 3 << 20, 1 << 20);
    wrong.chunks.pop();
    let m = Message::SendOffer {
        id: [0; 16],
        chunk_size: 1 << 20,
        files: vec![wrong],
    };
    assert!(m.encode().is_err());
    assert_eq!(
        Message::decode(&[0x42, 0, 0, 0, 0]),
        Err(DecodeError::UnknownCode(0x42))
    );
    let long = "x".repeat(5000);
    assert!(Message::Reply {
        code: ReplyCode::Ok,
        message: long
    }
    .encode()
    .is_err());
}

fn id() -> impl Strategy<Value = [u8; 16]> {
    any::<[u8; 16]>()
}

fn small_message() -> impl Strategy<Value = Message> {
    let text = "[a-z ]{0,40}";
    prop_oneof![
        (id(), any::<u64>(), any::<u64>()).prop_map(|(id, index, offset)| Message::Download {
            id,
            index,
            offset
        }),
        (id(), text).prop_map(|(id, reason)| Message::Cancel { id, reason }),
        (id(), text).prop_map(|(id, reason)| Message::Reject { id, reason }),
        (id(), any::<bool>(), text).prop_map(|(id, ok, reason)| Message::Report {
            id,
            status: if ok {
                ReportStatus::Completed
            } else {
                ReportStatus::Failed
            },
            reason
        }),
        any::<u8>().prop_map(Message::Ping),
        (id(), any::<u64>(), any::<u64>()).prop_map(|(id, bytes, entries)| Message::Received {
            id,
            bytes,
            entries
        }),
        any::<u8>().prop_map(Message::Pong),
        Just(Message::End),
        Just(Message::Done),
        (any::<u8>(), text).prop_map(|(c, message)| Message::Reply {
            code: code(c),
            message
        }),
        (any::<u8>(), text).prop_map(|(c, message)| Message::Failed {
            code: code(c),
            message
        }),
        prop::collection::vec(any::<u8>(), 0..300).prop_map(Message::Data),
        (any::<u64>(), any::<u32>(), any::<[u8; 32]>()).prop_map(|(index, chunk, sha256)| {
            Message::Hash {
                index,
                chunk,
                sha256,
            }
        }),
    ]
}

/// A reply code as decoding gives it back (known codes by name).
fn code(c: u8) -> ReplyCode {
    let frame = Message::Reply {
        code: ReplyCode::Other(c),
        message: String::new(),
    }
    .encode()
    .unwrap();
    match Message::decode(&frame).unwrap().unwrap().0 {
        Message::Reply { code, .. } => code,
        _ => unreachable!(),
    }
}

proptest! {
    #[test]
    fn messages_round_trip_in_a_stream(msgs in prop::collection::vec(small_message(), 1..10)) {
        let mut stream: Vec<u8> = msgs.iter().flat_map(|m| m.encode().unwrap()).collect();
        let mut back = Vec::new();
        while let Some((m, n)) = Message::decode(&stream).unwrap() {
            back.push(m);
            stream.drain(..n);
        }
        prop_assert!(stream.is_empty());
        prop_assert_eq!(back, msgs);
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = Message::decode(&bytes);
    }

    #[test]
    fn random_offer_bodies_never_panic(tail in prop::collection::vec(any::<u8>(), 0..300)) {
        let mut frame = raw_offer(b"a");
        frame.truncate(HEADER_LEN + 24);
        frame.extend_from_slice(&tail);
        let len = (frame.len() - HEADER_LEN) as u32;
        frame[1..5].copy_from_slice(&len.to_be_bytes());
        let _ = Message::decode(&frame);
    }
}
