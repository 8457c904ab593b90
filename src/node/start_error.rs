//! Why a node could not start, or did not stop cleanly: [`start`](super::start) and
//! [`NodeHandle::stopped`](super::NodeHandle::stopped) say which part failed; the CLI
//! prints it.

use std::path::PathBuf;

use crate::transport::BindError;

/// Why a node could not start, or did not stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Another node holds the data directory.
    #[error("another warp node is already running with data directory {} (set WARP_HOME to run a second one)", .0.display())]
    Locked(PathBuf),
    /// A file or socket of the node (its lock, identity, control socket) cannot be used.
    #[error("{what}: {source}")]
    File {
        /// Which file.
        what: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// The owner's API token cannot be read or made.
    #[error(transparent)]
    Token(#[from] crate::api_token::TokenError),
    /// The database or a book in it failed.
    #[error("{0}")]
    Store(String),
    /// The QUIC socket could not be bound.
    #[error(transparent)]
    Bind(#[from] BindError),
    /// A local server (link hub, REST API, control socket) could not listen; the message
    /// names the flag that moves it.
    #[error("{0}")]
    Listen(String),
    /// The node's task ended abnormally.
    #[error("the node's task failed: {0}")]
    Task(String),
}

impl From<StartError> for String {
    fn from(e: StartError) -> String {
        e.to_string()
    }
}
