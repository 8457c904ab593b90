//! Why the configuration file cannot be used: it cannot be read, or what it says breaks
//! a rule (the message names the file and, for syntax, the line).

use std::path::PathBuf;

use crate::flow_error::FlowError;
use crate::links::agent_error::AgentError;

/// Why the configuration file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: std::io::Error,
    },
    /// The file went away while the node ran.
    #[error("{}: gone", .0.display())]
    Gone(PathBuf),
    /// The file is empty (most likely half-saved).
    #[error("{}: empty", .0.display())]
    Empty(PathBuf),
    /// What it says is refused.
    #[error("{}: {problem}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// Why.
        problem: ConfigProblem,
    },
}

/// What in configuration text is refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigProblem {
    /// Not TOML, or not the settings warp knows.
    #[error("{0}")]
    Syntax(#[from] toml::de::Error),
    /// Not a name a gate may have.
    #[error("gate name {0:?}: use 1 to 48 of a-z, 0-9, '.', '_' and '-'")]
    GateName(String),
    /// A gate exposed twice.
    #[error("gate {0:?} is exposed twice")]
    ExposedTwice(String),
    /// Two opened gates on one address.
    #[error("two gates listen on {0}")]
    ListenTwice(String),
    /// An agent declaration breaks a rule.
    #[error(transparent)]
    Agent(#[from] AgentError),
    /// A flow definition breaks a rule.
    #[error(transparent)]
    Flow(#[from] FlowError),
    /// A flow defined twice.
    #[error("flow {0:?} is defined twice")]
    FlowTwice(String),
    /// A map's key is not a peer id.
    #[error("map {0}: key: {1}")]
    MapKey(String, crate::identity::BadPeerId),
    /// `flow_ip` is not loopback.
    #[error("flow_ip {0}: flows listen on loopback only")]
    FlowIp(std::net::IpAddr),
    /// Flows trusted from a map whose key is not given.
    #[error("map {0}: flows = true needs the map's key (`warp map` prints it)")]
    FlowsWithoutKey(String),
}
