//! What warpdrive needs from the node: channels to peers and their policies. The node
//! implements [`PeerNet`]; warpdrive never sees sockets or the tunnel itself.

use std::future::Future;
use std::pin::Pin;

use tokio::io::{AsyncRead, AsyncWrite};

/// The receiving half of a channel.
pub type BoxRead = Box<dyn AsyncRead + Unpin + Send>;
/// The sending half of a channel.
pub type BoxWrite = Box<dyn AsyncWrite + Unpin + Send>;
/// A future that opens a channel.
pub type Opening<'a> =
    Pin<Box<dyn Future<Output = Result<(BoxWrite, BoxRead), NetError>> + Send + 'a>>;

/// Why a channel to a peer could not be opened, by what trying again can do.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NetError {
    /// The peer will refuse again (it blocks this node, does not know its key, refuses
    /// the service), or the peer is not one this node can name: an offer ends at once.
    #[error("{0}")]
    Refused(String),
    /// The peer cannot be reached now (down, restarting, connection lost): a later try
    /// may work.
    #[error("{0}")]
    Unreachable(String),
}

/// What the peer book says about offers from a peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Offers wait for the user.
    Ask,
    /// Offers are accepted at once into the default incoming directory.
    Trust,
    /// Offers are refused.
    Block,
}

/// The node's side of warpdrive.
pub trait PeerNet: Send + Sync + 'static {
    /// Opens a `warpdrive` channel to `peer` (an alias or peer id); the error says whether
    /// trying again can help.
    fn open(&self, peer: &str) -> Opening<'_>;
    /// The policy for offers from `peer` (a peer id).
    fn policy(&self, peer: &str) -> Policy;
    /// The peer id `peer` (an alias or id) names; [`NetError::Refused`] when it names
    /// none.
    fn resolve(&self, peer: &str) -> Result<String, NetError>;
    /// The alias the user gave the peer `peer_id`, if any.
    fn alias(&self, peer_id: &str) -> Option<String> {
        let _ = peer_id;
        None
    }
}
