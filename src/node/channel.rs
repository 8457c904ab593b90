//! Channels: one bi-directional QUIC stream per channel, opened with a header that names
//! the service it is for. Services see only [`Channel`], never the connection under it,
//! so a later change can carry a channel over several paths without touching them.

use std::fmt::Display;

use protocols::channel::{ChannelOpen, ChannelReply};
use quinn::{RecvStream, SendStream};

/// Most bytes a channel buffers while waiting for one message to be whole.
const MAX_BUFFER: usize = 1 << 20;

/// How long opening a channel may take, from asking for a stream to the service's answer.
pub const OPEN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// An open channel to a service on a peer.
pub struct Channel {
    send: SendStream,
    recv: RecvStream,
    buf: Vec<u8>,
}

impl Channel {
    /// Wraps a stream pair whose header exchange is done.
    pub fn new(send: SendStream, recv: RecvStream, leftover: Vec<u8>) -> Channel {
        Channel {
            send,
            recv,
            buf: leftover,
        }
    }

    /// Opens a channel to `service` over `conn` and waits for the service to take it, for
    /// at most [`OPEN_TIMEOUT`].
    pub async fn open(
        conn: &quinn::Connection,
        service: &str,
        version: u16,
    ) -> Result<Channel, String> {
        match tokio::time::timeout(OPEN_TIMEOUT, Self::open_now(conn, service, version)).await {
            Ok(r) => r,
            Err(_) => Err(format!(
                "{service}: no answer within {} s (the connection may be saturated)",
                OPEN_TIMEOUT.as_secs()
            )),
        }
    }

    async fn open_now(
        conn: &quinn::Connection,
        service: &str,
        version: u16,
    ) -> Result<Channel, String> {
        let header = ChannelOpen::new(service, version).map_err(|e| e.to_string())?;
        let (send, recv) = conn.open_bi().await.map_err(|e| connection_error(&e))?;
        let mut ch = Channel::new(send, recv, Vec::new());
        ch.write(&header.encode()).await?;
        match ch.read(ChannelReply::decode).await? {
            Some(ChannelReply::Accepted) => Ok(ch),
            Some(ChannelReply::UnknownService(m))
            | Some(ChannelReply::UnsupportedVersion(m))
            | Some(ChannelReply::Refused(m)) => Err(m),
            None => Err("the peer closed the channel before answering".into()),
        }
    }

    /// Reads one message with `decode`; `None` at a clean end of the stream.
    pub async fn read<T, E: Display>(
        &mut self,
        decode: impl Fn(&[u8]) -> Result<Option<(T, usize)>, E>,
    ) -> Result<Option<T>, String> {
        loop {
            if let Some((msg, n)) = decode(&self.buf).map_err(|e| e.to_string())? {
                self.buf.drain(..n);
                return Ok(Some(msg));
            }
            if self.buf.len() > MAX_BUFFER {
                return Err("message larger than the channel buffer".into());
            }
            let mut chunk = [0u8; 16 * 1024];
            match self.recv.read(&mut chunk).await {
                Ok(Some(n)) => self.buf.extend_from_slice(&chunk[..n]),
                Ok(None) if self.buf.is_empty() => return Ok(None),
                Ok(None) => return Err("the channel ended in the middle of a message".into()),
                Err(quinn::ReadError::ConnectionLost(e)) => return Err(connection_error(&e)),
                Err(e) => return Err(format!("channel read: {e}")),
            }
        }
    }

    /// Reads raw bytes (after any already buffered); `None` at the end of the stream.
    pub async fn read_raw(&mut self, out: &mut [u8]) -> Result<Option<usize>, String> {
        if !self.buf.is_empty() {
            let n = self.buf.len().min(out.len());
            out[..n].copy_from_slice(&self.buf[..n]);
            self.buf.drain(..n);
            return Ok(Some(n));
        }
        match self.recv.read(out).await {
            Ok(r) => Ok(r),
            Err(quinn::ReadError::ConnectionLost(e)) => Err(connection_error(&e)),
            Err(e) => Err(format!("channel read: {e}")),
        }
    }

    /// Writes bytes.
    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), String> {
        match self.send.write_all(bytes).await {
            Ok(()) => Ok(()),
            Err(quinn::WriteError::ConnectionLost(e)) => Err(connection_error(&e)),
            Err(e) => Err(format!("channel write: {e}")),
        }
    }

    /// The stream halves and any bytes already read past the last message, for services
    /// that carry a raw byte stream.
    pub fn into_parts(self) -> (SendStream, RecvStream, Vec<u8>) {
        (self.send, self.recv, self.buf)
    }

    /// Ends our direction of the channel.
    pub fn finish(&mut self) {
        let _ = self.send.finish();
    }

    /// Answers the opener with a refusal (unknown service, unsupported version, refused)
    /// and ends the channel: the answer a service gives when it will not serve.
    pub async fn decline(mut self, reply: ChannelReply) -> Result<(), String> {
        self.write(&reply.encode()).await?;
        self.finish();
        Ok(())
    }
}

/// A connection error as a user should read it.
pub fn connection_error(e: &quinn::ConnectionError) -> String {
    match e {
        quinn::ConnectionError::ApplicationClosed(c) => format!(
            "the peer closed the connection: {}",
            String::from_utf8_lossy(&c.reason)
        ),
        quinn::ConnectionError::TimedOut => "the peer stopped answering (timed out)".into(),
        other => other.to_string(),
    }
}
