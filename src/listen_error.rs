//! Why a local server of the node (the WARP link hub, the REST API) could not listen.

use std::net::SocketAddr;

/// Why a local server could not listen.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    /// The address could not be bound.
    #[error("{server} on {addr}: {source}")]
    Bind {
        /// Which server.
        server: &'static str,
        /// The address.
        addr: SocketAddr,
        /// What the system said.
        source: std::io::Error,
    },
    /// The link hub would listen beyond loopback without `--ws-public`.
    #[error("the WARP link hub would listen on {0}, beyond loopback: pass --ws-public to mean it (and set [links] tokens in the configuration file so that clients must authenticate)")]
    HubNotPublic(SocketAddr),
    /// The REST API listens on loopback only.
    #[error("the REST API listens on loopback only, not {0}")]
    ApiNotLoopback(SocketAddr),
}
