//! The receiving side of an accepted offer: asks the sender for everything from the first
//! byte not yet on disk, writes it on a blocking thread while the next bytes arrive, and
//! reports the verdict to the sender. Network failures are retried (the sender may be
//! restarting); a refusal (the sender blocks this node, or no longer knows it) and
//! everything else end the offer as failed at once, with the reason.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use protocols::backoff::Backoff;
use protocols::warpdrive::{Code, Frame, Message, ReplyCode, ReportStatus};
use tokio::sync::mpsc;
use tracing::{info, warn};

use crate::drive::Drive;
use crate::fetch_error::FetchError;
use crate::net::NetError;
use crate::offer::{id_bytes, Status};
use crate::pipeline::{pipeline, Piece};
use crate::receive_error::ReceiveError;
use crate::store_error::StoreError;
use crate::target::Target;
use crate::verify::Verifier;
use crate::wire::{self, FrameReader, WireError};
use crate::writer::{Progress, Writer};

/// Attempts before a download that keeps losing its connection fails.
const TRIES: u32 = 40;
/// Waits between attempts: from the first to the longest.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(500), Duration::from_secs(8));
/// Buffers of file bytes between the network and the writer (1 MiB each at most).
const PIPELINE: usize = 4;

/// How an attempt ended badly.
enum Stop {
    /// The connection failed: try again.
    Retry(WireError),
    /// Nothing to retry: the offer fails with this reason.
    Fail(FetchError),
}

impl<E: Into<FetchError>> From<E> for Stop {
    fn from(e: E) -> Stop {
        Stop::Fail(e.into())
    }
}

/// Runs the download of offer `id` to its end.
pub async fn run(drive: Arc<Drive>, id: String) {
    match attempts(&drive, &id).await {
        Ok(()) => {
            info!("offer {id}: completed and verified");
            drive.end(&id, Status::Completed, "");
        }
        Err(reason) => {
            let reason = reason.to_string();
            warn!("offer {id}: failed: {reason}");
            drive.end(&id, Status::Failed, &reason);
            report(&drive, &id, ReportStatus::Failed, &reason).await;
        }
    }
}

async fn attempts(drive: &Arc<Drive>, id: &str) -> Result<(), FetchError> {
    let o = drive.find(id)?;
    let entries = drive.store.entries(id)?;
    let target = Target::new(std::path::Path::new(&o.dir), &o.id)?;
    let progress = Arc::new(Progress::default());
    progress.transferred.store(o.transferred, Relaxed);
    let mut backoff = Backoff::new(BACKOFF.0, BACKOFF.1);
    for attempt in 1..=TRIES {
        let hint = drive.find(id)?.entries_done;
        // Streamed files: the hashes that came with their bytes in earlier attempts.
        let cs = entries.chunk_size;
        let mut files = entries.files.clone();
        drive.store.fill_streamed(id, cs, &mut files)?;
        let (t, f, p) = (target.clone(), Arc::new(files), progress.clone());
        let (writer, verifier, at) =
            tokio::task::spawn_blocking(move || Writer::prepare(t, f, cs, hint, p))
                .await
                .map_err(|e| FetchError::Task(e.to_string()))??;
        publish(drive, id, &progress, Status::InProgress);
        let result = match at {
            None => finish(drive, id, writer).await,
            Some(at) => transfer(drive, id, (writer, verifier), at, &progress).await,
        };
        publish(drive, id, &progress, Status::InProgress);
        match result {
            Ok(()) => return Ok(()),
            Err(Stop::Fail(reason)) => return Err(reason),
            Err(Stop::Retry(e)) if attempt < TRIES => {
                let wait = backoff.attempt(Instant::now());
                warn!("offer {id}: {e}; trying again in {wait:?}");
                tokio::time::sleep(wait).await;
            }
            Err(Stop::Retry(last)) => return Err(FetchError::GaveUp { tries: TRIES, last }),
        }
    }
    unreachable!("the last attempt returns")
}

/// Copies the writer's counters into the offer's record.
fn publish(drive: &Drive, id: &str, p: &Progress, status: Status) {
    drive.update(id, |o| {
        if !o.status.is_final() {
            o.status = status;
        }
        o.bytes_done = p.bytes_done.load(Relaxed);
        o.entries_done = p.entries_done.load(Relaxed);
        o.transferred = p.transferred.load(Relaxed);
    });
}

/// One download stream from `(entry, offset)` to the end of the offer.
async fn transfer(
    drive: &Arc<Drive>,
    id: &str,
    (writer, verifier): (Writer, Verifier),
    (index, offset): (u64, u64),
    progress: &Arc<Progress>,
) -> Result<(), Stop> {
    let peer = drive.find(id)?.peer;
    let wire_id = id_bytes(id).ok_or_else(|| StoreError::NotFound(id.to_string()))?;
    let (mut w, r) = drive.net.open(&peer).await.map_err(|e| match e {
        e @ NetError::Refused(_) => Stop::Fail(FetchError::Refused(e)),
        e @ NetError::Unreachable(_) => Stop::Retry(WireError::Open(e)),
    })?;
    let mut frames = FrameReader::new(r);
    let net = |e: WireError| match e {
        WireError::Decode(e) => Stop::Fail(FetchError::BadFrame(e)),
        WireError::Unexpected(code) => Stop::Fail(FetchError::Unexpected(code)),
        e => Stop::Retry(e),
    };
    wire::send(
        &mut w,
        &Message::Download {
            id: wire_id,
            index,
            offset,
        },
    )
    .await
    .map_err(net)?;
    match frames.next().await.map_err(net)? {
        Some(Message::Reply {
            code: ReplyCode::Ok,
            ..
        }) => {}
        Some(Message::Reply { code, message }) => {
            return Err(FetchError::SenderRefused { code, message }.into())
        }
        None => return Err(Stop::Retry(WireError::Closed)),
        Some(other) => return Err(FetchError::Unexpected(other.code()).into()),
    }
    info!("offer {id}: downloading from entry {index}, byte {offset}");

    let (tx, rx) = mpsc::channel::<Piece>(PIPELINE);
    let p = progress.clone();
    let (store, offer) = (drive.store.clone(), id.to_string());
    let keep = move |v| {
        if let Err(e) = store.keep_hash(&offer, v) {
            warn!("offer {offer}: cannot keep a chunk hash (a resume fetches it again): {e}");
        }
    };
    let mut writing = tokio::task::spawn_blocking(move || pipeline(writer, verifier, rx, p, keep));
    let mut last = Instant::now();
    let outcome: Result<(), Stop> = loop {
        let next = tokio::select! {
            f = frames.next_raw() => f,
            // The writer stopped early: a hash mismatch or a disk error.
            w = &mut writing => {
                break Err(match w {
                    Ok(Err(e)) => e.into(),
                    // The writer ends early only on an error, or when more bytes came
                    // than the offer holds.
                    Ok(Ok(_)) => ReceiveError::TooLong.into(),
                    Err(e) => FetchError::Task(e.to_string()).into(),
                });
            }
        };
        match next {
            Ok(Some((h, _))) if h.code == Code::Data => {
                if tx.send(Piece::Data(frames.take_body())).await.is_err() {
                    continue; // the writer ended; the select above collects why
                }
                if last.elapsed() >= Duration::from_millis(100) {
                    publish(drive, id, progress, Status::InProgress);
                    // The sender counts what is in place here, not what it sent.
                    let received = Message::Received {
                        id: wire_id,
                        bytes: progress.bytes_done.load(Relaxed),
                        entries: progress.entries_done.load(Relaxed),
                    };
                    if let Err(e) = wire::send(&mut w, &received).await {
                        break Err(net(e));
                    }
                    last = Instant::now();
                }
            }
            Ok(Some((h, body))) => match Message::decode_body(Frame { header: h, body }) {
                Ok(Message::Done) => break Ok(()),
                Ok(Message::Hash {
                    index,
                    chunk,
                    sha256,
                }) => {
                    let hash = Piece::Hash {
                        index,
                        chunk,
                        sha256,
                    };
                    if tx.send(hash).await.is_err() {
                        continue; // the writer ended; the select above collects why
                    }
                }
                Ok(Message::Failed { code, message }) => {
                    break Err(FetchError::SenderStopped { code, message }.into())
                }
                Ok(other) => break Err(FetchError::Unexpected(other.code()).into()),
                Err(e) => break Err(FetchError::BadFrame(e).into()),
            },
            Ok(None) => break Err(Stop::Retry(WireError::Closed)),
            Err(e) => break Err(net(e)),
        }
    };
    drop(tx);
    let writer = match outcome {
        Ok(()) => match writing.await {
            Ok(Ok(writer)) => writer,
            Ok(Err(e)) => return Err(e.into()),
            Err(e) => return Err(FetchError::Task(e.to_string()).into()),
        },
        Err(stop) => {
            // Let the writer finish what it has (it keeps the verified prefix).
            if !writing.is_finished() {
                let _ = writing.await;
            }
            return Err(stop);
        }
    };
    tokio::task::spawn_blocking(move || writer.finish())
        .await
        .map_err(|e| FetchError::Task(e.to_string()))??;
    publish(drive, id, progress, Status::InProgress);
    let verdict = Message::Report {
        id: wire_id,
        status: ReportStatus::Completed,
        reason: String::new(),
    };
    if wire::send(&mut w, &verdict).await.is_ok() && frames.next().await.is_ok() {
        let _ = wire::send(&mut w, &Message::End).await;
        return Ok(());
    }
    // Everything is in place; the sender hears about it on a session of its own.
    report(drive, id, ReportStatus::Completed, "").await;
    Ok(())
}

/// Every entry was in place already: finish the directories and report.
async fn finish(drive: &Arc<Drive>, id: &str, writer: Writer) -> Result<(), Stop> {
    tokio::task::spawn_blocking(move || writer.finish())
        .await
        .map_err(|e| FetchError::Task(e.to_string()))??;
    report(drive, id, ReportStatus::Completed, "").await;
    Ok(())
}

/// Tells the sender how the offer ended, on a session of its own (best effort).
async fn report(drive: &Drive, id: &str, status: ReportStatus, reason: &str) {
    let (Some(wire_id), Ok(o)) = (id_bytes(id), drive.find(id)) else {
        return;
    };
    let reason: String = reason.chars().take(1000).collect();
    let sent = async {
        let (mut w, r) = drive.net.open(&o.peer).await?;
        let m = Message::Report {
            id: wire_id,
            status,
            reason,
        };
        wire::send(&mut w, &m).await?;
        FrameReader::new(r).next().await?;
        let _ = wire::send(&mut w, &Message::End).await;
        Ok::<_, WireError>(())
    };
    match tokio::time::timeout(Duration::from_secs(5), sent).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => warn!("offer {id}: could not report to the sender: {e}"),
        Err(_) => warn!("offer {id}: the sender did not take the report"),
    }
}
