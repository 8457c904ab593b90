//! The two halves of a bonded channel as its user holds them: bytes written go to the
//! channel's engine in pieces of at most one segment; bytes read come from it in order.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use protocols::bond::frame::MAX_SEGMENT;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::mpsc;

use super::super::close::Closed;

/// How a bonded channel (or one direction of it) ended other than cleanly.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BondEnd {
    /// The peer reset its direction, or stopped reading ours.
    #[error("the peer reset the channel")]
    Reset,
    /// Every path to the peer ended.
    #[error("{0}")]
    Lost(Closed),
    /// The peer broke the bond protocol.
    #[error("the peer broke the bonded channel's protocol: {0}")]
    Broken(String),
}

impl BondEnd {
    fn io(&self) -> io::Error {
        let kind = match self {
            BondEnd::Reset => io::ErrorKind::ConnectionReset,
            BondEnd::Lost(_) => io::ErrorKind::ConnectionAborted,
            BondEnd::Broken(_) => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, self.clone())
    }
}

/// What the writing half and the engine share: whether the user reset the channel, and
/// why writing can no longer succeed.
#[derive(Default)]
pub(crate) struct WriteState {
    reset: AtomicBool,
    failed: Mutex<Option<BondEnd>>,
}

impl WriteState {
    /// Whether the user reset its direction.
    pub fn reset(&self) -> bool {
        self.reset.load(Ordering::Acquire)
    }

    /// Writing fails from now on, for `why`.
    pub fn fail(&self, why: BondEnd) {
        let mut failed = self.failed.lock().unwrap_or_else(|p| p.into_inner());
        failed.get_or_insert(why);
    }

    fn why(&self) -> BondEnd {
        let failed = self.failed.lock().unwrap_or_else(|p| p.into_inner());
        failed.clone().unwrap_or(BondEnd::Reset)
    }
}

type Reserve = Pin<
    Box<dyn Future<Output = Result<mpsc::OwnedPermit<Vec<u8>>, mpsc::error::SendError<()>>> + Send>,
>;

/// The sending half of a bonded channel.
pub struct BondWriter {
    tx: Option<mpsc::Sender<Vec<u8>>>,
    reserving: Option<Reserve>,
    state: Arc<WriteState>,
}

impl BondWriter {
    pub(crate) fn new(tx: mpsc::Sender<Vec<u8>>, state: Arc<WriteState>) -> BondWriter {
        BondWriter {
            tx: Some(tx),
            reserving: None,
            state,
        }
    }

    /// Ends this direction cleanly once what was written has gone.
    pub fn finish(&mut self) {
        self.tx = None;
        self.reserving = None;
    }

    /// Abandons this direction: the peer's reads fail.
    pub fn reset(&mut self) {
        self.state.reset.store(true, Ordering::Release);
        self.finish();
    }

    /// Writes all of `bytes`.
    pub async fn write_all(&mut self, bytes: &[u8]) -> Result<(), BondEnd> {
        for piece in bytes.chunks(MAX_SEGMENT) {
            let tx = self.tx.as_ref().ok_or(BondEnd::Reset)?;
            tx.send(piece.to_vec())
                .await
                .map_err(|_| self.state.why())?;
        }
        Ok(())
    }
}

impl AsyncWrite for BondWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let Some(tx) = self.tx.clone() else {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the channel was finished",
            )));
        };
        let reserving = self
            .reserving
            .get_or_insert_with(|| Box::pin(tx.reserve_owned()));
        let permit = std::task::ready!(reserving.as_mut().poll(cx));
        self.reserving = None;
        match permit {
            Ok(permit) => {
                let n = buf.len().min(MAX_SEGMENT);
                permit.send(buf[..n].to_vec());
                Poll::Ready(Ok(n))
            }
            Err(_) => Poll::Ready(Err(self.state.why().io())),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.finish();
        Poll::Ready(Ok(()))
    }
}

/// The receiving half of a bonded channel.
pub struct BondReader {
    rx: mpsc::Receiver<Result<Vec<u8>, BondEnd>>,
    piece: Vec<u8>,
    at: usize,
}

impl BondReader {
    pub(crate) fn new(rx: mpsc::Receiver<Result<Vec<u8>, BondEnd>>) -> BondReader {
        BondReader {
            rx,
            piece: Vec::new(),
            at: 0,
        }
    }

    /// Stops reading: the peer's writes fail.
    pub fn stop(&mut self) {
        self.rx.close();
    }

    /// Reads into `out`; `None` at the peer's clean end.
    pub async fn read(&mut self, out: &mut [u8]) -> Result<Option<usize>, BondEnd> {
        if self.at == self.piece.len() {
            match self.rx.recv().await {
                Some(Ok(piece)) => {
                    self.piece = piece;
                    self.at = 0;
                }
                Some(Err(e)) => return Err(e),
                None => return Ok(None),
            }
        }
        let n = (self.piece.len() - self.at).min(out.len());
        out[..n].copy_from_slice(&self.piece[self.at..self.at + n]);
        self.at += n;
        Ok(Some(n))
    }
}

impl AsyncRead for BondReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.at == self.piece.len() {
            match std::task::ready!(self.rx.poll_recv(cx)) {
                Some(Ok(piece)) => {
                    self.piece = piece;
                    self.at = 0;
                }
                Some(Err(e)) => return Poll::Ready(Err(e.io())),
                None => return Poll::Ready(Ok(())),
            }
        }
        let n = (self.piece.len() - self.at).min(out.remaining());
        let at = self.at;
        out.put_slice(&self.piece[at..at + n]);
        self.at += n;
        Poll::Ready(Ok(()))
    }
}
