//! Why a declared agent (from the configuration file) is refused.

/// A rule of agent declarations that a declaration breaks.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AgentError {
    /// A route that does not start with '/', or is the built-in `/hub`.
    #[error("agent route {0:?}: start it with '/' (and not /hub)")]
    Route(String),
    /// A route declared twice.
    #[error("agent route {0:?} is declared twice")]
    RouteTwice(String),
    /// A lane with no name, or declared twice in one agent.
    #[error("agent {route}: lane {lane:?} is empty or declared twice")]
    Lane {
        /// The agent's route.
        route: String,
        /// The lane.
        lane: String,
    },
    /// A durable lane of a kind that cannot be kept.
    #[error("agent {route}: lane {lane}: only value and map lanes can be durable")]
    Durable {
        /// The agent's route.
        route: String,
        /// The lane.
        lane: String,
    },
}
