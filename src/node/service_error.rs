//! Why a channel service (or the client side of one: ping, speed, a flow's sender)
//! stopped: the channel, the peer's bytes, or the local side it leads to. Each is logged
//! with the peer and the service; only that channel ends.

use std::time::Duration;

use crate::node::conns::ReachError;
use crate::store::BookError;
use crate::transport::ChannelError;

/// Why a channel service stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The channel failed (lost connection, reset, a message that does not decode).
    #[error(transparent)]
    Channel(#[from] ChannelError),
    /// The channel's bytes could not be read.
    #[error("tunnel: {0}")]
    Tunnel(std::io::Error),
    /// The local socket the channel leads to failed.
    #[error("local side: {0}")]
    Local(std::io::Error),
    /// The opener sent no header in time.
    #[error("no channel header within {0:?}")]
    NoHeader(Duration),
    /// The other side ended the channel before the exchange was over.
    #[error("{0}")]
    Ended(&'static str),
    /// A sink mode this node does not know.
    #[error("unknown sink mode {0}")]
    SinkMode(u8),
    /// A datagram frame over the limit.
    #[error(transparent)]
    Datagram(#[from] protocols::datagram::TooLarge),
    /// The stream ended inside a datagram.
    #[error("the stream ended inside a datagram")]
    CutDatagram,
    /// A flow member's acknowledgements do not decode.
    #[error(transparent)]
    Acks(#[from] protocols::flow::AckError),
    /// A warpdrive session failed.
    #[error(transparent)]
    Drive(#[from] warpdrive::wire::WireError),
    /// The peer could not be reached, or refused the channel.
    #[error(transparent)]
    Reach(#[from] ReachError),
    /// The peer is not in the book.
    #[error(transparent)]
    Book(#[from] BookError),
}
