//! A peer's hub linking to this node's lanes over a `links` channel: a [`Session`] in
//! peer mode carried over the byte stream (envelopes framed by
//! `protocols::warp::stream`). The peer is first told what it may do; then its frames are
//! applied as a client's, and what its outbox holds is written as the channel takes it —
//! so a peer that reads slowly gets its value lanes conflated, as any slow client. The
//! session ends when the peer closes the channel, breaks the protocol, falls too far
//! behind, when what it may do changes, or when the node stops — closed without
//! `@unlinked`s, so the peer's hub tells its clients the peer went away and links them
//! again when it can.

use std::sync::Arc;
use std::time::Duration;

use protocols::warp::{stream, Envelope, Tag};
use recon::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::outbox::Sink;
use super::remote::Access;
use super::session::Session;
use super::Hub;

/// Frames written per batch.
const BATCH: usize = 256;

/// Serves a peer's `links` channel until it ends. `still` says what the peer may do now
/// (asked again whenever [`Hub::peer_access_changed`] is called; the session ends when
/// the answer differs from `access`).
pub async fn serve<R, W>(
    hub: Arc<Hub>,
    access: Access,
    still: impl Fn() -> Option<Access> + Send,
    mut read: R,
    write: W,
) where
    R: AsyncRead + Send + Unpin,
    W: AsyncWrite + Send + Unpin + 'static,
{
    let mut session = Session::for_peer(hub.clone(), access);
    let said = match access {
        Access::Read => "read",
        Access::Write => "write",
    };
    let hello = Envelope::encode(Tag::Authed, None, &Value::text(said));
    session.sink.push(|o| o.control(hello.into()));
    let writer = tokio::spawn(write_loop(write, session.sink.clone()));
    let mut stopping = hub.stopping();
    let mut changes = hub.access.subscribe();
    let mut buf = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    'serving: loop {
        tokio::select! {
            n = read.read(&mut chunk) => {
                let n = match n {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                buf.extend_from_slice(&chunk[..n]);
                loop {
                    match stream::get(&buf) {
                        Ok(Some((text, used))) => {
                            buf.drain(..used);
                            if session.frame(&text).is_err() {
                                break 'serving;
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            tracing::debug!("a peer's links channel: {e}");
                            break 'serving;
                        }
                    }
                }
            }
            // Closed without unlinking: the peer's hub tells its clients the peer went
            // away, and opens the channel again (to learn what it may do now, or when
            // this node is back).
            changed = changes.changed() => {
                if changed.is_err() || still() != Some(access) {
                    break;
                }
            }
            _ = stopping.changed() => break,
        }
    }
    session.drop_links();
    session.sink.push(|o| {
        if o.close.is_none() {
            o.close = Some((1000, String::new()));
        }
    });
    let _ = tokio::time::timeout(Duration::from_secs(5), writer).await;
}

/// Writes what the outbox holds until its close, or until the channel fails or the peer
/// falls too far behind.
async fn write_loop<W: AsyncWrite + Send + Unpin>(mut write: W, sink: Arc<Sink>) {
    let mut batch = Vec::with_capacity(BATCH);
    let mut out = Vec::new();
    loop {
        let (close, overflowed) = sink.take(BATCH, &mut batch);
        if overflowed {
            tracing::warn!("a peer's hub fell too far behind on its links: closing the channel");
            return;
        }
        if batch.is_empty() && close.is_none() {
            sink.notify.notified().await;
            continue;
        }
        out.clear();
        for f in batch.drain(..) {
            // Nothing the hub holds is larger (a client's frame is at most 1 MiB), but
            // an envelope with its headers could pass it: that one is not sent.
            if f.len() <= stream::MAX_ENVELOPE {
                stream::put(&mut out, f.as_str());
            }
        }
        if write.write_all(&out).await.is_err() || write.flush().await.is_err() {
            return;
        }
        if close.is_some() {
            let _ = write.shutdown().await;
            return;
        }
    }
}
