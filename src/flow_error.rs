//! Why a flow definition is refused, why the flow book could not keep it, and why a
//! flow could not be applied to the running node.

use std::net::SocketAddr;

/// A rule of flow definitions that a definition breaks.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FlowError {
    /// Not a name a flow may have.
    #[error("{0:?} cannot name a flow: use 1 to 48 of a-z, 0-9, '.', '_' and '-'")]
    BadName(String),
    /// No port.
    #[error("flow {0}: give it a port")]
    NoPort(String),
    /// Applications would reach it on an address that is not loopback.
    #[error("flow {0}: {1} is not a loopback address")]
    NotLoopback(String, SocketAddr),
    /// It would deliver to an address that is not loopback.
    #[error("flow {0}: deliver to {1}: not a loopback address")]
    DeliverNotLoopback(String, SocketAddr),
    /// More members than a flow may have.
    #[error("flow {0}: more than {1} members")]
    TooManyMembers(String, usize),
    /// A member name that cannot name a peer.
    #[error("flow {0}: {1:?} cannot name a member")]
    BadMember(String, String),
    /// A member named twice.
    #[error("flow {0}: {1} is named twice")]
    Twice(String, String),
    /// This node is not a member.
    #[error("flow {0}: name this node as `self` among the members")]
    NoSelf(String),
    /// Member counts the mode does not allow.
    #[error("flow {name}: mode {mode} needs {rule} ({members} members: {senders} send, {receivers} receive)")]
    Mode {
        /// The flow.
        name: String,
        /// Its mode, as written (`1:n`).
        mode: String,
        /// What the mode needs.
        rule: &'static str,
        /// Members given.
        members: usize,
        /// Of them, sending.
        senders: usize,
        /// Of them, receiving.
        receivers: usize,
    },
}

/// Why the flow book could not keep or drop a flow.
#[derive(Debug, thiserror::Error)]
pub enum FlowBookError {
    /// The definition breaks a rule.
    #[error(transparent)]
    Invalid(#[from] FlowError),
    /// The database failed.
    #[error("flow book: {0}")]
    Db(#[from] sled::Error),
    /// The definition could not be written as Recon.
    #[error("flow book: {0}")]
    Encode(#[from] recon::SerError),
}

/// Why a flow could not be applied to the running node.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// The definition breaks a rule.
    #[error(transparent)]
    Invalid(#[from] FlowError),
    /// The flow runs from the command line; the file's of the same name waits.
    #[error("flow {0} is already set from the command line")]
    SetFromCommandLine(String),
    /// The flow runs from the configuration file: it is changed there.
    #[error("flow {0} comes from the configuration file: change it there")]
    SetInFile(String),
    /// The node defines a flow of this name itself: a map's waits.
    #[error("flow {0} is defined on this node, which wins over the map's")]
    DefinedHere(String),
    /// Another map defines a flow of this name, and it runs.
    #[error("flow {0} runs from {1} already")]
    FromOtherMap(String, String),
    /// Its local port cannot be bound.
    #[error("flow {name}: cannot listen on udp {addr}: {source}")]
    Bind {
        /// The flow.
        name: String,
        /// The address.
        addr: SocketAddr,
        /// What the system said.
        source: std::io::Error,
    },
}
