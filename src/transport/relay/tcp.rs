//! Datagrams carried over TCP (`protocols::map::carried`), for a node whose UDP to its
//! map is blocked: the node's socket sends what it would send to the map over a TCP
//! connection instead, and the map's socket takes datagrams from such connections as if
//! they had come by UDP from a made-up address, one per connection. quinn above sees
//! datagrams either way; QUIC inside keeps proving the keys and encrypting.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use protocols::map::carried::{self, MAGIC};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tracing::debug;

use super::canonical;

/// Datagrams queued towards one connection (more are dropped, as by a full UDP buffer).
const QUEUE: usize = 1024;
/// Datagrams read from all connections, waiting for the socket's reader.
const INBOUND: usize = 4096;
/// Most connections a map carries.
pub const MAX_LINKS: usize = 10_000;
/// Most connections that may be saying what they are at once.
const MAX_GREETING: usize = 1024;
/// How long a new connection may take to say what it is.
const MAGIC_WITHIN: Duration = Duration::from_secs(5);
/// The first octet of the made-up addresses a map gives carried connections.
const FIRST_OCTET: u8 = 241;

/// One connection: its number (to tell it from one that replaced it) and its queue.
type Link = (u64, mpsc::Sender<Vec<u8>>);

/// The TCP connections that carry datagrams, by the address they stand for.
pub struct Carriage {
    /// Each connection's queue, with a number that tells a connection from the one
    /// that replaced it.
    links: Mutex<HashMap<SocketAddr, Link>>,
    inbound_tx: mpsc::Sender<(SocketAddr, Vec<u8>)>,
    inbound: Mutex<mpsc::Receiver<(SocketAddr, Vec<u8>)>>,
    next: AtomicU32,
}

impl Carriage {
    /// No connections yet.
    pub fn new() -> Arc<Carriage> {
        let (inbound_tx, inbound) = mpsc::channel(INBOUND);
        Arc::new(Carriage {
            links: Mutex::new(HashMap::new()),
            inbound_tx,
            inbound: Mutex::new(inbound),
            next: AtomicU32::new(0),
        })
    }

    fn links(&self) -> std::sync::MutexGuard<'_, HashMap<SocketAddr, Link>> {
        self.links.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether datagrams to `to` are carried over TCP.
    pub fn carries(&self, to: SocketAddr) -> bool {
        self.links().contains_key(&canonical(to))
    }

    /// Sends `bytes` (datagrams of `segment` bytes, the last maybe shorter) to `to` over
    /// its connection, if it has one; whether it has. A full queue drops them.
    pub fn send(&self, to: SocketAddr, bytes: &[u8], segment: usize) -> bool {
        let Some((_, link)) = self.links().get(&canonical(to)).cloned() else {
            return false;
        };
        for d in bytes.chunks(segment.max(1)) {
            let _ = link.try_send(d.to_vec());
        }
        true
    }

    /// The next datagram read from any connection, with the address it stands for.
    pub fn poll_inbound(&self, cx: &mut Context) -> Poll<Option<(SocketAddr, Vec<u8>)>> {
        self.inbound
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .poll_recv(cx)
    }

    /// Connects to `map` over TCP (within `within`) and carries the datagrams to it from
    /// then on, until the connection ends.
    pub async fn connect(
        self: &Arc<Self>,
        map: SocketAddr,
        within: Duration,
    ) -> std::io::Result<()> {
        let connect = async {
            let mut stream = TcpStream::connect(map).await?;
            stream.set_nodelay(true)?;
            stream.write_all(MAGIC).await?;
            Ok::<_, std::io::Error>(stream)
        };
        let stream = tokio::time::timeout(within, connect)
            .await
            .map_err(|_| std::io::Error::from(std::io::ErrorKind::TimedOut))??;
        self.run(canonical(map), stream);
        Ok(())
    }

    /// Takes connections on `listener` until it fails: each that starts with [`MAGIC`]
    /// carries datagrams, from a made-up address of its own.
    pub async fn accept(self: Arc<Self>, listener: TcpListener) {
        // Connections that have not said what they are yet, at most.
        let greeting = Arc::new(tokio::sync::Semaphore::new(MAX_GREETING));
        while let Ok((mut stream, from)) = listener.accept().await {
            if self.links().len() >= MAX_LINKS {
                debug!("carried connection from {from} refused: {MAX_LINKS} already");
                continue;
            }
            let Ok(waiting) = greeting.clone().try_acquire_owned() else {
                debug!("carried connection from {from} refused: {MAX_GREETING} still greeting");
                continue;
            };
            let carriage = self.clone();
            tokio::spawn(async move {
                let _waiting = waiting;
                let mut magic = [0u8; MAGIC.len()];
                let read = tokio::time::timeout(MAGIC_WITHIN, stream.read_exact(&mut magic)).await;
                if !matches!(read, Ok(Ok(_))) || &magic != MAGIC {
                    debug!("connection from {from} is not a carried one");
                    return;
                }
                let _ = stream.set_nodelay(true);
                let n = carriage.next.fetch_add(1, Ordering::Relaxed) & 0x00ff_ffff;
                let addr = SocketAddr::new(
                    Ipv4Addr::new(FIRST_OCTET, (n >> 16) as u8, (n >> 8) as u8, n as u8).into(),
                    1,
                );
                debug!("datagrams from {from} carried over TCP as {addr}");
                carriage.run(addr, stream);
            });
        }
    }

    /// Carries datagrams over `stream` for address `addr`: one task reads, one writes;
    /// either ending ends both and forgets the connection.
    fn run(self: &Arc<Self>, addr: SocketAddr, stream: TcpStream) {
        let (tx, mut rx) = mpsc::channel::<Vec<u8>>(QUEUE);
        let number = self.next.fetch_add(1, Ordering::Relaxed) as u64;
        self.links().insert(addr, (number, tx));
        let (mut read, mut write) = stream.into_split();
        let carriage = self.clone();
        let writer = tokio::spawn(async move {
            let mut out = Vec::new();
            while let Some(d) = rx.recv().await {
                out.clear();
                carried::put(&mut out, &d);
                while let Ok(more) = rx.try_recv() {
                    carried::put(&mut out, &more);
                    if out.len() > 64 << 10 {
                        break;
                    }
                }
                if write.write_all(&out).await.is_err() {
                    return;
                }
            }
        });
        let inbound = self.inbound_tx.clone();
        tokio::spawn(async move {
            let mut buf: Vec<u8> = Vec::with_capacity(128 << 10);
            let mut chunk = vec![0u8; 64 << 10];
            'read: loop {
                let n = match read.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                buf.extend_from_slice(&chunk[..n]);
                let mut at = 0;
                loop {
                    match carried::get(&buf[at..]) {
                        Ok(Some((d, used))) => {
                            if inbound.send((addr, d.to_vec())).await.is_err() {
                                break 'read;
                            }
                            at += used;
                        }
                        Ok(None) => break,
                        Err(e) => {
                            debug!("carried connection {addr}: {e}");
                            break 'read;
                        }
                    }
                }
                buf.drain(..at);
            }
            writer.abort();
            let mut links = carriage.links();
            if links.get(&addr).is_some_and(|(n, _)| *n == number) {
                links.remove(&addr);
            }
        });
    }
}
