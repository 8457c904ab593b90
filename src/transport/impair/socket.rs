//! A quinn UDP socket whose outgoing datagrams pass through an impairment [`Model`]: the
//! first one whose spec covers the datagram's destination (a spec scoped with `to=`
//! impairs one path only); datagrams no spec covers go out untouched.

use std::collections::BinaryHeap;
use std::fmt;
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use quinn::udp::{RecvMeta, Transmit};
use quinn::{AsyncUdpSocket, UdpPoller};
use tokio::sync::mpsc;

use super::model::Model;
use super::spec::ImpairSpec;

/// Datagrams waiting for their departure time, at most; more are dropped.
const MAX_QUEUED: usize = 16_384;

/// A datagram held back until `due`.
struct Held {
    due: Instant,
    order: u64,
    to: SocketAddr,
    bytes: Vec<u8>,
}

impl PartialEq for Held {
    fn eq(&self, other: &Held) -> bool {
        (self.due, self.order) == (other.due, other.order)
    }
}
impl Eq for Held {}
impl PartialOrd for Held {
    fn partial_cmp(&self, other: &Held) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Held {
    /// Earliest first in a max-heap.
    fn cmp(&self, other: &Held) -> std::cmp::Ordering {
        (other.due, other.order).cmp(&(self.due, self.order))
    }
}

/// The node's UDP socket with impairment on send.
pub struct ImpairedSocket {
    inner: Arc<dyn AsyncUdpSocket>,
    /// Each spec with its model, scoped ones first; and the order of the datagrams held.
    models: Mutex<(Vec<(ImpairSpec, Model)>, u64)>,
    queue: mpsc::UnboundedSender<Held>,
    queued: Arc<std::sync::atomic::AtomicUsize>,
}

impl fmt::Debug for ImpairedSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ImpairedSocket").finish_non_exhaustive()
    }
}

impl ImpairedSocket {
    /// Wraps `inner` with `specs` (each its own model: a rate limit scoped to one path
    /// is that path's); spawns the task that releases held datagrams on time.
    pub fn new(inner: Arc<dyn AsyncUdpSocket>, mut specs: Vec<ImpairSpec>) -> Arc<ImpairedSocket> {
        let (tx, rx) = mpsc::unbounded_channel();
        let queued = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        tokio::spawn(release(inner.clone(), rx, queued.clone()));
        // Scoped specs are tried before one that covers everything.
        specs.sort_by_key(|s| s.to.is_none());
        let models = specs
            .into_iter()
            .map(|s| (s.clone(), Model::new(s)))
            .collect();
        Arc::new(ImpairedSocket {
            inner,
            models: Mutex::new((models, 0)),
            queue: tx,
            queued,
        })
    }
}

/// Sends each held datagram when its time comes.
async fn release(
    inner: Arc<dyn AsyncUdpSocket>,
    mut rx: mpsc::UnboundedReceiver<Held>,
    queued: Arc<std::sync::atomic::AtomicUsize>,
) {
    let mut heap: BinaryHeap<Held> = BinaryHeap::new();
    loop {
        let next = heap.peek().map(|h| h.due);
        tokio::select! {
            held = rx.recv() => match held {
                Some(h) => heap.push(h),
                None => return,
            },
            _ = async {
                match next {
                    Some(due) => tokio::time::sleep_until(due.into()).await,
                    None => std::future::pending().await,
                }
            } => {
                let now = Instant::now();
                while heap.peek().is_some_and(|h| h.due <= now) {
                    if let Some(h) = heap.pop() {
                        queued.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                        let t = Transmit { destination: h.to, ecn: None, contents: &h.bytes, segment_size: None, src_ip: None };
                        // A full socket buffer drops the datagram, as a router queue would.
                        let _ = inner.try_send(&t);
                    }
                }
            }
        }
    }
}

impl AsyncUdpSocket for ImpairedSocket {
    fn create_io_poller(self: Arc<Self>) -> Pin<Box<dyn UdpPoller>> {
        self.inner.clone().create_io_poller()
    }

    fn try_send(&self, transmit: &Transmit) -> io::Result<()> {
        let now = Instant::now();
        let segment = transmit
            .segment_size
            .unwrap_or(transmit.contents.len())
            .max(1);
        let mut guard = self.models.lock().unwrap_or_else(|p| p.into_inner());
        let (models, order) = &mut *guard;
        let Some((_, model)) = models
            .iter_mut()
            .find(|(spec, _)| spec.covers(transmit.destination))
        else {
            drop(guard);
            return self.inner.try_send(transmit);
        };
        for datagram in transmit.contents.chunks(segment) {
            for due in model.fate(now, datagram.len()) {
                if self.queued.load(std::sync::atomic::Ordering::Relaxed) >= MAX_QUEUED {
                    continue;
                }
                *order += 1;
                self.queued
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let _ = self.queue.send(Held {
                    due,
                    order: *order,
                    to: transmit.destination,
                    bytes: datagram.to_vec(),
                });
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
        self.inner.poll_recv(cx, bufs, meta)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }

    fn max_receive_segments(&self) -> usize {
        self.inner.max_receive_segments()
    }

    fn may_fragment(&self) -> bool {
        self.inner.may_fragment()
    }
}
