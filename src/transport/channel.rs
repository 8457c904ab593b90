//! Channels: a conversation with one service on a peer, opened with a header that names
//! the service. Over a peer with one path a channel is one bi-directional QUIC stream;
//! over several it is bonded (one stream per path, see [`super::bond`]). Services see
//! only [`Channel`] and its two halves ([`ChannelReader`], [`ChannelWriter`], plain
//! `AsyncRead` and `AsyncWrite`), never which of the two it is.

use std::fmt::Display;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use protocols::channel::{ChannelOpen, ChannelReply};
use quinn::{RecvStream, SendStream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::bond::{BondEnd, BondReader, BondWriter};
use super::close::Closed;

/// Most bytes a channel buffers while waiting for one message to be whole.
const MAX_BUFFER: usize = 1 << 20;

/// How long opening a channel may take, from asking for a stream to the service's answer.
pub const OPEN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// What went wrong on an open channel.
#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// The connection under the channel ended.
    #[error("{0}")]
    Lost(Closed),
    /// The peer reset or stopped the channel.
    #[error("the peer reset the channel")]
    Reset,
    /// A message did not fit the channel's buffer.
    #[error("message larger than the channel buffer ({MAX_BUFFER} bytes)")]
    TooLarge,
    /// The channel ended part way through a message.
    #[error("the channel ended in the middle of a message")]
    Truncated,
    /// A message could not be decoded.
    #[error("bad message: {0}")]
    Decode(String),
    /// The peer broke the protocol of a bonded channel.
    #[error("{0}")]
    Broken(String),
}

/// Why a channel could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The service name or version cannot be sent.
    #[error("{0}")]
    BadHeader(String),
    /// The peer has no such service.
    #[error("{0}")]
    UnknownService(String),
    /// The service does not speak this version.
    #[error("{0}")]
    UnsupportedVersion(String),
    /// The service refused this node.
    #[error("{0}")]
    Refused(String),
    /// No answer in time.
    #[error("{service}: no answer within {} s (the connection may be saturated)", OPEN_TIMEOUT.as_secs())]
    NoAnswer {
        /// The service asked for.
        service: String,
    },
    /// The peer closed the channel without answering.
    #[error("the peer closed the channel before answering")]
    NoReply,
    /// The channel or its connection failed while opening.
    #[error("{0}")]
    Channel(#[from] ChannelError),
}

impl OpenError {
    /// Whether the peer will answer the same way again, so trying again cannot help.
    pub fn is_final(&self) -> bool {
        match self {
            OpenError::BadHeader(_)
            | OpenError::UnknownService(_)
            | OpenError::UnsupportedVersion(_)
            | OpenError::Refused(_) => true,
            OpenError::Channel(ChannelError::Lost(c)) => c.is_final(),
            _ => false,
        }
    }

    /// Whether the connection under the channel had ended.
    pub fn is_lost(&self) -> bool {
        matches!(self, OpenError::Channel(ChannelError::Lost(_)))
    }
}

fn read_error(e: quinn::ReadError) -> ChannelError {
    match e {
        quinn::ReadError::ConnectionLost(c) => ChannelError::Lost(Closed::from_quinn(&c)),
        _ => ChannelError::Reset,
    }
}

fn write_error(e: quinn::WriteError) -> ChannelError {
    match e {
        quinn::WriteError::ConnectionLost(c) => ChannelError::Lost(Closed::from_quinn(&c)),
        _ => ChannelError::Reset,
    }
}

fn bond_error(e: BondEnd) -> ChannelError {
    match e {
        BondEnd::Reset => ChannelError::Reset,
        BondEnd::Lost(c) => ChannelError::Lost(c),
        BondEnd::Broken(m) => ChannelError::Broken(m),
    }
}

/// The sending side: one stream, or a bonded channel's engine.
enum Send {
    Stream(SendStream),
    Bond(BondWriter),
}

/// The receiving side: one stream, or a bonded channel's engine.
enum Recv {
    Stream(RecvStream),
    Bond(BondReader),
}

impl Send {
    async fn write_all(&mut self, bytes: &[u8]) -> Result<(), ChannelError> {
        match self {
            Send::Stream(s) => s.write_all(bytes).await.map_err(write_error),
            Send::Bond(b) => b.write_all(bytes).await.map_err(bond_error),
        }
    }

    fn finish(&mut self) {
        match self {
            Send::Stream(s) => {
                let _ = s.finish();
            }
            Send::Bond(b) => b.finish(),
        }
    }
}

impl Recv {
    async fn read(&mut self, out: &mut [u8]) -> Result<Option<usize>, ChannelError> {
        match self {
            Recv::Stream(r) => r.read(out).await.map_err(read_error),
            Recv::Bond(b) => b.read(out).await.map_err(bond_error),
        }
    }
}

/// An open channel to a service on a peer.
pub struct Channel {
    send: Send,
    recv: Recv,
    buf: Vec<u8>,
}

impl Channel {
    /// A channel on one stream, `early` its first bytes already read.
    pub(crate) fn new(send: SendStream, recv: RecvStream, early: Vec<u8>) -> Channel {
        Channel {
            send: Send::Stream(send),
            recv: Recv::Stream(recv),
            buf: early,
        }
    }

    /// A bonded channel.
    pub(crate) fn bonded(send: BondWriter, recv: BondReader) -> Channel {
        Channel {
            send: Send::Bond(send),
            recv: Recv::Bond(recv),
            buf: Vec::new(),
        }
    }

    /// Asks for `service` (at `version`) on this new channel and waits for the service
    /// to take it.
    pub(crate) async fn ask(self, service: &str, version: u16) -> Result<Channel, OpenError> {
        let header =
            ChannelOpen::new(service, version).map_err(|e| OpenError::BadHeader(e.to_string()))?;
        let mut ch = self;
        ch.write(&header.encode()).await?;
        match ch.read(ChannelReply::decode).await? {
            Some(ChannelReply::Accepted) => Ok(ch),
            Some(ChannelReply::UnknownService(m)) => Err(OpenError::UnknownService(m)),
            Some(ChannelReply::UnsupportedVersion(m)) => Err(OpenError::UnsupportedVersion(m)),
            Some(ChannelReply::Refused(m)) => Err(OpenError::Refused(m)),
            None => Err(OpenError::NoReply),
        }
    }

    /// Reads one message with `decode`; `None` at a clean end of the stream.
    pub async fn read<T, E: Display>(
        &mut self,
        decode: impl Fn(&[u8]) -> Result<Option<(T, usize)>, E>,
    ) -> Result<Option<T>, ChannelError> {
        loop {
            if let Some((msg, n)) =
                decode(&self.buf).map_err(|e| ChannelError::Decode(e.to_string()))?
            {
                self.buf.drain(..n);
                return Ok(Some(msg));
            }
            if self.buf.len() > MAX_BUFFER {
                return Err(ChannelError::TooLarge);
            }
            let mut chunk = [0u8; 16 * 1024];
            match self.recv.read(&mut chunk).await? {
                Some(n) => self.buf.extend_from_slice(&chunk[..n]),
                None if self.buf.is_empty() => return Ok(None),
                None => return Err(ChannelError::Truncated),
            }
        }
    }

    /// Reads raw bytes (after any already buffered); `None` at the end of the stream.
    pub async fn read_raw(&mut self, out: &mut [u8]) -> Result<Option<usize>, ChannelError> {
        if !self.buf.is_empty() {
            let n = self.buf.len().min(out.len());
            out[..n].copy_from_slice(&self.buf[..n]);
            self.buf.drain(..n);
            return Ok(Some(n));
        }
        self.recv.read(out).await
    }

    /// Writes bytes.
    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), ChannelError> {
        self.send.write_all(bytes).await
    }

    /// The two halves, for services that carry a byte stream; bytes already read past
    /// the last message come first from the reader.
    pub fn split(self) -> (ChannelWriter, ChannelReader) {
        (
            ChannelWriter { send: self.send },
            ChannelReader {
                recv: self.recv,
                buf: self.buf,
                at: 0,
            },
        )
    }

    /// Ends our direction of the channel.
    pub fn finish(&mut self) {
        self.send.finish();
    }

    /// Answers the opener with a refusal (unknown service, unsupported version, refused)
    /// and ends the channel: the answer a service gives when it will not serve.
    pub async fn decline(mut self, reply: ChannelReply) -> Result<(), ChannelError> {
        self.write(&reply.encode()).await?;
        self.finish();
        Ok(())
    }
}

/// The sending half of a channel: an `AsyncWrite` whose shutdown ends our direction.
pub struct ChannelWriter {
    send: Send,
}

impl ChannelWriter {
    /// Ends our direction of the channel cleanly: the peer reads to its end.
    pub fn finish(&mut self) {
        self.send.finish();
    }

    /// Abandons our direction: the peer's reads fail rather than end, so it can tell an
    /// abort from a clean end.
    pub fn reset(&mut self) {
        match &mut self.send {
            Send::Stream(s) => {
                let _ = s.reset(1u32.into());
            }
            Send::Bond(b) => b.reset(),
        }
    }

    /// Writes all of `bytes`.
    pub async fn write_all(&mut self, bytes: &[u8]) -> Result<(), ChannelError> {
        self.send.write_all(bytes).await
    }
}

impl AsyncWrite for ChannelWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match &mut self.send {
            Send::Stream(s) => AsyncWrite::poll_write(Pin::new(s), cx, buf),
            Send::Bond(b) => AsyncWrite::poll_write(Pin::new(b), cx, buf),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.send {
            Send::Stream(s) => AsyncWrite::poll_flush(Pin::new(s), cx),
            Send::Bond(b) => AsyncWrite::poll_flush(Pin::new(b), cx),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.send {
            Send::Stream(s) => AsyncWrite::poll_shutdown(Pin::new(s), cx),
            Send::Bond(b) => AsyncWrite::poll_shutdown(Pin::new(b), cx),
        }
    }
}

/// A message decoder: the message at the start of the bytes and the bytes it took, `None`
/// until all of it is there, or what is wrong.
pub type Decoder<T, E> = fn(&[u8]) -> Result<Option<(T, usize)>, E>;

/// The receiving half of a channel: an `AsyncRead` that reads 0 at the peer's clean end.
pub struct ChannelReader {
    recv: Recv,
    /// Bytes read past the channel's last message, served first.
    buf: Vec<u8>,
    at: usize,
}

impl ChannelReader {
    /// The messages the peer sends, each decoded by `decode`, as a queue a task fills:
    /// for a service that writes and reads at once (a `select!` on the queue is safe
    /// to cancel; a read is not). The queue ends after the stream's end or its first
    /// error, which it carries.
    pub fn messages<T, E>(
        mut self,
        decode: Decoder<T, E>,
    ) -> tokio::sync::mpsc::Receiver<Result<T, ChannelError>>
    where
        T: std::marker::Send + 'static,
        E: Display + 'static,
    {
        use tokio::io::AsyncReadExt;
        let (tx, rx) = tokio::sync::mpsc::channel(8);
        tokio::spawn(async move {
            let mut buf = Vec::new();
            let mut chunk = vec![0u8; 16 * 1024];
            loop {
                // Decided before any await: the decoder's error need not be `Send`.
                let next = match decode(&buf) {
                    Ok(Some((msg, n))) => {
                        buf.drain(..n);
                        Some(Ok(msg))
                    }
                    Ok(None) if buf.len() > MAX_BUFFER => Some(Err(ChannelError::TooLarge)),
                    Ok(None) => None,
                    Err(e) => Some(Err(ChannelError::Decode(e.to_string()))),
                };
                match next {
                    Some(Ok(msg)) => {
                        if tx.send(Ok(msg)).await.is_err() {
                            return;
                        }
                        continue;
                    }
                    Some(Err(e)) => {
                        let _ = tx.send(Err(e)).await;
                        return;
                    }
                    None => {}
                }
                match self.read(&mut chunk).await {
                    Ok(0) if buf.is_empty() => return,
                    Ok(0) => {
                        let _ = tx.send(Err(ChannelError::Truncated)).await;
                        return;
                    }
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    Err(e) => {
                        let _ = tx.send(Err(ChannelError::Broken(e.to_string()))).await;
                        return;
                    }
                }
            }
        });
        rx
    }

    /// Tells the peer to stop sending: its writes fail.
    pub fn stop(&mut self) {
        match &mut self.recv {
            Recv::Stream(r) => {
                let _ = r.stop(1u32.into());
            }
            Recv::Bond(b) => b.stop(),
        }
    }
}

impl AsyncRead for ChannelReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.at < self.buf.len() {
            let n = (self.buf.len() - self.at).min(out.remaining());
            let at = self.at;
            out.put_slice(&self.buf[at..at + n]);
            self.at += n;
            if self.at == self.buf.len() {
                self.buf = Vec::new();
                self.at = 0;
            }
            return Poll::Ready(Ok(()));
        }
        match &mut self.recv {
            Recv::Stream(r) => AsyncRead::poll_read(Pin::new(r), cx, out),
            Recv::Bond(b) => AsyncRead::poll_read(Pin::new(b), cx, out),
        }
    }
}
