//! A node for one command: `warp share` and `warp offers accept` run one in this process
//! when no node runs for the data directory, with the settings of `warp.toml` (no REST
//! API and no link hub), for as long as the transfer takes, and stop it after.

use std::path::Path;

use tokio::sync::oneshot;

use crate::control::Client;
use crate::node::{self, NodeHandle, NodeOptions};

/// A node started by this command.
pub struct OneOff {
    handle: NodeHandle,
    stop: oneshot::Sender<()>,
}

/// Whether a node answers on the data directory `dir`'s control socket.
pub async fn node_runs(dir: &Path) -> bool {
    Client::connect(dir).await.is_some()
}

/// Why a command could not run a node of its own.
#[derive(Debug, thiserror::Error)]
pub enum OneOffError {
    /// `warp.toml` could not be read or parsed (its `[node]` settings are needed).
    #[error(transparent)]
    Config(#[from] crate::config_error::ConfigError),
    /// The node did not start (a port taken, the data directory locked...).
    #[error("starting a node for this command: {0}")]
    Start(#[from] node::StartError),
}

/// Starts a node on `dir` unless one runs already (`None` then).
pub async fn ensure(dir: &Path) -> Result<Option<OneOff>, OneOffError> {
    if node_runs(dir).await {
        return Ok(None);
    }
    let config = dir.join("warp.toml");
    let file = match std::fs::metadata(&config) {
        Ok(_) => crate::config::load(&config)?.node,
        Err(_) => Default::default(),
    };
    let opts = NodeOptions {
        listen: file.listen.unwrap_or(node::DEFAULT_LISTEN),
        impair: Vec::new(),
        interfaces: file.interfaces,
        incoming: file.incoming.unwrap_or_else(|| dir.join("incoming")),
        config,
        ws: None,
        ws_public: false,
        api: None,
        unknown: None,
        lan: file.lan.unwrap_or(true),
        maps: Vec::new(),
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let shutdown = async move {
        let _ = stopped.await;
    };
    let handle = node::start(dir.to_path_buf(), opts, shutdown).await?;
    eprintln!(
        "warp: no node runs for {}; this command runs one (peer id {}, on {}) until it ends",
        dir.display(),
        handle.id,
        handle.quic
    );
    Ok(Some(OneOff { handle, stop }))
}

impl OneOff {
    /// Stops the node and waits until it has.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        if let Err(e) = self.handle.stopped().await {
            eprintln!("warp: the node of this command stopped with an error: {e}");
        }
    }
}
