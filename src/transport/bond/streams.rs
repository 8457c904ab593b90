//! The two tasks of each path's stream of a bonded channel: one writes the frames the
//! engine gives it, one reads and decodes the frames that arrive; both tell the engine
//! how their stream ended.

use protocols::bond::frame::{Frame, FrameError};
use protocols::bond::PathId;
use quinn::{RecvStream, SendStream};
use tokio::sync::{mpsc, watch};

/// The stream code of a reset or stop that ends the channel's direction (the same as a
/// plain channel's).
pub const END_CODE: u32 = 1;
/// The stream code of a join refused: that stream only, not the channel.
pub const REFUSED_CODE: u32 = 2;

/// How one direction of a path's stream ended.
#[derive(Debug)]
pub enum StreamEnd {
    /// The peer finished it (its engine is done with this path).
    Finished,
    /// The peer reset it (reading) or stopped it (writing) with this code.
    Ended(u64),
    /// The connection under it ended.
    Lost,
}

/// What the stream tasks tell the engine.
#[derive(Debug)]
pub enum Event {
    /// A frame arrived on a path.
    Frame(PathId, Frame),
    /// Bytes that are not frames arrived on a path.
    Bad(PathId, FrameError),
    /// A path's incoming direction ended.
    ReadEnded(PathId, StreamEnd),
    /// A path's outgoing direction failed.
    WriteEnded(PathId, StreamEnd),
}

/// Most bytes read from a stream at once.
const READ_CHUNK: usize = 64 * 1024;

/// Writes `frames` to `send` until the engine lets go of it (then finishes the stream)
/// or `abort` says to reset it.
pub async fn write(
    path: PathId,
    mut send: SendStream,
    mut frames: mpsc::UnboundedReceiver<Vec<u8>>,
    mut abort: watch::Receiver<Option<u32>>,
    events: mpsc::Sender<Event>,
) {
    loop {
        let frame = tokio::select! {
            f = frames.recv() => f,
            r = abort.wait_for(|a| a.is_some()) => {
                let code = r.ok().and_then(|a| *a).unwrap_or(END_CODE);
                let _ = send.reset(code.into());
                return;
            }
        };
        let Some(frame) = frame else {
            let _ = send.finish();
            return;
        };
        if let Err(e) = send.write_all(&frame).await {
            let end = match e {
                quinn::WriteError::Stopped(code) => StreamEnd::Ended(code.into_inner()),
                _ => StreamEnd::Lost,
            };
            let _ = events.send(Event::WriteEnded(path, end)).await;
            return;
        }
    }
}

/// Reads frames from `recv` (after `early`, bytes already read) and hands them to the
/// engine, until the stream ends or `stop` says to stop reading.
pub async fn read(
    path: PathId,
    mut recv: RecvStream,
    early: Vec<u8>,
    mut stop: watch::Receiver<bool>,
    events: mpsc::Sender<Event>,
) {
    let mut buf = early;
    let mut chunk = vec![0u8; READ_CHUNK];
    loop {
        let mut at = 0;
        loop {
            match Frame::decode(&buf[at..]) {
                Ok(Some((frame, n))) => {
                    at += n;
                    if events.send(Event::Frame(path, frame)).await.is_err() {
                        return;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    let _ = events.send(Event::Bad(path, e)).await;
                    let _ = recv.stop(END_CODE.into());
                    return;
                }
            }
        }
        buf.drain(..at);
        let read = tokio::select! {
            r = recv.read(&mut chunk) => r,
            _ = stop.wait_for(|s| *s) => {
                let _ = recv.stop(END_CODE.into());
                return;
            }
        };
        let end = match read {
            Ok(Some(n)) => {
                buf.extend_from_slice(&chunk[..n]);
                continue;
            }
            Ok(None) => StreamEnd::Finished,
            Err(quinn::ReadError::Reset(code)) => StreamEnd::Ended(code.into_inner()),
            Err(_) => StreamEnd::Lost,
        };
        let _ = events.send(Event::ReadEnded(path, end)).await;
        return;
    }
}
