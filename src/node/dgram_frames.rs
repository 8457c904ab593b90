//! Datagrams over a channel's stream, each framed by `protocols::datagram`: the reading
//! and writing halves shared by UDP gates and flows.

use protocols::datagram;
use quinn::{RecvStream, SendStream};

/// Reads framed datagrams from a stream.
pub struct Frames {
    recv: RecvStream,
    buf: Vec<u8>,
}

impl Frames {
    /// Reads from `recv`, starting with bytes already read past the channel header.
    pub fn new(recv: RecvStream, leftover: Vec<u8>) -> Frames {
        Frames {
            recv,
            buf: leftover,
        }
    }

    /// The next datagram; `None` at the end of the stream.
    pub async fn next(&mut self) -> Result<Option<Vec<u8>>, String> {
        loop {
            if let Some((d, n)) = datagram::decode(&self.buf).map_err(|e| e.to_string())? {
                self.buf.drain(..n);
                return Ok(Some(d));
            }
            let mut chunk = [0u8; 16 * 1024];
            match self
                .recv
                .read(&mut chunk)
                .await
                .map_err(|e| e.to_string())?
            {
                Some(n) => self.buf.extend_from_slice(&chunk[..n]),
                None if self.buf.is_empty() => return Ok(None),
                None => return Err("the stream ended inside a datagram".into()),
            }
        }
    }
}

/// Writes one datagram, framed.
pub async fn send_frame(send: &mut SendStream, d: &[u8]) -> Result<(), String> {
    let frame = datagram::encode(d).map_err(|e| e.to_string())?;
    send.write_all(&frame).await.map_err(|e| e.to_string())
}
