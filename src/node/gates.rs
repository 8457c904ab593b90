//! TCP gates: an exposed service's side (`gate/<name>` channels become connections to
//! its local address) and an opened gate's side (a local listener whose connections each
//! travel over their own channel). Half-closes and resets cross the tunnel.

use std::sync::Arc;
use std::time::Duration;

use protocols::channel::ChannelReply;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tracing::{info, warn};

use super::local::{LocalListener, LocalStream};
use super::Node;
use crate::gate_book::{Exposed, Opened};
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
) -> Result<(), String> {
    let Some(gate) = node.exposed(name, false) else {
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
    info!("gate {name}: connection from {peer} to {}", gate.target);
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
) -> Result<(), String> {
    let Some(gate) = node.exposed(name, udp) else {
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

/// Why a gate does not serve a peer.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// The gate has an allow list without the peer.
    #[error("gate {gate}: peer {peer} is not on its allow list")]
    NotAllowed {
        /// The gate.
        gate: String,
        /// Who asked.
        peer: PeerId,
    },
    /// The gate serves the book, and the peer is not in it.
    #[error("gate {gate}: {peer} is not in the peer book (the gate is not public)")]
    NotInBook {
        /// The gate.
        gate: String,
        /// Who asked.
        peer: PeerId,
    },
    /// The gate's target is the node's own.
    #[error("gate {gate}: {reason}")]
    OwnTarget {
        /// The gate.
        gate: String,
        /// Which of the node's own addresses.
        reason: super::own::OwnAddress,
    },
}

/// Whether `gate` serves `peer`: the peers on its allow list when it has one; else every
/// peer in the book, and any key when it is public. Its target must not be the node's own
/// (checked again here, as a configuration file may have changed since it was exposed).
pub async fn admits(node: &Node, gate: &Exposed, peer: PeerId) -> Result<(), Refusal> {
    let name = || gate.name.clone();
    if !gate.allow.is_empty() {
        if !allowed(node, &gate.allow, peer) {
            return Err(Refusal::NotAllowed { gate: name(), peer });
        }
    } else if !gate.public && !node.knows(&peer) {
        return Err(Refusal::NotInBook { gate: name(), peer });
    }
    node.own
        .check(&gate.target, gate.udp)
        .await
        .map_err(|reason| Refusal::OwnTarget {
            gate: name(),
            reason,
        })
}

/// Whether `peer` is named (by id, or by the alias of its book entry) in `allow`.
pub fn allowed(node: &Node, allow: &[String], peer: PeerId) -> bool {
    allow.iter().any(|name| {
        name.parse::<PeerId>().ok() == Some(peer)
            || node.book.resolve(name).ok().and_then(|e| e.peer_id()) == Some(peer)
    })
}

/// Refuses a gate channel with a reason, logged here too.
pub async fn refuse(ch: Channel, msg: String) -> Result<(), String> {
    warn!("{msg}");
    Ok(ch.decline(ChannelReply::Refused(msg)).await?)
}

/// Refuses a listen address beyond loopback unless the gate says `gateway`, and one that is
/// the node's own; says who can reach a gateway gate.
async fn check_listen(node: &Node, g: &Opened) -> Result<(), String> {
    node.own
        .check(&g.listen, g.udp)
        .await
        .map_err(|e| e.to_string())?;
    if g.listen.starts_with(super::local::UNIX_PREFIX) {
        return Ok(());
    }
    let beyond = match tokio::net::lookup_host(&g.listen).await {
        Ok(mut addrs) => addrs.any(|a| !a.ip().is_loopback()),
        Err(e) => return Err(format!("cannot listen on {}: {e}", g.listen)),
    };
    match (beyond, g.gateway) {
        (false, _) => Ok(()),
        (true, false) => Err(format!(
            "{} is beyond loopback: other hosts could use {}'s {} through it; pass --gateway to mean it",
            g.listen, g.peer, g.name
        )),
        (true, true) => {
            warn!(
                "gate {} is open to other hosts: any host that can reach it uses {}'s {} as this node",
                g.listen, g.peer, g.name
            );
            Ok(())
        }
    }
}

/// Opens a gate: listens on `g.listen` and leads each connection to `g.name` on `g.peer`.
pub async fn open(node: Arc<Node>, g: Opened) -> Result<tokio::task::JoinHandle<()>, String> {
    check_listen(&node, &g).await?;
    if g.udp {
        return super::udp_gates::open(node, g).await;
    }
    let listener = LocalListener::bind(&g.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", g.listen))?;
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
                match super::conns::open_channel(&node, &entry, &service(&g.name), VERSION).await {
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
async fn splice(local: LocalStream, ch: Channel) -> Result<(), String> {
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
                    return Err(e.to_string());
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
                    .map_err(|e| e.to_string())?,
                Err(e) => {
                    recv.stop();
                    return Err(e.to_string());
                }
            }
        }
    };
    let result: Result<((), ()), String> = tokio::try_join!(to_peer, from_peer);
    if let Err(e) = result {
        tcp_r.unsplit(tcp_w).reset();
        return Err(e);
    }
    Ok(())
}
