//! The node's side of the control socket.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tracing::warn;

use super::Node;
use crate::control::{PeerStatus, Request, Response};

/// Longest request line accepted.
const MAX_LINE: usize = 64 * 1024;

/// Binds the control socket (mode 0600) and serves it in a task.
pub fn start(node: Arc<Node>, dir: &Path) -> std::io::Result<tokio::task::JoinHandle<()>> {
    let path = crate::home::control_socket(dir);
    // The node lock is held, so a socket file left here is stale.
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    Ok(tokio::spawn(async move {
        let mut backoff = crate::accept_backoff::AcceptBackoff::default();
        loop {
            let stream = match listener.accept().await {
                Ok((s, _)) => s,
                Err(e) => {
                    backoff.failed("control socket", &e).await;
                    continue;
                }
            };
            backoff.succeeded();
            let node = node.clone();
            tokio::spawn(async move {
                if let Err(e) = serve(node, stream).await {
                    warn!("control connection: {e}");
                }
            });
        }
    }))
}

async fn serve(node: Arc<Node>, stream: UnixStream) -> std::io::Result<()> {
    let (r, mut w) = stream.into_split();
    let mut reader = BufReader::new(r).take(MAX_LINE as u64);
    let mut line = String::new();
    loop {
        line.clear();
        reader.set_limit(MAX_LINE as u64);
        if reader.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Response>();
        match recon::from_str::<Request>(line.trim_end()) {
            Ok(req) => {
                let node = node.clone();
                tokio::spawn(async move { handle(node, req, tx).await });
            }
            Err(e) => {
                let _ = tx.send(Response::Error(format!("bad request: {e}")));
            }
        }
        while let Some(resp) = rx.recv().await {
            let mut out = recon::to_string(&resp).map_err(std::io::Error::other)?;
            out.push('\n');
            w.write_all(out.as_bytes()).await?;
            if resp.is_final() {
                break;
            }
        }
    }
}

pub(super) async fn handle(
    node: Arc<Node>,
    req: Request,
    tx: tokio::sync::mpsc::UnboundedSender<Response>,
) {
    let send = |r: Response| {
        let _ = tx.send(r);
    };
    match req {
        Request::Gates => send(Response::Gates {
            exposed: node.gates.all_exposed(),
            opened: node.gates.all_opened(),
            config_exposed: node.lock_config_exposed().values().cloned().collect(),
            config_opened: node.lock_config_opened().values().cloned().collect(),
        }),
        Request::GateExpose(g) => {
            if let Err(e) = node.own.check(&g.target, g.udp).await {
                return send(Response::Error(e.to_string()));
            }
            send(match node.gates.expose(&g) {
                Ok(()) => Response::Ok,
                Err(e) => Response::Error(e),
            })
        }
        Request::GateUnexpose { name } => send(match node.gates.unexpose(&name) {
            Ok(_) => Response::Ok,
            Err(e) => Response::Error(e),
        }),
        Request::GateOpen(g) => {
            if let Err(e) = node.book.resolve(&g.peer) {
                return send(Response::Error(e.to_string()));
            }
            if !crate::gate_book::valid_name(&g.name) {
                return send(Response::Error(format!("{:?} cannot name a gate", g.name)));
            }
            // Re-opening an address replaces the gate there.
            node.stop_gate(&g.listen).await;
            let task = match super::gates::open(node.clone(), g.clone()).await {
                Ok(task) => task,
                Err(e) => return send(Response::Error(e)),
            };
            node.lock_open_gates().insert(g.listen.clone(), task);
            // Ask the peer now, so a wrong name or a refusal shows here rather than as
            // resets later.
            let note = match super::gates::check_remote(&node, &g).await {
                super::gates::Checked::Serves => None,
                super::gates::Checked::Refused(why) => {
                    node.stop_gate(&g.listen).await;
                    return send(Response::Error(format!(
                        "{} on {}: {why}",
                        g.name, g.peer
                    )));
                }
                super::gates::Checked::Unknown(why) => Some(format!(
                    "gate open on {}, but {} cannot be asked about {} now ({why}); connections will try it as they come",
                    g.listen, g.peer, g.name
                )),
            };
            send(match (node.gates.record_open(&g), note) {
                (Err(e), _) => Response::Error(e),
                (Ok(()), Some(n)) => Response::Note(n),
                (Ok(()), None) => Response::Ok,
            })
        }
        Request::GateClose { listen } => {
            let stopped = node.stop_gate(&listen).await;
            match node.gates.forget_open(&listen) {
                Ok(None) if !stopped => {
                    send(Response::Error(format!("no gate is open on {listen}")))
                }
                Ok(_) => send(Response::Ok),
                Err(e) => send(Response::Error(e)),
            }
        }
        Request::Flows => {
            let flows: Vec<_> = node.lock_flows().values().cloned().collect();
            let mut list: Vec<_> = flows.iter().map(|f| f.status()).collect();
            list.sort_by(|a, b| a.flow.name.cmp(&b.flow.name));
            send(Response::Flows(list))
        }
        Request::FlowAdd(f) => send(flow_change(&node, f.name.clone(), |_| Ok(f)).await),
        Request::FlowRemove { name } => {
            if node.flow_book.get(&name).is_none() {
                return send(Response::Error(not_ours(&node, &name)));
            }
            super::flows::stop(&node, &name).await;
            send(match node.flow_book.remove(&name) {
                Ok(_) => Response::Ok,
                Err(e) => Response::Error(e),
            })
        }
        Request::FlowMemberAdd { name, peer, role } => {
            let r = flow_change(&node, name.clone(), |old| {
                let mut f = old.ok_or_else(|| not_ours(&node, &name))?;
                f.set_member(&peer, role.unwrap_or(f.mode.default_role()));
                Ok(f)
            });
            send(r.await)
        }
        Request::FlowMemberRemove { name, peer } => {
            let r = flow_change(&node, name.clone(), |old| {
                let mut f = old.ok_or_else(|| not_ours(&node, &name))?;
                if !f.remove_member(&peer) {
                    return Err(format!("{peer} is not a member of flow {name}"));
                }
                Ok(f)
            });
            send(r.await)
        }
        Request::Share { peer, paths, wait } => {
            let drive = node.drive().clone();
            let events = drive.subscribe();
            let paths = paths.into_iter().map(std::path::PathBuf::from).collect();
            match drive.share(&peer, paths).await {
                Ok(o) => follow(events, o, wait, &tx).await,
                Err(e) => send(Response::Error(e)),
            }
        }
        Request::Offers => send(Response::OfferList(node.drive().list())),
        Request::OffersListen => {
            let mut events = node.drive().subscribe();
            loop {
                match events.recv().await {
                    Ok(o) => {
                        if tx.send(Response::OfferUpdate(o)).is_err() {
                            return;
                        }
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(_) => return,
                }
            }
        }
        Request::OfferAccept { id, to, wait } => {
            let drive = node.drive().clone();
            let events = drive.subscribe();
            match drive.accept(&id, to.map(std::path::PathBuf::from)) {
                Ok(o) => follow(events, o, wait, &tx).await,
                Err(e) => send(Response::Error(e)),
            }
        }
        Request::OfferReject { id } => send(match node.drive().reject(&id).await {
            Ok(o) => Response::OfferDone(o),
            Err(e) => Response::Error(e),
        }),
        Request::OfferCancel { id } => send(match node.drive().cancel(&id).await {
            Ok(o) => Response::OfferDone(o),
            Err(e) => Response::Error(e),
        }),
        Request::Peers => {
            // Keys not in the book that are connected (unknown = ask) are listed too, with
            // an empty alias.
            let strangers = node.conns.ids().into_iter().filter(|id| !node.knows(id));
            let strangers: Vec<_> = strangers
                .map(|id| crate::store::PeerEntry {
                    alias: String::new(),
                    id: id.to_string(),
                    addrs: Vec::new(),
                    policy: crate::store::Policy::Ask,
                })
                .collect();
            let list = node
                .book
                .list()
                .into_iter()
                .chain(strangers)
                .map(|entry| {
                    let conn = entry.peer_id().and_then(|id| node.conns.get(&id));
                    PeerStatus {
                        connected: conn.is_some(),
                        rtt_us: conn.as_ref().map(|c| c.rtt().as_micros() as u64),
                        remote: conn.as_ref().and_then(first_path),
                        entry,
                    }
                })
                .collect();
            send(Response::Peers(list));
        }
        Request::PeerAdd { alias, id, addrs } => {
            let r = id
                .parse()
                .map_err(|e: crate::identity::BadPeerId| e.to_string())
                .and_then(|id| node.book.add(&alias, id, addrs).map_err(|e| e.to_string()));
            send(r.map_or_else(Response::Error, Response::Peer));
        }
        Request::PeerRemove { peer } => {
            let r = node.book.remove(&peer);
            if let Ok(e) = &r {
                if let Some(c) = e.peer_id().and_then(|id| node.conns.get(&id)) {
                    c.close(crate::transport::Close::Removed);
                }
            }
            send(r.map_or_else(|e| Response::Error(e.to_string()), Response::Peer));
        }
        Request::PeerRename { peer, alias } => {
            let old = match node.book.resolve(&peer) {
                Ok(e) => e.alias,
                Err(e) => return send(Response::Error(e.to_string())),
            };
            match node.book.rename(&peer, &alias) {
                Ok(e) => {
                    super::renames::follow(&node, &old, &alias).await;
                    send(Response::Peer(e))
                }
                Err(e) => send(Response::Error(e.to_string())),
            }
        }
        Request::PeerPolicy { peer, policy } => {
            let r = node.book.set_policy(&peer, policy);
            if let (Ok(e), crate::store::Policy::Block) = (&r, policy) {
                if let Some(c) = e.peer_id().and_then(|id| node.conns.get(&id)) {
                    c.close(crate::transport::Close::Blocked);
                }
            }
            send(r.map_or_else(|e| Response::Error(e.to_string()), Response::Peer));
        }
        Request::Speed {
            peer,
            bytes,
            seed,
            verify,
        } => {
            let (service, version) = (super::sink::SERVICE, super::sink::VERSION);
            let (entry, ch) = match channel_to(&node, &peer, service, version).await {
                Ok(opened) => opened,
                Err(e) => return send(Response::Error(e)),
            };
            match super::sink::run(ch, bytes, seed, verify).await {
                Ok(s) => send(Response::SpeedDone {
                    bytes: s.bytes,
                    micros: s.elapsed.as_micros() as u64,
                    verified: s.verified,
                }),
                Err(e) => send(Response::Error(format!("{}: {e}", entry.alias))),
            }
        }
        Request::Ping {
            peer,
            count,
            interval_ms,
            size,
        } => {
            if size as usize > protocols::ping::MAX_PAYLOAD {
                send(Response::Error(format!(
                    "size {size} is over the {}-byte limit",
                    protocols::ping::MAX_PAYLOAD
                )));
                return;
            }
            let (service, version) = (super::ping::SERVICE, super::ping::VERSION);
            let (entry, ch) = match channel_to(&node, &peer, service, version).await {
                Ok(opened) => opened,
                Err(e) => return send(Response::Error(e)),
            };
            let remote = entry
                .peer_id()
                .and_then(|id| node.conns.get(&id))
                .and_then(|c| first_path(&c))
                .unwrap_or_default();
            send(Response::PingStart {
                id: entry.id.clone(),
                remote,
            });
            let interval = Duration::from_millis(interval_ms);
            let timeout = Duration::from_secs(2).max(interval);
            match super::ping::run(ch, count, interval, size, timeout, send).await {
                Ok(()) => send(Response::PingDone),
                Err(e) => send(Response::Error(format!("{}: {e}", entry.alias))),
            }
        }
    }
}

/// The address of a peer's first path, as listings show it.
fn first_path(peer: &crate::transport::Peer) -> Option<String> {
    peer.paths().first().map(|p| p.remote.to_string())
}

/// Resolves the peer a request names and opens a channel to `service` on it; errors are
/// the line to send back.
async fn channel_to(
    node: &Arc<Node>,
    peer: &str,
    service: &str,
    version: u16,
) -> Result<(crate::store::PeerEntry, crate::transport::Channel), String> {
    let entry = resolve(node, peer).map_err(|e| e.to_string())?;
    match super::conns::open_channel(node, &entry, service, version).await {
        Ok(ch) => Ok((entry, ch)),
        Err(e) => Err(format!("{}: {e}", entry.alias)),
    }
}

/// The book entry a request names, by alias or id; a peer id that is not in the book but
/// is connected (it dialed us) gets a nameless entry, so it can still be reached.
pub(super) fn resolve(
    node: &Node,
    name: &str,
) -> Result<crate::store::PeerEntry, crate::store::BookError> {
    match node.book.resolve(name) {
        Err(crate::store::BookError::Unknown(n, near)) => {
            match name.parse::<crate::identity::PeerId>() {
                Ok(id) if node.conns.get(&id).is_some() => Ok(crate::store::PeerEntry {
                    alias: name.to_string(),
                    id: id.to_string(),
                    addrs: Vec::new(),
                    policy: crate::store::Policy::Ask,
                }),
                _ => Err(crate::store::BookError::Unknown(n, near)),
            }
        }
        other => other,
    }
}

/// Changes the command-line flow `name` (`None` when there is none yet) with `change`,
/// applies the result to the running node and keeps it.
async fn flow_change(
    node: &Arc<Node>,
    name: String,
    change: impl FnOnce(Option<crate::flow_book::Flow>) -> Result<crate::flow_book::Flow, String>,
) -> Response {
    let new = match change(node.flow_book.get(&name)) {
        Ok(f) => f,
        Err(e) => return Response::Error(e),
    };
    if let Err(e) = new.check() {
        return Response::Error(e);
    }
    for (member, _) in new.roles() {
        if member != crate::flow_book::SELF {
            if let Err(e) = resolve(node, member) {
                return Response::Error(format!("flow {name}: {e}"));
            }
        }
    }
    if node.flow_book.get(&name).is_none() {
        if let Some(r) = node.lock_flows().get(&name) {
            if r.from_config {
                return Response::Error(format!(
                    "flow {name} comes from the configuration file: change it there"
                ));
            }
        }
    }
    if let Err(e) = super::flows::apply(node, new.clone(), false).await {
        return Response::Error(e);
    }
    match node.flow_book.put(&new) {
        Ok(()) => Response::Ok,
        Err(e) => Response::Error(e),
    }
}

/// Why the flow `name` cannot be changed from the command line.
fn not_ours(node: &Node, name: &str) -> String {
    match node.lock_flows().get(name) {
        Some(r) if r.from_config => {
            format!("flow {name} comes from the configuration file: change it there")
        }
        _ => format!("no flow {name:?}: add it with `warp flow add`"),
    }
}

/// Sends `first`, then, when `wait`, every change to that offer until it ends (or the
/// client goes away); the last line is final.
async fn follow(
    mut events: tokio::sync::broadcast::Receiver<warpdrive::Offer>,
    first: warpdrive::Offer,
    wait: bool,
    tx: &tokio::sync::mpsc::UnboundedSender<Response>,
) {
    if !wait || first.status.is_final() {
        let _ = tx.send(Response::OfferDone(first));
        return;
    }
    let id = first.id.clone();
    if tx.send(Response::OfferUpdate(first)).is_err() {
        return;
    }
    loop {
        match events.recv().await {
            Ok(o) if o.id == id => {
                if o.status.is_final() {
                    let _ = tx.send(Response::OfferDone(o));
                    return;
                }
                if tx.send(Response::OfferUpdate(o)).is_err() {
                    return;
                }
            }
            Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
            Err(_) => return,
        }
    }
}
