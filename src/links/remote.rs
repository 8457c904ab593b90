//! Links to lanes on other nodes: a client of this hub links `/peer/<alias or id>/<node>`
//! and gets lane `<node>` of that peer as if it were here. All of this hub's links to
//! one peer go over one `links` channel ([`Dial`] opens it; the node names the tunnel,
//! this module does not). Each remote lane is linked once per peer, whatever the number
//! of clients: a **mirror** lane here takes its events and hands them to every client
//! link, conflated or queued by the lane's kind as a local lane's are — so each event
//! crosses the tunnel once, and a slow client slows no one but itself.
//!
//! The peer decides what this node may do (`links read|write` there) and says so first
//! on the channel; a command through a `read` access is refused here with a reason.
//! When the peer goes away, every link to it is unlinked with the reason and kept:
//! when the channel is back (tried again after 1 s, doubling to 10 s, while links wait),
//! each is linked again.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use protocols::backoff::Backoff;
use protocols::warp::{Envelope, Headers, Tag};
use recon::{Text, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use super::lane::{Kind, Lane};
use super::outbox::{LinkId, Sink};
use super::store::Usage;

/// Where remote links start in a node URI.
pub const PREFIX: &str = "/peer/";
/// Most peers linked to at once.
pub const MAX_PEERS: usize = 1024;
/// Most remote lanes linked at once (over all peers).
pub const MAX_MIRRORS: usize = 10_000;
/// Frames waiting to go to one peer before the channel is given up (and opened again).
const OUT_QUEUE: usize = 4096;
/// How often an open channel looks whether any client still links to the peer.
const IDLE_LOOK: Duration = Duration::from_secs(5);

/// A byte stream to a peer's hub.
pub type Stream = (
    Box<dyn AsyncRead + Send + Unpin>,
    Box<dyn AsyncWrite + Send + Unpin>,
);

/// Why a `links` channel was not opened.
#[derive(Debug, Clone)]
pub enum DialError {
    /// The peer refused (it does not let this node link): not tried again until a client
    /// links anew.
    Refused(String),
    /// The peer could not be reached: tried again while links wait.
    Unreachable(String),
}

/// Opens `links` channels: the node gives the hub this.
pub trait Dial: Send + Sync + 'static {
    /// A `links` channel to `peer` (an alias or id).
    fn dial(&self, peer: &str) -> Pin<Box<dyn Future<Output = Result<Stream, DialError>> + Send>>;
}

/// Why a channel to a peer's hub ended.
#[derive(Debug, thiserror::Error)]
pub enum Lost {
    /// Reading or writing failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The peer sent what is not an envelope on a stream.
    #[error(transparent)]
    Stream(#[from] protocols::warp::stream::StreamError),
    /// The channel ended in the middle of a frame.
    #[error("the channel ended in the middle of a frame")]
    Truncated,
    /// The peer closed the channel before saying what this node may do.
    #[error("it closed the channel at once")]
    ClosedAtOnce,
    /// Its first frame was not `@authed "read"` or `@authed "write"`.
    #[error("it did not say what this node may do")]
    NoAccess,
    /// More lanes than the queue to the peer holds, at once.
    #[error("too many lanes to link at once")]
    TooManyLanes,
    /// The queue to the peer filled: the channel was given up.
    #[error("the channel to it was given up")]
    GivenUp,
}

/// What the peer lets this node do, as it said on the channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Link and sync.
    Read,
    /// Also command.
    Write,
}

/// `/peer/bob/unit/7` split into the peer and its node, `("bob", "/unit/7")`.
pub fn split(node: &str) -> Option<(&str, &str)> {
    let rest = node.strip_prefix(PREFIX)?;
    let (peer, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => return None,
    };
    (!peer.is_empty() && path.len() > 1).then_some((peer, path))
}

/// One client link to a remote lane.
struct Client {
    sink: Weak<Sink>,
    link: LinkId,
    /// It asked for the state (`@sync`) and has not had `@synced` since.
    sync: bool,
}

/// One remote lane, linked once for every client here.
struct Mirror {
    /// The lane as clients here name it (`/peer/bob/unit/7`).
    local: Headers,
    /// Made when the peer says `@linked` (with the lane's kind).
    lane: Option<Arc<Lane>>,
    /// The peer has sent the lane's state (`@synced`) since it said `@linked`.
    synced: bool,
    /// Its clients were told the peer is unreachable, and it has not been linked since.
    told: bool,
    clients: Vec<Client>,
}

/// The state of one peer's channel.
#[derive(Default)]
struct PeerState {
    mirrors: HashMap<(Text, Text), Mirror>,
    /// Frames to the peer while the channel is up.
    out: Option<mpsc::Sender<String>>,
    access: Option<Access>,
    /// Whether its task runs.
    running: bool,
}

/// One peer linked to.
struct RemotePeer {
    name: String,
    state: Mutex<PeerState>,
}

/// Every remote link of the hub.
pub struct Remotes {
    dial: OnceLock<Arc<dyn Dial>>,
    peers: Mutex<HashMap<String, Arc<RemotePeer>>>,
    /// The hub's count of lane state in memory, which mirrors add to.
    memory: Usage,
}

/// An `@unlinked` for the lane `h` with a body `@why("text")`.
fn unlinked(h: &Headers, why: &str, text: &str) -> super::outbox::Frame {
    let body = Value::Record(recon::Record::new().with_attr(why, Value::text(text)));
    Envelope::encode(Tag::Unlinked, Some(h), &body).into()
}

fn headers(node: &str, lane: &str) -> Headers {
    Headers {
        node: node.into(),
        lane: lane.into(),
        prio: None,
        rate: None,
    }
}

impl Mirror {
    /// Tells every client `f` (an `@unlinked`), ahead of anything it still had to get
    /// from this lane, and unsubscribes it.
    fn unlink_clients(&self, f: super::outbox::Frame) {
        for c in &self.clients {
            if let Some(sink) = c.sink.upgrade() {
                if let Some(lane) = &self.lane {
                    lane.unsubscribe(&sink, c.link);
                }
                let f = f.clone();
                sink.push(|o| {
                    o.forget(c.link);
                    o.control(f);
                });
            }
        }
    }
}

impl PeerState {
    /// Sends `f` to the peer if the channel is up; a full queue gives the channel up (it
    /// is opened again and every lane linked anew).
    fn send(&mut self, f: String) {
        if let Some(out) = &self.out {
            if out.try_send(f).is_err() {
                self.out = None;
            }
        }
    }

    /// Tells every client of every lane `frame(local headers)` (once per loss when
    /// `keep`) and forgets the lanes; with `keep` the clients stay, to be linked again.
    fn unlink_all(&mut self, frame: impl Fn(&Headers) -> super::outbox::Frame, keep: bool) {
        for m in self.mirrors.values_mut() {
            if keep && m.told {
                continue;
            }
            m.told = true;
            m.unlink_clients(frame(&m.local));
            m.lane = None;
        }
        if !keep {
            self.mirrors.clear();
        }
        for m in self.mirrors.values_mut() {
            m.clients.retain(|c| c.sink.strong_count() > 0);
        }
        self.mirrors.retain(|_, m| !m.clients.is_empty());
    }
}

impl Remotes {
    /// No remote links yet; mirrors count their state in `memory` (the hub's).
    pub fn new(memory: Usage) -> Remotes {
        Remotes {
            dial: OnceLock::new(),
            peers: Mutex::default(),
            memory,
        }
    }

    /// Sets how channels are opened (once; before, remote links find no node).
    pub fn set_dial(&self, dial: Arc<dyn Dial>) {
        let _ = self.dial.set(dial);
    }

    /// Whether remote links can be made.
    pub fn enabled(&self) -> bool {
        self.dial.get().is_some()
    }

    fn peer(&self, name: &str) -> Option<Arc<RemotePeer>> {
        let mut peers = self.peers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(p) = peers.get(name) {
            return Some(p.clone());
        }
        if peers.len() >= MAX_PEERS {
            peers.retain(|_, p| p.state.lock().map(|s| s.running).unwrap_or(true));
            if peers.len() >= MAX_PEERS {
                return None;
            }
        }
        let p = Arc::new(RemotePeer {
            name: name.to_string(),
            state: Mutex::default(),
        });
        peers.insert(name.to_string(), p.clone());
        Some(p)
    }

    fn mirrors(&self) -> usize {
        let peers = self.peers.lock().unwrap_or_else(|p| p.into_inner());
        peers
            .values()
            .map(|p| p.state.lock().map(|s| s.mirrors.len()).unwrap_or(0))
            .sum()
    }

    /// A client's link (`local`, a `/peer/...` node) to the lane; `sync` asks for its
    /// state. The client hears `@linked` (and `@synced`) once the peer answers, or
    /// `@unlinked` with the reason.
    pub fn link(self: &Arc<Self>, sink: &Arc<Sink>, link: LinkId, local: &Headers, sync: bool) {
        let Some((peer, node)) = split(&local.node) else {
            let body = Value::Record(recon::Record::new().with_attr("nodeNotFound", Value::Extant));
            let f = Envelope::encode(Tag::Unlinked, Some(local), &body).into();
            sink.push(|o| o.control(f));
            return;
        };
        let full = self.mirrors() >= MAX_MIRRORS;
        let Some(rp) = self.peer(peer).filter(|_| self.enabled()) else {
            let why = "no remote links on this hub now (too many peers, or no tunnel)";
            let f = unlinked(local, "unreachable", why);
            sink.push(|o| o.control(f));
            return;
        };
        let key: (Text, Text) = (node.into(), local.lane.clone());
        let mut st = rp.state.lock().unwrap_or_else(|p| p.into_inner());
        if !st.mirrors.contains_key(&key) && full {
            drop(st);
            let f = unlinked(
                local,
                "unreachable",
                "too many remote lanes linked on this hub",
            );
            sink.push(|o| o.control(f));
            return;
        }
        let fresh = !st.mirrors.contains_key(&key);
        let m = st.mirrors.entry(key.clone()).or_insert_with(|| Mirror {
            local: headers(&local.node, &local.lane),
            lane: None,
            synced: false,
            told: false,
            clients: Vec::new(),
        });
        let known = m
            .clients
            .iter()
            .position(|c| c.link == link && c.sink.ptr_eq(&Arc::downgrade(sink)));
        match known {
            Some(i) => m.clients[i].sync |= sync,
            None => m.clients.push(Client {
                sink: Arc::downgrade(sink),
                link,
                sync,
            }),
        }
        if let Some(lane) = m.lane.clone() {
            // Linked already on the peer: this client is linked at once, and has the
            // state at once if the peer sent it already.
            if known.is_none() {
                let f = lane.frame(Tag::Linked, &Value::Extant);
                sink.push(|o| o.control(f));
            }
            let waits = sync && !m.synced;
            if sync && m.synced {
                send_state(&lane, sink);
            }
            if let Some(c) = m.clients.iter_mut().find(|c| c.link == link) {
                c.sync = waits;
            }
            // Subscribed once (again), unless it waits for the state.
            lane.unsubscribe(sink, link);
            if !waits {
                lane.subscribe(sink, link);
            }
        } else if m.told && known.is_none() {
            // The peer is away: this client hears so at once, and is linked with the others.
            let text = format!("{peer} cannot be reached now; linked again when it is back");
            let f = unlinked(local, "unreachable", &text);
            sink.push(|o| o.control(f));
        } else if fresh {
            st.send(Envelope::encode(
                Tag::Sync,
                Some(&headers(&key.0, &key.1)),
                &Value::Extant,
            ));
        }
        if !st.running {
            st.running = true;
            tokio::spawn(self.clone().run(rp.clone()));
        }
    }

    /// The peer a `/peer/...` URI names, its node, and its state, if it is linked to.
    fn known<'h>(&self, local: &'h Headers) -> Option<(&'h str, &'h str, Arc<RemotePeer>)> {
        let (peer, node) = split(&local.node)?;
        let peers = self.peers.lock().unwrap_or_else(|p| p.into_inner());
        Some((peer, node, peers.get(peer)?.clone()))
    }

    /// The client's link is closed (`@unlink`, or the client is gone: `tell` says whether
    /// to answer it).
    pub fn unlink(&self, sink: &Arc<Sink>, link: LinkId, local: &Headers, tell: bool) {
        let Some((_, node, rp)) = self.known(local) else {
            return;
        };
        let key: (Text, Text) = (node.into(), local.lane.clone());
        let mut st = rp.state.lock().unwrap_or_else(|p| p.into_inner());
        let Some(m) = st.mirrors.get_mut(&key) else {
            return;
        };
        let me = Arc::downgrade(sink);
        m.clients
            .retain(|c| !(c.link == link && c.sink.ptr_eq(&me)));
        if let Some(lane) = &m.lane {
            lane.unsubscribe(sink, link);
        }
        if tell {
            let f: super::outbox::Frame =
                Envelope::encode(Tag::Unlinked, Some(local), &Value::text("Link closed.")).into();
            sink.push(|o| {
                o.forget(link);
                o.control(f);
            });
        }
        if m.clients.iter().all(|c| c.sink.strong_count() == 0) {
            st.mirrors.remove(&key);
            st.send(Envelope::encode(
                Tag::Unlink,
                Some(&headers(&key.0, &key.1)),
                &Value::Extant,
            ));
        }
    }

    /// A client's command to the remote lane: sent on when the peer lets this node write;
    /// else the client's link is unlinked with the reason.
    pub fn command(&self, sink: &Arc<Sink>, link: LinkId, local: &Headers, body: &Value) {
        let Some((peer, node, rp)) = self.known(local) else {
            return;
        };
        let mut st = rp.state.lock().unwrap_or_else(|p| p.into_inner());
        if st.access == Some(Access::Read) {
            drop(st);
            self.unlink(sink, link, local, false);
            let why = format!(
                "{peer} lets this node read its lanes, not command them (`warp peers set <this node> links write` on {peer})"
            );
            let f = unlinked(local, "forbidden", &why);
            sink.push(|o| {
                o.forget(link);
                o.control(f);
            });
            return;
        }
        let h = headers(node, &local.lane);
        st.send(Envelope::encode(Tag::Command, Some(&h), body));
    }

    /// Keeps the channel to `rp` while any client links to it: dials, links every lane,
    /// carries the peer's frames to the mirrors, and after a loss tells the clients and
    /// dials again.
    async fn run(self: Arc<Self>, rp: Arc<RemotePeer>) {
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(10));
        loop {
            {
                let mut st = rp.state.lock().unwrap_or_else(|p| p.into_inner());
                st.mirrors
                    .retain(|_, m| m.clients.iter().any(|c| c.sink.strong_count() > 0));
                if st.mirrors.is_empty() {
                    st.running = false;
                    return;
                }
            }
            let Some(dial) = self.dial.get().cloned() else {
                return;
            };
            let why = match dial.dial(&rp.name).await {
                Ok(stream) => {
                    backoff.reset();
                    match self.carry(&rp, stream).await {
                        Ok(()) => format!("{} closed the channel", rp.name),
                        Err(e) => format!("{} went away: {e}", rp.name),
                    }
                }
                Err(DialError::Refused(msg)) => {
                    let mut st = rp.state.lock().unwrap_or_else(|p| p.into_inner());
                    st.unlink_all(|h| unlinked(h, "refused", &msg), false);
                    st.running = false;
                    return;
                }
                Err(DialError::Unreachable(msg)) => msg,
            };
            {
                let mut st = rp.state.lock().unwrap_or_else(|p| p.into_inner());
                st.out = None;
                st.access = None;
                let text = format!("{why}; linked again when it is back");
                // Told once per loss: lanes already told are not told again.
                st.unlink_all(|h| unlinked(h, "unreachable", &text), true);
            }
            tokio::time::sleep(backoff.attempt(Instant::now())).await;
        }
    }

    /// One channel: the peer's access first, then every lane linked, then its frames
    /// until it ends.
    async fn carry(&self, rp: &Arc<RemotePeer>, (mut read, mut write): Stream) -> Result<(), Lost> {
        let mut buf = Vec::new();
        let first = next_frame(&mut read, &mut buf)
            .await?
            .ok_or(Lost::ClosedAtOnce)?;
        let access = match Envelope::decode(&first).ok().and_then(|e| {
            (e.tag == Tag::Authed)
                .then(|| e.body_value().ok())
                .flatten()
        }) {
            Some(Value::Text(t)) if t.as_str() == "write" => Access::Write,
            Some(Value::Text(t)) if t.as_str() == "read" => Access::Read,
            _ => return Err(Lost::NoAccess),
        };
        let (tx, mut rx) = mpsc::channel::<String>(OUT_QUEUE);
        {
            let mut st = rp.state.lock().unwrap_or_else(|p| p.into_inner());
            st.access = Some(access);
            for (node, lane) in st.mirrors.keys() {
                let f = Envelope::encode(Tag::Sync, Some(&headers(node, lane)), &Value::Extant);
                if tx.try_send(f).is_err() {
                    return Err(Lost::TooManyLanes);
                }
            }
            st.out = Some(tx);
        }
        let writer = async move {
            let mut out = Vec::new();
            while let Some(f) = rx.recv().await {
                out.clear();
                protocols::warp::stream::put(&mut out, &f);
                while let Ok(more) = rx.try_recv() {
                    protocols::warp::stream::put(&mut out, &more);
                    if out.len() > 64 * 1024 {
                        break;
                    }
                }
                write.write_all(&out).await?;
                write.flush().await?;
            }
            Ok::<(), Lost>(())
        };
        let reader = async {
            while let Some(text) = next_frame(&mut read, &mut buf).await? {
                self.take(rp, &text);
            }
            Ok::<(), Lost>(())
        };
        // Closed once no client links to the peer any more (looked at every few seconds).
        let idle = async {
            let mut tick = tokio::time::interval(IDLE_LOOK);
            loop {
                tick.tick().await;
                let st = rp.state.lock().unwrap_or_else(|p| p.into_inner());
                if st.mirrors.is_empty() {
                    return;
                }
            }
        };
        tokio::select! {
            r = writer => r.and(Err(Lost::GivenUp)),
            r = reader => r,
            _ = idle => Ok(()),
        }
    }

    /// One frame from the peer.
    fn take(&self, rp: &RemotePeer, text: &str) {
        let Ok(env) = Envelope::decode(text) else {
            return;
        };
        let Some(h) = env.headers.as_ref() else {
            return;
        };
        let key = (h.node.clone(), h.lane.clone());
        let mut st = rp.state.lock().unwrap_or_else(|p| p.into_inner());
        let Some(m) = st.mirrors.get_mut(&key) else {
            return;
        };
        match env.tag {
            Tag::Linked => {
                if m.lane.is_some() {
                    return;
                }
                let kind = match env.body_value() {
                    Ok(Value::Record(r)) => match r.head() {
                        Some(("kind", Value::Text(t))) => match t.as_str() {
                            "map" => Kind::Map,
                            "supply" => Kind::Supply,
                            "command" => Kind::Command,
                            _ => Kind::Value,
                        },
                        _ => Kind::Value,
                    },
                    _ => Kind::Value,
                };
                let lane = Arc::new(Lane::new(
                    &m.local.node,
                    &m.local.lane,
                    kind,
                    None,
                    None,
                    &self.memory,
                ));
                let linked = lane.frame(Tag::Linked, &Value::Extant);
                // A client that asked for the state is subscribed once it has it (at
                // `@synced`), so the state's events come before `@synced`, once.
                for c in &m.clients {
                    if let Some(sink) = c.sink.upgrade() {
                        if !c.sync {
                            lane.subscribe(&sink, c.link);
                        }
                        let f = linked.clone();
                        sink.push(|o| o.control(f));
                    }
                }
                m.lane = Some(lane);
                m.synced = false;
                m.told = false;
            }
            Tag::Synced => {
                let Some(lane) = m.lane.clone() else { return };
                m.synced = true;
                for c in m.clients.iter_mut().filter(|c| c.sync) {
                    c.sync = false;
                    if let Some(sink) = c.sink.upgrade() {
                        send_state(&lane, &sink);
                        lane.subscribe(&sink, c.link);
                    }
                }
            }
            Tag::Event => {
                if let (Some(lane), Ok(body)) = (&m.lane, env.body_value()) {
                    lane.command(body);
                }
            }
            Tag::Unlinked => {
                let body = env.body_value().unwrap_or(Value::Extant);
                m.unlink_clients(Envelope::encode(Tag::Unlinked, Some(&m.local), &body).into());
                st.mirrors.remove(&key);
            }
            _ => {}
        }
    }
}

/// The lane's state and `@synced`, ahead of anything else the client is to get.
fn send_state(lane: &Lane, sink: &Sink) {
    let state = lane.state_frames();
    let synced = lane.frame(Tag::Synced, &Value::Extant);
    sink.push(|o| {
        for f in state {
            o.control(f);
        }
        o.control(synced);
    });
}

/// The next envelope on the stream (`None` at its clean end).
async fn next_frame(
    read: &mut (dyn AsyncRead + Send + Unpin),
    buf: &mut Vec<u8>,
) -> Result<Option<String>, Lost> {
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if let Some((text, n)) = protocols::warp::stream::get(buf)? {
            buf.drain(..n);
            return Ok(Some(text));
        }
        let n = read.read(&mut chunk).await?;
        if n == 0 {
            return match buf.is_empty() {
                true => Ok(None),
                false => Err(Lost::Truncated),
            };
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn peer_uris_split_into_the_peer_and_its_node() {
        assert_eq!(super::split("/peer/bob/unit/7"), Some(("bob", "/unit/7")));
        assert_eq!(super::split("/peer/bob/hub"), Some(("bob", "/hub")));
        assert_eq!(super::split("/peer/bob"), None);
        assert_eq!(super::split("/peer/bob/"), None);
        assert_eq!(super::split("/peer//x"), None);
        assert_eq!(super::split("/unit/7"), None);
    }
}
