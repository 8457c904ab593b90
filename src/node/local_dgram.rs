//! The local end of a datagram gate: a UDP address (`127.0.0.1:5353`) or a Unix datagram
//! socket path (`unix:/run/app.sock`), behind one socket type.
//!
//! Unix datagram sockets carry back-pressure: a sender blocks while the receiver's queue
//! is full. The gates keep that property by reading such a socket only as fast as the
//! tunnel takes the datagrams.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::net::{UdpSocket, UnixDatagram};

use super::local::UNIX_PREFIX;

/// Where a datagram came from, so that answers can go back.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Source {
    /// A UDP address.
    Udp(SocketAddr),
    /// A Unix socket's path; `None` for an unbound sender, which cannot be answered.
    Unix(Option<PathBuf>),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Udp(a) => write!(f, "{a}"),
            Source::Unix(Some(p)) => write!(f, "{}", p.display()),
            Source::Unix(None) => f.write_str("an unbound unix socket"),
        }
    }
}

/// A datagram socket towards local applications.
pub enum LocalDgram {
    /// UDP.
    Udp(UdpSocket),
    /// A Unix datagram socket; the path, if we bound one, is removed on drop.
    Unix(UnixDatagram, Option<PathBuf>),
}

impl LocalDgram {
    /// Listens on `addr` for an opened gate. A stale Unix socket file at the path is
    /// replaced; any other file there is left alone and binding fails.
    pub async fn bind(addr: &str) -> io::Result<LocalDgram> {
        match addr.strip_prefix(UNIX_PREFIX) {
            Some(path) => {
                use std::os::unix::fs::FileTypeExt;
                if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket())
                    && std::os::unix::net::UnixDatagram::unbound()
                        .and_then(|s| s.connect(path))
                        .is_err()
                {
                    std::fs::remove_file(path)?;
                }
                let s = UnixDatagram::bind(path)?;
                Ok(LocalDgram::Unix(s, Some(path.into())))
            }
            None => UdpSocket::bind(addr).await.map(LocalDgram::Udp),
        }
    }

    /// A socket connected to the exposed service at `target`. A Unix one is bound to a
    /// fresh abstract name, so the service can answer it.
    pub async fn connect(target: &str) -> io::Result<LocalDgram> {
        match target.strip_prefix(UNIX_PREFIX) {
            Some(path) => {
                use std::os::linux::net::SocketAddrExt;
                static NEXT: AtomicU64 = AtomicU64::new(0);
                let name = format!(
                    "warp-gate-{}-{}",
                    std::process::id(),
                    NEXT.fetch_add(1, Ordering::Relaxed)
                );
                let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
                let s = std::os::unix::net::UnixDatagram::bind_addr(&addr)?;
                s.connect(path)?;
                s.set_nonblocking(true)?;
                Ok(LocalDgram::Unix(UnixDatagram::from_std(s)?, None))
            }
            None => {
                let target = tokio::net::lookup_host(target)
                    .await?
                    .next()
                    .ok_or_else(|| io::Error::other("the name has no address"))?;
                let local: SocketAddr = if target.is_ipv4() {
                    ([0, 0, 0, 0], 0).into()
                } else {
                    (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
                };
                let s = UdpSocket::bind(local).await?;
                s.connect(target).await?;
                Ok(LocalDgram::Udp(s))
            }
        }
    }

    /// `true` for a Unix socket, whose senders expect back-pressure.
    pub fn is_unix(&self) -> bool {
        matches!(self, LocalDgram::Unix(..))
    }

    /// Receives one datagram and says where it came from.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, Source)> {
        match self {
            LocalDgram::Udp(s) => {
                let (n, from) = s.recv_from(buf).await?;
                Ok((n, Source::Udp(from)))
            }
            LocalDgram::Unix(s, _) => {
                let (n, from) = s.recv_from(buf).await?;
                Ok((n, Source::Unix(from.as_pathname().map(PathBuf::from))))
            }
        }
    }

    /// Sends one datagram to `to`; one for an unbound Unix sender is dropped.
    pub async fn send_to(&self, buf: &[u8], to: &Source) -> io::Result<()> {
        match (self, to) {
            (LocalDgram::Udp(s), Source::Udp(a)) => s.send_to(buf, a).await.map(drop),
            (LocalDgram::Unix(s, _), Source::Unix(Some(p))) => s.send_to(buf, p).await.map(drop),
            _ => Ok(()),
        }
    }

    /// Receives one datagram on a connected socket.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            LocalDgram::Udp(s) => s.recv(buf).await,
            LocalDgram::Unix(s, _) => s.recv(buf).await,
        }
    }

    /// Sends one datagram on a connected socket; waits while a Unix receiver is full.
    pub async fn send(&self, buf: &[u8]) -> io::Result<()> {
        match self {
            LocalDgram::Udp(s) => s.send(buf).await.map(drop),
            LocalDgram::Unix(s, _) => s.send(buf).await.map(drop),
        }
    }
}

impl Drop for LocalDgram {
    fn drop(&mut self) {
        if let LocalDgram::Unix(_, Some(path)) = self {
            let _ = std::fs::remove_file(path);
        }
    }
}
