//! The node's UDP socket as quinn sees it: datagrams for a relayed peer's made-up
//! address go to its map wrapped with this node's token and the peer's key; datagrams
//! the map forwards come out unwrapped, from the peer's made-up address. Everything else
//! passes untouched.

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use protocols::map::relay::{self, Datagram, SEND_HEADER};
use quinn::udp::{RecvMeta, Transmit};
use quinn::{AsyncUdpSocket, UdpPoller};

use super::tcp::Carriage;
use super::{canonical, in_family, is_made_up, put, segments, Routes};

/// The most bytes handed to the kernel in one send (a UDP datagram's limit, with room).
const MAX_SEND: usize = 64_000;
/// Received segments held for the next read, at most (more are dropped, as a full
/// socket buffer would).
const MAX_HELD: usize = 1024;

/// The node's socket with relaying.
pub struct NodeSocket {
    inner: Arc<dyn AsyncUdpSocket>,
    routes: Arc<Routes>,
    /// Maps reached over TCP, their UDP being blocked.
    carriage: Arc<Carriage>,
    v6: bool,
    /// Segments read in a batch whose sender differs from the batch's first: each is
    /// delivered alone by the next read.
    held: Mutex<VecDeque<(SocketAddr, Vec<u8>)>>,
}

impl fmt::Debug for NodeSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeSocket").finish_non_exhaustive()
    }
}

impl NodeSocket {
    /// Wraps `inner`, relaying by `routes` and carrying datagrams to maps over TCP by
    /// `carriage`.
    pub fn new(
        inner: Arc<dyn AsyncUdpSocket>,
        routes: Arc<Routes>,
        carriage: Arc<Carriage>,
    ) -> Arc<NodeSocket> {
        let v6 = inner.local_addr().is_ok_and(|a| a.is_ipv6());
        Arc::new(NodeSocket {
            inner,
            routes,
            carriage,
            v6,
            held: Mutex::new(VecDeque::new()),
        })
    }

    /// Where the datagram `bytes` from `from` comes from as quinn should see it, and
    /// the range of its QUIC packet; `None` to drop it (a relay datagram from no
    /// relayed peer).
    fn unwrap(&self, from: SocketAddr, bytes: &[u8]) -> Option<(SocketAddr, usize)> {
        if !relay::is_relay(bytes) {
            return Some((from, 0));
        }
        match Datagram::decode(bytes) {
            Ok(Datagram::From { from: peer, .. }) => self
                .routes
                .addr_of(from, peer)
                .map(|a| (in_family(a, self.v6), relay::FROM_HEADER)),
            _ => None,
        }
    }

    /// Moves the segments of batch `i` that came through a map to where quinn reads
    /// them: the first run from one sender stays in place, the rest are held.
    fn sort_batch(&self, buf: &mut [u8], meta: &mut RecvMeta) {
        let (len, stride) = (meta.len, meta.stride);
        let mut run: Option<(SocketAddr, usize)> = None; // sender, segment size
        let mut write = 0;
        let mut closed = false;
        let mut held = Vec::new();
        for seg in segments(len, stride) {
            let Some((from, skip)) = self.unwrap(meta.addr, &buf[seg.clone()]) else {
                continue;
            };
            let packet = seg.start + skip..seg.end;
            let size = packet.len();
            match run {
                None => run = Some((from, size)),
                Some((f, s)) if !closed && f == from && size <= s => {
                    // A shorter segment ends the run: only the last may be shorter.
                    closed = size < s;
                }
                Some(_) => {
                    closed = true;
                    held.push((from, buf[packet].to_vec()));
                    continue;
                }
            }
            buf.copy_within(packet, write);
            write += size;
        }
        match run {
            Some((from, size)) => {
                meta.addr = from;
                meta.len = write;
                meta.stride = size;
            }
            None => meta.len = 0,
        }
        if !held.is_empty() {
            let mut h = self.held.lock().unwrap_or_else(|p| p.into_inner());
            for x in held {
                if h.len() < MAX_HELD {
                    h.push_back(x);
                }
            }
        }
    }

    /// Sends `t` over TCP if its destination is carried, else by UDP.
    fn out(&self, t: &Transmit) -> io::Result<()> {
        let segment = t.segment_size.unwrap_or(t.contents.len());
        match self.carriage.send(t.destination, t.contents, segment) {
            true => Ok(()),
            false => self.inner.try_send(t),
        }
    }

    /// Datagrams that came over TCP, one per buffer (each then read as from its map);
    /// how many.
    fn deliver_carried(
        &self,
        cx: &mut Context,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> usize {
        let mut n = 0;
        while n < bufs.len().min(meta.len()) {
            let Poll::Ready(Some((from, bytes))) = self.carriage.poll_inbound(cx) else {
                break;
            };
            if put(&mut bufs[n], &mut meta[n], in_family(from, self.v6), &bytes) {
                n += 1;
            }
        }
        n
    }

    /// Delivers held segments, one per buffer; how many.
    fn deliver_held(&self, bufs: &mut [IoSliceMut<'_>], meta: &mut [RecvMeta]) -> usize {
        let mut h = self.held.lock().unwrap_or_else(|p| p.into_inner());
        let mut n = 0;
        while n < bufs.len().min(meta.len()) {
            let Some((from, bytes)) = h.pop_front() else {
                break;
            };
            if put(&mut bufs[n], &mut meta[n], from, &bytes) {
                n += 1;
            }
        }
        n
    }
}

impl AsyncUdpSocket for NodeSocket {
    fn create_io_poller(self: Arc<Self>) -> Pin<Box<dyn UdpPoller>> {
        self.inner.clone().create_io_poller()
    }

    fn try_send(&self, transmit: &Transmit) -> io::Result<()> {
        if !is_made_up(transmit.destination) {
            return self.out(transmit);
        }
        // A route forgotten: the datagram is lost, as on a path that went away.
        let Some(route) = self.routes.get(transmit.destination) else {
            return Ok(());
        };
        let segment = transmit
            .segment_size
            .unwrap_or(transmit.contents.len())
            .max(1);
        let wrapped = segment + SEND_HEADER;
        let per_send = (MAX_SEND / wrapped).max(1);
        let mut first = true;
        for batch in transmit.contents.chunks(segment * per_send) {
            let mut out = Vec::with_capacity(batch.len() + per_send * SEND_HEADER);
            let mut count = 0;
            for packet in batch.chunks(segment) {
                relay::put_send_header(&mut out, &route.token, &route.peer);
                out.extend_from_slice(packet);
                count += 1;
            }
            let t = Transmit {
                destination: in_family(route.map, self.v6),
                ecn: transmit.ecn,
                contents: &out,
                segment_size: (count > 1).then_some(wrapped),
                src_ip: None,
            };
            match self.out(&t) {
                Ok(()) => first = false,
                // Once some went, the rest are lost rather than sent twice.
                Err(e) if first => return Err(e),
                Err(_) => return Ok(()),
            }
        }
        Ok(())
    }

    fn poll_recv(
        &self,
        cx: &mut Context,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        let held = self.deliver_held(bufs, meta);
        if held > 0 {
            return Poll::Ready(Ok(held));
        }
        let n = match self.inner.poll_recv(cx, bufs, meta) {
            Poll::Ready(Ok(n)) => n,
            Poll::Pending => match self.deliver_carried(cx, bufs, meta) {
                0 => return Poll::Pending,
                n => n,
            },
            other => return other,
        };
        for (buf, m) in bufs.iter_mut().zip(meta.iter_mut()).take(n) {
            let relayed = segments(m.len, m.stride).any(|s| relay::is_relay(&buf[s]));
            if relayed && self.routes.is_map(canonical(m.addr)) {
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
