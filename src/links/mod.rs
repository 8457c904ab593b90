//! The link hub: a WebSocket server speaking SwimOS WARP in Recon, so SwimOS clients link
//! to node/lane URIs of this node — the built-in `/hub` agent and the agents declared in
//! the configuration file. See docs/warp-links.md.

pub mod agent;
pub mod agent_error;
mod conn;
pub mod lane;
pub mod outbox;
pub mod peer;
pub mod remote;
mod server;
pub mod session;
pub mod store;

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use recon::Value;
use serde::Deserialize;
use tokio::sync::watch;

use crate::listen_error::ListenError;

pub use agent::{AgentSpec, Agents};

/// The address the hub listens on by default (loopback; SwimOS's usual port).
pub const DEFAULT_ADDR: &str = "127.0.0.1:9001";

/// The `[links]` section of the configuration file.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinksConfig {
    /// Tokens a client must present with `@auth` before linking; none: auth is open.
    /// Absent leaves the tokens as they are, so a file cut short (a crash mid-save) never
    /// opens a hub that had tokens: write `tokens = []` to open it.
    #[serde(default)]
    pub tokens: Option<Vec<String>>,
    /// Declared agents, added to (or replacing by route) the embedded `/unit/:id`.
    #[serde(default)]
    pub agent: Vec<AgentSpec>,
    /// What peers may do with the lanes over the tunnel, by alias or id (`none`, `read`,
    /// `write`): wins over `warp peers set <peer> links ...`.
    #[serde(default)]
    pub peers: std::collections::BTreeMap<String, crate::store::LinkAccess>,
}

impl LinksConfig {
    /// The routes this section declares, with the embedded default where not replaced.
    pub fn routes(&self) -> Vec<AgentSpec> {
        let mut routes = self.agent.clone();
        for d in agent::default_agents() {
            if !routes.iter().any(|r| r.route == d.route) {
                routes.push(d);
            }
        }
        routes
    }
}

/// The hub.
pub struct Hub {
    /// The agents.
    pub agents: Agents,
    /// Links to lanes on other nodes.
    pub remote: Arc<remote::Remotes>,
    /// The page's logins and sessions: a session token counts as the owner's.
    pub logins: Arc<crate::page_login::Logins>,
    /// Links that peers' hubs hold to this node's lanes (one per lane per peer, however
    /// many clients there link to it).
    pub peer_links: std::sync::atomic::AtomicUsize,
    tokens: RwLock<Vec<String>>,
    /// `[links] peers` of the configuration file.
    file_peers: RwLock<std::collections::BTreeMap<String, crate::store::LinkAccess>>,
    /// The owner's token: a client that presents it may also use the node's own agents
    /// (`/hub`).
    owner: String,
    stop: watch::Sender<bool>,
    /// Bumped whenever what peers may do with the lanes may have changed: their sessions
    /// look again.
    access: watch::Sender<u64>,
}

/// What an `@auth` proved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    /// Nothing: refused.
    Refused,
    /// A configured token (or any body when auth is open): declared agents.
    Client,
    /// The owner's token: declared agents and the node's own.
    Owner,
}

impl Hub {
    /// A hub over `tree` (durable lanes) configured by `cfg`; `owner` is the owner's
    /// token.
    pub fn new(tree: sled::Tree, cfg: &LinksConfig, owner: String) -> Arc<Hub> {
        let (stop, _) = watch::channel(false);
        let agents = Agents::new(tree, cfg.routes());
        Arc::new(Hub {
            remote: Arc::new(remote::Remotes::new(agents.memory.clone())),
            agents,
            peer_links: Default::default(),
            logins: Arc::default(),
            tokens: RwLock::new(cfg.tokens.clone().unwrap_or_default()),
            file_peers: RwLock::new(cfg.peers.clone()),
            owner,
            stop,
            access: watch::channel(0).0,
        })
    }

    /// Says that what peers may do with the lanes may have changed (`peer`'s, or
    /// everyone's from the file): their open sessions look again.
    pub fn peer_access_changed(&self, peer: &str) {
        tracing::debug!("links access of {peer} may have changed");
        self.access.send_modify(|n| *n += 1);
    }

    /// Applies a changed `[links]` section: tokens (when the section names them) and
    /// routes. Running agents keep their lanes; new links use the new routes.
    pub fn configure(&self, cfg: &LinksConfig) {
        if let Some(tokens) = &cfg.tokens {
            *self.tokens.write().unwrap_or_else(|p| p.into_inner()) = tokens.clone();
        }
        self.agents.set_routes(cfg.routes());
        let mut peers = self.file_peers.write().unwrap_or_else(|p| p.into_inner());
        if *peers != cfg.peers {
            *peers = cfg.peers.clone();
            drop(peers);
            self.peer_access_changed("the configuration file's peers");
        }
    }

    /// `[links] peers` of the configuration file: what peers may do, by alias or id.
    pub fn file_peers(&self) -> Vec<(String, crate::store::LinkAccess)> {
        let peers = self.file_peers.read().unwrap_or_else(|p| p.into_inner());
        peers.iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    /// Whether clients must authenticate.
    pub fn needs_auth(&self) -> bool {
        !self
            .tokens
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
    }

    /// What an `@auth` body proves: the owner's token, as the body itself or as its
    /// `token` slot, makes an owner; else a configured token, or any body when auth is
    /// open, makes a client.
    pub fn accepts(&self, body: &Value) -> Auth {
        let given = match body {
            Value::Text(t) => Some(t.as_str()),
            Value::Record(r) => match r.get("token") {
                Some(Value::Text(t)) => Some(t.as_str()),
                _ => None,
            },
            _ => None,
        };
        if given.is_some_and(|g| crate::api_token::equal(g, &self.owner) || self.logins.valid(g)) {
            return Auth::Owner;
        }
        let tokens = self.tokens.read().unwrap_or_else(|p| p.into_inner());
        if tokens.is_empty()
            || given.is_some_and(|g| tokens.iter().any(|t| crate::api_token::equal(g, t)))
        {
            Auth::Client
        } else {
            Auth::Refused
        }
    }

    fn stopping(&self) -> watch::Receiver<bool> {
        self.stop.subscribe()
    }

    /// Closes every connection (`@unlinked` for each open link, then close 1001) and
    /// waits, at most `grace`, until every client has been sent that.
    pub async fn stop(&self, grace: std::time::Duration) {
        let _ = self.stop.send(true);
        // Each connection holds a receiver until its last frame is written.
        let _ = tokio::time::timeout(grace, self.stop.closed()).await;
    }

    /// Serves WebSockets on `addr`. Refuses a non-loopback address unless `public` says
    /// the user means it, and says who can then link. `own_ports` are the ports of the
    /// node's loopback servers whose pages may link.
    pub async fn serve(
        self: &Arc<Self>,
        addr: SocketAddr,
        public: bool,
        own_ports: Vec<u16>,
    ) -> Result<tokio::task::JoinHandle<()>, ListenError> {
        if !addr.ip().is_loopback() {
            if !public {
                return Err(ListenError::HubNotPublic(addr));
            }
            let who = if self.needs_auth() {
                "any host that can reach it and holds a [links] token"
            } else {
                "any host that can reach it, with no token (set [links] tokens to require one)"
            };
            tracing::warn!("the WARP link hub listens on {addr}: {who} can link to its agents");
        }
        server::start(self.clone(), addr, own_ports).await
    }
}
