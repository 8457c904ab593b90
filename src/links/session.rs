//! One client's session with the hub, without the socket: the frames it sends are applied
//! (auth, link, sync, unlink, command) and what it is to receive goes into its outbox
//! ([`Sink`]). `conn.rs` carries a session over a WebSocket, `peer.rs` a peer hub's over
//! a `links` channel; tests and the fuzz target drive one directly. Links to
//! `/peer/...` nodes go to [`remote`](super::remote).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use protocols::warp::{Envelope, Headers, Tag};
use recon::{Text, Value};

use super::agent::Missing;
use super::lane::Lane;
use super::outbox::{Frame, LinkId, Sink};
use super::remote::{self, Access};
use super::Hub;

/// Most links one connection may hold.
pub const MAX_LINKS: usize = 100_000;

/// Why a session ends: a WebSocket close code and reason.
pub type Close = (u16, String);

fn bad_envelope() -> Close {
    (1002, "Expected a valid Warp envelope.".into())
}

/// One client's session.
pub struct Session {
    hub: Arc<Hub>,
    /// What the client is to receive.
    pub sink: Arc<Sink>,
    links: HashMap<(Text, Text), LinkId>,
    lanes: Vec<Option<Arc<Lane>>>,
    free: Vec<LinkId>,
    authed: bool,
    /// Authenticated with the owner's token: may use the node's own agents.
    owner: bool,
    /// The session of a peer's hub over the tunnel, with what it may do: it reads the
    /// node's own agents too, commands only with write access and never `/hub`, and is
    /// told each lane's kind in `@linked`.
    peer: Option<Access>,
    /// Links to lanes on other nodes (`/peer/...`), held by [`remote`].
    remote: HashSet<LinkId>,
}

impl Session {
    /// A new session with `hub`: authenticated at once when the hub needs no token.
    pub fn new(hub: Arc<Hub>) -> Session {
        Session {
            authed: !hub.needs_auth(),
            hub,
            sink: Arc::new(Sink::default()),
            links: HashMap::new(),
            lanes: Vec::new(),
            free: Vec::new(),
            owner: false,
            peer: None,
            remote: HashSet::new(),
        }
    }

    /// The session of a peer's hub, which may do what `access` says.
    pub fn for_peer(hub: Arc<Hub>, access: Access) -> Session {
        let mut s = Session::new(hub);
        s.authed = true;
        s.peer = Some(access);
        s
    }

    fn control(&self, f: Frame) {
        self.sink.push(|o| o.control(f));
    }

    /// Ends the session with `close`, sent once everything before it is.
    pub fn close(&self, close: Close) {
        self.sink.push(|o| o.close = Some(close));
    }

    fn lane_frame(tag: Tag, h: &Headers, body: &Value) -> Frame {
        Envelope::encode(tag, Some(h), body).into()
    }

    /// Applies one text frame; an error ends the session with that close.
    pub fn frame(&mut self, text: &str) -> Result<(), Close> {
        let env = Envelope::decode(text).map_err(|_| bad_envelope())?;
        match env.tag {
            Tag::Auth => {
                let body = env.body_value().map_err(|_| bad_envelope())?;
                match self.hub.accepts(&body) {
                    super::Auth::Refused => {
                        self.control(Envelope::encode(Tag::Deauthed, None, &Value::Extant).into());
                        Err((1008, "Unauthorized".into()))
                    }
                    auth => {
                        self.authed = true;
                        self.owner = auth == super::Auth::Owner;
                        self.control(Envelope::encode(Tag::Authed, None, &Value::Extant).into());
                        Ok(())
                    }
                }
            }
            Tag::Deauth => {
                self.owner = false;
                self.authed = !self.hub.needs_auth();
                self.control(Envelope::encode(Tag::Deauthed, None, &Value::Extant).into());
                Ok(())
            }
            Tag::Link | Tag::Sync | Tag::Unlink | Tag::Command if !self.authed => {
                self.control(Envelope::encode(Tag::Deauthed, None, &Value::Extant).into());
                Err((1008, "Unauthorized".into()))
            }
            Tag::Link | Tag::Sync => {
                let h = env.headers.ok_or_else(bad_envelope)?;
                self.link(h, env.tag == Tag::Sync);
                Ok(())
            }
            Tag::Unlink => {
                let h = env.headers.ok_or_else(bad_envelope)?;
                self.unlink(&h);
                Ok(())
            }
            Tag::Command => {
                let h = env.headers.as_ref().ok_or_else(bad_envelope)?;
                let body = env.body_value().map_err(|_| bad_envelope())?;
                // A command to a missing node or lane is dropped, and so is one to the
                // node's own agents from a client that is not the owner, and one from a
                // peer that may not write.
                if let Some(&id) = self.links.get(&(h.node.clone(), h.lane.clone())) {
                    if self.remote.contains(&id) {
                        self.hub.remote.command(&self.sink, id, h, &body);
                        return Ok(());
                    }
                }
                if !self.owner && self.hub.agents.is_fixed(&h.node) {
                    return Ok(());
                }
                if self.peer.is_some_and(|a| a != Access::Write) {
                    return Ok(());
                }
                if let Ok(lane) = self.hub.agents.lane(&h.node, &h.lane) {
                    lane.command(body);
                }
                Ok(())
            }
            // Frames only a server sends: nothing to do.
            Tag::Linked
            | Tag::Synced
            | Tag::Unlinked
            | Tag::Event
            | Tag::Authed
            | Tag::Deauthed => Ok(()),
        }
    }

    fn link(&mut self, h: Headers, sync: bool) {
        let key = (h.node.clone(), h.lane.clone());
        if self.peer.is_none() && h.node.starts_with(remote::PREFIX) {
            return self.link_remote(h, sync);
        }
        let lane = match self.links.get(&key) {
            // Linked already: no second @linked; a sync still sends the state.
            Some(&id) => match &self.lanes[id as usize] {
                Some(l) if sync => l.clone(),
                _ => return,
            },
            None => {
                // The node's own agents are not there for a client that is not the owner
                // (a peer reads them), nor links onward for a peer.
                let found = match h.node.starts_with(remote::PREFIX) {
                    true => Err(Missing::Node),
                    false if self.owner || self.peer.is_some() => {
                        self.hub.agents.lane(&h.node, &h.lane)
                    }
                    false if self.hub.agents.is_fixed(&h.node) => Err(Missing::Node),
                    false => self.hub.agents.lane(&h.node, &h.lane),
                };
                let lane = match found {
                    Ok(l) => l,
                    Err(m) => {
                        let tag = match m {
                            Missing::Node => "nodeNotFound",
                            Missing::Lane => "laneNotFound",
                            Missing::Full => "tooManyAgents",
                        };
                        let body =
                            Value::Record(recon::Record::new().with_attr(tag, Value::Extant));
                        self.control(Self::lane_frame(Tag::Unlinked, &h, &body));
                        return;
                    }
                };
                let Some(id) = self.new_link(&h) else { return };
                self.lanes[id as usize] = Some(lane.clone());
                self.links.insert(key, id);
                if self.peer.is_some() {
                    self.hub
                        .peer_links
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                lane.subscribe(&self.sink, id);
                // A peer's hub is told the lane's kind, to keep a mirror of it.
                let body = match self.peer {
                    Some(_) => Value::Record(
                        recon::Record::new().with_attr("kind", Value::text(kind_name(lane.kind))),
                    ),
                    None => Value::Extant,
                };
                self.control(Self::lane_frame(Tag::Linked, &h, &body));
                lane
            }
        };
        if sync {
            let state = lane.state_frames();
            let synced = Self::lane_frame(Tag::Synced, &h, &Value::Extant);
            self.sink.push(|o| {
                for f in state {
                    o.control(f);
                }
                o.control(synced);
            });
        }
    }

    /// A free link id, or `None` (the client told so) past [`MAX_LINKS`].
    fn new_link(&mut self, h: &Headers) -> Option<LinkId> {
        if self.links.len() >= MAX_LINKS {
            let body = Value::text("Too many links on this connection.");
            self.control(Self::lane_frame(Tag::Unlinked, h, &body));
            return None;
        }
        Some(match self.free.pop() {
            Some(id) => id,
            None => {
                self.lanes.push(None);
                (self.lanes.len() - 1) as LinkId
            }
        })
    }

    /// A link to a lane of another node: held by [`remote`], which answers the client.
    fn link_remote(&mut self, h: Headers, sync: bool) {
        let key = (h.node.clone(), h.lane.clone());
        // Open already: linked again if the peer had refused or dropped it (the hub
        // answers once, as for a new link); else only a sync does something.
        if let Some(&id) = self.links.get(&key) {
            self.hub.remote.link(&self.sink, id, &h, sync);
            return;
        }
        let Some(id) = self.new_link(&h) else { return };
        self.links.insert(key, id);
        self.remote.insert(id);
        self.hub.remote.link(&self.sink, id, &h, sync);
    }

    fn unlink(&mut self, h: &Headers) {
        let Some(id) = self.links.remove(&(h.node.clone(), h.lane.clone())) else {
            return; // not open: no reply
        };
        if self.remote.remove(&id) {
            self.hub.remote.unlink(&self.sink, id, h, true);
            self.free.push(id);
            return;
        }
        if let Some(lane) = self.lanes[id as usize].take() {
            lane.unsubscribe(&self.sink, id);
            if self.peer.is_some() {
                self.hub
                    .peer_links
                    .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
        self.free.push(id);
        let f = Self::lane_frame(Tag::Unlinked, h, &Value::text("Link closed."));
        self.sink.push(|o| {
            o.forget(id);
            o.control(f);
        });
    }

    /// Tells the client every link is closed (the node is stopping).
    pub fn unlink_all(&mut self) {
        let frames: Vec<Frame> = self
            .links
            .keys()
            .map(|(node, lane)| {
                let h = Headers {
                    node: node.clone(),
                    lane: lane.clone(),
                    prio: None,
                    rate: None,
                };
                Self::lane_frame(Tag::Unlinked, &h, &Value::Extant)
            })
            .collect();
        self.sink.push(|o| {
            for f in frames {
                o.control(f);
            }
        });
    }

    /// Unsubscribes every link (the client is gone).
    pub fn drop_links(&mut self) {
        for ((node, lane), id) in &self.links {
            if self.remote.contains(id) {
                let h = Headers {
                    node: node.clone(),
                    lane: lane.clone(),
                    prio: None,
                    rate: None,
                };
                self.hub.remote.unlink(&self.sink, *id, &h, false);
            }
        }
        self.remote.clear();
        for (id, lane) in self.lanes.iter().enumerate() {
            if let Some(l) = lane {
                l.unsubscribe(&self.sink, id as LinkId);
                if self.peer.is_some() {
                    self.hub
                        .peer_links
                        .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        }
        self.lanes.clear();
        self.links.clear();
    }
}

/// A lane kind's name, as a peer's hub is told it.
fn kind_name(k: super::lane::Kind) -> &'static str {
    use super::lane::Kind;
    match k {
        Kind::Value => "value",
        Kind::Map => "map",
        Kind::Command => "command",
        Kind::Supply => "supply",
    }
}
