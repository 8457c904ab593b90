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
    /// The database could not be opened.
    #[error(transparent)]
    Db(#[from] crate::home::DbError),
    /// The database failed (opening a book's tree, or the last flush).
    #[error("database: {0}")]
    Sled(#[from] sled::Error),
    /// The peer book could not be opened.
    #[error(transparent)]
    PeerBook(#[from] crate::store::BookError),
    /// The gate book could not be opened.
    #[error(transparent)]
    GateBook(#[from] crate::gate_book::GateBookError),
    /// The flow book could not be opened.
    #[error(transparent)]
    FlowBook(#[from] crate::flow_error::FlowBookError),
    /// The offer store could not be opened.
    #[error(transparent)]
    Offers(#[from] warpdrive::StoreError),
    /// The QUIC socket could not be bound.
    #[error(transparent)]
    Bind(#[from] BindError),
    /// A local server (link hub, REST API) could not listen; the message names the flag
    /// that moves it.
    #[error("{source} ({hint})")]
    Listen {
        /// Why.
        source: crate::listen_error::ListenError,
        /// The flags that move or turn off the server.
        hint: &'static str,
    },
    /// The node's task ended abnormally.
    #[error("the node's task failed: {0}")]
    Task(String),
}
