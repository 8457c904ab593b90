//! One path to a peer: a QUIC connection whose handshake proved the peer's key, with
//! who dialed it and where. A [`Peer`](super::Peer) holds one or more of them.

use std::net::SocketAddr;

use super::close::Close;
use crate::identity::PeerId;

/// A connection to a peer, ready to become one of its paths.
#[derive(Clone)]
pub struct Path {
    pub(crate) conn: quinn::Connection,
    peer: PeerId,
    dialer: PeerId,
    /// The address this node dialed, as given (none: the peer dialed us).
    dialed: Option<String>,
    /// The network interface it was dialed through, when the node chose one.
    via: Option<String>,
    /// This node's address on the path.
    local: SocketAddr,
    /// The map that relays it, if it is relayed.
    relay: Option<SocketAddr>,
}

/// This node's address towards `remote` when the socket is bound to `bound` (and kept
/// to interface `via`): the address the kernel's route picks where `bound` is a
/// wildcard (asking sends nothing).
fn local_towards(
    (bound, via): (SocketAddr, Option<&str>),
    remote: SocketAddr,
    seen: Option<std::net::IpAddr>,
) -> SocketAddr {
    if let Some(ip) = seen {
        return SocketAddr::new(ip, bound.port());
    }
    if !bound.ip().is_unspecified() {
        return bound;
    }
    let any: SocketAddr = match remote {
        SocketAddr::V4(_) => ([0, 0, 0, 0], 0).into(),
        SocketAddr::V6(_) => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let ask = || -> std::io::Result<SocketAddr> {
        let s = socket2::Socket::new(
            socket2::Domain::for_address(remote),
            socket2::Type::DGRAM,
            None,
        )?;
        if let Some(name) = via {
            s.bind_device(Some(name.as_bytes()))?;
        }
        s.bind(&any.into())?;
        s.connect(&remote.into())?;
        s.local_addr()?
            .as_socket()
            .ok_or_else(|| std::io::Error::other("not an IP socket"))
    };
    ask().map_or(bound, |a| SocketAddr::new(a.ip(), bound.port()))
}

impl Path {
    pub(crate) fn new(
        conn: quinn::Connection,
        peer: PeerId,
        dialer: PeerId,
        (dialed, via): (Option<String>, Option<String>),
        bound: SocketAddr,
        relay: Option<SocketAddr>,
    ) -> Path {
        let local = local_towards(
            (bound, via.as_deref()),
            relay.unwrap_or(conn.remote_address()),
            conn.local_ip(),
        );
        Path {
            conn,
            peer,
            dialer,
            dialed,
            via,
            local,
            relay,
        }
    }

    /// The map that relays this path; `None` for a direct one.
    pub fn relay(&self) -> Option<SocketAddr> {
        self.relay
    }

    /// The peer's id (its key, proved in the handshake).
    pub fn peer(&self) -> PeerId {
        self.peer
    }

    /// The node that dialed it.
    pub fn dialer(&self) -> PeerId {
        self.dialer
    }

    /// The address this node dialed, as given; `None` when the peer dialed us.
    pub fn dialed(&self) -> Option<&str> {
        self.dialed.as_deref()
    }

    /// This node's address on the path.
    pub fn local(&self) -> SocketAddr {
        self.local
    }

    /// The peer's address on the path (made up, in `240.0.0.0/4`, for a relayed path:
    /// see [`Path::relay`]).
    pub fn remote(&self) -> SocketAddr {
        self.conn.remote_address()
    }

    /// Whether this path goes to `addr` (as in a peer book) through interface `via` (or,
    /// for `None`, through no interface in particular).
    pub fn reaches(&self, addr: &str, via: Option<&str>) -> bool {
        self.via.as_deref() == via
            && (self.dialed.as_deref() == Some(addr)
                || addr.parse::<SocketAddr>() == Ok(self.remote()))
    }

    /// Closes the connection, telling the peer why.
    pub fn close(&self, why: Close) {
        self.conn.close(why.code().into(), why.reason().as_bytes());
    }

    /// Whether the connection is still up.
    pub fn is_open(&self) -> bool {
        self.conn.close_reason().is_none()
    }
}
