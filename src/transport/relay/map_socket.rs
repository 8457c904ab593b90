//! A map's UDP socket as quinn sees it: relay datagrams (first byte 0) are handed to the
//! map's [`Intercept`], which forwards them from this same socket; quinn reads only the
//! QUIC packets.

use std::fmt;
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use protocols::map::relay;
use quinn::udp::{RecvMeta, Transmit};
use quinn::{AsyncUdpSocket, UdpPoller};

use super::tcp::Carriage;
use super::{canonical, in_family, put, segments, Intercept};

/// A map's socket.
pub struct MapSocket {
    inner: Arc<dyn AsyncUdpSocket>,
    intercept: Arc<dyn Intercept>,
    /// Nodes whose datagrams come over TCP.
    carriage: Arc<Carriage>,
    v6: bool,
}

impl fmt::Debug for MapSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MapSocket").finish_non_exhaustive()
    }
}

impl MapSocket {
    /// Wraps `inner`, handing relay datagrams to `intercept`, and taking datagrams from
    /// the TCP connections of `carriage` as well.
    pub fn new(
        inner: Arc<dyn AsyncUdpSocket>,
        intercept: Arc<dyn Intercept>,
        carriage: Arc<Carriage>,
    ) -> Arc<MapSocket> {
        let v6 = inner.local_addr().is_ok_and(|a| a.is_ipv6());
        Arc::new(MapSocket {
            inner,
            intercept,
            carriage,
            v6,
        })
    }

    /// Hands batch `buf`'s relay segments to the intercept and keeps its QUIC ones, in
    /// order, at the front. What the intercept forwards goes out in batches: runs of
    /// same-sized datagrams to one address are one send (the kernel cuts them up).
    fn sort_batch(&self, buf: &mut [u8], meta: &mut RecvMeta) {
        let from = canonical(meta.addr);
        let mut write = 0;
        let mut stride = None;
        let mut out = Outbox::default();
        for seg in segments(meta.len, meta.stride) {
            if relay::is_relay(&buf[seg.clone()]) {
                if let Some((to, part)) = self.intercept.datagram(from, &mut buf[seg.clone()]) {
                    let part = seg.start + part.start..seg.start + part.end;
                    out.push(self, to, &buf[part]);
                }
                continue;
            }
            stride.get_or_insert(seg.len());
            let len = seg.len();
            buf.copy_within(seg, write);
            write += len;
        }
        out.flush(self);
        meta.len = write;
        meta.stride = stride.unwrap_or(meta.stride);
    }

    /// Datagrams that came over TCP: relay ones go to the intercept, the others to
    /// quinn, one per buffer, until the buffers are full or none is left (then the
    /// waker is registered); how many went to quinn.
    fn take_carried(
        &self,
        cx: &mut Context,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> usize {
        let mut n = 0;
        while n < bufs.len().min(meta.len()) {
            let Poll::Ready(Some((from, mut bytes))) = self.carriage.poll_inbound(cx) else {
                break;
            };
            if relay::is_relay(&bytes) {
                if let Some((to, part)) = self.intercept.datagram(from, &mut bytes) {
                    self.send(to, &bytes[part.clone()], part.len());
                }
                continue;
            }
            if put(&mut bufs[n], &mut meta[n], in_family(from, self.v6), &bytes) {
                n += 1;
            }
        }
        n
    }

    /// Sends `bytes`, datagrams of `size` bytes (the last may be shorter), to `to`.
    fn send(&self, to: SocketAddr, bytes: &[u8], size: usize) {
        if self.carriage.send(to, bytes, size) {
            return;
        }
        let t = Transmit {
            destination: in_family(to, self.v6),
            ecn: None,
            contents: bytes,
            segment_size: (bytes.len() > size).then_some(size),
            src_ip: None,
        };
        // A full socket buffer drops it, as a router queue would.
        let _ = self.inner.try_send(&t);
    }
}

/// Forwarded datagrams gathered into one send: same destination, same size.
#[derive(Default)]
struct Outbox {
    to: Option<SocketAddr>,
    size: usize,
    /// A shorter datagram ends the run (only the last of a send may be shorter).
    closed: bool,
    count: usize,
    bytes: Vec<u8>,
}

/// Most datagrams in one send.
const MAX_RUN: usize = 64;
/// Most bytes in one send.
const MAX_RUN_BYTES: usize = 64_000;

impl Outbox {
    fn push(&mut self, socket: &MapSocket, to: SocketAddr, datagram: &[u8]) {
        let fits = self.to == Some(to)
            && !self.closed
            && datagram.len() <= self.size
            && self.count < MAX_RUN.min(socket.inner.max_transmit_segments())
            && self.bytes.len() + datagram.len() <= MAX_RUN_BYTES;
        if !fits {
            self.flush(socket);
            self.to = Some(to);
            self.size = datagram.len();
        }
        self.closed = datagram.len() < self.size;
        self.count += 1;
        self.bytes.extend_from_slice(datagram);
    }

    fn flush(&mut self, socket: &MapSocket) {
        if let Some(to) = self.to.take() {
            socket.send(to, &self.bytes, self.size);
        }
        self.bytes.clear();
        self.count = 0;
        self.closed = false;
    }
}

impl AsyncUdpSocket for MapSocket {
    fn create_io_poller(self: Arc<Self>) -> Pin<Box<dyn UdpPoller>> {
        self.inner.clone().create_io_poller()
    }

    fn try_send(&self, transmit: &Transmit) -> io::Result<()> {
        let segment = transmit.segment_size.unwrap_or(transmit.contents.len());
        match self
            .carriage
            .send(transmit.destination, transmit.contents, segment)
        {
            true => Ok(()),
            false => self.inner.try_send(transmit),
        }
    }

    fn poll_recv(
        &self,
        cx: &mut Context,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        let n = match self.inner.poll_recv(cx, bufs, meta) {
            Poll::Ready(Ok(n)) => n,
            // Nothing by UDP: what came over TCP (read until the buffers are full or
            // nothing is left, which registers the waker).
            Poll::Pending => match self.take_carried(cx, bufs, meta) {
                0 => return Poll::Pending,
                n => n,
            },
            other => return other,
        };
        for (buf, m) in bufs.iter_mut().zip(meta.iter_mut()).take(n) {
            if segments(m.len, m.stride).any(|s| relay::is_relay(&buf[s])) {
                self.sort_batch(&mut buf[..], m);
            }
        }
        Poll::Ready(Ok(n))
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    fn max_transmit_segments(&self) -> usize {
        self.inner.max_transmit_segments()
    }

    fn max_receive_segments(&self) -> usize {
        super::receive_segments(self.inner.max_receive_segments())
    }

    fn may_fragment(&self) -> bool {
        self.inner.may_fragment()
    }
}
