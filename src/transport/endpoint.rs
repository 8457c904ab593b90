//! The node's QUIC endpoint: one UDP socket (impaired on request), the transport settings
//! every connection shares, dialing a peer whose key is expected and accepting callers
//! whose key is learned in the handshake.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tracing::warn;

use super::close::{Close, Closed};
use super::impair::ImpairSpec;
use super::path::Path;
use super::relay::map_socket::MapSocket;
use super::relay::node_socket::NodeSocket;
use super::relay::tcp::Carriage;
use super::relay::{Intercept, Route, Routes};
use super::tls;
use super::tls_error::{CertError, SetupError};
use crate::identity::{Identity, PeerId};
use protocols::map::relay::TOKEN_LEN;

/// Channels a peer lets us open at once (`max_concurrent_bidi_streams`).
pub const STREAMS: u32 = 1024;

/// The largest UDP payload path MTU discovery tries.
const MTU_CEILING: u16 = 16_384;

/// UDP socket buffer size: quinn on loopback loses packets with the 208 KiB default.
const SOCKET_BUFFER: usize = 4 << 20;

/// How long a dial may take.
const DIAL_TIMEOUT: Duration = Duration::from_secs(3);

/// Why the endpoint could not start.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    /// The UDP socket could not be bound.
    #[error("cannot listen on udp {addr}: {source} (--listen ADDR listens elsewhere)")]
    Socket {
        /// The address asked for.
        addr: SocketAddr,
        /// What the system said.
        source: std::io::Error,
    },
    /// The TLS or QUIC set-up failed.
    #[error("{0}")]
    Setup(#[from] SetupError),
}

/// Why a dial failed.
#[derive(Debug, thiserror::Error)]
pub enum DialError {
    /// The address did not resolve.
    #[error("cannot resolve {addr}: {reason}")]
    Resolve {
        /// The address as given.
        addr: String,
        /// Why.
        reason: String,
    },
    /// The TLS or QUIC set-up for this dial failed.
    #[error("{0}")]
    Setup(#[from] SetupError),
    /// No socket could be kept to that interface.
    #[error("cannot send through interface {name}: {source}")]
    Interface {
        /// The interface.
        name: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// No answer within the dial timeout.
    #[error("no answer (timed out)")]
    TimedOut,
    /// The node at that address proved another key: refused as a certificate error.
    #[error("certificate refused: peer presented key {presented}, expected {expected}")]
    WrongKey {
        /// The key it proved.
        presented: PeerId,
        /// The key the book names.
        expected: PeerId,
    },
    /// The handshake failed or the peer closed at once.
    #[error("{0}")]
    Closed(Closed),
}

impl DialError {
    /// Whether the peer will refuse again, so trying again cannot help.
    pub fn is_final(&self) -> bool {
        match self {
            DialError::Closed(c) => c.is_final(),
            DialError::WrongKey { .. } => true,
            _ => false,
        }
    }
}

/// The QUIC transport settings of every connection: keepalives every 150 ms, so that an
/// idle path still hears from the peer and a silent one is known dead within 500 ms (see
/// `protocols::bond::health`); an idle timeout of 4 s ends a dead connection; windows
/// sized for fast bulk channels. Public so that benchmarks of plain quinn run with the
/// same settings.
pub fn transport() -> Arc<quinn::TransportConfig> {
    let mut t = quinn::TransportConfig::default();
    t.keep_alive_interval(Some(protocols::bond::health::PROBE_EVERY));
    t.max_idle_timeout(Some(
        Duration::from_secs(4)
            .try_into()
            .expect("4 s is a valid idle timeout"),
    ));
    t.stream_receive_window((8u32 << 20).into());
    t.receive_window((16u32 << 20).into());
    t.send_window(16 << 20);
    t.max_concurrent_bidi_streams(STREAMS.into());
    // BBR paces by measured bandwidth and RTT instead of backing off on every loss, so
    // random loss (Wi-Fi, cellular, --impair) does not collapse throughput as with Cubic.
    t.congestion_controller_factory(Arc::new(quinn::congestion::BbrConfig::default()));
    // Path MTU discovery may climb past Ethernet's 1500 bytes where the path allows it
    // (jumbo frames, loopback): fewer, larger packets cost less per byte. It still starts
    // at 1200 bytes and settles at whatever the path carries.
    let mut mtu = quinn::MtuDiscoveryConfig::default();
    mtu.upper_bound(MTU_CEILING);
    t.mtu_discovery_config(Some(mtu));
    Arc::new(t)
}

/// A UDP socket on `addr` with the node's 4 MiB buffers (where the kernel allows them).
/// Public so that benchmarks of plain quinn use the same sockets.
pub fn bind_udp(addr: SocketAddr) -> std::io::Result<std::net::UdpSocket> {
    bind_udp_on(addr, None)
}

/// [`bind_udp`], its traffic kept to network interface `device` when one is named
/// (`SO_BINDTODEVICE`: sent out of it, by its routes, from its address).
fn bind_udp_on(addr: SocketAddr, device: Option<&str>) -> std::io::Result<std::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    // Best effort: the kernel caps these at its own maximum.
    let _ = socket.set_recv_buffer_size(SOCKET_BUFFER);
    let _ = socket.set_send_buffer_size(SOCKET_BUFFER);
    if let Some(name) = device {
        socket.bind_device(Some(name.as_bytes()))?;
    }
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

/// The node's endpoint: where it listens and dials from.
#[derive(Clone)]
pub struct Endpoint {
    endpoint: quinn::Endpoint,
    identity: Arc<Identity>,
    transport: Arc<quinn::TransportConfig>,
    /// The address bound, the local end of every path it dials or accepts.
    local: SocketAddr,
    /// What impairs datagrams sent, for the sockets made later.
    impair: Vec<ImpairSpec>,
    /// The listening socket, to send the datagrams that open a NAT's mapping (punches)
    /// from the port peers reach.
    punch: Arc<std::net::UdpSocket>,
    /// Sockets kept to one interface each (and to IPv6 or not), made at the first dial
    /// through it; they only dial.
    via: Arc<std::sync::Mutex<std::collections::HashMap<(String, bool), quinn::Endpoint>>>,
    /// Peers reached through a map, by their made-up addresses.
    routes: Arc<Routes>,
    /// Maps reached over TCP.
    carriage: Arc<Carriage>,
    /// Endpoints on sockets a NAT traversal opened, each dialing one peer.
    opened: Arc<std::sync::Mutex<Vec<quinn::Endpoint>>>,
}

/// quinn's endpoint settings for every warp socket: QUIC's fixed bit is never greased,
/// so that a datagram whose first byte is 0 is a relay datagram, never QUIC; peers may
/// send datagrams up to the MTU ceiling. Public so that benchmarks of plain quinn run
/// with the same settings.
pub fn endpoint_config() -> quinn::EndpointConfig {
    let mut c = quinn::EndpointConfig::default();
    c.grease_quic_bit(false);
    // Peers may send datagrams up to the MTU ceiling (quinn's default, 1472, would hold
    // path MTU discovery at Ethernet's size even where the path carries more).
    c.max_udp_payload_size(MTU_CEILING)
        .expect("16 384 is a valid UDP payload size");
    c
}

impl Endpoint {
    /// Binds `listen` and proves `identity` in every handshake; datagrams sent go through
    /// the first of `impair` that covers their destination (none: untouched).
    pub fn bind(
        listen: SocketAddr,
        identity: Identity,
        impair: Vec<ImpairSpec>,
    ) -> Result<Endpoint, BindError> {
        let (routes, carriage) = (Arc::new(Routes::default()), Carriage::new());
        let wrap = {
            let (routes, carriage) = (routes.clone(), carriage.clone());
            move |udp| NodeSocket::new(udp, routes, carriage) as Arc<dyn quinn::AsyncUdpSocket>
        };
        Endpoint::bind_with(listen, identity, impair, (routes, carriage), wrap)
    }

    /// Binds `listen` for a map: relay datagrams that reach it go to `intercept`, the rest
    /// is QUIC as for [`Endpoint::bind`]; datagrams that come over the TCP connections of
    /// `carriage` are taken as well.
    pub fn bind_map(
        listen: SocketAddr,
        identity: Identity,
        intercept: Arc<dyn Intercept>,
        carriage: Arc<Carriage>,
    ) -> Result<Endpoint, BindError> {
        let wrap = {
            let carriage = carriage.clone();
            move |udp| MapSocket::new(udp, intercept, carriage) as Arc<dyn quinn::AsyncUdpSocket>
        };
        let routes = Arc::new(Routes::default());
        Endpoint::bind_with(listen, identity, Vec::new(), (routes, carriage), wrap)
    }

    fn bind_with(
        listen: SocketAddr,
        identity: Identity,
        impair: Vec<ImpairSpec>,
        (routes, carriage): (Arc<Routes>, Arc<Carriage>),
        wrap: impl FnOnce(Arc<dyn quinn::AsyncUdpSocket>) -> Arc<dyn quinn::AsyncUdpSocket>,
    ) -> Result<Endpoint, BindError> {
        let tls = tls::server_config(&identity)?;
        let quic = quinn::crypto::rustls::QuicServerConfig::try_from(tls)
            .map_err(|e| SetupError::Quic(e.to_string()))?;
        let transport = transport();
        let mut server = quinn::ServerConfig::with_crypto(Arc::new(quic));
        server.transport_config(transport.clone());
        let socket = bind_udp(listen).map_err(|source| BindError::Socket {
            addr: listen,
            source,
        })?;
        let punch = Arc::new(socket.try_clone().map_err(|source| BindError::Socket {
            addr: listen,
            source,
        })?);
        let runtime: Arc<dyn quinn::Runtime> = Arc::new(quinn::TokioRuntime);
        let mut udp = runtime
            .wrap_udp_socket(socket)
            .map_err(SetupError::Socket)?;
        if !impair.is_empty() {
            for spec in impair.iter() {
                match spec.to {
                    Some(to) => warn!("impairing every datagram sent to {to}: {spec}"),
                    None => warn!("impairing every datagram sent: {spec}"),
                }
            }
            udp = super::impair::socket::ImpairedSocket::new(udp, impair.clone());
        }
        let udp = wrap(udp);
        let endpoint = quinn::Endpoint::new_with_abstract_socket(
            endpoint_config(),
            Some(server),
            udp,
            runtime,
        )
        .map_err(SetupError::Endpoint)?;
        let local = endpoint.local_addr().unwrap_or(listen);
        Ok(Endpoint {
            endpoint,
            identity: Arc::new(identity),
            transport,
            local,
            impair,
            punch,
            via: Default::default(),
            routes,
            carriage,
            opened: Default::default(),
        })
    }

    /// Sends one byte to `to` from the listening socket: not QUIC (a QUIC endpoint drops
    /// it unread), only so that a NAT in front of this node maps the socket towards `to`
    /// and lets `to`'s packets in. Not impaired; a failure is ignored (it is a hint).
    pub fn punch(&self, to: SocketAddr) {
        if let Err(e) = self.punch.send_to(&[0], to) {
            tracing::debug!("punch towards {to}: {e}");
        }
    }

    /// The dialing endpoint kept to interface `name`, for peers at IPv6 addresses or not.
    fn through(&self, name: &str, v6: bool) -> Result<(quinn::Endpoint, SocketAddr), DialError> {
        let mut via = self.via.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = via.get(&(name.to_string(), v6)) {
            if let Ok(local) = e.local_addr() {
                return Ok((e.clone(), local));
            }
        }
        let failed = |source| DialError::Interface {
            name: name.to_string(),
            source,
        };
        let any: SocketAddr = match v6 {
            true => (std::net::Ipv6Addr::UNSPECIFIED, 0).into(),
            false => ([0, 0, 0, 0], 0).into(),
        };
        let socket = bind_udp_on(any, Some(name)).map_err(failed)?;
        let endpoint = self.dial_only(socket).map_err(failed)?;
        let local = endpoint.local_addr().map_err(failed)?;
        via.insert((name.to_string(), v6), endpoint.clone());
        Ok((endpoint, local))
    }

    /// A dial-only endpoint on `socket` (one kept to an interface, or one a NAT
    /// traversal opened), with the node's impairment; no relays go through it.
    fn dial_only(&self, socket: std::net::UdpSocket) -> std::io::Result<quinn::Endpoint> {
        let runtime: Arc<dyn quinn::Runtime> = Arc::new(quinn::TokioRuntime);
        let mut udp = runtime.wrap_udp_socket(socket)?;
        if !self.impair.is_empty() {
            udp = super::impair::socket::ImpairedSocket::new(udp, self.impair.clone());
        }
        // Wrapped for the read size it asks quinn for.
        let udp = NodeSocket::new(udp, Default::default(), Carriage::new());
        quinn::Endpoint::new_with_abstract_socket(endpoint_config(), None, udp, runtime)
    }

    /// Reaches `peer` through the map at `map` (which gave this node `token`): the
    /// address to dial it at, made up for it; datagrams the map forwards from `peer` are
    /// taken from then on.
    pub fn relay_route(&self, map: SocketAddr, peer: PeerId, token: [u8; TOKEN_LEN]) -> SocketAddr {
        self.routes.add(Route {
            map,
            peer: peer.0,
            token,
        })
    }

    /// Sends what this node sends to `map` over TCP from now on (UDP to it being
    /// blocked), once a TCP connection to the same address and port is made (within
    /// `within`); until that connection ends.
    pub async fn carry_over_tcp(&self, map: SocketAddr, within: Duration) -> std::io::Result<()> {
        self.carriage.connect(map, within).await
    }

    /// Whether what this node sends to `map` goes over TCP.
    pub fn carried(&self, map: SocketAddr) -> bool {
        self.carriage.carries(map)
    }

    /// The address bound.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.endpoint.local_addr()
    }

    /// This node's id.
    pub fn id(&self) -> PeerId {
        self.identity.peer_id()
    }

    /// Connects to `id` at `addr` (an IP and port, or a name to resolve), through network
    /// interface `via` when one is named (else as the routes say, from the node's own
    /// socket); the handshake fails unless the other side proves the key `id`.
    pub async fn dial(&self, id: PeerId, addr: &str, via: Option<&str>) -> Result<Path, DialError> {
        let target: SocketAddr = match addr.parse() {
            Ok(a) => a,
            Err(_) => {
                let resolve = |reason: String| DialError::Resolve {
                    addr: addr.to_string(),
                    reason,
                };
                tokio::net::lookup_host(addr)
                    .await
                    .map_err(|e| resolve(e.to_string()))?
                    .next()
                    .ok_or_else(|| resolve("no address".into()))?
            }
        };
        let (cfg, presented) = self.client_config(Some(id))?;
        let (endpoint, bound) = match via {
            Some(name) => self.through(name, target.is_ipv6())?,
            None => (self.endpoint.clone(), self.local),
        };
        let relay = self.routes.get(target).map(|r| r.map);
        let dialed = (Some(addr.to_string()), via.map(str::to_string));
        let conn = self
            .handshake(&endpoint, (cfg, presented), id, target)
            .await?;
        Ok(Path::new(
            conn,
            id,
            self.identity.peer_id(),
            dialed,
            bound,
            relay,
        ))
    }

    /// Dials `id` at `target` from `endpoint` and waits (at most the dial timeout) for the
    /// handshake, in which the server must prove key `id`.
    async fn handshake(
        &self,
        endpoint: &quinn::Endpoint,
        (cfg, presented): (quinn::ClientConfig, tls::Presented),
        id: PeerId,
        target: SocketAddr,
    ) -> Result<quinn::Connection, DialError> {
        let connecting = endpoint
            .connect_with(cfg, target, "warp")
            .map_err(|e| SetupError::Quic(e.to_string()))?;
        match tokio::time::timeout(DIAL_TIMEOUT, connecting).await {
            Err(_) => Err(DialError::TimedOut),
            Ok(Err(e)) => match presented.get() {
                Some(got) => Err(DialError::WrongKey {
                    presented: *got,
                    expected: id,
                }),
                None => Err(DialError::Closed(Closed::from_quinn(&e))),
            },
            Ok(Ok(conn)) => Ok(conn),
        }
    }

    /// Connects to `id` at `target` from `socket` (one a NAT traversal opened towards
    /// the peer, whose NAT mapping is the one that lets the peer in): a dial-only
    /// endpoint is made on it and kept while the node runs.
    pub async fn dial_from(
        &self,
        socket: std::net::UdpSocket,
        id: PeerId,
        target: SocketAddr,
    ) -> Result<Path, DialError> {
        let failed = |source| DialError::Interface {
            name: "a traversal socket".into(),
            source,
        };
        let endpoint = self.dial_only(socket).map_err(failed)?;
        let bound = endpoint.local_addr().map_err(failed)?;
        {
            let mut opened = self.opened.lock().unwrap_or_else(|p| p.into_inner());
            opened.retain(|e| e.open_connections() > 0);
            opened.push(endpoint.clone());
        }
        let cfg = self.client_config(Some(id))?;
        let conn = self.handshake(&endpoint, cfg, id, target).await?;
        Ok(Path::new(
            conn,
            id,
            self.identity.peer_id(),
            (Some(target.to_string()), None),
            bound,
            None,
        ))
    }

    /// The QUIC client settings for a dial expecting key `id` (any key: `None`), and
    /// where the key the server proved is kept.
    fn client_config(
        &self,
        id: Option<PeerId>,
    ) -> Result<(quinn::ClientConfig, tls::Presented), SetupError> {
        let presented = tls::Presented::default();
        let tls = tls::client_config(&self.identity, id, presented.clone())?;
        let quic = quinn::crypto::rustls::QuicClientConfig::try_from(tls)
            .map_err(|e| SetupError::Quic(e.to_string()))?;
        let mut cfg = quinn::ClientConfig::new(Arc::new(quic));
        cfg.transport_config(self.transport.clone());
        Ok((cfg, presented))
    }

    /// Connects from the node's own socket to whatever key answers at `addr` (a map, known
    /// by its address only); the path names the key the server proved.
    pub async fn dial_any(&self, addr: SocketAddr) -> Result<Path, DialError> {
        let (cfg, presented) = self.client_config(None)?;
        let connecting = self
            .endpoint
            .connect_with(cfg, addr, "warp")
            .map_err(|e| SetupError::Quic(e.to_string()))?;
        match tokio::time::timeout(DIAL_TIMEOUT, connecting).await {
            Err(_) => Err(DialError::TimedOut),
            Ok(Err(e)) => Err(DialError::Closed(Closed::from_quinn(&e))),
            Ok(Ok(conn)) => {
                let id = *presented
                    .get()
                    .ok_or(DialError::Closed(Closed::Certificate(
                        "the server proved no key".into(),
                    )))?;
                Ok(Path::new(
                    conn,
                    id,
                    self.identity.peer_id(),
                    (Some(addr.to_string()), None),
                    self.local,
                    None,
                ))
            }
        }
    }

    /// The next caller; `None` once the endpoint is closed.
    pub async fn accept(&self) -> Option<Incoming> {
        self.endpoint.accept().await.map(|i| Incoming {
            relay: self.routes.get(i.remote_address()).map(|r| r.map),
            incoming: i,
            local: self.local,
        })
    }

    /// Closes every connection with `why` and waits (at most `grace`) for the peers to
    /// hear of it.
    pub async fn close(&self, why: Close, grace: Duration) {
        let via: Vec<quinn::Endpoint> = {
            let via = self.via.lock().unwrap_or_else(|p| p.into_inner());
            let opened = self.opened.lock().unwrap_or_else(|p| p.into_inner());
            via.values().chain(opened.iter()).cloned().collect()
        };
        for e in via.iter().chain([&self.endpoint]) {
            e.close(why.code().into(), why.reason().as_bytes());
        }
        let idle = async {
            for e in via.iter().chain([&self.endpoint]) {
                e.wait_idle().await;
            }
        };
        let _ = tokio::time::timeout(grace, idle).await;
    }
}

/// A connection attempt from a caller, not yet through its handshake.
pub struct Incoming {
    incoming: quinn::Incoming,
    local: SocketAddr,
    /// The map it comes through, when relayed.
    relay: Option<SocketAddr>,
}

/// Why an incoming connection was not taken.
#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    /// The handshake failed.
    #[error("{0}")]
    Handshake(Closed),
    /// The caller's certificate did not carry a key.
    #[error("{0}")]
    NoKey(CertError),
}

impl Incoming {
    /// Where the caller is (for a relayed caller, the map it comes through).
    pub fn remote(&self) -> SocketAddr {
        self.relay.unwrap_or(self.incoming.remote_address())
    }

    /// Completes the handshake: a path to the caller, whose key it proved.
    pub async fn handshake(self) -> Result<Path, AcceptError> {
        let conn = self
            .incoming
            .await
            .map_err(|e| AcceptError::Handshake(Closed::from_quinn(&e)))?;
        match peer_of(&conn) {
            Ok(id) => Ok(Path::new(
                conn,
                id,
                id,
                (None, None),
                self.local,
                self.relay,
            )),
            Err(e) => {
                conn.close(0u32.into(), e.to_string().as_bytes());
                Err(AcceptError::NoKey(e))
            }
        }
    }
}

/// The peer id a connection's peer proved in the handshake.
fn peer_of(conn: &quinn::Connection) -> Result<PeerId, CertError> {
    let certs = conn
        .peer_identity()
        .and_then(|any| {
            any.downcast::<Vec<rustls::pki_types::CertificateDer<'static>>>()
                .ok()
        })
        .ok_or(CertError::Missing)?;
    let first = certs.first().ok_or(CertError::Missing)?;
    tls::peer_id_of(first)
}
