//! One client's session with the hub, without the socket: the frames it sends are applied
//! (auth, link, sync, unlink, command) and what it is to receive goes into its outbox
//! ([`Sink`]). `conn.rs` carries a session over a WebSocket; tests and the fuzz target
//! drive one directly.

use std::collections::HashMap;
use std::sync::Arc;

use protocols::warp::{Envelope, Headers, Tag};
use recon::{Text, Value};

use super::agent::Missing;
use super::lane::Lane;
use super::outbox::{Frame, LinkId, Sink};
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
        }
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
                // node's own agents from a client that is not the owner.
                if !self.owner && self.hub.agents.is_fixed(&h.node) {
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
        let lane = match self.links.get(&key) {
            // Linked already: no second @linked; a sync still sends the state.
            Some(&id) => match &self.lanes[id as usize] {
                Some(l) if sync => l.clone(),
                _ => return,
            },
            None => {
                // The node's own agents are not there for a client that is not the owner.
                let found = match self.owner || !self.hub.agents.is_fixed(&h.node) {
                    true => self.hub.agents.lane(&h.node, &h.lane),
                    false => Err(Missing::Node),
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
                if self.links.len() >= MAX_LINKS {
                    let body = Value::text("Too many links on this connection.");
                    self.control(Self::lane_frame(Tag::Unlinked, &h, &body));
                    return;
                }
                let id = match self.free.pop() {
                    Some(id) => id,
                    None => {
                        self.lanes.push(None);
                        (self.lanes.len() - 1) as LinkId
                    }
                };
                self.lanes[id as usize] = Some(lane.clone());
                self.links.insert(key, id);
                lane.subscribe(&self.sink, id);
                self.control(Self::lane_frame(Tag::Linked, &h, &Value::Extant));
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

    fn unlink(&mut self, h: &Headers) {
        let Some(id) = self.links.remove(&(h.node.clone(), h.lane.clone())) else {
            return; // not open: no reply
        };
        if let Some(lane) = self.lanes[id as usize].take() {
            lane.unsubscribe(&self.sink, id);
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
        for (id, lane) in self.lanes.iter().enumerate() {
            if let Some(l) = lane {
                l.unsubscribe(&self.sink, id as LinkId);
            }
        }
        self.lanes.clear();
        self.links.clear();
    }
}
