//! The `warpdrive` service: what a peer may ask of this node on a channel — take an
//! offer, download an offer made to it, cancel, reject or report on an offer it is party
//! to, ping. Every request gets an answer, an error code included; a frame that does not
//! decode gets one and ends the channel. Local commands are not served here.

use std::sync::Arc;
use std::time::{Duration, Instant};

use protocols::warpdrive::{DecodeError, Info, Message, OfferId, ReplyCode, ReportStatus};
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::disk_error::DiskError;
use crate::drive::Drive;
use crate::net::{BoxRead, BoxWrite, Policy};
use crate::offer::{id_text, Offer, Status};
use crate::read::{read_files, Out, Plan};
use crate::wire::{self, FrameReader, WireError};

/// Most entries (files and directories) an offer received may hold: every entry is kept
/// in the database until the offer is answered.
pub const MAX_ENTRIES: usize = 100_000;

/// Most offers from one peer that may wait for the user at once.
pub const MAX_WAITING: usize = 32;

/// Most bytes the entries of one peer's offers may take in this node's database (offers
/// that completed, were rejected or cancelled no longer count).
pub const MAX_STORED: usize = 64 << 20;

/// Serves one channel from `peer` (its peer id) until it ends.
pub async fn serve(
    drive: Arc<Drive>,
    peer: String,
    mut w: BoxWrite,
    r: BoxRead,
) -> Result<(), WireError> {
    let mut frames = FrameReader::new(r);
    loop {
        let msg = match frames.next().await {
            Ok(Some(m)) => m,
            Ok(None) => return Ok(()),
            Err(WireError::Decode(e)) => {
                let code = match e {
                    DecodeError::Path(_) => ReplyCode::BadPath,
                    DecodeError::UnknownCode(_) => ReplyCode::UnknownCommand,
                    _ => ReplyCode::BadOffer,
                };
                let _ = reply(&mut w, code, &e.to_string()).await;
                return Err(WireError::Decode(e));
            }
            Err(e) => return Err(e),
        };
        match msg {
            Message::SendOffer {
                id,
                chunk_size,
                files,
            } => {
                let (code, text) = take_offer(&drive, &peer, id, chunk_size, files);
                reply(&mut w, code, &text).await?;
            }
            Message::Download { id, index, offset } => {
                send_files(&drive, &peer, id, (index, offset), &mut w, &mut frames).await?;
            }
            Message::Cancel { id, reason } => {
                let (code, text) = peer_ends(&drive, &peer, id, None, Status::Cancelled, &reason);
                reply(&mut w, code, &text).await?;
            }
            Message::Reject { id, reason } => {
                let (code, text) =
                    peer_ends(&drive, &peer, id, Some(false), Status::Rejected, &reason);
                reply(&mut w, code, &text).await?;
            }
            Message::Report { id, status, reason } => {
                let end = match status {
                    ReportStatus::Completed => Status::Completed,
                    ReportStatus::Failed => Status::Failed,
                };
                let reason = if reason.is_empty() {
                    reason
                } else {
                    format!("the receiver: {reason}")
                };
                let (code, text) = peer_ends(&drive, &peer, id, Some(false), end, &reason);
                reply(&mut w, code, &text).await?;
            }
            Message::Ping(b) => wire::send(&mut w, &Message::Pong(b)).await?,
            // Late news of a download this side has finished sending.
            Message::Received { id, bytes, entries } => received(&drive, &peer, id, bytes, entries),
            Message::End => return Ok(()),
            other => {
                let text = format!("{:?} is not a request", other.code());
                reply(&mut w, ReplyCode::UnknownCommand, &text).await?;
                return Err(WireError::Unexpected(other.code()));
            }
        }
    }
}

async fn reply(w: &mut BoxWrite, code: ReplyCode, message: &str) -> Result<(), WireError> {
    let message: String = message.chars().take(1000).collect();
    wire::send(w, &Message::Reply { code, message }).await
}

/// An offer from `peer`: refused if the peer is blocked, the id is taken or the tree is
/// malformed; recorded; accepted at once for a trusted peer. The same offer from the
/// same peer again gets the answer it got the first time.
fn take_offer(
    drive: &Arc<Drive>,
    peer: &str,
    id: OfferId,
    chunk_size: u32,
    files: Vec<Info>,
) -> (ReplyCode, String) {
    let text = id_text(&id);
    let policy = drive.net.policy(peer);
    if policy == Policy::Block {
        return (ReplyCode::Blocked, "this node blocks you".into());
    }
    if let Some(o) = drive.store.get(&text) {
        // The same offer again: the sender did not hear the first answer (it tries again
        // while it waits for this node).
        if o.incoming && o.peer == peer {
            return match o.status {
                Status::Accepted | Status::InProgress | Status::Completed => {
                    (ReplyCode::Accepted, String::new())
                }
                Status::Rejected => (ReplyCode::Rejected, o.reason),
                Status::Cancelled => (ReplyCode::Cancelled, o.reason),
                _ => (ReplyCode::Ok, String::new()),
            };
        }
        return (
            ReplyCode::BadOffer,
            format!("an offer {text} exists already"),
        );
    }
    if files.len() > MAX_ENTRIES {
        return (
            ReplyCode::BadOffer,
            format!(
                "an offer of {} entries is over this node's limit of {MAX_ENTRIES}: send it in parts, or as an archive",
                files.len()
            ),
        );
    }
    let from_peer: Vec<Offer> = drive
        .store
        .all()
        .into_iter()
        .filter(|o| o.incoming && o.peer == peer)
        .collect();
    let waiting = from_peer
        .iter()
        .filter(|o| o.status == Status::Awaiting)
        .count();
    if waiting >= MAX_WAITING {
        return (
            ReplyCode::WrongState,
            format!(
                "{waiting} of your offers await the user already: wait for them to be answered"
            ),
        );
    }
    if let Err(e) = crate::writer::check_tree(&files) {
        warn!("offer {text} from {peer} refused: {e}");
        return (ReplyCode::BadOffer, e.to_string());
    }
    let seq = match drive.store.next_seq() {
        Ok(n) => n,
        Err(e) => return (ReplyCode::Io, e.to_string()),
    };
    let offer = Offer::new(text.clone(), true, peer.to_string(), &files, seq);
    let frame = match (Message::SendOffer {
        id,
        chunk_size,
        files,
    })
    .encode()
    {
        Ok(f) => f,
        Err(e) => return (ReplyCode::BadOffer, e.to_string()),
    };
    let stored: usize = from_peer
        .iter()
        .map(|o| drive.store.entries_len(&o.id))
        .sum();
    if stored + frame.len() > MAX_STORED {
        return (
            ReplyCode::WrongState,
            format!(
                "your offers hold {} KiB here already; this one ({} KiB) would pass the {} MiB limit: wait for them to be answered",
                stored >> 10,
                frame.len() >> 10,
                MAX_STORED >> 20
            ),
        );
    }
    if let Err(e) = drive.store.create(&offer, &frame, None) {
        return (ReplyCode::Io, e.to_string());
    }
    info!(
        "offer {text} from {peer}: {} entries, {} bytes",
        offer.entries, offer.bytes
    );
    drive.announce(&offer);
    if policy == Policy::Trust {
        return match drive.accept(&text, None) {
            Ok(_) => (ReplyCode::Accepted, String::new()),
            Err(e) => (ReplyCode::Ok, format!("waits: {e}")),
        };
    }
    (ReplyCode::Ok, String::new())
}

/// The peer ends an offer it is party to. `incoming`: the side this node must be on
/// (`Some(false)`: only offers this node made), `None` for either.
fn peer_ends(
    drive: &Arc<Drive>,
    peer: &str,
    id: OfferId,
    incoming: Option<bool>,
    status: Status,
    reason: &str,
) -> (ReplyCode, String) {
    let text = id_text(&id);
    let Some(o) = drive.store.get(&text) else {
        return (ReplyCode::UnknownOffer, format!("no offer {text}"));
    };
    if o.peer != peer || incoming.is_some_and(|i| i != o.incoming) {
        return (ReplyCode::NotYours, format!("offer {text} is not yours"));
    }
    if o.status.is_final() {
        return (
            ReplyCode::WrongState,
            format!("offer {text} is {} already", o.status),
        );
    }
    drive.stop_download(&text);
    let reason = if reason.is_empty() && status != Status::Completed {
        format!("{status} by the peer")
    } else {
        reason.to_string()
    };
    drive.end(&text, status, &reason);
    (ReplyCode::Ok, String::new())
}

/// Streams an offer this node made, from entry `index` byte `offset` to its end. The
/// receiver's report follows on the same channel as a request of its own.
async fn send_files(
    drive: &Arc<Drive>,
    peer: &str,
    id: OfferId,
    (index, offset): (u64, u64),
    w: &mut BoxWrite,
    frames: &mut FrameReader<BoxRead>,
) -> Result<(), WireError> {
    let text = id_text(&id);
    let checked = (|| {
        let o = drive.store.get(&text).filter(|o| !o.incoming);
        let o = o.ok_or((ReplyCode::UnknownOffer, format!("no offer {text}")))?;
        if o.peer != peer {
            return Err((
                ReplyCode::NotYours,
                format!("offer {text} was made to another peer"),
            ));
        }
        if matches!(
            o.status,
            Status::Cancelled | Status::Rejected | Status::Completed
        ) {
            return Err((
                ReplyCode::WrongState,
                format!("offer {text} is {}", o.status),
            ));
        }
        let entries = drive
            .store
            .entries(&text)
            .map_err(|e| (ReplyCode::Io, e.to_string()))?;
        let sources = drive
            .store
            .sources(&text)
            .map_err(|e| (ReplyCode::Io, e.to_string()))?;
        let start = entries
            .files
            .get(index as usize)
            .filter(|f| offset <= f.size);
        if start.is_none() || sources.len() != entries.files.len() {
            return Err((
                ReplyCode::BadOffer,
                format!("no entry {index} byte {offset}"),
            ));
        }
        Ok((entries.files, sources, entries.chunk_size))
    })();
    let (files, sources, chunk_size) = match checked {
        Ok(x) => x,
        Err((code, text)) => return reply(w, code, &text).await,
    };
    reply(w, ReplyCode::Ok, "").await?;
    let before: u64 = files[..index as usize].iter().map(|f| f.size).sum::<u64>() + offset;
    drive.update(&text, |o| {
        o.status = Status::InProgress;
        o.bytes_done = before;
        o.entries_done = index;
    });
    info!("offer {text}: sending to {peer} from entry {index}, byte {offset}");

    let (tx, mut rx) = mpsc::channel::<Result<Out, DiskError>>(8);
    let cache = drive.hashes.clone();
    let reader = tokio::task::spawn_blocking(move || {
        let plan = Plan {
            files: &files,
            sources: &sources,
            index: index as usize,
            offset,
            chunk_size,
        };
        read_files(plan, &cache, tx)
    });
    let sent = {
        let sending = async {
            // Bytes sent on this stream, and how many of them the record counts already.
            let (mut sent, mut counted, mut last) = (0u64, 0u64, Instant::now());
            while let Some(item) = rx.recv().await {
                match item {
                    Ok(Out::Hash {
                        index,
                        chunk,
                        sha256,
                    }) => {
                        let m = Message::Hash {
                            index,
                            chunk,
                            sha256,
                        };
                        wire::send(w, &m).await?;
                    }
                    Ok(Out::Data(_, buf)) => {
                        wire::send_data(w, &buf).await?;
                        sent += buf.len() as u64;
                        if last.elapsed() >= Duration::from_millis(100) {
                            record(drive, &text, sent - counted);
                            (counted, last) = (sent, Instant::now());
                        }
                    }
                    Err(reason) => {
                        let reason = reason.to_string();
                        warn!("offer {text}: {reason}");
                        record(drive, &text, sent - counted);
                        drive.end(&text, Status::Failed, &reason);
                        let failed = Message::Failed {
                            code: ReplyCode::Changed,
                            message: reason,
                        };
                        return wire::send(w, &failed).await;
                    }
                }
            }
            record(drive, &text, sent - counted);
            wire::send(w, &Message::Done).await
        };
        tokio::pin!(sending);
        // Meanwhile the receiver says how much is in place: that is the offer's progress
        // here (bytes handed to the network may still be lost with the connection).
        loop {
            tokio::select! {
                r = &mut sending => break r,
                f = frames.next() => match f? {
                    Some(Message::Received { id, bytes, entries }) => {
                        received(drive, peer, id, bytes, entries)
                    }
                    Some(other) => break Err(WireError::Unexpected(other.code())),
                    None => break Err(WireError::Closed),
                },
            }
        }
    };
    let _ = reader.await;
    if let Err(WireError::Unexpected(code)) = &sent {
        let text = format!("{code:?} is not expected during a download");
        let _ = reply(w, ReplyCode::WrongState, &text).await;
    }
    sent
}

/// The receiver's progress on an offer this node made to it: the offer's progress here.
fn received(drive: &Drive, peer: &str, id: OfferId, bytes: u64, entries: u64) {
    let text = id_text(&id);
    if drive
        .store
        .get(&text)
        .is_some_and(|o| !o.incoming && o.peer == peer)
    {
        drive.update(&text, |o| {
            if !o.status.is_final() {
                o.bytes_done = bytes.min(o.bytes);
                o.entries_done = entries.min(o.entries);
            }
        });
    }
}

/// Adds `sent` bytes to the record's count of bytes sent, every attempt.
fn record(drive: &Drive, id: &str, sent: u64) {
    drive.update(id, |o| o.transferred += sent);
}
