//! The engine between two nodes in one process: each side a real `Drive` with its own
//! sled database and directories, joined by in-memory byte streams instead of the
//! tunnel. Hostile frames are written by hand; damage on the way is one byte flipped in
//! such a stream.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

use protocols::warpdrive::{Message, ReplyCode};
use tokio::io::{AsyncRead, AsyncWriteExt, ReadBuf};
use warpdrive::net::{BoxRead, BoxWrite, NetError, Opening};
use warpdrive::wire::FrameReader;
use warpdrive::{Drive, PeerNet, Policy, Status};

/// Streams to the other drives, by name.
struct Net {
    me: String,
    peers: Mutex<HashMap<String, Weak<Drive>>>,
    policy: Policy,
    /// When set, every open fails with this, as the node's tunnel would.
    fail: Mutex<Option<NetError>>,
    /// When set, the next stream opened has the byte at this position of what it
    /// receives flipped, as a link that damages data would (QUIC would catch it; disks
    /// and memory on the way may not).
    damage: Mutex<Option<u64>>,
}

/// A stream that flips the byte at position `at` of what is read through it.
struct Flip<R> {
    inner: R,
    at: u64,
    pos: u64,
}

impl<R: AsyncRead + Unpin> AsyncRead for Flip<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = (buf.filled().len() - before) as u64;
        let (at, pos) = (self.at, self.pos);
        if (pos..pos + n).contains(&at) {
            buf.filled_mut()[before + (at - pos) as usize] ^= 0xff;
        }
        self.pos += n;
        r
    }
}

impl PeerNet for Net {
    fn open(&self, peer: &str) -> Opening<'_> {
        let other = self.peers.lock().unwrap().get(peer).and_then(Weak::upgrade);
        let me = self.me.clone();
        let fail = self.fail.lock().unwrap().clone();
        let damage = self.damage.lock().unwrap().take();
        Box::pin(async move {
            if let Some(e) = fail {
                return Err(e);
            }
            let other = other.ok_or(NetError::Unreachable("unknown peer".into()))?;
            let (here, there) = tokio::io::duplex(256 * 1024);
            let (tr, tw) = tokio::io::split(there);
            tokio::spawn(warpdrive::serve::serve(
                other,
                me,
                Box::new(tw),
                Box::new(tr),
            ));
            let (hr, hw) = tokio::io::split(here);
            let hr: BoxRead = match damage {
                Some(at) => Box::new(Flip {
                    inner: hr,
                    at,
                    pos: 0,
                }),
                None => Box::new(hr),
            };
            Ok((Box::new(hw) as BoxWrite, hr))
        })
    }
    fn policy(&self, _peer: &str) -> Policy {
        self.policy
    }
    fn resolve(&self, peer: &str) -> Result<String, NetError> {
        Ok(peer.to_string())
    }
}

struct Side {
    drive: Arc<Drive>,
    net: Arc<Net>,
    _db: sled::Db,
    dir: tempfile::TempDir,
}

fn side(name: &str, policy: Policy) -> Side {
    let dir = tempfile::tempdir().unwrap();
    let db = sled::open(dir.path().join("db")).unwrap();
    let net = Arc::new(Net {
        me: name.into(),
        peers: Mutex::new(HashMap::new()),
        policy,
        fail: Mutex::new(None),
        damage: Mutex::new(None),
    });
    let drive = Drive::new(&db, net.clone(), dir.path().join("incoming")).unwrap();
    Side {
        drive,
        net,
        _db: db,
        dir,
    }
}

fn link(a: &Side, a_name: &str, b: &Side, b_name: &str) {
    a.net
        .peers
        .lock()
        .unwrap()
        .insert(b_name.into(), Arc::downgrade(&b.drive));
    b.net
        .peers
        .lock()
        .unwrap()
        .insert(a_name.into(), Arc::downgrade(&a.drive));
}

/// Sends raw bytes to `to` as peer `from`; the first answer.
async fn raw(to: &Side, from: &str, bytes: &[u8]) -> Option<Message> {
    let (here, there) = tokio::io::duplex(1 << 20);
    let (tr, tw) = tokio::io::split(there);
    tokio::spawn(warpdrive::serve::serve(
        to.drive.clone(),
        from.into(),
        Box::new(tw),
        Box::new(tr),
    ));
    let (hr, mut hw) = tokio::io::split(here);
    hw.write_all(bytes).await.unwrap();
    FrameReader::new(hr).next().await.unwrap()
}

/// An offer frame written by hand, with any path.
fn offer_with_path(path: &[u8]) -> Vec<u8> {
    let mut body = vec![7u8; 16];
    body.extend_from_slice(&(1u32 << 20).to_be_bytes());
    body.extend_from_slice(&1u32.to_be_bytes());
    body.extend_from_slice(&(path.len() as u16).to_be_bytes());
    body.extend_from_slice(path);
    body.push(0);
    body.extend_from_slice(&0o644u32.to_be_bytes());
    body.extend_from_slice(&[0; 12]);
    body.extend_from_slice(&5u64.to_be_bytes());
    body.extend_from_slice(&[0; 32]);
    body.extend_from_slice(&1u32.to_be_bytes());
    body.extend_from_slice(&[0; 32]);
    let mut out = vec![0x01];
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(&body);
    out
}

#[tokio::test]
async fn offers_with_escaping_paths_are_refused_and_write_nothing() {
    let b = side("bob", Policy::Trust);
    for path in [
        &b"../../etc/evil"[..],
        b"/etc/evil",
        b"ok/../../evil",
        b"C:/evil",
        b"a\\..\\evil",
    ] {
        match raw(&b, "alice", &offer_with_path(path)).await {
            Some(Message::Reply {
                code: ReplyCode::BadPath,
                message,
            }) => {
                assert!(message.contains("refused path"), "{message}")
            }
            other => panic!("{path:?}: {other:?}"),
        }
    }
    // A path whose directory is not in the offer is refused as malformed.
    match raw(&b, "alice", &offer_with_path(b"nodir/file")).await {
        Some(Message::Reply {
            code: ReplyCode::BadOffer,
            message,
        }) => assert!(message.contains("not an earlier entry")),
        other => panic!("{other:?}"),
    }
    assert!(b.drive.list().is_empty(), "an offer was recorded");
    assert!(
        !b.dir.path().join("incoming").exists()
            || std::fs::read_dir(b.dir.path().join("incoming"))
                .unwrap()
                .next()
                .is_none()
    );
}

#[tokio::test]
async fn unknown_and_reply_frames_get_an_error_answer() {
    let b = side("bob", Policy::Ask);
    match raw(&b, "alice", &[0x10, 0, 0, 0, 0]).await {
        Some(Message::Reply {
            code: ReplyCode::UnknownCommand,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    let done = Message::Done.encode().unwrap();
    match raw(&b, "alice", &done).await {
        Some(Message::Reply {
            code: ReplyCode::UnknownCommand,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    let ping = Message::Ping(42).encode().unwrap();
    assert_eq!(raw(&b, "alice", &ping).await, Some(Message::Pong(42)));
}

#[tokio::test]
async fn only_the_peer_an_offer_was_made_to_may_download_it() {
    let a = side("alice", Policy::Ask);
    let b = side("bob", Policy::Ask);
    link(&a, "alice", &b, "bob");
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("secret.txt");
    std::fs::write(&file, b"for bob only").unwrap();
    let o = a.drive.share("bob", vec![file]).await.unwrap();
    assert_eq!(o.status, Status::Awaiting);
    let id = warpdrive::offer::id_bytes(&o.id).unwrap();
    let ask = Message::Download {
        id,
        index: 0,
        offset: 0,
    }
    .encode()
    .unwrap();
    match raw(&a, "mallory", &ask).await {
        Some(Message::Reply {
            code: ReplyCode::NotYours,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    // Bob may, and gets the bytes.
    let (here, there) = tokio::io::duplex(1 << 20);
    let (tr, tw) = tokio::io::split(there);
    tokio::spawn(warpdrive::serve::serve(
        a.drive.clone(),
        "bob".into(),
        Box::new(tw),
        Box::new(tr),
    ));
    let (hr, mut hw) = tokio::io::split(here);
    hw.write_all(&ask).await.unwrap();
    let mut frames = FrameReader::new(hr);
    assert!(matches!(
        frames.next().await.unwrap(),
        Some(Message::Reply {
            code: ReplyCode::Ok,
            ..
        })
    ));
    assert_eq!(
        frames.next().await.unwrap(),
        Some(Message::Data(b"for bob only".to_vec()))
    );
    // The file was offered before it was read: its hash follows its bytes.
    use sha2::Digest;
    assert_eq!(
        frames.next().await.unwrap(),
        Some(Message::Hash {
            index: 0,
            chunk: 0,
            sha256: sha2::Sha256::digest(b"for bob only").into(),
        })
    );
    assert_eq!(frames.next().await.unwrap(), Some(Message::Done));
}

#[tokio::test]
async fn a_symlink_in_the_download_directory_is_never_written_through() {
    let a = side("alice", Policy::Ask);
    let b = side("bob", Policy::Ask);
    link(&a, "alice", &b, "bob");
    let src = tempfile::tempdir().unwrap();
    std::fs::create_dir(src.path().join("tree")).unwrap();
    std::fs::write(src.path().join("tree/file"), b"data").unwrap();
    let outside = tempfile::tempdir().unwrap();
    let dest = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(outside.path(), dest.path().join("tree")).unwrap();

    let o = a
        .drive
        .share("bob", vec![src.path().join("tree")])
        .await
        .unwrap();
    let mut events = b.drive.subscribe();
    b.drive
        .accept(&o.id, Some(dest.path().to_path_buf()))
        .unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let o = events.recv().await.unwrap();
            if o.status.is_final() {
                return o;
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(ended.status, Status::Failed);
    assert!(ended.reason.contains("symbolic link"), "{}", ended.reason);
    assert!(
        std::fs::read_dir(outside.path()).unwrap().next().is_none(),
        "written outside"
    );
    // The sender hears the verdict.
    let told = poll_offer(&a, &o.id, |o| o.status.is_final()).await;
    assert_eq!(told.status, Status::Failed, "{told:?}");
    assert!(told.reason.contains("symbolic link"), "{}", told.reason);
}

/// An offer `n` of `dirs` empty directories (`d0`, `d1`... padded to `width` characters).
fn offer_of_dirs(n: u8, dirs: usize, width: usize) -> Vec<u8> {
    use protocols::warpdrive::{Info, Kind, RelPath};
    let files = (0..dirs)
        .map(|i| Info {
            path: RelPath::parse(&format!("d{i:0width$}")).unwrap(),
            kind: Kind::Dir,
            mode: 0o755,
            mtime: 0,
            mtime_ns: 0,
            size: 0,
            sha256: [0; 32],
            chunks: Vec::new(),
            streamed: false,
        })
        .collect();
    Message::SendOffer {
        id: [n; 16],
        chunk_size: 1 << 20,
        files,
    }
    .encode()
    .unwrap()
}

#[tokio::test]
async fn offers_past_a_peers_quotas_are_refused_and_ending_one_frees_its_room() {
    let b = side("bob", Policy::Ask);
    let reply = |m: Option<Message>| match m {
        Some(Message::Reply { code, message }) => (code, message),
        other => panic!("{other:?}"),
    };
    // Over the entry limit.
    let (code, why) = reply(raw(&b, "mallory", &offer_of_dirs(200, 100_001, 1)).await);
    assert_eq!(code, ReplyCode::BadOffer);
    assert!(why.contains("100000"), "{why}");
    // 32 offers wait; the 33rd is refused.
    for n in 0..32 {
        let (code, why) = reply(raw(&b, "mallory", &offer_of_dirs(n, 1, 1)).await);
        assert_eq!(code, ReplyCode::Ok, "{why}");
    }
    let (code, why) = reply(raw(&b, "mallory", &offer_of_dirs(32, 1, 1)).await);
    assert_eq!(code, ReplyCode::WrongState);
    assert!(why.contains("await the user"), "{why}");
    // Another peer is not held back by mallory's.
    let (code, why) = reply(raw(&b, "alice", &offer_of_dirs(33, 1, 1)).await);
    assert_eq!(code, ReplyCode::Ok, "{why}");
    // Rejecting one makes room, and its entries leave the store.
    let first = warpdrive::offer::id_text(&[0; 16]);
    b.drive.reject(&first).await.unwrap();
    assert_eq!(b.drive.stored_bytes(&first), 0, "entries kept");
    let (code, why) = reply(raw(&b, "mallory", &offer_of_dirs(32, 1, 1)).await);
    assert_eq!(code, ReplyCode::Ok, "{why}");

    // Stored bytes: a few large offers pass the 64 MiB a peer may hold.
    let c = side("carol", Policy::Ask);
    let mut refused = None;
    for n in 0..8 {
        let (code, why) = reply(raw(&c, "mallory", &offer_of_dirs(n, 90_000, 200)).await);
        if code != ReplyCode::Ok {
            refused = Some((n, code, why));
            break;
        }
    }
    let (n, code, why) = refused.expect("the byte quota never refused");
    assert!(n >= 1, "the first large offer is within the quota");
    assert_eq!(code, ReplyCode::WrongState);
    assert!(why.contains("64 MiB"), "{why}");
}

/// Polls `side`'s offer `id` until `done` holds or 10 s pass; the offer as last seen.
async fn poll_offer(
    side: &Side,
    id: &str,
    done: impl Fn(&warpdrive::Offer) -> bool,
) -> warpdrive::Offer {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let o = side.drive.find(id).unwrap();
        if done(&o) || tokio::time::Instant::now() > deadline {
            return o;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_refusal_ends_a_download_at_once_and_an_unreachable_sender_is_retried() {
    let a = side("alice", Policy::Ask);
    let b = side("bob", Policy::Ask);
    link(&a, "alice", &b, "bob");
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("f.txt");
    std::fs::write(&file, b"bytes").unwrap();

    // The sender cannot be reached: the download keeps trying, and is not failed.
    let o = a.drive.share("bob", vec![file]).await.unwrap();
    *b.net.fail.lock().unwrap() = Some(NetError::Unreachable("alice is down".into()));
    b.drive.accept(&o.id, None).unwrap();
    let seen = poll_offer(&b, &o.id, |o| o.status == Status::InProgress).await;
    assert_eq!(seen.status, Status::InProgress, "{seen:?}");
    // It comes back: the retry completes the offer.
    *b.net.fail.lock().unwrap() = None;
    let seen = poll_offer(&b, &o.id, |o| o.status.is_final()).await;
    assert_eq!(seen.status, Status::Completed, "{seen:?}");

    // The sender refuses (it blocks bob now): the download fails at once, with the reason.
    let other = src.path().join("g.txt");
    std::fs::write(&other, b"more bytes").unwrap();
    let o = a.drive.share("bob", vec![other]).await.unwrap();
    *b.net.fail.lock().unwrap() = Some(NetError::Refused("the peer blocks this node".into()));
    b.drive.accept(&o.id, None).unwrap();
    let seen = poll_offer(&b, &o.id, |o| o.status.is_final()).await;
    assert_eq!(seen.status, Status::Failed, "{seen:?}");
    assert!(seen.reason.contains("blocks this node"), "{seen:?}");
}

/// Where the 6th byte of a file's second 1 MiB chunk is in a download stream: after the
/// reply (8 bytes), the first chunk's `Data` frame (5 + 1 MiB) and its `Hash` (5 + 44),
/// and the second `Data` frame's header.
const IN_SECOND_CHUNK: u64 = 8 + 5 + (1 << 20) + 49 + 5 + 5;

/// A 3 MiB file offered from `a` to `b`, whose first download attempt is damaged in its
/// second chunk: the offer fails saying so and keeps the verified first chunk.
async fn damaged_download(a: &Side, b: &Side) -> (std::path::PathBuf, Vec<u8>, String) {
    let src = a.dir.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    let file = src.join("big.bin");
    let bytes: Vec<u8> = (0..3u32 << 20).map(|i| (i % 251) as u8).collect();
    std::fs::write(&file, &bytes).unwrap();
    let o = a.drive.share("bob", vec![file.clone()]).await.unwrap();
    *b.net.damage.lock().unwrap() = Some(IN_SECOND_CHUNK);
    b.drive.accept(&o.id, None).unwrap();
    let seen = poll_offer(b, &o.id, |o| o.status.is_final()).await;
    assert_eq!(seen.status, Status::Failed, "{seen:?}");
    assert!(
        seen.reason
            .contains("chunk 1 does not match the sender's hash"),
        "{seen:?}"
    );
    // The first chunk was verified and stays for a resume; nothing took the final name.
    assert_eq!(part_len(b), Some(1 << 20));
    assert!(!b.dir.path().join("incoming/big.bin").exists());
    (file, bytes, o.id)
}

/// The length of the one partial file in `b`'s incoming directory.
fn part_len(b: &Side) -> Option<u64> {
    let part = std::fs::read_dir(b.dir.path().join("incoming"))
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().ends_with(".warp-part"))?;
    Some(part.metadata().unwrap().len())
}

/// Accepts `id` on `b` again; it completes with `bytes` as `big.bin`.
async fn accept_to_the_end(b: &Side, id: &str, bytes: &[u8]) -> warpdrive::Offer {
    b.drive.accept(id, None).unwrap();
    let seen = poll_offer(b, id, |o| o.status.is_final()).await;
    assert_eq!(seen.status, Status::Completed, "{seen:?}");
    assert_eq!(
        std::fs::read(b.dir.path().join("incoming/big.bin")).unwrap(),
        bytes
    );
    seen
}

#[tokio::test]
async fn damaged_bytes_fail_the_offer_and_accepting_again_resumes_from_the_verified_prefix() {
    let a = side("alice", Policy::Ask);
    let b = side("bob", Policy::Ask);
    link(&a, "alice", &b, "bob");
    let (_, bytes, id) = damaged_download(&a, &b).await;
    // Accepted again: the download goes on from the verified chunk (its hash, which came
    // with its bytes, was kept) and completes with the file's own bytes.
    let seen = accept_to_the_end(&b, &id, &bytes).await;
    // Two attempts of 2 MiB each: up to the damaged chunk, then after the kept one.
    assert_eq!(seen.transferred, 4 << 20, "{seen:?}");
}

#[tokio::test]
async fn a_file_changed_on_the_sender_between_attempts_drops_the_old_part_and_arrives_anew() {
    let a = side("alice", Policy::Ask);
    let b = side("bob", Policy::Ask);
    link(&a, "alice", &b, "bob");
    let (file, mut bytes, id) = damaged_download(&a, &b).await;
    // The first chunk, which bob has, changes on alice's disk; size and time are put
    // back, so only the hashes can tell.
    let mtime = std::fs::metadata(&file).unwrap().modified().unwrap();
    bytes[5] ^= 0xff;
    std::fs::write(&file, &bytes).unwrap();
    std::fs::File::options()
        .write(true)
        .open(&file)
        .unwrap()
        .set_modified(mtime)
        .unwrap();
    b.drive.accept(&id, None).unwrap();
    let changed = "changed on the sender since the download began";
    let seen = poll_offer(&b, &id, |o| {
        o.status.is_final() && o.reason.contains(changed)
    })
    .await;
    assert_eq!(seen.status, Status::Failed, "{seen:?}");
    assert!(seen.reason.contains(changed), "{seen:?}");
    // Bob's part is of the old file: dropped, and nothing took the final name.
    assert_eq!(part_len(&b), Some(0));
    assert!(!b.dir.path().join("incoming/big.bin").exists());
    // Accepted again, the file arrives as it is now.
    accept_to_the_end(&b, &id, &bytes).await;
}

#[tokio::test]
async fn a_file_already_at_the_destination_is_never_overwritten() {
    let a = side("alice", Policy::Ask);
    let b = side("bob", Policy::Ask);
    link(&a, "alice", &b, "bob");
    let src = tempfile::tempdir().unwrap();
    let file = src.path().join("notes.txt");
    std::fs::write(&file, b"the offered notes").unwrap();
    let o = a.drive.share("bob", vec![file]).await.unwrap();
    // Bob has a file of his own by that name, of the same size.
    let incoming = b.dir.path().join("incoming");
    std::fs::create_dir_all(&incoming).unwrap();
    std::fs::write(incoming.join("notes.txt"), b"bob's own notes!!").unwrap();

    b.drive.accept(&o.id, None).unwrap();
    let seen = poll_offer(&b, &o.id, |o| o.status.is_final()).await;
    assert_eq!(seen.status, Status::Failed, "{seen:?}");
    assert!(
        seen.reason
            .contains("exists and is not the offered file; nothing was overwritten"),
        "{seen:?}"
    );
    assert_eq!(
        std::fs::read(incoming.join("notes.txt")).unwrap(),
        b"bob's own notes!!"
    );
}

#[tokio::test]
async fn links_inside_a_shared_directory_are_left_out_of_the_offer() {
    let a = side("alice", Policy::Ask);
    let b = side("bob", Policy::Trust);
    link(&a, "alice", &b, "bob");
    let src = tempfile::tempdir().unwrap();
    let tree = src.path().join("tree");
    std::fs::create_dir(&tree).unwrap();
    std::fs::write(tree.join("real.txt"), b"real").unwrap();
    let secret = src.path().join("secret.txt");
    std::fs::write(&secret, b"not offered").unwrap();
    std::os::unix::fs::symlink(&secret, tree.join("link.txt")).unwrap();
    std::os::unix::fs::symlink(src.path(), tree.join("up")).unwrap();

    let o = a.drive.share("bob", vec![tree]).await.unwrap();
    assert_eq!(o.entries, 2, "the directory and its one file: {o:?}");
    let seen = poll_offer(&b, &o.id, |o| o.status.is_final()).await;
    assert_eq!(seen.status, Status::Completed, "{seen:?}");
    let got = b.dir.path().join("incoming/tree");
    let mut names: Vec<_> = std::fs::read_dir(&got)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["real.txt"]);
}

#[tokio::test]
async fn the_same_offer_again_gets_the_first_answer_and_its_id_stays_its_senders() {
    let b = side("bob", Policy::Ask);
    let frame = offer_of_dirs(3, 1, 1);
    // A sender that did not hear the answer (it tries again while it waits) gets it again.
    for _ in 0..2 {
        match raw(&b, "alice", &frame).await {
            Some(Message::Reply {
                code: ReplyCode::Ok,
                ..
            }) => {}
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(b.drive.list().len(), 1);
    // Another peer cannot take the id.
    match raw(&b, "mallory", &frame).await {
        Some(Message::Reply {
            code: ReplyCode::BadOffer,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
    // Once rejected, the same offer is answered as rejected.
    let id = b.drive.list()[0].id.clone();
    b.drive.reject(&id).await.unwrap();
    match raw(&b, "alice", &frame).await {
        Some(Message::Reply {
            code: ReplyCode::Rejected,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
}
