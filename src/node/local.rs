//! The local end of a stream gate: a TCP address (`127.0.0.1:22`) or a Unix socket path
//! (`unix:/run/app.sock`), behind one stream and one listener type.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};

/// The prefix that makes an address a Unix socket path.
pub const UNIX_PREFIX: &str = "unix:";

/// A connection to or from a local application.
pub enum LocalStream {
    /// Over TCP.
    Tcp(TcpStream),
    /// Over a Unix stream socket.
    Unix(UnixStream),
}

impl LocalStream {
    /// Connects to `addr`.
    pub async fn connect(addr: &str) -> io::Result<LocalStream> {
        match addr.strip_prefix(UNIX_PREFIX) {
            Some(path) => UnixStream::connect(path).await.map(LocalStream::Unix),
            None => {
                let s = TcpStream::connect(addr).await?;
                let _ = s.set_nodelay(true);
                Ok(LocalStream::Tcp(s))
            }
        }
    }

    /// Closes abruptly: a TCP reset (RST); a Unix socket just closes.
    pub fn reset(self) {
        if let LocalStream::Tcp(tcp) = &self {
            let _ = socket2::SockRef::from(tcp).set_linger(Some(Duration::ZERO));
        }
    }
}

macro_rules! delegate {
    ($self:ident, $s:ident => $e:expr) => {
        match $self.get_mut() {
            LocalStream::Tcp($s) => $e,
            LocalStream::Unix($s) => $e,
        }
    };
}

impl AsyncRead for LocalStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_read(cx, buf))
    }
}

impl AsyncWrite for LocalStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        delegate!(self, s => Pin::new(s).poll_write(cx, buf))
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_flush(cx))
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_shutdown(cx))
    }
}

/// A local listener for an opened gate.
pub enum LocalListener {
    /// On a TCP address.
    Tcp(TcpListener),
    /// On a Unix socket path; the file is removed when the listener is dropped.
    Unix(UnixListener, std::path::PathBuf),
}

impl LocalListener {
    /// Listens on `addr`. A stale Unix socket file at the path is replaced; any other file
    /// there is left alone and binding fails.
    pub async fn bind(addr: &str) -> io::Result<LocalListener> {
        match addr.strip_prefix(UNIX_PREFIX) {
            Some(path) => {
                use std::os::unix::fs::FileTypeExt;
                if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket())
                    && std::os::unix::net::UnixStream::connect(path).is_err()
                {
                    std::fs::remove_file(path)?;
                }
                let l = UnixListener::bind(path)?;
                Ok(LocalListener::Unix(l, path.into()))
            }
            None => TcpListener::bind(addr).await.map(LocalListener::Tcp),
        }
    }

    /// The next connection and a description of where it came from.
    pub async fn accept(&self) -> io::Result<(LocalStream, String)> {
        match self {
            LocalListener::Tcp(l) => {
                let (s, from) = l.accept().await?;
                let _ = s.set_nodelay(true);
                Ok((LocalStream::Tcp(s), from.to_string()))
            }
            LocalListener::Unix(l, path) => {
                let (s, _) = l.accept().await?;
                Ok((LocalStream::Unix(s), path.display().to_string()))
            }
        }
    }
}

impl Drop for LocalListener {
    fn drop(&mut self) {
        if let LocalListener::Unix(_, path) = self {
            let _ = std::fs::remove_file(path);
        }
    }
}
