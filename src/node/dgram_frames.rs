//! Datagrams over a channel's byte stream, each framed by `protocols::datagram`: the
//! reading and writing halves shared by UDP gates and flows.

use protocols::datagram;
use tokio::io::AsyncReadExt;

use super::service_error::ServiceError;
use crate::transport::{ChannelReader, ChannelWriter};

/// Reads framed datagrams from a channel.
pub struct Frames {
    recv: ChannelReader,
    buf: Vec<u8>,
}

impl Frames {
    /// Reads from `recv`.
    pub fn new(recv: ChannelReader) -> Frames {
        Frames {
            recv,
            buf: Vec::new(),
        }
    }

    /// The next datagram; `None` at the end of the stream. Cancel-safe: a datagram part
    /// read stays buffered for the next call.
    pub async fn next(&mut self) -> Result<Option<Vec<u8>>, ServiceError> {
        loop {
            if let Some((d, n)) = datagram::decode(&self.buf)? {
                self.buf.drain(..n);
                return Ok(Some(d));
            }
            let mut chunk = [0u8; 16 * 1024];
            match self
                .recv
                .read(&mut chunk)
                .await
                .map_err(ServiceError::Tunnel)?
            {
                0 if self.buf.is_empty() => return Ok(None),
                0 => return Err(ServiceError::CutDatagram),
                n => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }
}

/// Writes one datagram, framed.
pub async fn send_frame(send: &mut ChannelWriter, d: &[u8]) -> Result<(), ServiceError> {
    let frame = datagram::encode(d)?;
    Ok(send.write_all(&frame).await?)
}
