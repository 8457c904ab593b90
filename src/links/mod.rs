//! The link hub: a WebSocket server speaking SwimOS WARP in Recon, so SwimOS clients link
//! to node/lane URIs of this node — the built-in `/hub` agent and the agents declared in
//! the configuration file. See docs/warp-links.md.

pub mod agent;
mod conn;
pub mod lane;
pub mod outbox;
mod server;
pub mod store;

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};

use recon::Value;
use serde::Deserialize;
use tokio::sync::watch;

pub use agent::{AgentSpec, Agents};

/// The address the hub listens on by default (loopback; SwimOS's usual port).
pub const DEFAULT_ADDR: &str = "127.0.0.1:9001";

/// The `[links]` section of the configuration file.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinksConfig {
    /// Tokens a client must present with `@auth` before linking; none: auth is open.
    #[serde(default)]
    pub tokens: Vec<String>,
    /// Declared agents, added to (or replacing by route) the embedded `/unit/:id`.
    #[serde(default)]
    pub agent: Vec<AgentSpec>,
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
    tokens: RwLock<Vec<String>>,
    stop: watch::Sender<bool>,
}

impl Hub {
    /// A hub over `tree` (durable lanes) configured by `cfg`.
    pub fn new(tree: sled::Tree, cfg: &LinksConfig) -> Arc<Hub> {
        let (stop, _) = watch::channel(false);
        Arc::new(Hub {
            agents: Agents::new(tree, cfg.routes()),
            tokens: RwLock::new(cfg.tokens.clone()),
            stop,
        })
    }

    /// Applies a changed `[links]` section: tokens and routes. Running agents keep their
    /// lanes; new links use the new routes.
    pub fn configure(&self, cfg: &LinksConfig) {
        *self.tokens.write().unwrap_or_else(|p| p.into_inner()) = cfg.tokens.clone();
        self.agents.set_routes(cfg.routes());
    }

    /// Whether clients must authenticate.
    pub fn needs_auth(&self) -> bool {
        !self
            .tokens
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_empty()
    }

    /// Whether an `@auth` body is good: any body when auth is open; else a configured
    /// token, as the body itself or as its `token` slot.
    pub fn accepts(&self, body: &Value) -> bool {
        let tokens = self.tokens.read().unwrap_or_else(|p| p.into_inner());
        if tokens.is_empty() {
            return true;
        }
        let given = match body {
            Value::Text(t) => Some(t.as_str()),
            Value::Record(r) => match r.get("token") {
                Some(Value::Text(t)) => Some(t.as_str()),
                _ => None,
            },
            _ => None,
        };
        given.is_some_and(|g| tokens.iter().any(|t| t == g))
    }

    fn stopping(&self) -> watch::Receiver<bool> {
        self.stop.subscribe()
    }

    /// Closes every connection: `@unlinked` for each open link, then close 1001.
    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }

    /// Serves WebSockets on `addr`. Refuses a non-loopback address without tokens unless
    /// `public` says the user means it.
    pub async fn serve(
        self: &Arc<Self>,
        addr: SocketAddr,
        public: bool,
    ) -> Result<tokio::task::JoinHandle<()>, String> {
        if !addr.ip().is_loopback() && !self.needs_auth() && !public {
            return Err(format!(
                "the WARP link hub would listen on {addr} with no tokens: set [links] tokens in the configuration file, or pass --ws-public to mean it"
            ));
        }
        server::start(self.clone(), addr).await
    }
}
