//! The built-in `/hub` agent: a browser (or any SwimOS client) can watch and drive the
//! node through it. `info` (value: peer id, version, addresses, uptime, and how many
//! links peers' hubs hold to this node's lanes), `peers` (map: the
//! peer book with connection state, by alias), `offers` (map: warpdrive offers with status
//! and progress, by id), `flows` (map: running flows with their counters, by name),
//! `gates` (map: gates exposed and opened), `ping` (command: body = a peer; events =
//! results). All but `ping` are read-only.

use std::sync::Arc;
use std::time::{Duration, Instant};

use recon::{Record, Value};

use super::Node;
use crate::control::{Request, Response};
use crate::links::lane::{Handler, Kind, Lane};

/// How often `info` and `peers` are refreshed.
const REFRESH: Duration = Duration::from_secs(1);

fn read_only() -> Option<Handler> {
    Some(Box::new(|_, _| {}))
}

/// Makes the `/hub` lanes and keeps them current until the node stops.
pub fn start(node: &Arc<Node>, local: std::net::SocketAddr) -> tokio::task::JoinHandle<()> {
    // The node's own lanes are not counted against what clients may store.
    let uncounted = crate::links::store::Usage::default();
    let lane = |name: &str, kind, handler| {
        Arc::new(Lane::new("/hub", name, kind, None, handler, &uncounted))
    };
    let info = lane("info", Kind::Value, read_only());
    let peers = lane("peers", Kind::Map, read_only());
    let offers = lane("offers", Kind::Map, read_only());
    let flows = lane("flows", Kind::Map, read_only());
    let gates = lane("gates", Kind::Map, read_only());
    let weak = Arc::downgrade(node);
    let ping_handler: Handler = Box::new(move |lane: &Arc<Lane>, body: Value| {
        let Some(node) = weak.upgrade() else { return };
        let peer = match &body {
            Value::Text(t) => t.to_string(),
            Value::Record(r) => match r.get("peer") {
                Some(Value::Text(t)) => t.to_string(),
                _ => return,
            },
            _ => return,
        };
        tokio::spawn(ping(node, lane.clone(), peer));
    });
    let ping_lane = lane("ping", Kind::Command, Some(ping_handler));
    node.hub.agents.add_fixed(
        "/hub",
        vec![
            info.clone(),
            peers.clone(),
            offers.clone(),
            flows.clone(),
            gates.clone(),
            ping_lane,
        ],
    );

    let node = node.clone();
    tokio::spawn(async move {
        let started = Instant::now();
        let mut events = node.drive().subscribe();
        for o in node.drive().list() {
            offers.put(
                Value::text(o.id.as_str()),
                recon::to_value(&o).unwrap_or(Value::Extant),
            );
        }
        let mut tick = tokio::time::interval(REFRESH);
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    info.set(Value::Record(
                        Record::new()
                            .with_slot("id", node.id.to_string())
                            .with_slot("version", env!("CARGO_PKG_VERSION"))
                            .with_slot("addresses", Value::Record(Record::new().with_value(local.to_string())))
                            .with_slot("uptime", started.elapsed().as_secs())
                            .with_slot("peer_links", node.hub.peer_links.load(std::sync::atomic::Ordering::Relaxed) as u64),
                    ));
                    refresh_peers(&node, &peers);
                    refresh_flows(&node, &flows);
                    refresh_gates(&node, &gates);
                }
                e = events.recv() => match e {
                    Ok(o) => offers.put(Value::text(o.id.as_str()), recon::to_value(&o).unwrap_or(Value::Extant)),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        for o in node.drive().list() {
                            offers.put(Value::text(o.id.as_str()), recon::to_value(&o).unwrap_or(Value::Extant));
                        }
                    }
                    Err(_) => return,
                },
            }
        }
    })
}

fn refresh_peers(node: &Node, lane: &Lane) {
    let entries = node.book.list();
    let keep: Vec<Value> = entries
        .iter()
        .map(|e| Value::text(e.alias.as_str()))
        .collect();
    for k in lane.keys() {
        if !keep.contains(&k) {
            lane.remove(&k);
        }
    }
    for e in entries {
        let conn = e.peer_id().and_then(|id| node.conns.get(&id));
        let mut r = Record::new()
            .with_slot("id", e.id.as_str())
            .with_slot("policy", e.policy.to_string())
            .with_slot("connected", conn.is_some());
        if let Some(c) = &conn {
            let paths = c.paths();
            let mut list = Record::new();
            for p in paths.iter().map(crate::control::PathStatus::from) {
                list = list.with_value(Value::Record(
                    Record::new()
                        .with_slot("local", p.local)
                        .with_slot("remote", p.remote)
                        .with_slot("kind", p.kind)
                        .with_slot("state", p.state)
                        .with_slot("rtt_ms", p.rtt_ms)
                        .with_slot("tx_bytes", p.tx_bytes)
                        .with_slot("rx_bytes", p.rx_bytes)
                        .with_slot("tx_rate", p.tx_rate)
                        .with_slot("loss_percent", p.loss_percent),
                ));
            }
            r = r
                .with_slot("rtt_us", c.rtt().as_micros() as u64)
                .with_slot(
                    "remote",
                    paths
                        .first()
                        .map_or(String::new(), |p| p.remote.to_string()),
                )
                .with_slot("paths", Value::Record(list));
        }
        lane.put(Value::text(e.alias.as_str()), Value::Record(r));
    }
}

/// Puts `now` (key, value) in the map lane, removing the keys it no longer has.
fn replace(lane: &Lane, now: Vec<(String, Value)>) {
    for k in lane.keys() {
        if !now.iter().any(|(n, _)| Value::text(n.as_str()) == k) {
            lane.remove(&k);
        }
    }
    for (k, v) in now {
        lane.put(Value::text(k.as_str()), v);
    }
}

/// The running flows with their counters, by name.
fn refresh_flows(node: &Node, lane: &Lane) {
    let now = node
        .flows
        .statuses()
        .into_iter()
        .map(|f| {
            let v = recon::to_value(&f).unwrap_or(Value::Extant);
            (f.flow.name, v)
        })
        .collect();
    replace(lane, now);
}

/// The gates, exposed and opened (from the command line and the file), by name or
/// listening address: `{kind, detail}`.
fn refresh_gates(node: &Node, lane: &Lane) {
    let gate = |kind: &str, detail: String| {
        Value::Record(
            Record::new()
                .with_slot("kind", kind)
                .with_slot("detail", detail),
        )
    };
    let mut now = Vec::new();
    for g in node
        .gates
        .book
        .all_exposed()
        .into_iter()
        .chain(node.gates.file_exposed())
    {
        let proto = if g.udp { "udp" } else { "tcp" };
        now.push((
            g.name.clone(),
            gate("exposed", format!("{proto} {}", g.target)),
        ));
    }
    for g in node
        .gates
        .book
        .all_opened()
        .into_iter()
        .chain(node.gates.file_opened())
    {
        let proto = if g.udp { "udp" } else { "tcp" };
        let detail = format!("{proto} {} to {} {}", g.listen, g.peer, g.name);
        now.push((g.listen.clone(), gate("opened", detail)));
    }
    replace(lane, now);
}

/// One probe to `peer`; its result (or the error) is the lane's event.
async fn ping(node: Arc<Node>, lane: Arc<Lane>, peer: String) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let req = Request::Ping {
        peer: peer.clone(),
        count: 1,
        interval_ms: 0,
        size: 0,
    };
    tokio::spawn(super::commands::handle(node, req, tx));
    let base = Record::new().with_slot("peer", peer.as_str());
    while let Some(r) = rx.recv().await {
        let event = match r {
            Response::PingReply { seq, rtt_us, .. } => base
                .clone()
                .with_slot("seq", seq)
                .with_slot("rtt_us", rtt_us),
            Response::PingLost { seq } => {
                base.clone().with_slot("seq", seq).with_slot("lost", true)
            }
            Response::Error(e) => base.clone().with_slot("error", e.message),
            _ => continue,
        };
        lane.emit(Value::Record(event));
    }
}
