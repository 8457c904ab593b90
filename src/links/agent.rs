//! Agents: the nodes a client can link to. Declared agents come from the configuration
//! file as routes with lanes (`/unit/:id` matches `/unit/5`); an agent is made the first
//! time one of its lanes is used, and a lane the first time it is linked or commanded, so
//! an idle link costs little. The built-in `/hub` agent is made by the node.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use serde::Deserialize;

use super::agent_error::AgentError;
use super::lane::{Kind, Lane};
use super::store::{Durable, Usage};

/// Agents that may exist at once. Past it, agents nobody links
/// to and whose lanes hold nothing that would be lost (durable lanes are in sled) are
/// evicted; if none can be, new agents are refused.
pub const MAX_AGENTS: usize = 200_000;

/// A lane a declared agent has.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LaneSpec {
    /// Its URI.
    pub name: String,
    /// Its kind.
    pub kind: Kind,
    /// Kept in sled and restored on restart (value and map lanes).
    #[serde(default)]
    pub durable: bool,
}

/// A declared agent: a route and its lanes.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentSpec {
    /// `/unit/:id`: literal segments and `:name` segments that match any one segment.
    pub route: String,
    /// Its lanes.
    pub lanes: Vec<LaneSpec>,
}

/// The embedded default: `/unit/:id` with `info` (value), `map` (map), both durable, and
/// `events` (supply), so a new user can link to something at once.
pub fn default_agents() -> Vec<AgentSpec> {
    let lane = |name: &str, kind, durable| LaneSpec {
        name: name.into(),
        kind,
        durable,
    };
    vec![AgentSpec {
        route: "/unit/:id".into(),
        lanes: vec![
            lane("info", Kind::Value, true),
            lane("map", Kind::Map, true),
            lane("events", Kind::Supply, false),
        ],
    }]
}

/// Whether `node` matches `route`.
pub fn matches(route: &str, node: &str) -> bool {
    let (mut r, mut n) = (route.split('/'), node.split('/'));
    loop {
        match (r.next(), n.next()) {
            (None, None) => return true,
            (Some(rs), Some(ns)) if rs.starts_with(':') && !ns.is_empty() => {}
            (Some(rs), Some(ns)) if rs == ns => {}
            _ => return false,
        }
    }
}

/// Checks declared agents: routes start with `/`, no route or lane twice.
pub fn check(agents: &[AgentSpec]) -> Result<(), AgentError> {
    let mut routes = std::collections::HashSet::new();
    for a in agents {
        if !a.route.starts_with('/') || a.route == "/hub" {
            return Err(AgentError::Route(a.route.clone()));
        }
        if !routes.insert(&a.route) {
            return Err(AgentError::RouteTwice(a.route.clone()));
        }
        let mut names = std::collections::HashSet::new();
        for l in &a.lanes {
            let lane = || (a.route.clone(), l.name.clone());
            if l.name.is_empty() || !names.insert(&l.name) {
                let (route, lane) = lane();
                return Err(AgentError::Lane { route, lane });
            }
            if l.durable && !matches!(l.kind, Kind::Value | Kind::Map) {
                let (route, lane) = lane();
                return Err(AgentError::Durable { route, lane });
            }
        }
    }
    Ok(())
}

/// A running agent.
struct Agent {
    spec: Option<Arc<AgentSpec>>,
    lanes: HashMap<Arc<str>, Arc<Lane>>,
}

/// Why a link found no lane.
#[derive(Debug, PartialEq, Eq)]
pub enum Missing {
    /// No agent at that node.
    Node,
    /// The agent has no such lane.
    Lane,
    /// No room for another agent ([`MAX_AGENTS`]).
    Full,
}

/// Every agent of the node.
pub struct Agents {
    agents: Mutex<HashMap<Arc<str>, Agent>>,
    routes: RwLock<Vec<Arc<AgentSpec>>>,
    tree: sled::Tree,
    /// What the durable lanes keep, over all agents.
    pub usage: Usage,
    /// What every lane's state takes in memory (estimated), over all agents.
    pub memory: Usage,
}

impl Agents {
    /// Agents over `tree` (durable lanes) with the declared `routes`.
    pub fn new(tree: sled::Tree, routes: Vec<AgentSpec>) -> Agents {
        Agents {
            agents: Mutex::new(HashMap::new()),
            routes: RwLock::new(routes.into_iter().map(Arc::new).collect()),
            usage: Usage::of(&tree),
            memory: Usage::default(),
            tree,
        }
    }

    /// Replaces the declared routes; running agents keep their lanes.
    pub fn set_routes(&self, routes: Vec<AgentSpec>) {
        *self.routes.write().unwrap_or_else(|p| p.into_inner()) =
            routes.into_iter().map(Arc::new).collect();
    }

    /// Adds an agent made by the node, with its lanes.
    pub fn add_fixed(&self, node: &str, lanes: Vec<Arc<Lane>>) {
        let lanes = lanes
            .into_iter()
            .map(|l| (Arc::from(l.name()), l))
            .collect();
        self.lock()
            .insert(Arc::from(node), Agent { spec: None, lanes });
    }

    /// Whether `node` is an agent made by the node itself (such as `/hub`), which only the
    /// owner may use.
    pub fn is_fixed(&self, node: &str) -> bool {
        self.lock().get(node).is_some_and(|a| a.spec.is_none())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Arc<str>, Agent>> {
        self.agents.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The lane `lane` of node `node`, making the agent and the lane if declared.
    pub fn lane(&self, node: &str, lane: &str) -> Result<Arc<Lane>, Missing> {
        let mut agents = self.lock();
        if !agents.contains_key(node) {
            let spec = self
                .routes
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .find(|r| matches(&r.route, node))
                .cloned()
                .ok_or(Missing::Node)?;
            // (The node's own agents, such as `/hub`, count too: they are few.)
            if agents.len() >= MAX_AGENTS {
                // Evict what nobody uses and nothing would miss.
                agents.retain(|_, a| a.spec.is_none() || !a.lanes.values().all(|l| l.idle()));
                if agents.len() >= MAX_AGENTS {
                    return Err(Missing::Full);
                }
            }
            agents.insert(
                Arc::from(node),
                Agent {
                    spec: Some(spec),
                    lanes: HashMap::new(),
                },
            );
        }
        let agent = agents.get_mut(node).ok_or(Missing::Node)?;
        if let Some(l) = agent.lanes.get(lane) {
            return Ok(l.clone());
        }
        let spec = agent.spec.as_ref().ok_or(Missing::Lane)?;
        let ls = spec
            .lanes
            .iter()
            .find(|l| l.name == lane)
            .ok_or(Missing::Lane)?;
        let durable = ls
            .durable
            .then(|| Durable::new(&self.tree, node, lane, &self.usage));
        let l = Arc::new(Lane::new(node, lane, ls.kind, durable, None, &self.memory));
        agent.lanes.insert(Arc::from(lane), l.clone());
        Ok(l)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_segment_by_segment() {
        assert!(matches("/unit/:id", "/unit/5"));
        assert!(!matches("/unit/:id", "/unit/"));
        assert!(!matches("/unit/:id", "/unit/5/x"));
        assert!(!matches("/unit/:id", "/units/5"));
        assert!(matches("/a/:x/b", "/a/1/b"));
        assert!(check(&default_agents()).is_ok());
    }

    /// Agents at `/v/:id` with one lane `name` of `kind` that is not durable, over a sled
    /// database in a directory kept while the returned guard lives.
    fn volatile(name: &str, kind: Kind) -> (tempfile::TempDir, Agents) {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path().join("db")).unwrap();
        let spec = AgentSpec {
            route: "/v/:id".into(),
            lanes: vec![LaneSpec {
                name: name.into(),
                kind,
                durable: false,
            }],
        };
        (dir, Agents::new(db.open_tree("lanes").unwrap(), vec![spec]))
    }

    #[test]
    fn past_the_agent_cap_idle_agents_are_evicted_and_busy_ones_refuse_more() {
        let (_dir, agents) = volatile("x", Kind::Value);
        for i in 0..MAX_AGENTS {
            agents.lane(&format!("/v/{i}"), "x").unwrap();
        }
        // Every one is idle and empty: room is made.
        agents.lane("/v/new", "x").unwrap();
        assert!(agents.lock().len() < MAX_AGENTS);
        // Agents holding state that only lives in memory are kept; when they fill the
        // cap, new ones are refused.
        for i in 0..MAX_AGENTS {
            agents
                .lane(&format!("/v/s{i}"), "x")
                .unwrap()
                .set(recon::Value::from(1));
        }
        assert_eq!(agents.lane("/v/one-more", "x").err(), Some(Missing::Full));
    }

    #[test]
    fn lane_state_in_memory_is_counted_exactly_and_capped() {
        use crate::links::lane::MAX_STATE_BYTES;
        let (_dir, agents) = volatile("m", Kind::Map);
        // Text is shared, so 1 MiB values cost the test little; the hub counts them whole.
        let big = recon::Value::text("z".repeat(1 << 20));
        let update = |key: i64| {
            let mut r = recon::Record::new().with_attr(
                "update",
                recon::Record::new().with_slot("key", recon::Value::from(key)),
            );
            r.push(recon::Item::Value(big.clone()));
            recon::Value::Record(r)
        };
        let lane = agents.lane("/v/1", "m").unwrap();
        lane.command(update(1));
        lane.command(update(1));
        lane.command(update(2));
        let two = agents.memory.bytes();
        assert!(two > 2 << 20 && two < (2 << 20) + 1024, "{two}");
        lane.remove(&recon::Value::from(1));
        lane.command(recon::parse("@clear").unwrap());
        assert_eq!(agents.memory.bytes(), 0);
        // Past the cap, commands are dropped.
        for i in 0..(MAX_STATE_BYTES >> 20) as i64 + 40 {
            agents
                .lane(&format!("/v/{}", i % 50), "m")
                .unwrap()
                .command(update(i));
        }
        let used = agents.memory.bytes();
        let near_cap = MAX_STATE_BYTES..MAX_STATE_BYTES + (2 << 20);
        assert!(near_cap.contains(&used), "{used}");
        // A lane's state leaves the count with it.
        drop(lane);
        agents.lock().clear();
        assert_eq!(agents.memory.bytes(), 0);
    }

    #[test]
    fn durable_lanes_stop_taking_writes_when_full() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path().join("db")).unwrap();
        let agents = Agents::new(db.open_tree("lanes").unwrap(), default_agents());
        let lane = agents.lane("/unit/1", "map").unwrap();
        let big = "x".repeat(1 << 20);
        for i in 0..70 {
            let body = recon::parse(&format!("@update(key:{i})\"{big}\"")).unwrap();
            lane.command(body);
        }
        let used = agents.usage.bytes();
        assert!(used >= super::super::store::MAX_DURABLE_BYTES, "{used}");
        assert!(
            used < super::super::store::MAX_DURABLE_BYTES + (2 << 20),
            "{used}"
        );
        assert!(lane.keys().len() < 70);
    }
}
