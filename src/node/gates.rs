//! TCP gates: an exposed service's side (`gate/<name>` channels become connections to
//! its local address) and an opened gate's side (a local listener whose connections each
//! travel over their own channel). Half-closes and resets cross the tunnel.

use std::sync::Arc;
use std::time::Duration;

use protocols::channel::ChannelReply;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tracing::{info, warn};

use super::gate_access::{admits, refuse};
use super::gate_error::GateOpenError;
use super::local::{LocalListener, LocalStream};
use super::service_error::ServiceError;
use super::Node;
use crate::gate_book::Opened;
use crate::identity::PeerId;
use crate::transport::{Channel, OpenError};

/// Version of the gate channel protocol (raw bytes after the header).
pub const VERSION: u16 = 1;

/// Connections one opened gate carries at once; more are reset at once.
pub const MAX_CONNECTIONS: usize = 256;

/// The channel service name of the gate `name`.
pub fn service(name: &str) -> String {
    format!("gate/{name}")
}

/// Serves a `gate/<name>` channel from `peer`: connects to the exposed address and
/// splices, or refuses on that channel alone.
pub async fn serve(
    node: Arc<Node>,
    peer: PeerId,
    mut ch: Channel,
    name: &str,
) -> Result<(), ServiceError> {
    let Some(gate) = node.gates.exposed(name, false) else {
        let msg = format!("no gate {name:?} is exposed on this node");
        return Ok(ch.decline(ChannelReply::UnknownService(msg)).await?);
    };
    if let Err(why) = admits(&node, &gate, peer).await {
        return refuse(ch, why.to_string()).await;
    }
    let tcp = match tokio::time::timeout(Duration::from_secs(5), LocalStream::connect(&gate.target))
        .await
    {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            return refuse(
                ch,
                format!("gate {name}: cannot connect to {}: {e}", gate.target),
            )
            .await
        }
        Err(_) => return refuse(ch, format!("gate {name}: {} did not answer", gate.target)).await,
    };
    ch.write(&ChannelReply::Accepted.encode()).await?;
    info!(
        "gate {name}: connection from {} to {}",
        node.label(&peer),
        gate.target
    );
    splice(tcp, ch).await
}

/// The version of the gate check service.
pub const CHECK_VERSION: u16 = 1;

/// The service that answers whether the gate `name` would serve the asking peer, without
/// connecting to its target: `gate-check/<name>`, `dgram-check/<name>` for datagrams.
pub fn check_service(name: &str, udp: bool) -> String {
    match udp {
        false => format!("gate-check/{name}"),
        true => format!("dgram-check/{name}"),
    }
}

/// Answers a gate check from `peer`: accepted when the gate exists and would serve it.
pub async fn serve_check(
    node: Arc<Node>,
    peer: PeerId,
    mut ch: Channel,
    name: &str,
    udp: bool,
) -> Result<(), ServiceError> {
    let Some(gate) = node.gates.exposed(name, udp) else {
        let kind = if udp { "UDP gate" } else { "gate" };
        let msg = format!("no {kind} {name:?} is exposed on this node");
        return Ok(ch.decline(ChannelReply::UnknownService(msg)).await?);
    };
    match admits(&node, &gate, peer).await {
        Ok(()) => {
            ch.write(&ChannelReply::Accepted.encode()).await?;
            ch.finish();
            Ok(())
        }
        Err(why) => refuse(ch, why.to_string()).await,
    }
}

/// What asking the peer about a gate found.
pub enum Checked {
    /// The gate is there and serves us.
    Serves,
    /// The peer said no, with why.
    Refused(String),
    /// No answer to be had now (the peer is unreachable, or too old to answer), with why.
    Unknown(String),
}

/// Asks `g.peer` whether its gate `g.name` would serve this node.
pub async fn check_remote(node: &Arc<Node>, g: &Opened) -> Checked {
    let entry = match node.book.resolve(&g.peer) {
        Ok(e) => e,
        Err(e) => return Checked::Refused(e.to_string()),
    };
    let peer = match node.connect(&entry).await {
        Ok(c) => c,
        Err(e) => return Checked::Unknown(e.to_string()),
    };
    let service = check_service(&g.name, g.udp);
    match peer.open(&service, CHECK_VERSION).await {
        Ok(_) => Checked::Serves,
        // A node from before gate checks does not know the service: it names it.
        Err(OpenError::UnknownService(m)) if m.contains(&service) => {
            Checked::Unknown(format!("{} cannot say", g.peer))
        }
        Err(
            e @ (OpenError::UnknownService(_)
            | OpenError::UnsupportedVersion(_)
            | OpenError::Refused(_)),
        ) => Checked::Refused(e.to_string()),
        Err(e) => Checked::Unknown(e.to_string()),
    }
}

/// Opens a TCP or Unix gate whose listen address was checked: listens on `g.listen` and
/// leads each connection to `g.name` on `g.peer`.
pub async fn open_stream(
    node: Arc<Node>,
    g: Opened,
) -> Result<tokio::task::JoinHandle<()>, GateOpenError> {
    let listener = LocalListener::bind(&g.listen)
        .await
        .map_err(GateOpenError::listen(&g.listen))?;
    info!("gate open: {} leads to {} on {}", g.listen, g.name, g.peer);
    let busy = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    Ok(tokio::spawn(async move {
        let mut backoff = crate::accept_backoff::AcceptBackoff::default();
        loop {
            let (tcp, from) = match listener.accept().await {
                Ok(c) => c,
                Err(e) => {
                    backoff.failed(&format!("gate {}", g.listen), &e).await;
                    continue;
                }
            };
            backoff.succeeded();
            let Ok(held) = busy.clone().try_acquire_owned() else {
                warn!(
                    "gate {} ({from}): {MAX_CONNECTIONS} connections are open already; refused",
                    g.listen
                );
                tcp.reset();
                continue;
            };
            let node = node.clone();
            let g = g.clone();
            tokio::spawn(async move {
                let _held = held;
                let entry = match node.book.resolve(&g.peer) {
                    Ok(e) => e,
                    Err(e) => return warn!("gate {}: {e}", g.listen),
                };
                // A peer known to be down: refused now, not after a dial times out.
                if let Some(why) = entry.peer_id().and_then(|id| node.conns.down(&id)) {
                    warn!(
                        "gate {} ({from}) to {} on {}: refused at once: {why}",
                        g.listen, g.name, g.peer
                    );
                    return tcp.reset();
                }
                let Some(_slot) = entry
                    .peer_id()
                    .and_then(|id| node.conns.gate_slots.take(id))
                else {
                    warn!(
                        "gate {} ({from}): {} gate channels to {} are open already; refused",
                        g.listen,
                        super::conns::GATE_CHANNELS,
                        g.peer
                    );
                    return tcp.reset();
                };
                match super::conns::open_channel(
                    &node,
                    &entry,
                    (&service(&g.name), VERSION),
                    g.mode,
                )
                .await
                {
                    Ok(ch) => {
                        if let Err(e) = splice(tcp, ch).await {
                            warn!("gate {} ({from}): {e}", g.listen);
                        }
                    }
                    Err(e) => {
                        warn!(
                            "gate {} ({from}) to {} on {}: {e}",
                            g.listen, g.name, g.peer
                        );
                        tcp.reset();
                    }
                }
            });
        }
    }))
}

/// Copies both ways until both directions end. An end of stream is passed on as a
/// half-close; an error on either side resets both.
async fn splice(local: LocalStream, ch: Channel) -> Result<(), ServiceError> {
    let (mut send, mut recv) = ch.split();
    let (mut tcp_r, mut tcp_w) = tokio::io::split(local);
    let to_peer = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match tcp_r.read(&mut buf).await {
                Ok(0) => {
                    send.finish();
                    return Ok(());
                }
                Ok(n) => send.write_all(&buf[..n]).await?,
                Err(e) => {
                    send.reset();
                    return Err(ServiceError::Local(e));
                }
            }
        }
    };
    let from_peer = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match recv.read(&mut buf).await {
                Ok(0) => {
                    let _ = tcp_w.shutdown().await;
                    return Ok(());
                }
                Ok(n) => tcp_w
                    .write_all(&buf[..n])
                    .await
                    .map_err(ServiceError::Local)?,
                Err(e) => {
                    recv.stop();
                    return Err(ServiceError::Tunnel(e));
                }
            }
        }
    };
    let result: Result<((), ()), ServiceError> = tokio::try_join!(to_peer, from_peer);
    if let Err(e) = result {
        tcp_r.unsplit(tcp_w).reset();
        return Err(e);
    }
    Ok(())
}
