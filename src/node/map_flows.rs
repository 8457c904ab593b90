//! Flows defined on a map (`warp map --flows`), run by a node that trusts that map for
//! them (`map = [{ addr, key, flows = true }]` in `warp.toml`). The node keeps a `Flows`
//! channel open to each such map: the map sends the node's table (the flows it is a
//! member of) at once and again after every change, signed by its key; the node checks
//! the key, that the table is for it and newer than the last, and runs exactly those
//! flows beside its own (its own win on a clash of names). In return it tells the map
//! which of them are congested. Members of a trusted map's flows may connect to this
//! node for those flows (and nothing else) though they are not in its book.
//!
//! The last table taken from each map is kept (in sled, as the map signed it), so a node
//! that restarts while its map is unreachable runs the same flows; it is checked again
//! when read, and forgotten with the map's trust.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use protocols::backoff::Backoff;
use protocols::map::flows::{self as wire, Parts, Table};
use protocols::map::Frame;
use tracing::{debug, info, warn};

use super::maps::MapError;
use super::Node;
use crate::flow_book::{Flow, Mode, Origin, Role, SELF};
use crate::identity::PeerId;

/// How often congestion is looked at (and told the map when it changed).
const REPORT_EVERY: Duration = Duration::from_secs(1);

/// One map's table as last taken.
struct Held {
    seq: u64,
    /// Its flows.
    flows: Vec<wire::FlowDef>,
    /// Every member of them but this node.
    members: HashSet<PeerId>,
}

/// The flows tables of the maps the node trusts for flows.
pub struct MapTables {
    held: Mutex<HashMap<String, Held>>,
    /// The last table of each map, as signed, by the map's address.
    kept: sled::Tree,
    /// `flow_ip` in `warp.toml`: where this node binds a map's flows that name no address.
    ip: Mutex<Option<std::net::IpAddr>>,
}

impl MapTables {
    /// No table taken yet; the last ones kept in `kept`.
    pub fn new(kept: sled::Tree) -> MapTables {
        MapTables {
            held: Mutex::default(),
            kept,
            ip: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Held>> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether `id` is a member of a flow a trusted map defines for this node.
    pub fn is_member(&self, id: &PeerId) -> bool {
        self.lock().values().any(|h| h.members.contains(id))
    }

    /// Sets where this node binds a map's flows that name no address (`None`: the
    /// usual 127.1.0.1); whether that changed.
    pub fn set_ip(&self, ip: Option<std::net::IpAddr>) -> bool {
        let mut now = self.ip.lock().unwrap_or_else(|p| p.into_inner());
        std::mem::replace(&mut *now, ip) != ip
    }

    /// Every flow the maps define for this node (`me`), with its map and its members'
    /// names there.
    fn wanted(&self, me: PeerId) -> Vec<(String, Flow, HashMap<String, String>)> {
        let ip = *self.ip.lock().unwrap_or_else(|p| p.into_inner());
        let held = self.lock();
        let mut list: Vec<_> = held
            .iter()
            .flat_map(|(map, h)| {
                h.flows.iter().map(move |d| {
                    let (mut f, names) = flow_of(me, d);
                    f.ip = f.ip.or(ip);
                    (map.clone(), f, names)
                })
            })
            .collect();
        list.sort_by(|a, b| (&a.0, &a.1.name).cmp(&(&b.0, &b.1.name)));
        list
    }
}

/// A table's flow as the node runs it: members by id, this node as `self`; with the
/// members' names on the map.
fn flow_of(me: PeerId, d: &wire::FlowDef) -> (Flow, HashMap<String, String>) {
    let mut f = Flow {
        name: d.name.clone(),
        mode: match d.mode {
            wire::mode::ONE_TO_ONE => Mode::OneToOne,
            wire::mode::ONE_TO_MANY => Mode::OneToMany,
            wire::mode::MANY_TO_ONE => Mode::ManyToOne,
            _ => Mode::ManyToMany,
        },
        port: d.port,
        ip: d.ip.map(|a| a.ip()),
        deliver: d.deliver,
        members: Vec::new(),
        send: Vec::new(),
        recv: Vec::new(),
        paths: crate::bond_mode::from_code(d.paths),
    };
    let mut names = HashMap::new();
    for m in &d.members {
        let id = PeerId(m.id);
        let member = match id == me {
            true => SELF.to_string(),
            false => id.to_string(),
        };
        names.insert(member.clone(), m.name.clone());
        let role = match m.role {
            wire::role::SEND => Role::Send,
            wire::role::RECV => Role::Recv,
            _ => Role::Both,
        };
        f.set_member(&member, role);
    }
    (f, names)
}

impl Node {
    /// Follows the flows map `name` (whose key is `key`) defines for this node, while the
    /// configuration trusts it for them; then its flows stop.
    pub(super) async fn follow_map_flows(self: Arc<Self>, name: String, key: PeerId) {
        let trusted = |node: &Node| node.maps.flow_maps().contains(&(name.clone(), key));
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
        let mut failing = false;
        // The table kept from the last run, until the map sends a newer one.
        if let Ok(Some(bytes)) = self.flows.maps.kept.get(name.as_bytes()) {
            self.take_table(&name, key, &bytes).await;
        }
        while trusted(&self) {
            match self.flows_channel(&name, key).await {
                Ok(()) => {
                    backoff.reset();
                    failing = false;
                }
                Err(e) => {
                    if !failing {
                        warn!("flows from map {name}: {e}");
                    }
                    failing = true;
                }
            }
            let until = Instant::now() + backoff.attempt(Instant::now());
            while Instant::now() < until && trusted(&self) {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
        if self.flows.maps.lock().remove(&name).is_some() {
            info!("map {name} is no longer trusted for flows: its flows stop");
        }
        if let Err(e) = self.flows.maps.kept.remove(name.as_bytes()) {
            warn!("forgetting map {name}'s flow table: {e}");
        }
        self.apply_map_flows().await;
    }

    /// One `Flows` channel to the map `name`: its tables taken as they come, congestion
    /// told; returns when the channel ends or the map is no longer trusted.
    async fn flows_channel(self: &Arc<Self>, name: &str, key: PeerId) -> Result<(), MapError> {
        let at = Node::resolve_map(name).await?;
        let (_link, mut ch) = self.map_channel(at, name).await?;
        let channel = |error| MapError::Channel {
            addr: name.to_string(),
            error,
        };
        ch.write(&Frame::Flows.encode()).await.map_err(channel)?;
        let (mut w, r) = ch.split();
        let mut frames = r.messages(Frame::decode);
        let mut parts = Parts::default();
        let mut told: Option<Vec<String>> = None;
        let mut tick = tokio::time::interval(REPORT_EVERY);
        loop {
            tokio::select! {
                frame = frames.recv() => match frame {
                    Some(Ok(Frame::FlowTable { last, part })) => {
                        let whole = parts.push(last, &part).map_err(|e| MapError::Refused {
                            addr: name.to_string(),
                            why: e.to_string(),
                        })?;
                        if let Some(bytes) = whole {
                            self.take_table(name, key, &bytes).await;
                        }
                    }
                    Some(Ok(Frame::Refused(why))) => {
                        return Err(MapError::Refused { addr: name.to_string(), why })
                    }
                    Some(Ok(other)) => debug!("map {name} sent {other:?} on the flows channel"),
                    Some(Err(e)) => return Err(channel(e)),
                    None => return Ok(()),
                },
                _ = tick.tick() => {
                    if !self.maps.flow_maps().contains(&(name.to_string(), key)) {
                        return Ok(());
                    }
                    let origin = Origin::Map(name.to_string());
                    let now: Vec<String> = self
                        .flows
                        .statuses()
                        .into_iter()
                        .filter(|f| f.origin == origin && f.congested)
                        .map(|f| f.flow.name)
                        .collect();
                    if told.as_ref() != Some(&now) {
                        w.write_all(&Frame::Congested(now.clone()).encode())
                            .await
                            .map_err(channel)?;
                        told = Some(now);
                    }
                }
            }
        }
    }

    /// Takes a table from map `name` if it verifies, is for this node and is newer than
    /// the last; then runs its flows.
    async fn take_table(self: &Arc<Self>, name: &str, key: PeerId, bytes: &[u8]) {
        let table = match Table::decode(bytes).and_then(|t| {
            t.verify(&key.0, &self.id.0)?;
            Ok(t)
        }) {
            Ok(t) => t,
            Err(e) => {
                warn!("map {name}: {e}: refused");
                return;
            }
        };
        {
            let mut held = self.flows.maps.lock();
            if held.get(name).is_some_and(|h| h.seq >= table.seq) {
                debug!("map {name}: a flow table no newer than the last: ignored");
                return;
            }
            let members = table
                .flows
                .iter()
                .flat_map(|d| d.members.iter().map(|m| PeerId(m.id)))
                .filter(|id| *id != self.id)
                .collect();
            info!(
                "map {name}: flow table {} with {} flows for this node",
                table.seq,
                table.flows.len()
            );
            held.insert(
                name.to_string(),
                Held {
                    seq: table.seq,
                    flows: table.flows,
                    members,
                },
            );
        }
        let kept = &self.flows.maps.kept;
        if let Err(e) = kept
            .insert(name.as_bytes(), bytes)
            .and_then(|_| kept.flush())
        {
            warn!("keeping map {name}'s flow table: {e}");
        }
        self.apply_map_flows().await;
    }

    /// Makes the flows running from maps those the maps' tables define: each one no
    /// table has any more stops; each the tables define starts or changes, unless the
    /// node defines one of that name itself (then it waits, and starts when that one is
    /// removed).
    pub(super) async fn apply_map_flows(self: &Arc<Self>) {
        let wanted = self.flows.maps.wanted(self.id);
        let running: Vec<(String, Origin)> = self
            .flows
            .running()
            .iter()
            .map(|(n, r)| (n.clone(), r.origin.clone()))
            .collect();
        for (flow, origin) in running {
            let Origin::Map(map) = &origin else { continue };
            if !wanted.iter().any(|(m, f, _)| m == map && f.name == flow) {
                super::flows::stop(self, &flow).await;
                info!("flow {flow} from map {map}: removed");
            }
        }
        for (map, f, names) in wanted {
            let origin = Origin::Map(map.clone());
            let same = self
                .flows
                .running()
                .get(&f.name)
                .is_some_and(|r| r.origin == origin && r.def() == f);
            if same {
                continue;
            }
            let name = f.name.clone();
            match super::flows::apply(self, f, (origin, names)).await {
                Ok(()) => info!("flow {name} from map {map}: applied"),
                Err(e) => warn!("flow {name} from map {map}: {e}"),
            }
        }
    }

    /// Asks a map trusted for flows (`map`, else the first) to let this node join `flow`
    /// in `role`, as `name` if it has none there: whether it is a member now (`false`:
    /// the request waits for the map's operator).
    pub(super) async fn join_flow(
        &self,
        map: Option<&str>,
        flow: &str,
        (role, name): (Role, &str),
    ) -> Result<bool, MapError> {
        let maps = self.maps.flow_maps();
        let found = match map {
            Some(m) => maps.iter().find(|(a, _)| a == m),
            None => maps.first(),
        };
        let Some((addr, _)) = found else {
            return Err(MapError::NoFlowMap(
                map.map(|m| format!("{m} ")).unwrap_or_default(),
            ));
        };
        let at = Node::resolve_map(addr).await?;
        let req = Frame::Join {
            flow: flow.to_string(),
            role: role.code(),
            name: name.to_string(),
        };
        match self.ask_map(at, addr, &req).await? {
            (Frame::Joined(_), _) => Ok(true),
            (Frame::JoinHeld(_), _) => Ok(false),
            (other, _) => Err(MapError::Refused {
                addr: addr.clone(),
                why: format!("answered {other:?} to Join"),
            }),
        }
    }
}
