//! Running flows (definitions in `crate::flow_book`).
//!
//! Each flow binds its local UDP port (127.1.0.1 unless told otherwise). A datagram an
//! application sends there goes, if this node sends, into a bounded queue per receiving
//! member; each queue is drained onto that member's own `flow/<name>` channel (datagrams
//! framed by `protocols::datagram`), keeping about two round trips in flight by the
//! member's acknowledgements (`protocols::flow`). A full queue drops the datagram and
//! counts it: that count, the queue depth and the rate are the congestion report. Datagrams arriving from
//! a sending member are delivered from the flow's port to its `deliver` address and to
//! every local application that sent into the flow in the last minute.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use protocols::backoff::Backoff;
use protocols::channel::ChannelReply;
use protocols::flow::{Acks, Credit};
use tokio::io::AsyncReadExt;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use super::dgram_frames::{send_frame, Frames};
use super::service_error::ServiceError;
use super::Node;
use crate::bond_mode::Mode;
use crate::control::{FlowStatus, MemberStatus};
use crate::flow_book::{Flow, Origin, Role, SELF};
use crate::flow_error::ApplyError;
use crate::identity::PeerId;
use crate::transport::Channel;

/// Version of the flow channel protocol.
pub const VERSION: u16 = 1;
/// Datagrams queued per receiving member before new ones are dropped.
pub const QUEUE: usize = 256;
/// Datagrams from peers waiting to be delivered locally before new ones are dropped.
const DELIVER_QUEUE: usize = 1024;
/// A local application that has not sent into the flow for this long gets nothing more.
const SOURCE_IDLE: Duration = Duration::from_secs(60);
/// Most local applications remembered per flow.
const MAX_SOURCES: usize = 64;
/// Waits between attempts to reach a member that could not be reached.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(500), Duration::from_secs(4));

/// The channel service name of the flow `name`.
pub fn service(name: &str) -> String {
    format!("flow/{name}")
}

/// Counters of one remote member.
#[derive(Default)]
struct MemberStats {
    sent: AtomicU64,
    sent_bytes: AtomicU64,
    dropped: AtomicU64,
    received: AtomicU64,
    received_bytes: AtomicU64,
    /// Bytes per second over the last whole second, each way.
    rate_out: AtomicU64,
    rate_in: AtomicU64,
    /// Datagrams dropped during the last whole second.
    recent_drops: AtomicU64,
    state: Mutex<String>,
}

impl MemberStats {
    fn set_state(&self, s: impl Into<String>) {
        *self.state.lock().unwrap_or_else(|p| p.into_inner()) = s.into();
    }

    fn drop_n(&self, n: u64) {
        self.dropped.fetch_add(n, Relaxed);
    }
}

/// The queue of datagrams for one member.
type Queue = mpsc::Sender<Arc<[u8]>>;

/// A remote member: its counters and, if this node sends to it, its queue.
struct Member {
    role: Role,
    /// How its channel uses the peer's paths.
    paths: Mode,
    stats: Arc<MemberStats>,
    out: Option<(Queue, JoinHandle<()>)>,
}

impl Drop for Member {
    fn drop(&mut self) {
        if let Some((_, task)) = &self.out {
            task.abort();
        }
    }
}

/// Counters of the local side.
#[derive(Default)]
struct LocalStats {
    from_apps: AtomicU64,
    not_sent: AtomicU64,
    delivered: AtomicU64,
    undeliverable: AtomicU64,
}

/// A flow this node is running.
pub struct RunningFlow {
    def: Mutex<Flow>,
    /// Where its definition comes from.
    pub origin: Origin,
    /// Members' names on the map that defines the flow (by member), for people to read.
    names: Mutex<HashMap<String, String>>,
    /// Bumped on every change of the definition, so open channels check again.
    generation: AtomicU64,
    members: Mutex<HashMap<String, Member>>,
    local: LocalStats,
    deliver_tx: mpsc::Sender<Vec<u8>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    stopped: AtomicBool,
}

impl RunningFlow {
    /// The definition it runs.
    pub fn def(&self) -> Flow {
        self.def.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn lock_members(&self) -> std::sync::MutexGuard<'_, HashMap<String, Member>> {
        self.members.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts, stops and re-roles member queues to match the definition.
    fn reconcile(self: &Arc<Self>, node: &Arc<Node>) {
        let def = self.def();
        let we_send = def.own_role().is_some_and(|r| r != Role::Recv);
        let mut members = self.lock_members();
        let wanted: HashMap<&str, Role> = def.roles().filter(|(m, _)| *m != SELF).collect();
        members
            .retain(|name, m| wanted.get(name.as_str()) == Some(&m.role) && m.paths == def.paths);
        for (name, role) in wanted {
            if members.contains_key(name) {
                continue;
            }
            let stats = Arc::new(MemberStats::default());
            let out = (we_send && role != Role::Send).then(|| {
                let (tx, rx) = mpsc::channel(QUEUE);
                let task = tokio::spawn(send_loop(
                    node.clone(),
                    def.name.clone(),
                    (name.to_string(), def.paths),
                    stats.clone(),
                    rx,
                ));
                (tx, task)
            });
            stats.set_state(if out.is_some() { "idle" } else { "" });
            members.insert(
                name.to_string(),
                Member {
                    role,
                    paths: def.paths,
                    stats,
                    out,
                },
            );
        }
        self.generation.fetch_add(1, Relaxed);
    }

    /// The member name under which `peer` sends into this flow, if it may.
    fn sender_named(&self, node: &Node, peer: PeerId) -> Option<(String, Arc<MemberStats>)> {
        let members = self.lock_members();
        members
            .iter()
            .filter(|(_, m)| m.role != Role::Recv)
            .find(|(name, _)| super::gate_access::allowed(node, std::slice::from_ref(name), peer))
            .map(|(name, m)| (name.clone(), m.stats.clone()))
    }

    /// The flow's status and counters.
    pub fn status(&self) -> FlowStatus {
        let def = self.def();
        let members = self.lock_members();
        let mut list: Vec<MemberStatus> = def
            .roles()
            .filter(|(m, _)| *m != SELF)
            .filter_map(|(name, role)| {
                let m = members.get(name)?;
                let s = &m.stats;
                let queued = m.out.as_ref().map_or(0, |(tx, _)| QUEUE - tx.capacity());
                let recent = s.recent_drops.load(Relaxed);
                let names = self.names.lock().unwrap_or_else(|p| p.into_inner());
                Some(MemberStatus {
                    peer: name.to_string(),
                    name: names.get(name).cloned(),
                    role,
                    sent: s.sent.load(Relaxed),
                    sent_bytes: s.sent_bytes.load(Relaxed),
                    dropped: s.dropped.load(Relaxed),
                    queued: queued as u32,
                    rate_out: s.rate_out.load(Relaxed),
                    received: s.received.load(Relaxed),
                    received_bytes: s.received_bytes.load(Relaxed),
                    rate_in: s.rate_in.load(Relaxed),
                    congested: recent > 0 || queued * 4 >= QUEUE * 3,
                    state: s.state.lock().unwrap_or_else(|p| p.into_inner()).clone(),
                })
            })
            .collect();
        list.sort_by(|a, b| a.peer.cmp(&b.peer));
        FlowStatus {
            congested: list.iter().any(|m| m.congested),
            flow: def,
            from_config: self.origin == Origin::File,
            origin: self.origin.clone(),
            from_apps: self.local.from_apps.load(Relaxed),
            not_sent: self.local.not_sent.load(Relaxed),
            delivered: self.local.delivered.load(Relaxed),
            undeliverable: self.local.undeliverable.load(Relaxed),
            members: list,
        }
    }

    /// Stops every task; returns once the local port is closed.
    async fn stop(&self) {
        self.stopped.store(true, Relaxed);
        self.lock_members().clear();
        let tasks: Vec<_> =
            std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|p| p.into_inner()));
        for t in &tasks {
            t.abort();
        }
        for t in tasks {
            let _ = t.await;
        }
    }
}

/// Starts `def` (from `origin`, its members named `names` there), or changes the
/// running flow of that name to it. Where a flow of the same name runs from another
/// origin: a flow from the command line is not replaced by the file's (the command line's
/// are started first), one from the file is changed in the file only, the node's own
/// replace a map's and a map's never replace the node's own or another map's. This is the
/// one place that decides.
pub async fn apply(
    node: &Arc<Node>,
    def: Flow,
    (origin, names): (Origin, HashMap<String, String>),
) -> Result<(), ApplyError> {
    def.check()?;
    let running = node.flows.running().get(&def.name).cloned();
    if let Some(r) = running {
        let name = def.name.clone();
        match (&origin, &r.origin) {
            (Origin::File, Origin::Command) => return Err(ApplyError::SetFromCommandLine(name)),
            (Origin::Command, Origin::File) => return Err(ApplyError::SetInFile(name)),
            (Origin::Map(_), Origin::Command | Origin::File) => {
                return Err(ApplyError::DefinedHere(name))
            }
            (Origin::Map(a), Origin::Map(b)) if a != b => {
                return Err(ApplyError::FromOtherMap(name, b.clone()))
            }
            _ => {}
        }
        if r.origin == origin && r.def().local_addr() == def.local_addr() {
            *r.def.lock().unwrap_or_else(|p| p.into_inner()) = def;
            *r.names.lock().unwrap_or_else(|p| p.into_inner()) = names;
            r.reconcile(node);
            return Ok(());
        }
        stop(node, &name).await;
    }
    let flow = start(node, def, (origin, names)).await?;
    node.flows.running().insert(flow.def().name, flow);
    Ok(())
}

/// Stops the flow `name`; `false` if none ran.
pub async fn stop(node: &Arc<Node>, name: &str) -> bool {
    let flow = node.flows.running().remove(name);
    match flow {
        Some(f) => {
            f.stop().await;
            info!("flow {name}: stopped");
            true
        }
        None => false,
    }
}

async fn start(
    node: &Arc<Node>,
    def: Flow,
    (origin, names): (Origin, HashMap<String, String>),
) -> Result<Arc<RunningFlow>, ApplyError> {
    let addr = def.local_addr();
    let sock = UdpSocket::bind(addr)
        .await
        .map_err(|source| ApplyError::Bind {
            name: def.name.clone(),
            addr,
            source,
        })?;
    let (deliver_tx, deliver_rx) = mpsc::channel(DELIVER_QUEUE);
    info!(
        "flow {} ({}): applications send into {addr}",
        def.name, def.mode
    );
    let flow = Arc::new(RunningFlow {
        def: Mutex::new(def),
        origin,
        names: Mutex::new(names),
        generation: AtomicU64::new(0),
        members: Mutex::new(HashMap::new()),
        local: LocalStats::default(),
        deliver_tx,
        tasks: Mutex::new(Vec::new()),
        stopped: AtomicBool::new(false),
    });
    flow.reconcile(node);
    let tasks = vec![
        tokio::spawn(local_loop(flow.clone(), sock, deliver_rx)),
        tokio::spawn(meter(flow.clone())),
    ];
    *flow.tasks.lock().unwrap_or_else(|p| p.into_inner()) = tasks;
    Ok(flow)
}

/// The flow's port: datagrams from local applications out to the members, datagrams
/// from members to the local applications.
async fn local_loop(
    flow: Arc<RunningFlow>,
    sock: UdpSocket,
    mut deliver_rx: mpsc::Receiver<Vec<u8>>,
) {
    let mut sources: HashMap<SocketAddr, Instant> = HashMap::new();
    let mut buf = vec![0u8; 65_536];
    loop {
        tokio::select! {
            r = sock.recv_from(&mut buf) => {
                let (n, src) = match r {
                    Ok(r) => r,
                    Err(e) => {
                        warn!("flow {}: {e}", flow.def().name);
                        tokio::time::sleep(Duration::from_millis(10)).await;
                        continue;
                    }
                };
                remember(&mut sources, src);
                flow.local.from_apps.fetch_add(1, Relaxed);
                let d: Arc<[u8]> = buf[..n].into();
                let members = flow.lock_members();
                let mut sent = false;
                for m in members.values() {
                    if let Some((tx, _)) = &m.out {
                        sent = true;
                        if tx.try_send(d.clone()).is_err() {
                            m.stats.drop_n(1);
                        }
                    }
                }
                if !sent {
                    flow.local.not_sent.fetch_add(1, Relaxed);
                }
            }
            d = deliver_rx.recv() => {
                let Some(d) = d else { return };
                let now = Instant::now();
                sources.retain(|_, t| now.duration_since(*t) < SOURCE_IDLE);
                let deliver = flow.def().deliver;
                let mut targets: Vec<SocketAddr> = deliver.into_iter().collect();
                targets.extend(sources.keys().filter(|s| Some(**s) != deliver));
                if targets.is_empty() {
                    flow.local.undeliverable.fetch_add(1, Relaxed);
                    continue;
                }
                for t in targets {
                    let _ = sock.send_to(&d, t).await;
                }
                flow.local.delivered.fetch_add(1, Relaxed);
            }
        }
    }
}

/// Notes a local application's address, forgetting the quietest one when full.
fn remember(sources: &mut HashMap<SocketAddr, Instant>, src: SocketAddr) {
    if sources.len() >= MAX_SOURCES && !sources.contains_key(&src) {
        if let Some(oldest) = sources.iter().min_by_key(|(_, t)| **t).map(|(a, _)| *a) {
            sources.remove(&oldest);
        }
    }
    sources.insert(src, Instant::now());
}

/// Once a second: rates and recent drops of every member.
async fn meter(flow: Arc<RunningFlow>) {
    let mut last: HashMap<String, (u64, u64, u64)> = HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tick.tick().await;
        let members = flow.lock_members();
        last.retain(|name, _| members.contains_key(name));
        for (name, m) in members.iter() {
            let s = &m.stats;
            let now = (
                s.sent_bytes.load(Relaxed),
                s.received_bytes.load(Relaxed),
                s.dropped.load(Relaxed),
            );
            let before = last.insert(name.clone(), now).unwrap_or(now);
            s.rate_out.store(now.0 - before.0, Relaxed);
            s.rate_in.store(now.1 - before.1, Relaxed);
            s.recent_drops.store(now.2 - before.2, Relaxed);
        }
    }
}

/// Carries one member's queue over its channel, reopening it when it fails. Datagrams
/// that wait while the member cannot be reached are dropped (and counted): stale
/// datagrams are of no use to a live flow.
async fn send_loop(
    node: Arc<Node>,
    flow: String,
    (member, paths): (String, Mode),
    stats: Arc<MemberStats>,
    mut rx: mpsc::Receiver<Arc<[u8]>>,
) {
    let mut backoff = Backoff::new(BACKOFF.0, BACKOFF.1);
    while let Some(first) = rx.recv().await {
        let ch = match open(&node, &flow, &member, paths).await {
            Ok(ch) => ch,
            Err(e) => {
                warn!("flow {flow}: {member}: {e}");
                stats.set_state(e.to_string());
                tokio::time::sleep(backoff.attempt(Instant::now())).await;
                let mut stale = 1;
                while rx.try_recv().is_ok() {
                    stale += 1;
                }
                stats.drop_n(stale);
                continue;
            }
        };
        backoff.reset();
        stats.set_state("connected");
        match carry(&node, ch, first, &stats, &mut rx).await {
            Ok(()) => return,
            Err(e) => stats.set_state(format!("lost: {e}")),
        }
    }
}

/// Sends the queue over one channel within the window its acknowledgements allow, until
/// the queue closes (`Ok`) or the channel fails.
async fn carry(
    node: &Arc<Node>,
    (ch, peer): (Channel, Option<PeerId>),
    first: Arc<[u8]>,
    stats: &MemberStats,
    rx: &mut mpsc::Receiver<Arc<[u8]>>,
) -> Result<(), ServiceError> {
    let (mut send, mut recv) = ch.split();
    let mut credit = Credit::default();
    let mut pending = Some(first);
    credit.tick(Instant::now(), || Duration::ZERO);
    let mut acks = [0u8; 256];
    loop {
        if credit.open() {
            if let Some(d) = pending.take() {
                if let Err(e) = send_frame(&mut send, &d).await {
                    stats.drop_n(1);
                    return Err(e);
                }
                credit.sent(d.len() as u64 + 2);
                stats.sent.fetch_add(1, Relaxed);
                stats.sent_bytes.fetch_add(d.len() as u64, Relaxed);
            }
        }
        tokio::select! {
            r = recv.read(&mut acks) => match r {
                Ok(0) => return Err(ServiceError::Ended("the member closed the flow")),
                Ok(n) => {
                    credit.feed(&acks[..n])?;
                    credit.tick(Instant::now(), || {
                        peer.and_then(|p| node.conns.get(&p))
                            .map_or(Duration::ZERO, |c| c.rtt())
                    });
                }
                Err(e) => return Err(ServiceError::Tunnel(e)),
            },
            d = rx.recv(), if pending.is_none() && credit.open() => match d {
                Some(d) => pending = Some(d),
                None => {
                    send.finish();
                    return Ok(());
                }
            },
        }
    }
}

async fn open(
    node: &Arc<Node>,
    flow: &str,
    member: &str,
    paths: Mode,
) -> Result<(Channel, Option<PeerId>), ServiceError> {
    let entry = node.resolve(member)?;
    let ch = super::conns::open_channel(node, &entry, (&service(flow), VERSION), paths).await?;
    Ok((ch, entry.peer_id()))
}

/// Serves a `flow/<name>` channel from `peer`: delivers its datagrams locally if the peer
/// sends in that flow and this node receives; refuses the channel otherwise.
pub async fn serve(
    node: Arc<Node>,
    peer: PeerId,
    mut ch: Channel,
    name: &str,
) -> Result<(), ServiceError> {
    let Some(flow) = node.flows.running().get(name).cloned() else {
        let msg = format!("no flow {name:?} on this node");
        return Ok(ch.decline(ChannelReply::UnknownService(msg)).await?);
    };
    let permitted = |flow: &RunningFlow| -> Result<Arc<MemberStats>, String> {
        if flow.def().own_role() == Some(Role::Send) {
            return Err(format!("flow {name}: this node only sends"));
        }
        flow.sender_named(&node, peer)
            .map(|(_, s)| s)
            .ok_or_else(|| format!("flow {name}: peer {peer} does not send to this node"))
    };
    let mut stats = match permitted(&flow) {
        Ok(s) => s,
        Err(msg) => return super::gate_access::refuse(ch, msg).await,
    };
    ch.write(&ChannelReply::Accepted.encode()).await?;
    stats.set_state("receiving");
    let (mut send, recv) = ch.split();
    let mut frames = Frames::new(recv);
    let mut generation = flow.generation.load(Relaxed);
    let mut acks = Acks::default();
    loop {
        let next = match acks.deadline() {
            Some(due) => tokio::select! {
                d = frames.next() => d?,
                _ = tokio::time::sleep_until(due.into()) => {
                    if let Some(ack) = acks.poll(Instant::now()) {
                        send.write_all(&ack).await?;
                    }
                    continue;
                }
            },
            None => frames.next().await?,
        };
        let Some(d) = next else { break };
        if let Some(ack) = acks.took(d.len() as u64 + 2, Instant::now()) {
            send.write_all(&ack).await?;
        }
        if flow.stopped.load(Relaxed) {
            break;
        }
        let now = flow.generation.load(Relaxed);
        if now != generation {
            generation = now;
            stats = match permitted(&flow) {
                Ok(s) => s,
                Err(msg) => {
                    warn!("{msg}: closing its channel");
                    break;
                }
            };
        }
        stats.received.fetch_add(1, Relaxed);
        stats.received_bytes.fetch_add(d.len() as u64, Relaxed);
        if flow.deliver_tx.try_send(d).is_err() {
            flow.local.undeliverable.fetch_add(1, Relaxed);
        }
    }
    Ok(())
}
