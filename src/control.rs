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
    /// Set a peer's policy.
    PeerPolicy {
        /// Alias or id.
        peer: String,
        /// The new policy.
        policy: Policy,
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
    /// The request failed.
    Error(String),
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

impl Response {
    /// `true` for the last line of an answer.
    pub fn is_final(&self) -> bool {
        !matches!(
            self,
            Response::PingStart { .. } | Response::PingReply { .. } | Response::PingLost { .. }
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
    pub async fn request(dir: &Path, req: &Request) -> Result<Client, String> {
        let mut client = Client::connect(dir)
            .await
            .ok_or("no node is running: start one with `warp node`")?;
        client.send(req).await.map_err(|e| e.to_string())?;
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
