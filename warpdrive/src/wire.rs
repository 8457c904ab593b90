//! Frames over a byte stream: the header is read and checked first, then exactly the
//! body, so no frame can make the reader allocate past its code's limit.

use protocols::warpdrive::message::HEADER_LEN;
use protocols::warpdrive::{DecodeError, Frame, Header, Message};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// What went wrong on a stream.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// The stream failed or ended inside a frame.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The peer sent something that is not a frame.
    #[error("{0}")]
    Decode(#[from] DecodeError),
}

/// Reads frames from one stream, reusing one body buffer.
pub struct FrameReader<R> {
    inner: R,
    body: Vec<u8>,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    /// Reads from `inner`.
    pub fn new(inner: R) -> FrameReader<R> {
        FrameReader {
            inner,
            body: Vec::new(),
        }
    }

    /// The next frame's header and body; `None` at a clean end of stream.
    pub async fn next_raw(&mut self) -> Result<Option<(Header, &[u8])>, WireError> {
        let mut head = [0u8; HEADER_LEN];
        match self.inner.read(&mut head[..1]).await? {
            0 => return Ok(None),
            _ => self.inner.read_exact(&mut head[1..]).await?,
        };
        let header = Header::decode(&head)?;
        self.body.clear();
        self.body.reserve(header.len);
        // Reads into spare capacity: no zero-filling of up to 1 MiB per frame, and never
        // past the reserved length (so never a reallocation).
        while self.body.len() < header.len {
            let left = (header.len - self.body.len()) as u64;
            let n = (&mut self.inner)
                .take(left)
                .read_buf(&mut self.body)
                .await?;
            if n == 0 {
                return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
            }
        }
        Ok(Some((header, &self.body)))
    }

    /// Takes the body of the frame last read, leaving an empty buffer for the next: a
    /// `Data` body moves on to the writer without being copied.
    pub fn take_body(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.body)
    }

    /// The next frame, decoded; `None` at a clean end of stream.
    pub async fn next(&mut self) -> Result<Option<Message>, WireError> {
        match self.next_raw().await? {
            None => Ok(None),
            Some((header, body)) => Ok(Some(Message::decode_body(Frame { header, body })?)),
        }
    }
}

/// Writes one frame.
pub async fn send<W: AsyncWrite + Unpin>(w: &mut W, m: &Message) -> Result<(), WireError> {
    let bytes = m.encode().map_err(std::io::Error::other)?;
    w.write_all(&bytes).await?;
    Ok(())
}

/// Writes file bytes as one `Data` frame without copying them into a message.
pub async fn send_data<W: AsyncWrite + Unpin>(w: &mut W, data: &[u8]) -> Result<(), WireError> {
    w.write_all(&Header::data(data.len())).await?;
    w.write_all(data).await?;
    Ok(())
}
