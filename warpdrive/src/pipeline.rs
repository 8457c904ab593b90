//! The receiving side's two threads: the verifier checks the stream of file bytes (and
//! the hashes that follow the chunks of files offered before they were read) on one,
//! the writer writes what passed on the other.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use protocols::warpdrive::info::HASH_LEN;

use crate::receive_error::ReceiveError;
use crate::verify::{Verified, Verifier};
use crate::writer::{Progress, Writer};

/// What the network hands the verifier, in stream order.
#[derive(Debug)]
pub enum Piece {
    /// File bytes.
    Data(Vec<u8>),
    /// The sender's hash of a chunk that ended in the last `Data`.
    Hash {
        /// The entry.
        index: u64,
        /// The chunk.
        chunk: u32,
        /// SHA-256 of the prefix that ends with it.
        sha256: [u8; HASH_LEN],
    },
}

/// What the verifier passes to the writer.
enum Feed {
    /// Checked bytes.
    Bytes(Vec<u8>),
    /// A chunk was bad: keep this many bytes of the current file, and stop with why.
    Bad(u64, String),
}

/// Runs the verifier on this thread and the writer on another, over the pieces from
/// the network, until the sender's stream ends (the writer is returned for
/// [`Writer::finish`]) or a check or a write fails. Every hash from the sender that
/// matched goes to `keep` before the bytes it covers reach the writer.
pub fn pipeline(
    writer: Writer,
    mut verifier: Verifier,
    mut rx: tokio::sync::mpsc::Receiver<Piece>,
    progress: Arc<Progress>,
    mut keep: impl FnMut(Verified),
) -> Result<Writer, ReceiveError> {
    let (tx, feed) = std::sync::mpsc::sync_channel::<Feed>(4);
    std::thread::scope(|s| {
        let writing = s.spawn(move || {
            let mut w = writer;
            for item in feed {
                match item {
                    Feed::Bytes(b) => w.write(&b)?,
                    Feed::Bad(keep, why) => {
                        w.truncate(keep);
                        return Err(ReceiveError::Mismatch(why));
                    }
                }
            }
            Ok(w)
        });
        // A bad chunk is passed on as `Bad`, so the writer keeps the verified prefix and
        // its error says why. A buffer that ends chunks of a streamed file waits here
        // for their hashes.
        let mut held: Option<Vec<u8>> = None;
        let bad = |buf: Option<Vec<u8>>, good: usize, keep: u64, why: String| {
            if let Some(mut buf) = buf {
                buf.truncate(good);
                let _ = tx.send(Feed::Bytes(buf));
            }
            let _ = tx.send(Feed::Bad(keep, why));
        };
        while let Some(piece) = rx.blocking_recv() {
            match piece {
                Piece::Data(buf) => {
                    progress.transferred.fetch_add(buf.len() as u64, Relaxed);
                    if let Err(m) = verifier.check(&buf) {
                        bad(held.take().or(Some(buf)), m.good, m.keep, m.message);
                        break;
                    }
                    if verifier.waiting() {
                        held = Some(buf);
                    } else if tx.send(Feed::Bytes(buf)).is_err() {
                        break; // the writer failed: its error is the one
                    }
                }
                Piece::Hash {
                    index,
                    chunk,
                    sha256,
                } => match verifier.hash(index, chunk, sha256) {
                    Ok(v) => {
                        keep(v);
                        if !verifier.waiting() {
                            if let Some(buf) = held.take() {
                                if tx.send(Feed::Bytes(buf)).is_err() {
                                    break;
                                }
                            }
                        }
                    }
                    Err(m) => {
                        bad(held.take(), m.good, m.keep, m.message);
                        break;
                    }
                },
            }
        }
        // A buffer still held (the stream ended between a chunk and its hash) is not
        // written: a resume fetches it again, and a finished stream misses its bytes.
        drop(held);
        drop(tx);
        writing.join().unwrap_or(Err(ReceiveError::Panicked))
    })
}
