//! Datagram gates (UDP or Unix datagram sockets): datagrams keep their boundaries across
//! the tunnel (framed by `protocols::datagram`). An opened gate keeps one session, on its
//! own `dgram/<name>` channel, per source; a session ends after a minute without traffic.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use protocols::channel::ChannelReply;
use tokio::sync::mpsc;
use tracing::{info, warn};

use super::dgram_frames::{send_frame, Frames};
use super::gate_error::GateOpenError;
use super::local_dgram::{LocalDgram, Source};
use super::service_error::ServiceError;
use super::Node;
use crate::gate_book::Opened;
use crate::identity::PeerId;
use crate::transport::Channel;

/// Version of the datagram gate protocol.
pub const VERSION: u16 = 1;
/// A session with no datagram either way for this long ends.
const IDLE: Duration = Duration::from_secs(60);
/// Datagrams queued per session before new ones are dropped, as a full socket would.
const QUEUE: usize = 256;
/// Sessions (sources) one opened datagram gate carries at once; datagrams from further
/// sources are dropped until one ends.
pub const MAX_SESSIONS: usize = 256;

/// The channel service name of the UDP gate `name`.
pub fn service(name: &str) -> String {
    format!("dgram/{name}")
}

/// Serves a `dgram/<name>` channel: one UDP socket connected to the exposed address.
pub async fn serve(
    node: Arc<Node>,
    peer: PeerId,
    mut ch: Channel,
    name: &str,
) -> Result<(), ServiceError> {
    let Some(gate) = node.gates.exposed(name, true) else {
        let msg = format!("no UDP gate {name:?} is exposed on this node");
        return Ok(ch.decline(ChannelReply::UnknownService(msg)).await?);
    };
    if let Err(why) = super::gate_access::admits(&node, &gate, peer).await {
        return super::gate_access::refuse(ch, why.to_string()).await;
    }
    let sock = match LocalDgram::connect(&gate.target).await {
        Ok(s) => s,
        Err(e) => {
            let msg = format!("gate {name}: cannot reach {}: {e}", gate.target);
            return super::gate_access::refuse(ch, msg).await;
        }
    };
    ch.write(&ChannelReply::Accepted.encode()).await?;
    info!(
        "datagram gate {name}: session from {peer} to {}",
        gate.target
    );
    let (mut send, recv) = ch.split();
    let mut frames = Frames::new(recv);
    let mut buf = vec![0u8; 65_536];
    loop {
        tokio::select! {
            d = frames.next() => match d? {
                // UDP may drop; a full Unix receiver holds the stream back instead.
                Some(d) => { let _ = sock.send(&d).await; }
                None => break,
            },
            r = sock.recv(&mut buf) => match r {
                Ok(n) => send_frame(&mut send, &buf[..n]).await?,
                Err(e) => return Err(ServiceError::Local(e)),
            },
            _ = tokio::time::sleep(IDLE) => {
                info!(
                    "datagram gate {name}: session from {} ended after {}s without a datagram",
                    node.label(&peer),
                    IDLE.as_secs()
                );
                break;
            }
        }
    }
    send.finish();
    Ok(())
}

/// Opens a datagram gate on `g.listen`: one session per source. A UDP gate drops what a
/// full session queue cannot take, as UDP may; a Unix one waits, so the application's
/// `send()` blocks until the tunnel has taken its data.
pub async fn open(
    node: Arc<Node>,
    g: Opened,
) -> Result<tokio::task::JoinHandle<()>, GateOpenError> {
    let sock = Arc::new(
        LocalDgram::bind(&g.listen)
            .await
            .map_err(GateOpenError::listen(&g.listen))?,
    );
    info!(
        "datagram gate open: {} leads to {} on {}",
        g.listen, g.name, g.peer
    );
    Ok(tokio::spawn(async move {
        let mut sessions: HashMap<Source, mpsc::Sender<Vec<u8>>> = HashMap::new();
        let mut buf = vec![0u8; 65_536];
        let mut full_told = false;
        while let Ok((n, src)) = sock.recv_from(&mut buf).await {
            if sessions.get(&src).is_none_or(|tx| tx.is_closed()) {
                // A new source (or one whose session ended): drop ended sessions, start one.
                sessions.retain(|_, tx| !tx.is_closed());
                if sessions.len() >= MAX_SESSIONS {
                    if !std::mem::replace(&mut full_told, true) {
                        warn!(
                            "udp gate {}: {MAX_SESSIONS} sessions are open; datagrams from new sources are dropped",
                            g.listen
                        );
                    }
                    continue;
                }
                full_told = false;
                let (tx, rx) = mpsc::channel(QUEUE);
                tokio::spawn(session(
                    node.clone(),
                    g.clone(),
                    sock.clone(),
                    src.clone(),
                    rx,
                ));
                sessions.insert(src.clone(), tx);
            }
            let Some(tx) = sessions.get(&src) else {
                continue;
            };
            let d = buf[..n].to_vec();
            if sock.is_unix() {
                let _ = tx.send(d).await;
            } else {
                let _ = tx.try_send(d);
            }
        }
    }))
}

async fn session(
    node: Arc<Node>,
    g: Opened,
    sock: Arc<LocalDgram>,
    src: Source,
    mut rx: mpsc::Receiver<Vec<u8>>,
) {
    let entry = match node.book.resolve(&g.peer) {
        Ok(e) => e,
        Err(e) => return warn!("udp gate {}: {e}", g.listen),
    };
    let Some(_slot) = entry
        .peer_id()
        .and_then(|id| node.conns.gate_slots.take(id))
    else {
        return warn!(
            "udp gate {} ({src}): {} gate channels to {} are open already",
            g.listen,
            super::conns::GATE_CHANNELS,
            g.peer
        );
    };
    let ch = match super::conns::open_channel(&node, &entry, (&service(&g.name), VERSION), g.mode)
        .await
    {
        Ok(ch) => ch,
        Err(e) => {
            return warn!(
                "udp gate {} ({src}) to {} on {}: {e}",
                g.listen, g.name, g.peer
            )
        }
    };
    let (mut send, recv) = ch.split();
    let mut frames = Frames::new(recv);
    loop {
        tokio::select! {
            d = rx.recv() => match d {
                Some(d) => if send_frame(&mut send, &d).await.is_err() { break },
                None => break,
            },
            d = frames.next() => match d {
                Ok(Some(d)) => { let _ = sock.send_to(&d, &src).await; }
                _ => break,
            },
            _ = tokio::time::sleep(IDLE) => {
                info!(
                    "udp gate {} ({src}): session ended after {}s without a datagram",
                    g.listen,
                    IDLE.as_secs()
                );
                break;
            }
        }
    }
    send.finish();
}
