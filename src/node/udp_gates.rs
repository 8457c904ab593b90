//! UDP gates: datagrams keep their boundaries across the tunnel (framed by
//! `protocols::datagram`). An opened gate keeps one session, on its own `dgram/<name>`
//! channel, per source address; a session ends after a minute without traffic.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use protocols::channel::ChannelReply;
use protocols::datagram;
use quinn::{RecvStream, SendStream};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::{info, warn};

use super::channel::Channel;
use super::Node;
use crate::gate_book::Opened;
use crate::identity::PeerId;

/// Version of the datagram gate protocol.
pub const VERSION: u16 = 1;
/// A session with no datagram either way for this long ends.
const IDLE: Duration = Duration::from_secs(60);
/// Datagrams queued per session before new ones are dropped, as a full socket would.
const QUEUE: usize = 256;

/// The channel service name of the UDP gate `name`.
pub fn service(name: &str) -> String {
    format!("dgram/{name}")
}

/// Reads framed datagrams from a stream.
struct Frames {
    recv: RecvStream,
    buf: Vec<u8>,
}

impl Frames {
    async fn next(&mut self) -> Result<Option<Vec<u8>>, String> {
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
                None => return Ok(None),
            }
        }
    }
}

async fn send_frame(send: &mut SendStream, d: &[u8]) -> Result<(), String> {
    let frame = datagram::encode(d).map_err(|e| e.to_string())?;
    send.write_all(&frame).await.map_err(|e| e.to_string())
}

/// Serves a `dgram/<name>` channel: one UDP socket connected to the exposed address.
pub async fn serve(
    node: Arc<Node>,
    peer: PeerId,
    mut ch: Channel,
    name: &str,
) -> Result<(), String> {
    let gate = match node.exposed(name, true) {
        Some(g) => g,
        None => {
            let msg = format!("no UDP gate {name:?} is exposed on this node");
            ch.write(&ChannelReply::UnknownService(msg).encode())
                .await?;
            ch.finish();
            return Ok(());
        }
    };
    if !gate.allow.is_empty() && !super::gates::allowed(&node, &gate.allow, peer) {
        let msg = format!("gate {name}: peer {peer} is not on its allow list");
        return super::gates::refuse(ch, msg).await;
    }
    let target = tokio::net::lookup_host(&gate.target)
        .await
        .ok()
        .and_then(|mut a| a.next());
    let Some(target) = target else {
        return super::gates::refuse(ch, format!("gate {name}: bad target {}", gate.target)).await;
    };
    let local: SocketAddr = if target.is_ipv4() {
        "0.0.0.0:0"
    } else {
        "[::]:0"
    }
    .parse()
    .map_err(|_| "address")?;
    let sock = UdpSocket::bind(local).await.map_err(|e| e.to_string())?;
    sock.connect(target).await.map_err(|e| e.to_string())?;
    ch.write(&ChannelReply::Accepted.encode()).await?;
    info!("udp gate {name}: session from {peer} to {target}");
    let (mut send, recv, leftover) = ch.into_parts();
    let mut frames = Frames {
        recv,
        buf: leftover,
    };
    let mut buf = vec![0u8; 65_536];
    loop {
        tokio::select! {
            d = frames.next() => match d? {
                Some(d) => { let _ = sock.send(&d).await; }
                None => break,
            },
            r = sock.recv(&mut buf) => match r {
                Ok(n) => send_frame(&mut send, &buf[..n]).await?,
                Err(e) => return Err(e.to_string()),
            },
            _ = tokio::time::sleep(IDLE) => break,
        }
    }
    let _ = send.finish();
    Ok(())
}

/// Opens a UDP gate on `g.listen`: one session per source address.
pub async fn open(node: Arc<Node>, g: Opened) -> Result<tokio::task::JoinHandle<()>, String> {
    let sock = Arc::new(
        UdpSocket::bind(&g.listen)
            .await
            .map_err(|e| format!("cannot listen on udp {}: {e}", g.listen))?,
    );
    info!(
        "udp gate open: {} leads to {} on {}",
        g.listen, g.name, g.peer
    );
    Ok(tokio::spawn(async move {
        let mut sessions: HashMap<SocketAddr, mpsc::Sender<Vec<u8>>> = HashMap::new();
        let mut buf = vec![0u8; 65_536];
        while let Ok((n, src)) = sock.recv_from(&mut buf).await {
            if sessions.get(&src).is_none_or(|tx| tx.is_closed()) {
                // A new source (or one whose session ended): drop ended sessions, start one.
                sessions.retain(|_, tx| !tx.is_closed());
                let (tx, rx) = mpsc::channel(QUEUE);
                tokio::spawn(session(node.clone(), g.clone(), sock.clone(), src, rx));
                sessions.insert(src, tx);
            }
            let Some(tx) = sessions.get(&src) else {
                continue;
            };
            // A full queue drops the datagram, as UDP may.
            let _ = tx.try_send(buf[..n].to_vec());
        }
    }))
}

async fn session(
    node: Arc<Node>,
    g: Opened,
    sock: Arc<UdpSocket>,
    src: SocketAddr,
    mut rx: mpsc::Receiver<Vec<u8>>,
) {
    let entry = match node.book.resolve(&g.peer) {
        Ok(e) => e,
        Err(e) => return warn!("udp gate {}: {e}", g.listen),
    };
    let ch = match super::conns::open_channel(&node, &entry, &service(&g.name), VERSION).await {
        Ok(ch) => ch,
        Err(e) => {
            return warn!(
                "udp gate {} ({src}) to {} on {}: {e}",
                g.listen, g.name, g.peer
            )
        }
    };
    let (mut send, recv, leftover) = ch.into_parts();
    let mut frames = Frames {
        recv,
        buf: leftover,
    };
    loop {
        tokio::select! {
            d = rx.recv() => match d {
                Some(d) => if send_frame(&mut send, &d).await.is_err() { break },
                None => break,
            },
            d = frames.next() => match d {
                Ok(Some(d)) => { let _ = sock.send_to(&d, src).await; }
                _ => break,
            },
            _ = tokio::time::sleep(IDLE) => break,
        }
    }
    let _ = send.finish();
}
