//! Frames over a byte stream: the header is read and checked first, then exactly the
//! body, so no frame can make the reader allocate past its code's limit. Reading is
//! cancel-safe: a frame read in part when its future is dropped goes on at the next call,
//! so a side may wait for frames and for other work at once.

use protocols::warpdrive::message::HEADER_LEN;
use protocols::warpdrive::{Code, DecodeError, EncodeError, Frame, Header, Message};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::net::NetError;

/// What went wrong on a session with a peer.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// The channel could not be opened.
    #[error("{0}")]
    Open(#[from] NetError),
    /// The stream failed or ended inside a frame.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The peer sent something that is not a frame.
    #[error("{0}")]
    Decode(#[from] DecodeError),
    /// A frame was started and then nothing came for this long.
    #[error("no byte of the frame came for {0:?}")]
    Stalled(std::time::Duration),
    /// A message this side cannot write (a field over its limit).
    #[error("{0}")]
    Encode(#[from] EncodeError),
    /// The peer ended the channel before the session's end.
    #[error("the peer closed the channel")]
    Closed,
    /// A frame that is not what the session expects at this point.
    #[error("{0:?} is not expected here")]
    Unexpected(Code),
}

/// How much a frame's buffer grows at a time past the first reservation.
const GROW_STEP: usize = 1 << 20;

/// MiB that frames larger than a data frame (offers) may hold in this process at once,
/// over all channels and peers; a large frame waits for its share before its body is read.
pub const LARGE_FRAME_BUDGET_MIB: usize = 128;

static LARGE_FRAMES: tokio::sync::Semaphore =
    tokio::sync::Semaphore::const_new(LARGE_FRAME_BUDGET_MIB);

/// How long a frame, once started, may go without a byte.
pub const FRAME_STALL: std::time::Duration = std::time::Duration::from_secs(30);

/// Reads frames from one stream, reusing one body buffer.
pub struct FrameReader<R> {
    inner: R,
    /// The header being read, and how many of its bytes are in.
    head: [u8; HEADER_LEN],
    head_len: usize,
    /// The header read and checked, while its body comes.
    header: Option<Header>,
    body: Vec<u8>,
    /// The share of [`LARGE_FRAME_BUDGET_MIB`] the frame being read holds.
    large: Option<tokio::sync::SemaphorePermit<'static>>,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    /// Reads from `inner`.
    pub fn new(inner: R) -> FrameReader<R> {
        FrameReader {
            inner,
            head: [0; HEADER_LEN],
            head_len: 0,
            header: None,
            body: Vec::new(),
            large: None,
        }
    }

    /// The next frame's header and body; `None` at a clean end of stream. Cancel-safe.
    pub async fn next_raw(&mut self) -> Result<Option<(Header, &[u8])>, WireError> {
        let stalled = |_| WireError::Stalled(FRAME_STALL);
        while self.head_len < HEADER_LEN {
            let n = if self.head_len == 0 {
                // Between frames the peer may be silent as long as it likes.
                self.inner.read(&mut self.head[..1]).await?
            } else {
                let rest = &mut self.head[self.head_len..];
                tokio::time::timeout(FRAME_STALL, self.inner.read(rest))
                    .await
                    .map_err(stalled)??
            };
            if n == 0 && self.head_len == 0 {
                return Ok(None);
            }
            if n == 0 {
                return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
            }
            self.head_len += n;
        }
        let header = match self.header {
            Some(h) => h,
            None => {
                let h = Header::decode(&self.head)?;
                self.body.clear();
                if self.body.capacity() > GROW_STEP {
                    // Memory of a large frame before is given back, not kept for the next.
                    self.body = Vec::new();
                }
                self.large = None;
                // A data frame's room is taken at once (at most 1 MiB); a larger frame's
                // grows with the bytes that arrive, so a declared length costs nothing
                // until it is sent.
                self.body.reserve(h.len.min(GROW_STEP));
                self.header = Some(h);
                h
            }
        };
        if header.len > GROW_STEP && self.large.is_none() {
            let mib = header.len.div_ceil(1 << 20) as u32;
            let share = tokio::time::timeout(FRAME_STALL, LARGE_FRAMES.acquire_many(mib));
            match share.await {
                Ok(Ok(p)) => self.large = Some(p),
                Ok(Err(_)) | Err(_) => return Err(WireError::Stalled(FRAME_STALL)),
            }
        }
        // Reads into spare capacity: no zero-filling of the buffer.
        while self.body.len() < header.len {
            let left = header.len - self.body.len();
            if self.body.capacity() == self.body.len() {
                self.body.reserve(left.min(GROW_STEP));
            }
            let room = (self.body.capacity() - self.body.len()).min(left) as u64;
            let mut limited = (&mut self.inner).take(room);
            let n = tokio::time::timeout(FRAME_STALL, limited.read_buf(&mut self.body))
                .await
                .map_err(stalled)??;
            if n == 0 {
                return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
            }
        }
        (self.head_len, self.header) = (0, None);
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
    let bytes = m.encode()?;
    w.write_all(&bytes).await?;
    Ok(())
}

/// Writes file bytes as one `Data` frame without copying them into a message.
pub async fn send_data<W: AsyncWrite + Unpin>(w: &mut W, data: &[u8]) -> Result<(), WireError> {
    w.write_all(&Header::data(data.len())).await?;
    w.write_all(data).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_frame_read_in_part_when_the_wait_is_dropped_goes_on_at_the_next_call() {
        let frame = Message::Received {
            id: [5; 16],
            bytes: 1 << 20,
            entries: 3,
        }
        .encode()
        .unwrap();
        let (mut w, r) = tokio::io::duplex(64);
        let mut frames = FrameReader::new(r);
        // Half the header, then a body in part: each wait is dropped before the frame is
        // whole, as a `select!` that took another branch would.
        for cut in [3, 12] {
            let start = if cut == 3 { 0 } else { 3 };
            w.write_all(&frame[start..cut]).await.unwrap();
            let waited = tokio::time::timeout(Duration::from_millis(20), frames.next()).await;
            assert!(waited.is_err(), "a frame from {cut} bytes");
        }
        w.write_all(&frame[12..]).await.unwrap();
        let m = frames.next().await.unwrap().unwrap();
        assert_eq!(m.encode().unwrap(), frame);
    }
}
