//! Why a gate could not be opened on this node.

use super::own::OwnAddress;

/// Why a gate could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum GateOpenError {
    /// The listen address is one of the node's own (a server of its, its data directory).
    #[error(transparent)]
    Own(#[from] OwnAddress),
    /// The address cannot be resolved or bound (in use, no permission).
    #[error("cannot listen on {listen}: {source}")]
    Listen {
        /// The address.
        listen: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// The address reaches beyond loopback and the gate does not say `--gateway`.
    #[error("{listen} is beyond loopback: other hosts could use {peer}'s {name} through it; pass --gateway to mean it")]
    Beyond {
        /// The address.
        listen: String,
        /// The peer the gate leads to.
        peer: String,
        /// Its gate.
        name: String,
    },
    /// The configuration file's gate wants an address a command-line gate holds.
    #[error("{0} is already used by a gate opened from the command line")]
    Taken(String),
}

impl GateOpenError {
    /// A bind or resolve failure at `listen`.
    pub fn listen(listen: &str) -> impl FnOnce(std::io::Error) -> GateOpenError + '_ {
        move |source| GateOpenError::Listen {
            listen: listen.to_string(),
            source,
        }
    }
}
