//! The control socket: how `warp` commands talk to the running node.
//!
//! A Unix socket `control.sock` in the data directory, mode 0600, so only the node's user
//! can drive it. The client writes one request as a line of compact Recon; the node
//! answers with one or more lines of Recon, the last of which is final
//! ([`Response::is_final`]). Remote peers never reach this socket.

use std::path::Path;

use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

use crate::store::{PeerEntry, Policy};

/// A request to the node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Request {
    /// The peer book with connection state.
    Peers,
    /// Add or update a peer.
    PeerAdd {
        /// Its alias.
        alias: String,
        /// Its peer id.
        id: String,
        /// Addresses to dial.
        addrs: Vec<String>,
    },
    /// Remove a peer.
    PeerRemove {
        /// Alias or id.
        peer: String,
    },
    /// Give a peer a new alias; gates and flows that name it follow.
    PeerRename {
        /// Alias or id.
        peer: String,
        /// The new alias.
        alias: String,
    },
    /// Set a peer's policy.
    PeerPolicy {
        /// Alias or id.
        peer: String,
        /// The new policy.
        policy: Policy,
    },
    /// A one-time login to the node's live page: answered with the page's address
    /// (a `Note`).
    PageLogin,
    /// Set what a peer may do with this node's WARP lanes.
    PeerLinks {
        /// Alias or id.
        peer: String,
        /// none, read or write.
        links: crate::store::LinkAccess,
    },
    /// Ping a peer.
    Ping {
        /// Alias or id.
        peer: String,
        /// Probes to send.
        count: u32,
        /// Milliseconds between probes.
        interval_ms: u64,
        /// Payload bytes per probe.
        size: u32,
    },
    /// The gates: exposed and opened.
    Gates,
    /// Expose a local TCP service to peers.
    GateExpose(crate::gate_book::Exposed),
    /// Stop exposing a service.
    GateUnexpose {
        /// Its name.
        name: String,
    },
    /// Open a local listener leading to a peer's service.
    GateOpen(crate::gate_book::Opened),
    /// Close an opened gate.
    GateClose {
        /// Its listen address.
        listen: String,
    },
    /// The flows with their counters.
    Flows,
    /// Start a flow, or change the one of that name.
    FlowAdd(crate::flow_book::Flow),
    /// Stop a flow.
    FlowRemove {
        /// Its name.
        name: String,
    },
    /// Add a member to a flow, or change its role.
    FlowMemberAdd {
        /// The flow.
        name: String,
        /// Alias or peer id.
        peer: String,
        /// Its role; the mode's usual one when absent.
        role: Option<crate::flow_book::Role>,
    },
    /// Ask a map trusted for flows to let this node join one of its flows.
    FlowJoin {
        /// The flow, by its name on the map.
        name: String,
        /// The role asked for.
        role: crate::flow_book::Role,
        /// The name this node asks to go by on the map, if it has none there yet.
        #[serde(default)]
        as_name: Option<String>,
        /// The map (its address as `warp.toml` names it); the first trusted for flows
        /// when absent.
        #[serde(default)]
        map: Option<String>,
    },
    /// Remove a member from a flow.
    FlowMemberRemove {
        /// The flow.
        name: String,
        /// Alias or peer id, as the flow names it.
        peer: String,
    },
    /// Offer files and directories to a peer.
    Share {
        /// Alias or id.
        peer: String,
        /// Absolute paths.
        paths: Vec<String>,
        /// Follow the offer until it ends (else answer once it is sent).
        wait: bool,
        /// Seconds the offer waits for a peer that cannot be reached before it fails;
        /// `None`: a week.
        #[serde(default)]
        expires: Option<u64>,
    },
    /// Offer files and directories to whoever types the pairing code this node prints.
    ShareCode {
        /// Absolute paths.
        paths: Vec<String>,
        /// Seconds the offer, once made, waits for a peer that went away; `None`: a week.
        #[serde(default)]
        expires: Option<u64>,
    },
    /// Pair by a code another node printed, and download what it offers.
    Receive {
        /// The code, as typed.
        code: String,
        /// Where to download; the node's incoming directory when absent.
        to: Option<String>,
        /// Add the other side to the peer book under this alias.
        remember: Option<String>,
    },
    /// Every offer.
    Offers,
    /// Every new offer and every change, as they happen.
    OffersListen,
    /// Accept (or resume) an incoming offer.
    OfferAccept {
        /// Its id or a unique prefix.
        id: String,
        /// Where to download; the node's incoming directory when absent.
        to: Option<String>,
        /// Follow the download until it ends.
        wait: bool,
    },
    /// The node at a glance.
    Status,
    /// Decline an incoming offer.
    OfferReject {
        /// Its id or a unique prefix.
        id: String,
    },
    /// Cancel an offer, either way.
    OfferCancel {
        /// Its id or a unique prefix.
        id: String,
    },
    /// Stream bytes to a peer's sink and time it.
    Speed {
        /// Alias or id.
        peer: String,
        /// How many bytes.
        bytes: u64,
        /// Seed of the pseudo-random bytes.
        seed: u64,
        /// Check the bytes by SHA-256 (else by length only).
        verify: bool,
        /// How the channel uses the peer's paths.
        #[serde(
            default,
            with = "crate::bond_mode",
            skip_serializing_if = "crate::bond_mode::is_default"
        )]
        mode: crate::bond_mode::Mode,
    },
}

/// One peer as `warp peers` shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PeerStatus {
    /// The book entry.
    pub entry: PeerEntry,
    /// Whether a connection is up.
    pub connected: bool,
    /// The connection's smoothed round-trip time, in microseconds.
    pub rtt_us: Option<u64>,
    /// The address the connection runs over.
    pub remote: Option<String>,
    /// Every path to the peer (empty when not connected).
    #[serde(default)]
    pub paths: Vec<PathStatus>,
}

/// One path to a peer as `warp peers` shows it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PathStatus {
    /// This node's address on the path.
    pub local: String,
    /// The peer's address on the path.
    pub remote: String,
    /// How it reaches the peer: `direct`.
    pub kind: String,
    /// `up`, `probing` or `down`.
    pub state: String,
    /// Its smoothed round trip, in milliseconds.
    pub rtt_ms: f64,
    /// UDP bytes sent on it.
    pub tx_bytes: u64,
    /// UDP bytes received on it.
    pub rx_bytes: u64,
    /// UDP bytes per second sent on it, over the last second or so.
    #[serde(default)]
    pub tx_rate: u64,
    /// The share of its packets lost since it was made, in percent.
    #[serde(default)]
    pub loss_percent: f64,
}

impl From<&crate::transport::PathInfo> for PathStatus {
    fn from(p: &crate::transport::PathInfo) -> PathStatus {
        use crate::transport::PathState;
        PathStatus {
            local: p.local.to_string(),
            remote: p.remote.to_string(),
            kind: p.kind.to_string(),
            state: match p.state {
                PathState::Up => "up",
                PathState::Probing => "probing",
                PathState::Down => "down",
            }
            .to_string(),
            rtt_ms: p.rtt.as_secs_f64() * 1000.0,
            tx_bytes: p.tx_bytes,
            rx_bytes: p.rx_bytes,
            tx_rate: p.send_rate,
            loss_percent: p.loss * 100.0,
        }
    }
}

/// A flow as `warp flow` shows it: its definition and congestion counters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FlowStatus {
    /// The definition.
    pub flow: crate::flow_book::Flow,
    /// Whether it comes from the configuration file.
    pub from_config: bool,
    /// Where it comes from.
    pub origin: crate::flow_book::Origin,
    /// Datagrams local applications sent into the flow.
    pub from_apps: u64,
    /// Of those, datagrams not sent on because this node only receives.
    pub not_sent: u64,
    /// Datagrams from members delivered to local applications.
    pub delivered: u64,
    /// Datagrams from members with no local application to take them, or dropped
    /// because local delivery fell behind.
    pub undeliverable: u64,
    /// Whether any member's queue is filling or dropped datagrams in the last second:
    /// the flow carries all it can.
    pub congested: bool,
    /// The other members.
    pub members: Vec<MemberStatus>,
}

/// One remote member of a flow, with its counters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MemberStatus {
    /// Alias or id, as the flow names it.
    pub peer: String,
    /// Its name on the map that defines the flow, if one does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// What it does in the flow.
    pub role: crate::flow_book::Role,
    /// Datagrams sent to it.
    pub sent: u64,
    /// Bytes sent to it.
    pub sent_bytes: u64,
    /// Datagrams for it dropped: its queue was full, or it could not be reached.
    pub dropped: u64,
    /// Datagrams waiting in its queue now.
    pub queued: u32,
    /// Bytes per second sent to it over the last second.
    pub rate_out: u64,
    /// Datagrams received from it.
    pub received: u64,
    /// Bytes received from it.
    pub received_bytes: u64,
    /// Bytes per second received from it over the last second.
    pub rate_in: u64,
    /// Its queue is three-quarters full or it dropped datagrams in the last second.
    pub congested: bool,
    /// `connected`, `idle`, or why it cannot be reached.
    pub state: String,
}

/// The running node at a glance (`warp status`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeStatus {
    /// Its peer id.
    pub id: String,
    /// The version of warp it runs.
    pub version: String,
    /// Its data directory.
    pub data_dir: String,
    /// Where it listens for peers (QUIC over UDP).
    pub quic: String,
    /// Where the REST API listens, if it does.
    pub api: Option<String>,
    /// Where the WARP link hub listens, if it does.
    pub ws: Option<String>,
    /// Peers in the book.
    pub peers: usize,
    /// Peers connected now (strangers included).
    pub connected: usize,
    /// Gates exposed (command line and file).
    pub gates_exposed: usize,
    /// Gates open (command line and file).
    pub gates_open: usize,
    /// Flows running.
    pub flows: usize,
    /// Offers received that wait for an answer.
    pub offers_waiting: usize,
    /// Offers in all.
    pub offers: usize,
    /// The maps it registers with, as last heard from.
    #[serde(default)]
    pub maps: Vec<MapStatus>,
}

/// How a NAT maps this node's socket, as two addresses of one map saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Nat {
    /// The same public port towards every destination (none, or a cone NAT): direct
    /// paths can be punched.
    EndpointIndependent,
    /// Another public port per destination (a symmetric NAT).
    EndpointDependent,
}

/// One map as this node last heard from it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MapStatus {
    /// The map's address as configured.
    pub addr: String,
    /// Its key, once dialed.
    pub id: Option<String>,
    /// The address it saw this node at.
    pub observed: Option<String>,
    /// The NAT behaviour, when the map has a second address to tell it by.
    pub nat: Option<Nat>,
    /// Unix second until which it keeps this node's record.
    pub registered_until: Option<u64>,
    /// The last failure, if the last try failed.
    pub error: Option<String>,
    /// Whether the map is reached over TCP, UDP to it being blocked.
    #[serde(default)]
    pub tcp: bool,
}

/// A line of the node's answer.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Response {
    /// Done, nothing to report.
    Ok,
    /// Done: one peer entry.
    Peer(PeerEntry),
    /// Done: the peer book.
    Peers(Vec<PeerStatus>),
    /// Done: the gates.
    Gates {
        /// Services exposed to peers.
        exposed: Vec<crate::gate_book::Exposed>,
        /// Listeners leading to peers.
        opened: Vec<crate::gate_book::Opened>,
        /// Services exposed by the configuration file.
        #[serde(default)]
        config_exposed: Vec<crate::gate_book::Exposed>,
        /// Listeners opened by the configuration file.
        #[serde(default)]
        config_opened: Vec<crate::gate_book::Opened>,
    },
    /// Done: the flows.
    Flows(Vec<FlowStatus>),
    /// Done: every offer.
    OfferList(Vec<warpdrive::Offer>),
    /// An offer changed (more lines follow).
    OfferUpdate(warpdrive::Offer),
    /// The code to read to the other side (more lines follow).
    PairCode(String),
    /// Paired by a code with this peer (more lines follow: its offer).
    Paired {
        /// The other side's peer id.
        peer: String,
        /// Something the user should know (empty when nothing).
        note: String,
    },
    /// Done: the offer as it stands.
    OfferDone(warpdrive::Offer),
    /// The request failed.
    Error(Failure),
    /// Done, with something the user should know.
    Note(String),
    /// Ping: the peer's resolved id and the address in use, before the first probe.
    PingStart {
        /// Peer id.
        id: String,
        /// Remote address.
        remote: String,
    },
    /// Ping: a probe came back.
    PingReply {
        /// Its sequence number.
        seq: u32,
        /// Its payload size.
        size: u32,
        /// Round trip, microseconds.
        rtt_us: u64,
    },
    /// Ping: a probe did not come back in time.
    PingLost {
        /// Its sequence number.
        seq: u32,
    },
    /// Ping: finished.
    PingDone,
    /// Done: the node at a glance.
    Status(NodeStatus),
    /// Speed: how far it got (more lines follow).
    SpeedProgress {
        /// Bytes sent so far.
        bytes: u64,
        /// Microseconds since the first byte.
        micros: u64,
    },
    /// Speed: finished.
    SpeedDone {
        /// Bytes sent.
        bytes: u64,
        /// Microseconds from the first byte to the peer's report.
        micros: u64,
        /// Whether the peer's length and SHA-256 matched.
        verified: bool,
    },
}

/// What kind of failure a request met: the REST API's status code follows from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Fault {
    /// The request itself is wrong (a bad name, a rule broken): 400.
    Invalid,
    /// What it names does not exist (a peer, gate, flow or offer): 404.
    NotFound,
    /// It clashes with what is there (a name taken, an offer already ended, a flow from
    /// the configuration file): 409.
    Conflict,
    /// A peer or a policy refused it: 403.
    Refused,
    /// The node cannot serve it now (stopping, a peer unreachable): 503.
    Unavailable,
}

/// A failed request: its kind and what to tell the user.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    /// The kind.
    pub fault: Fault,
    /// The message.
    pub message: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<Failure> for String {
    fn from(f: Failure) -> String {
        f.message
    }
}

impl From<&crate::gate_book::GateBookError> for Fault {
    fn from(e: &crate::gate_book::GateBookError) -> Fault {
        use crate::gate_book::GateBookError as E;
        match e {
            E::BadName(_) => Fault::Invalid,
            E::NotExposed(_) => Fault::NotFound,
            E::Db(_) | E::Encode(_) => Fault::Unavailable,
        }
    }
}

impl From<&crate::flow_error::FlowBookError> for Fault {
    fn from(e: &crate::flow_error::FlowBookError) -> Fault {
        use crate::flow_error::FlowBookError as E;
        match e {
            E::Invalid(_) => Fault::Invalid,
            E::Db(_) | E::Encode(_) => Fault::Unavailable,
        }
    }
}

impl From<&crate::flow_error::ApplyError> for Fault {
    fn from(e: &crate::flow_error::ApplyError) -> Fault {
        use crate::flow_error::ApplyError as E;
        match e {
            E::Invalid(_) => Fault::Invalid,
            E::SetFromCommandLine(_)
            | E::SetInFile(_)
            | E::DefinedHere(_)
            | E::FromOtherMap(..)
            | E::Bind { .. } => Fault::Conflict,
        }
    }
}

impl From<&warpdrive::ShareError> for Fault {
    fn from(e: &warpdrive::ShareError) -> Fault {
        use warpdrive::ShareError as E;
        match e {
            E::Peer(_) => Fault::NotFound,
            E::Nothing | E::Disk(_) | E::TooLarge(_) => Fault::Invalid,
            E::Store(_) | E::Scan(_) => Fault::Unavailable,
        }
    }
}

impl From<&warpdrive::OfferError> for Fault {
    fn from(e: &warpdrive::OfferError) -> Fault {
        use warpdrive::OfferError as E;
        match e {
            E::NotFound(_) => Fault::NotFound,
            E::State(_) => Fault::Conflict,
            E::Store(_) => Fault::Unavailable,
            E::Disk(_) => Fault::Invalid,
        }
    }
}

impl From<&crate::store::BookError> for Fault {
    fn from(e: &crate::store::BookError) -> Fault {
        use crate::store::BookError as E;
        match e {
            E::Unknown(..) => Fault::NotFound,
            E::AliasTaken(_) | E::AlreadyAs { .. } => Fault::Conflict,
            E::Db(_) => Fault::Unavailable,
            _ => Fault::Invalid,
        }
    }
}

impl Response {
    /// A failure of kind `fault`.
    pub fn fail(fault: Fault, message: impl std::fmt::Display) -> Response {
        Response::Error(Failure {
            fault,
            message: message.to_string(),
        })
    }

    /// A request that is wrong in itself.
    pub fn invalid(message: impl std::fmt::Display) -> Response {
        Response::fail(Fault::Invalid, message)
    }

    /// A failure of the kind its error says.
    pub fn error<'a, E: std::fmt::Display>(e: &'a E) -> Response
    where
        Fault: From<&'a E>,
    {
        Response::fail(e.into(), e)
    }

    /// `true` for the last line of an answer.
    pub fn is_final(&self) -> bool {
        !matches!(
            self,
            Response::PingStart { .. }
                | Response::PingReply { .. }
                | Response::PingLost { .. }
                | Response::OfferUpdate(_)
                | Response::PairCode(_)
                | Response::Paired { .. }
                | Response::SpeedProgress { .. }
        )
    }
}

/// A connection to the node's control socket.
pub struct Client {
    reader: BufReader<tokio::net::unix::OwnedReadHalf>,
    writer: tokio::net::unix::OwnedWriteHalf,
}

impl Client {
    /// Connects to the node whose data directory is `dir`; `None` when no node runs there.
    pub async fn connect(dir: &Path) -> Option<Client> {
        let stream = UnixStream::connect(crate::home::control_socket(dir))
            .await
            .ok()?;
        let (r, w) = stream.into_split();
        Some(Client {
            reader: BufReader::new(r),
            writer: w,
        })
    }

    /// Connects to the running node and sends `req`, for commands that need a node.
    pub async fn request(dir: &Path, req: &Request) -> Result<Client, ClientError> {
        let mut client = Client::connect(dir)
            .await
            .ok_or_else(|| ClientError::NotRunning(not_running(dir)))?;
        client.send(req).await.map_err(ClientError::Send)?;
        Ok(client)
    }

    /// Sends a request.
    pub async fn send(&mut self, req: &Request) -> std::io::Result<()> {
        let mut line = recon::to_string(req).map_err(std::io::Error::other)?;
        line.push('\n');
        self.writer.write_all(line.as_bytes()).await
    }

    /// Reads the next line of the answer.
    pub async fn next(&mut self) -> std::io::Result<Response> {
        let mut line = String::new();
        if self.reader.read_line(&mut line).await? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the node closed the control connection",
            ));
        }
        recon::from_str(line.trim_end()).map_err(std::io::Error::other)
    }
}

/// Why a command that needs a node cannot run: which data directory was looked in.
/// Why a request could not reach the node.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No node answers on the control socket (the text says where and what to do).
    #[error("{0}")]
    NotRunning(String),
    /// The request could not be sent.
    #[error("the node's control socket: {0}")]
    Send(std::io::Error),
}

/// What to tell a user whose command needs a node when none runs with `dir`.
pub fn not_running(dir: &Path) -> String {
    format!(
        "no node is running with data directory {} (start one with `warp node`, or set WARP_HOME to the directory of the one you mean)",
        dir.display()
    )
}
