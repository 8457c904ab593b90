//! Lanes: value, map, command and supply. A lane keeps its state (value and map lanes),
//! applies commands, and hands each event — encoded once, shared by every receiver — to
//! the outbox of every linked connection, where it is conflated or queued by kind.

use std::sync::{Arc, Mutex, Weak};

use indexmap::IndexMap;
use protocols::warp::{Envelope, Headers, Tag};
use recon::{Item, Value};
use serde::{Deserialize, Serialize};

use super::outbox::{Frame, LinkId, Sink};
use super::store::{Durable, Usage};

/// Bytes (estimated by [`footprint`]) that the state of every value and map lane of the
/// hub may take in memory, durable or not; client commands that would add more are
/// dropped while it is over.
pub const MAX_STATE_BYTES: usize = 256 << 20;

/// About how many bytes `v` takes in memory: its text and data, and a constant per part.
pub fn footprint(v: &Value) -> usize {
    const PART: usize = 16;
    match v {
        Value::Text(t) => PART + t.len(),
        Value::Data(d) => PART + d.len(),
        Value::BigInt(_) => 2 * PART,
        Value::Record(r) => {
            2 * PART
                + r.iter()
                    .map(|item| match item {
                        Item::Attr(name, v) => PART + name.len() + footprint(v),
                        Item::Slot(k, v) => footprint(k) + footprint(v),
                        Item::Value(v) => footprint(v),
                    })
                    .sum::<usize>()
        }
        _ => PART,
    }
}

/// What a lane is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// One value; a command sets it; links conflate to the latest.
    Value,
    /// A map; commands `@update(key:K) V`, `@remove(key:K)`, `@clear`, `@take(N)`,
    /// `@drop(N)`; links conflate per key.
    Map,
    /// No state; every command is an event; links queue.
    Command,
    /// No state; events (from commands or the node) queue and are never conflated.
    Supply,
}

/// A linked connection.
struct Subscriber {
    sink: Weak<Sink>,
    link: LinkId,
}

/// Reacts to commands on a lane the node itself drives (the `/hub` lanes).
pub type Handler = Box<dyn Fn(&Arc<Lane>, Value) + Send + Sync>;

/// One lane of one node.
pub struct Lane {
    headers: Headers,
    /// Its kind.
    pub kind: Kind,
    value: Mutex<Value>,
    map: Mutex<IndexMap<Value, Value>>,
    subs: Mutex<Vec<Subscriber>>,
    durable: Option<Durable>,
    /// Commands go here instead of changing the lane (`None`: commands change it).
    handler: Option<Handler>,
    /// The hub's count of lane state in memory, which this lane adds to.
    state: Usage,
}

/// Entries a client may put in a map lane by its commands (the node's own lanes, written
/// by the node, are not limited).
pub const MAX_MAP_ENTRIES: usize = 10_000;

/// About how many bytes a map's entries take.
fn map_footprint(map: &IndexMap<Value, Value>) -> usize {
    map.iter().map(|(k, v)| footprint(k) + footprint(v)).sum()
}

/// About how many bytes a lane's state takes: a value lane's value, a map lane's entries.
fn state_footprint(kind: Kind, value: &Value, map: &IndexMap<Value, Value>) -> usize {
    match kind {
        Kind::Value => footprint(value),
        Kind::Map => map_footprint(map),
        Kind::Command | Kind::Supply => 0,
    }
}

/// A lane's state leaves the hub's count with it.
impl Drop for Lane {
    fn drop(&mut self) {
        let value = self.value.get_mut().unwrap_or_else(|p| p.into_inner());
        let map = self.map.get_mut().unwrap_or_else(|p| p.into_inner());
        self.state.sub(state_footprint(self.kind, value, map));
    }
}

/// A map lane command or event.
enum MapOp {
    Update(Value, Value),
    Remove(Value),
    Clear,
    Take(usize),
    Drop(usize),
}

/// Reads `@update(key:K) V`, `@remove(key:K)`, `@clear`, `@take(N)`, `@drop(N)`: the
/// first attribute names the action; everything after it is the value.
fn map_op(body: &Value) -> Option<MapOp> {
    let Value::Record(r) = body else { return None };
    let items = r.items();
    let Some(Item::Attr(name, params)) = items.first() else {
        return None;
    };
    let key = || match params {
        Value::Record(p) => p.items().iter().find_map(|i| match i {
            Item::Slot(Value::Text(k), v) if k.as_str() == "key" => Some(v.clone()),
            _ => None,
        }),
        _ => None,
    };
    let count = || match params {
        Value::Int(n) => usize::try_from(*n).ok(),
        Value::UInt(n) => usize::try_from(*n).ok(),
        _ => None,
    };
    Some(match name.as_str() {
        "update" => {
            let rest = &items[1..];
            let value = match rest {
                [] => Value::Extant,
                [Item::Value(v)] => v.clone(),
                _ => Value::Record(rest.iter().cloned().collect()),
            };
            MapOp::Update(key()?, value)
        }
        "remove" => MapOp::Remove(key()?),
        "clear" => MapOp::Clear,
        "take" => MapOp::Take(count()?),
        "drop" => MapOp::Drop(count()?),
        _ => return None,
    })
}

/// `@update(key:K)` with the value spliced after it.
fn update_body(key: &Value, value: &Value) -> Value {
    let mut items = vec![Item::attr(
        "update",
        recon::Record::new().with_slot("key", key.clone()),
    )];
    match value {
        Value::Record(r) => items.extend(r.items().iter().cloned()),
        Value::Extant => {}
        v => items.push(Item::Value(v.clone())),
    }
    Value::Record(items.into_iter().collect())
}

fn remove_body(key: &Value) -> Value {
    Value::Record(
        recon::Record::new()
            .with_attr("remove", recon::Record::new().with_slot("key", key.clone())),
    )
}

impl Lane {
    /// A lane of `node` called `name`; a durable one starts from what was stored. Its
    /// state is counted in `state`.
    pub fn new(
        node: &str,
        name: &str,
        kind: Kind,
        durable: Option<Durable>,
        handler: Option<Handler>,
        state: &Usage,
    ) -> Lane {
        let (value, map) = match &durable {
            Some(d) if kind == Kind::Value => {
                (d.load_value().unwrap_or(Value::Extant), IndexMap::new())
            }
            Some(d) if kind == Kind::Map => (Value::Extant, d.load_map()),
            _ => (Value::Extant, IndexMap::new()),
        };
        state.add(state_footprint(kind, &value, &map));
        Lane {
            headers: Headers {
                node: node.into(),
                lane: name.into(),
                prio: None,
                rate: None,
            },
            kind,
            value: Mutex::new(value),
            map: Mutex::new(map),
            subs: Mutex::new(Vec::new()),
            durable,
            handler,
            state: state.clone(),
        }
    }

    /// The lane URI.
    pub fn name(&self) -> &str {
        &self.headers.lane
    }

    /// A frame for this lane.
    pub fn frame(&self, tag: Tag, body: &Value) -> Frame {
        Envelope::encode(tag, Some(&self.headers), body).into()
    }

    /// Adds a linked connection.
    pub fn subscribe(&self, sink: &Arc<Sink>, link: LinkId) {
        self.subs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(Subscriber {
                sink: Arc::downgrade(sink),
                link,
            });
    }

    /// Removes a linked connection.
    pub fn unsubscribe(&self, sink: &Arc<Sink>, link: LinkId) {
        let me = Arc::downgrade(sink);
        self.subs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|s| !(s.link == link && s.sink.ptr_eq(&me)));
    }

    /// The current state as events, for `@sync`.
    pub fn state_frames(&self) -> Vec<Frame> {
        match self.kind {
            Kind::Value => vec![self.frame(
                Tag::Event,
                &self.value.lock().unwrap_or_else(|p| p.into_inner()),
            )],
            Kind::Map => self
                .map
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .map(|(k, v)| self.frame(Tag::Event, &update_body(k, v)))
                .collect(),
            Kind::Command | Kind::Supply => Vec::new(),
        }
    }

    /// Whether nothing would be lost by dropping the lane now: nobody links to it, and its
    /// state is kept in sled or there is none.
    pub fn idle(&self) -> bool {
        let unlinked = self
            .subs
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .all(|s| s.sink.strong_count() == 0);
        let stateless = self.durable.is_some()
            || match self.kind {
                Kind::Value => {
                    *self.value.lock().unwrap_or_else(|p| p.into_inner()) == Value::Extant
                }
                Kind::Map => self
                    .map
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .is_empty(),
                Kind::Command | Kind::Supply => true,
            };
        unlinked && stateless
    }

    /// A command from a client (the body parsed once, whatever the number of receivers).
    /// A durable lane takes no writes while the hub's durable lanes are full
    /// ([`MAX_DURABLE_BYTES`](super::store::MAX_DURABLE_BYTES)); a map lane takes no new
    /// key past [`MAX_MAP_ENTRIES`].
    pub fn command(self: &Arc<Self>, body: Value) {
        if let Some(h) = &self.handler {
            return h(self, body);
        }
        let full = self.durable.as_ref().is_some_and(|d| d.full())
            || self.state.bytes() >= MAX_STATE_BYTES;
        match self.kind {
            Kind::Value if full => {}
            Kind::Value => self.set(body),
            Kind::Map => match map_op(&body) {
                Some(MapOp::Update(k, v)) => {
                    let grows = {
                        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
                        !map.contains_key(&k) && map.len() >= MAX_MAP_ENTRIES
                    };
                    if !grows && !full {
                        self.apply(MapOp::Update(k, v));
                    }
                }
                Some(op) => self.apply(op),
                None => {}
            },
            Kind::Command | Kind::Supply => self.emit(body),
        }
    }

    /// Sets a value lane (if the value changed) and tells every link.
    pub fn set(&self, v: Value) {
        {
            let mut cur = self.value.lock().unwrap_or_else(|p| p.into_inner());
            if *cur == v {
                return;
            }
            self.state.sub(footprint(&cur));
            self.state.add(footprint(&v));
            *cur = v.clone();
        }
        if let Some(d) = &self.durable {
            d.store_value(&v);
        }
        let f = self.frame(Tag::Event, &v);
        self.each(|sink, link| sink.push(|o| o.value(link, f.clone())));
    }

    /// Sets `key` of a map lane (if it changed).
    pub fn put(&self, key: Value, value: Value) {
        self.apply(MapOp::Update(key, value));
    }

    /// Removes `key` of a map lane.
    pub fn remove(&self, key: &Value) {
        self.apply(MapOp::Remove(key.clone()));
    }

    /// The keys of a map lane.
    pub fn keys(&self) -> Vec<Value> {
        self.map
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect()
    }

    /// An event on a command or supply lane.
    pub fn emit(&self, body: Value) {
        let f = self.frame(Tag::Event, &body);
        self.each(|sink, link| sink.push(|o| o.queue(link, f.clone())));
    }

    fn apply(&self, op: MapOp) {
        // (key, new value or None for removed); or a clear.
        let mut changes: Vec<(Value, Option<Value>)> = Vec::new();
        let mut cleared = false;
        {
            let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
            match op {
                MapOp::Update(k, v) => {
                    if map.get(&k) != Some(&v) {
                        self.state.add(footprint(&k) + footprint(&v));
                        if let Some(old) = map.insert(k.clone(), v.clone()) {
                            self.state.sub(footprint(&k) + footprint(&old));
                        }
                        changes.push((k, Some(v)));
                    }
                }
                MapOp::Remove(k) => {
                    if let Some(old) = map.shift_remove(&k) {
                        self.state.sub(footprint(&k) + footprint(&old));
                        changes.push((k, None));
                    }
                }
                MapOp::Clear => {
                    cleared = !map.is_empty();
                    self.state.sub(map_footprint(&map));
                    map.clear();
                }
                MapOp::Take(n) => {
                    while map.len() > n {
                        if let Some((k, old)) = map.pop() {
                            self.state.sub(footprint(&k) + footprint(&old));
                            changes.push((k, None));
                        }
                    }
                }
                MapOp::Drop(n) => {
                    for _ in 0..n.min(map.len()) {
                        if let Some((k, old)) = map.shift_remove_index(0) {
                            self.state.sub(footprint(&k) + footprint(&old));
                            changes.push((k, None));
                        }
                    }
                }
            }
        }
        if let Some(d) = &self.durable {
            if cleared {
                d.clear_map();
            }
            for (k, v) in &changes {
                d.store_entry(k, v.as_ref());
            }
        }
        if cleared {
            let body = Value::Record(recon::Record::new().with_attr("clear", Value::Extant));
            let f = self.frame(Tag::Event, &body);
            self.each(|sink, link| sink.push(|o| o.map_clear(link, f.clone())));
        }
        for (k, v) in changes {
            let body = match &v {
                Some(v) => update_body(&k, v),
                None => remove_body(&k),
            };
            let f = self.frame(Tag::Event, &body);
            self.each(|sink, link| sink.push(|o| o.map(link, k.clone(), f.clone())));
        }
    }

    /// Calls `f` for every live subscriber, dropping the dead ones.
    fn each(&self, f: impl Fn(&Sink, LinkId)) {
        let mut subs = self.subs.lock().unwrap_or_else(|p| p.into_inner());
        subs.retain(|s| match s.sink.upgrade() {
            Some(sink) => {
                f(&sink, s.link);
                true
            }
            None => false,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_bodies_read_and_write_as_the_spec_shows() {
        let v = recon::parse("@update(key:a){x:1,y:2}").unwrap();
        let Some(MapOp::Update(k, val)) = map_op(&v) else {
            panic!()
        };
        assert_eq!(k, Value::text("a"));
        assert_eq!(val, recon::parse("{x:1,y:2}").unwrap());
        assert_eq!(update_body(&k, &val), v);
        let v = recon::parse("@update(key:5) data").unwrap();
        let Some(MapOp::Update(k, val)) = map_op(&v) else {
            panic!()
        };
        assert_eq!((k, val), (Value::from(5), Value::text("data")));
        assert!(matches!(
            map_op(&recon::parse("@remove(key:5)").unwrap()),
            Some(MapOp::Remove(_))
        ));
        assert!(matches!(
            map_op(&recon::parse("@clear").unwrap()),
            Some(MapOp::Clear)
        ));
        assert!(matches!(
            map_op(&recon::parse("@take(2)").unwrap()),
            Some(MapOp::Take(2))
        ));
        assert!(matches!(
            map_op(&recon::parse("@drop(1)").unwrap()),
            Some(MapOp::Drop(1))
        ));
        assert!(map_op(&recon::parse("@update(5) x").unwrap()).is_none());
        assert!(map_op(&recon::parse("7").unwrap()).is_none());
    }
}
