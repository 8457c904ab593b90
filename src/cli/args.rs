//! The command line's arguments (clap): every command, its flags and their help.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::bond_mode::Mode;

/// warp: reach people and machines by name and key, and move data between them.
#[derive(Debug, Parser)]
#[command(
    name = "warp",
    version,
    about,
    after_help = "The node keeps its identity, books and control socket in its data directory: $WARP_HOME when set, else ~/.local/share/warp. Set WARP_HOME to run a second node on one machine, or to reach it with these commands."
)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the node in the foreground (embedded defaults; no config file needed).
    Node(NodeArgs),
    /// Print this node's peer id, creating the identity on first use.
    Id {
        /// As JSON: `{"id": "..."}`.
        #[arg(long)]
        json: bool,
    },
    /// The peer book: list, add, remove, set policy.
    Peers(PeersArgs),
    /// TCP gates: expose a local service to peers, or open a local port that leads to a
    /// peer's service. Lists them when given no action.
    Gate(GateArgs),
    /// Flows: named groups of peers whose applications exchange datagrams (1:1, 1:n,
    /// n:1, n:n) through a local port on 127.1.0.1. Lists them, with congestion
    /// counters, when given no action.
    Flow(FlowArgs),
    /// Offer files and directories to a peer and follow the offer: awaiting acceptance,
    /// a progress bar, then a summary once the peer has verified every file. With no
    /// peer, prints a code for `warp receive` on the other machine (same network).
    Share(ShareArgs),
    /// Run a map server: nodes register where they can be reached and find each other
    /// by key (`warp node --map HOST:PORT`).
    Map(MapArgs),
    /// Receive what another machine shares by code (`warp share PATH` printed it):
    /// finds it on the local network, pairs by the code and downloads here.
    Receive(ReceiveArgs),
    /// Offers made and received: list (default), listen, accept, reject, cancel.
    Offers(OffersArgs),
    /// Measure the round trip to a peer through the tunnel, like ping(8).
    Ping(PingArgs),
    /// Send bytes through the tunnel to a peer and report the rate, checked by SHA-256.
    Speed(SpeedArgs),
    /// The running node at a glance: its id, addresses, data directory, and how many
    /// peers, gates, flows and offers it has.
    Status {
        /// As one JSON document.
        #[arg(long)]
        json: bool,
    },
    /// Print the address of the node's live page, with a one-time login, and open it in a
    /// browser where one can be.
    Page {
        /// Only print the address.
        #[arg(long)]
        print: bool,
    },
    /// Print a completion script for a shell: `warp completions bash >
    /// /etc/bash_completion.d/warp` (zsh: a `_warp` file on $fpath; fish:
    /// ~/.config/fish/completions/warp.fish).
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): `warp man > ~/.local/share/man/man1/warp.1`.
    Man,
    /// Read Recon and print it back: compact (default), --pretty, or --json.
    ///
    /// Handy to check a file or to read a WARP frame. Exits 1 with `file:line:col: message`
    /// on bad input.
    Recon(ReconArgs),
}

/// Options of `warp node`.
#[derive(Debug, Args)]
pub struct NodeArgs {
    /// UDP address for QUIC connections from peers [default: 0.0.0.0:7470]. Each of these
    /// flags may also be set in the configuration file's `[node]` section.
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Impair every datagram sent, to see how applications fare on a bad network:
    /// `loss=5%,delay=20ms,jitter=5ms,reorder=1%,duplicate=1%,rate=100mbit,seed=7`. With
    /// `to=ADDR` (an IP, or IP:port) only what is sent there: one path. Repeatable; the
    /// first spec whose `to` covers a datagram applies, then one without `to`.
    #[arg(long)]
    pub impair: Vec<crate::transport::impair::ImpairSpec>,
    /// Reach peers only through this network interface (repeatable): each of a peer's
    /// addresses gets a path through every one of them that has a route to it. By
    /// default every interface that is up and has a route is used.
    #[arg(long = "interface", value_name = "NAME")]
    pub interfaces: Vec<String>,
    /// Neither announce this node on the local network nor look for peers there (mDNS).
    /// By default a node that listens beyond loopback does both, so a peer added by its
    /// id alone is found on the same network.
    #[arg(long)]
    pub no_lan: bool,
    /// A map (`warp map`) to register with and to ask for peers that have no address,
    /// as HOST:PORT (repeatable; also `map = [...]` under `[node]` in `warp.toml`).
    #[arg(long = "map", value_name = "HOST:PORT")]
    pub maps: Vec<String>,
    /// Configuration file (TOML), applied again whenever it is saved; the node runs
    /// without one. Default: `warp.toml` in the data directory.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Where accepted offers download unless `--to` says otherwise (and where offers
    /// from trusted peers go). Default: `incoming` in the data directory.
    #[arg(long)]
    pub incoming: Option<PathBuf>,
    /// Where the WARP link hub (WebSocket, SwimOS WARP) listens, or `off`
    /// [default: 127.0.0.1:9001].
    #[arg(long, value_parser = parse_ws)]
    pub ws: Option<WsAddr>,
    /// Let the link hub listen beyond loopback (set `[links] tokens` too, so that clients
    /// must authenticate).
    #[arg(long)]
    pub ws_public: bool,
    /// What happens to keys not in the peer book: `block` refuses their connections;
    /// `ask` lets them offer files, which wait for you, and nothing more. Overrides
    /// `unknown` in the configuration file; block when neither says.
    #[arg(long)]
    pub unknown: Option<crate::store::Unknown>,
    /// Worker threads; by default half the machine's cores, at least one.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Loopback address of the REST API (docs/openapi.json), or `off`
    /// [default: 127.0.0.1:7480].
    #[arg(long, value_parser = parse_api)]
    pub api: Option<ApiAddr>,
}

/// Where the REST API listens, if anywhere.
#[derive(Clone, Debug)]
pub struct ApiAddr(pub Option<SocketAddr>);

/// Reads `--api`'s value: a loopback address or `off`.
pub fn parse_api(s: &str) -> Result<ApiAddr, String> {
    if s == "off" {
        return Ok(ApiAddr(None));
    }
    let addr: SocketAddr = s
        .parse()
        .map_err(|_| format!("{s:?} is not host:port or off"))?;
    if !addr.ip().is_loopback() {
        return Err(format!("the REST API listens on loopback only, not {addr}"));
    }
    Ok(ApiAddr(Some(addr)))
}

/// Where the link hub listens, if anywhere.
#[derive(Clone, Debug)]
pub struct WsAddr(pub Option<SocketAddr>);

/// Reads `--ws`'s value: an address or `off`.
pub fn parse_ws(s: &str) -> Result<WsAddr, String> {
    if s == "off" {
        return Ok(WsAddr(None));
    }
    s.parse()
        .map(|a| WsAddr(Some(a)))
        .map_err(|_| format!("{s:?} is not host:port or off"))
}

/// Options of `warp peers`.
#[derive(Debug, Args)]
pub struct PeersArgs {
    /// What to do with the book; lists it when absent.
    #[command(subcommand)]
    pub action: Option<PeersAction>,
    /// The listing (or the entry changed) as one JSON document.
    #[arg(long, global = true)]
    pub json: bool,
}

/// `warp peers` subcommands.
#[derive(Debug, Subcommand)]
pub enum PeersAction {
    /// Add a peer (or update its alias and addresses).
    Add {
        /// The name to call it by.
        alias: String,
        /// Its peer id (from `warp id` on that machine).
        id: String,
        /// Where to reach it, host:port (repeatable).
        #[arg(long = "addr")]
        addrs: Vec<String>,
    },
    /// Remove a peer.
    Rm {
        /// Alias or peer id.
        peer: String,
    },
    /// Give a peer a new alias; gates and flows that name it follow.
    Rename {
        /// Its alias or peer id now.
        peer: String,
        /// The new alias.
        alias: String,
    },
    /// Set a peer's policy, `warp peers set <peer> policy ask|trust|block`, or what it
    /// may do with this node's WARP lanes, `warp peers set <peer> links none|read|write`.
    Set {
        /// Alias or peer id.
        peer: String,
        /// The setting's name: `policy` or `links`.
        #[arg(value_parser = ["policy", "links"])]
        setting: String,
        /// ask, trust or block (policy); none, read or write (links).
        value: String,
    },
}

/// Options of `warp gate`.
#[derive(Debug, Args)]
pub struct GateArgs {
    /// What to do; lists the gates when absent.
    #[command(subcommand)]
    pub action: Option<GateAction>,
    /// The listing as one JSON document.
    #[arg(long)]
    pub json: bool,
}

/// `warp gate` subcommands.
#[derive(Debug, Subcommand)]
pub enum GateAction {
    /// Offer a local TCP service to peers under a name: `warp gate expose ssh 127.0.0.1:22`.
    Expose {
        /// The name peers ask for.
        name: String,
        /// The local address to connect them to.
        target: String,
        /// Only these peers (alias or id; repeatable) may use it; by default every peer
        /// in the book that is not blocked may.
        #[arg(long = "allow")]
        allow: Vec<String>,
        /// A datagram service (UDP, or a Unix datagram socket at `unix:/path`):
        /// datagrams keep their boundaries.
        #[arg(long)]
        udp: bool,
        /// Serve keys that are not in the peer book too (with no --allow): anyone the node
        /// lets connect (`unknown = "ask"`) may use the service.
        #[arg(long, conflicts_with = "allow")]
        public: bool,
    },
    /// Stop offering a service.
    Unexpose {
        /// Its name.
        name: String,
    },
    /// Listen locally and lead each connection to a peer's service:
    /// `warp gate open 127.0.0.1:2222 bob ssh`.
    Open {
        /// Local address to listen on (a bare port means 127.0.0.1:PORT), or unix:/path.
        listen: String,
        /// Alias or peer id.
        peer: String,
        /// The service's name on the peer.
        name: String,
        /// A datagram gate (UDP, or a Unix datagram socket at `unix:/path`): datagrams keep
        /// their boundaries, one session per source.
        #[arg(long)]
        udp: bool,
        /// Let other hosts connect (like `ssh -g`): needed to listen beyond loopback.
        #[arg(short = 'g', long)]
        gateway: bool,
        /// How each connection uses the peer's paths when it has several: aggregate (the
        /// bandwidth of all), redundant (a copy on each, nothing lost when one dies) or
        /// failover (one at a time).
        #[arg(long, default_value = "aggregate")]
        mode: Mode,
    },
    /// Close an opened gate.
    Close {
        /// Its listen address.
        listen: String,
    },
}

/// Options of `warp flow`.
#[derive(Debug, Args)]
pub struct FlowArgs {
    /// What to do; lists the flows when absent.
    #[command(subcommand)]
    pub action: Option<FlowAction>,
    /// The listing as one JSON document (an array of flows).
    #[arg(long)]
    pub json: bool,
}

/// `warp flow` subcommands.
#[derive(Debug, Subcommand)]
pub enum FlowAction {
    /// Start a flow (or change the one of that name):
    /// `warp flow add video 1:n 5600 --send self --recv bob --recv carol`.
    Add {
        /// Its name, the same on every member.
        name: String,
        /// 1:1, 1:n, n:1 or n:n.
        mode: crate::flow_book::Mode,
        /// The local port applications send into (on 127.1.0.1 unless --ip).
        port: u16,
        /// The loopback address of that port.
        #[arg(long)]
        ip: Option<std::net::IpAddr>,
        /// Also deliver datagrams from the flow to this local address (applications that
        /// send into the flow get them anyway).
        #[arg(long)]
        deliver: Option<SocketAddr>,
        /// A member that sends and receives (alias, id or `self`; repeatable).
        #[arg(long = "member")]
        members: Vec<String>,
        /// A member that only sends (repeatable).
        #[arg(long)]
        send: Vec<String>,
        /// A member that only receives (repeatable).
        #[arg(long)]
        recv: Vec<String>,
        /// How datagrams use a member's paths when it has several: aggregate, redundant
        /// (each on every path, delivered once: nothing lost when one dies) or failover.
        #[arg(long, default_value = "aggregate")]
        paths: Mode,
    },
    /// Stop a flow.
    Rm {
        /// Its name.
        name: String,
    },
    /// Add or remove members.
    Member {
        /// What to do.
        #[command(subcommand)]
        action: MemberAction,
    },
    /// Ask a map trusted for flows to let this node join one of its flows:
    /// `warp flow join video --role recv`. The map grants it at once or holds it for its
    /// operator, as its flows file says.
    Join {
        /// The flow's name on the map.
        name: String,
        /// send, recv or both.
        #[arg(long)]
        role: crate::flow_book::Role,
        /// The name to go by on the map, if this node has none there yet.
        #[arg(long = "as", value_name = "NAME")]
        as_name: Option<String>,
        /// The map, as warp.toml names it (default: the first trusted for flows).
        #[arg(long)]
        map: Option<String>,
    },
}

/// `warp flow member` subcommands.
#[derive(Debug, Subcommand)]
pub enum MemberAction {
    /// Add a member to a flow, or change its role.
    Add {
        /// The flow.
        name: String,
        /// Alias or peer id.
        peer: String,
        /// send, recv or both; by default what the mode gives new members (recv in 1:n,
        /// send in n:1, both otherwise).
        #[arg(long)]
        role: Option<crate::flow_book::Role>,
    },
    /// Remove a member from a flow.
    Rm {
        /// The flow.
        name: String,
        /// Alias or peer id, as the flow names it.
        peer: String,
    },
}

/// Options of `warp share`.
#[derive(Debug, Args)]
pub struct ShareArgs {
    /// Alias or peer id; when it is no peer of the book but a file, it is the first
    /// path, and a pairing code is printed for the other side to type.
    #[arg(value_name = "PEER")]
    pub peer: String,
    /// Files and directories (directories with everything under them).
    pub paths: Vec<PathBuf>,
    /// Return once the offer is sent, without following it.
    #[arg(long)]
    pub no_wait: bool,
    /// How long the offer waits for a peer that cannot be reached before it fails
    /// (`90s`, `12h`, `3d`) [default: 7d].
    #[arg(long, value_parser = humantime::parse_duration)]
    pub expires: Option<std::time::Duration>,
    /// One JSON object per line instead of text and a progress bar.
    #[arg(long)]
    pub json: bool,
}

/// Options of `warp map`.
#[derive(Debug, Args)]
pub struct MapArgs {
    /// Address to listen on (UDP, QUIC), repeatable; two addresses (or ports) let nodes
    /// learn whether their NAT maps them differently per destination [default:
    /// 0.0.0.0:7475].
    #[arg(long = "listen", value_name = "ADDR")]
    pub listen: Vec<std::net::SocketAddr>,
    /// The map's data directory (its key and records) [default: `map` in the data
    /// directory].
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// The most each node may send through the map's relay, in Mbit/s (0: no limit).
    #[arg(long = "relay-rate", value_name = "MBIT", default_value_t = 1000)]
    pub relay_rate: u64,
    /// Define flows for the nodes in this file (TOML; applied on every save): nodes that
    /// trust this map for flows run the ones they are members of.
    #[arg(long, value_name = "FILE")]
    pub flows: Option<PathBuf>,
    /// The REST API's address (flows, members, requests to join), or `off`; its token is
    /// `api.token` in the map's data directory [default: 127.0.0.1:7485].
    #[arg(long, value_name = "ADDR")]
    pub api: Option<String>,
}

/// Options of `warp receive`.
#[derive(Debug, Args)]
pub struct ReceiveArgs {
    /// The code `warp share` printed on the other machine, like 7-orbit-velvet.
    pub code: String,
    /// Download into this directory (default: the current one).
    #[arg(long)]
    pub to: Option<PathBuf>,
    /// Add the other side to the peer book under this alias.
    #[arg(long, value_name = "ALIAS")]
    pub remember: Option<String>,
    /// One JSON object per line instead of text and a progress bar.
    #[arg(long)]
    pub json: bool,
}

/// Options of `warp offers`.
#[derive(Debug, Args)]
pub struct OffersArgs {
    /// What to do; lists the offers when absent.
    #[command(subcommand)]
    pub action: Option<OffersAction>,
    /// Only offers received.
    #[arg(long = "in")]
    pub incoming: bool,
    /// Only offers made.
    #[arg(long = "out")]
    pub outgoing: bool,
    /// JSON: the listing as one document (an array); `listen` and the progress of
    /// `accept` as one object per line.
    #[arg(long, global = true)]
    pub json: bool,
}

/// `warp offers` subcommands.
#[derive(Debug, Subcommand)]
pub enum OffersAction {
    /// Print new offers and every status change as they happen, until interrupted.
    Listen,
    /// Accept an offer (or resume an interrupted or failed one) and follow the download.
    Accept {
        /// The offer's id, or a unique prefix of at least 4 characters.
        id: String,
        /// Download into this directory (default: the node's incoming directory).
        #[arg(long)]
        to: Option<PathBuf>,
        /// Return at once; the download runs in the node.
        #[arg(long)]
        no_wait: bool,
    },
    /// Decline an offer.
    Reject {
        /// The offer's id or a unique prefix.
        id: String,
    },
    /// Cancel an offer, made or received.
    Cancel {
        /// The offer's id or a unique prefix.
        id: String,
    },
}

/// Options of `warp ping`.
#[derive(Debug, Args)]
pub struct PingArgs {
    /// Alias or peer id.
    pub peer: String,
    /// Probes to send; without it, until Ctrl-C (which prints the summary), like ping(8).
    #[arg(short = 'c', long)]
    pub count: Option<u32>,
    /// Seconds between probes.
    #[arg(short = 'i', long, default_value_t = 1.0)]
    pub interval: f64,
    /// Payload bytes per probe.
    #[arg(short = 's', long, default_value_t = 56)]
    pub size: u32,
    /// JSON lines: one per probe (`{"seq","size","rtt_us"}` or `{"seq","lost":true}`),
    /// then the summary.
    #[arg(long)]
    pub json: bool,
}

/// Options of `warp speed`.
#[derive(Debug, Args)]
pub struct SpeedArgs {
    /// Alias or peer id.
    pub peer: String,
    /// How much to send: bytes, or with a suffix K, M, G (powers of 1024).
    #[arg(short = 'n', long, default_value = "100M", value_parser = parse_size)]
    pub bytes: u64,
    /// Seed of the pseudo-random bytes.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Check only the byte count, not the SHA-256: measures the channel alone.
    #[arg(long)]
    pub no_verify: bool,
    /// How the channel uses the peer's paths when it has several: aggregate, redundant
    /// or failover.
    #[arg(long, default_value = "aggregate")]
    pub mode: Mode,
    /// The result as one JSON document (no progress bar).
    #[arg(long)]
    pub json: bool,
}

/// Parses `512`, `64K`, `100M`, `1G`.
fn parse_size(s: &str) -> Result<u64, String> {
    let (num, shift) = match s.chars().last() {
        Some('K' | 'k') => (&s[..s.len() - 1], 10),
        Some('M' | 'm') => (&s[..s.len() - 1], 20),
        Some('G' | 'g') => (&s[..s.len() - 1], 30),
        _ => (s, 0),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size such as 100M"))?;
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("{s:?} is too large"))
}

/// Options of `warp recon`.
#[derive(Debug, Args)]
pub struct ReconArgs {
    /// The file to read; standard input when absent or `-`.
    pub file: Option<PathBuf>,
    /// Indent records that do not fit on a line (with --json: indented JSON).
    #[arg(long)]
    pub pretty: bool,
    /// Print JSON instead of Recon (the mapping is in docs/recon.md).
    #[arg(long)]
    pub json: bool,
    /// The input's language: Recon, or JSON (Recon is not JSON: `{"a": 1}` reads as
    /// markup in Recon).
    #[arg(long, value_enum, default_value = "recon")]
    pub from: InputFormat,
}

/// What `warp recon` reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum InputFormat {
    /// Recon.
    Recon,
    /// JSON, mapped to Recon as docs/recon.md says.
    Json,
}
