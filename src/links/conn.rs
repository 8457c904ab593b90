//! One WebSocket connection: many links to node/lane URIs. The reader applies frames as
//! they come; the writer drains the connection's outbox, so a slow client only makes its
//! own outbox conflate or fill — never a lane wait.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use protocols::warp::{Envelope, Headers, Tag};
use recon::{Text, Value};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

use super::agent::Missing;
use super::lane::Lane;
use super::outbox::{Frame, LinkId, Sink};
use super::Hub;

/// Most links one connection may hold.
pub const MAX_LINKS: usize = 100_000;
/// Frames written per flush.
const BATCH: usize = 256;
/// Frames applied before the reader lets other tasks (the writers) run.
const YIELD_EVERY: u32 = 32;

/// Why the connection closes: a WebSocket close code and reason.
type Close = (u16, String);

fn bad_envelope() -> Close {
    (1002, "Expected a valid Warp envelope.".into())
}

/// The reader's side of a connection.
struct Conn {
    hub: Arc<Hub>,
    sink: Arc<Sink>,
    links: HashMap<(Text, Text), LinkId>,
    lanes: Vec<Option<Arc<Lane>>>,
    free: Vec<LinkId>,
    authed: bool,
    /// Authenticated with the owner's token: may use the node's own agents.
    owner: bool,
}

/// Serves a connection until the client leaves, breaks the protocol, or the node stops.
pub async fn serve(hub: Arc<Hub>, ws: WebSocketStream<TcpStream>) {
    let (write, mut read) = ws.split();
    let sink = Arc::new(Sink::default());
    let writer = tokio::spawn(write_loop(write, sink.clone()));
    let mut conn = Conn {
        authed: !hub.needs_auth(),
        hub: hub.clone(),
        sink,
        links: HashMap::new(),
        lanes: Vec::new(),
        free: Vec::new(),
        owner: false,
    };
    let mut stopping = hub.stopping();
    let mut since_yield = 0u32;
    loop {
        tokio::select! {
            m = read.next() => match m {
                Some(Ok(Message::Text(t))) => {
                    if let Err(close) = conn.frame(t.as_str()) {
                        conn.close(close);
                        break;
                    }
                    // A burst of frames already read would otherwise be applied in one
                    // go before any connection's writer runs: let them send between.
                    since_yield += 1;
                    if since_yield == YIELD_EVERY {
                        since_yield = 0;
                        tokio::task::yield_now().await;
                    }
                }
                Some(Ok(Message::Binary(_))) => {
                    conn.close((1002, "Expected string data.".into()));
                    break;
                }
                Some(Ok(Message::Close(_))) | None => break,
                Some(Ok(_)) => {}
                Some(Err(WsError::Utf8)) => {
                    conn.close((1002, "Invalid encoding.".into()));
                    break;
                }
                Some(Err(WsError::Capacity(_))) => {
                    conn.close((1009, "Message too big.".into()));
                    break;
                }
                Some(Err(_)) => break,
            },
            _ = stopping.changed() => {
                conn.unlink_all();
                conn.close((1001, String::new()));
                break;
            }
        }
    }
    conn.drop_links();
    // Ends the writer once it has sent what is pending.
    conn.sink.push(|o| {
        if o.close.is_none() {
            o.close = Some((1000, String::new()));
        }
    });
    let _ = tokio::time::timeout(Duration::from_secs(5), writer).await;
}

impl Conn {
    fn control(&self, f: Frame) {
        self.sink.push(|o| o.control(f));
    }

    fn close(&self, close: Close) {
        self.sink.push(|o| o.close = Some(close));
    }

    fn lane_frame(tag: Tag, h: &Headers, body: &Value) -> Frame {
        Envelope::encode(tag, Some(h), body).into()
    }

    /// Applies one text frame.
    fn frame(&mut self, text: &str) -> Result<(), Close> {
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
    fn unlink_all(&mut self) {
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

    fn drop_links(&mut self) {
        for (id, lane) in self.lanes.iter().enumerate() {
            if let Some(l) = lane {
                l.unsubscribe(&self.sink, id as LinkId);
            }
        }
        self.lanes.clear();
        self.links.clear();
    }
}

/// Sends what the outbox holds, in batches, until a close frame is sent or the client
/// goes away. A client too slow to keep its queues under the bound is closed.
async fn write_loop<W>(mut write: W, sink: Arc<Sink>)
where
    W: futures_util::Sink<Message, Error = WsError> + Unpin,
{
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        let (close, overflowed) = {
            let mut o = sink.outbox.lock().unwrap_or_else(|p| p.into_inner());
            o.drain(BATCH, &mut batch);
            let close = if o.is_empty() { o.close.take() } else { None };
            (close, o.overflowed)
        };
        if overflowed {
            let frame = CloseFrame {
                code: CloseCode::from(1008),
                reason: "Client too slow: its queued events passed the limit.".into(),
            };
            let _ = write.send(Message::Close(Some(frame))).await;
            return;
        }
        if batch.is_empty() && close.is_none() {
            sink.notify.notified().await;
            continue;
        }
        for f in batch.drain(..) {
            if write.feed(Message::Text(f)).await.is_err() {
                return;
            }
        }
        if write.flush().await.is_err() {
            return;
        }
        if let Some((code, reason)) = close {
            let frame = CloseFrame {
                code: CloseCode::from(code),
                reason: reason.into(),
            };
            let _ = write.send(Message::Close(Some(frame))).await;
            let _ = write.close().await;
            return;
        }
    }
}
