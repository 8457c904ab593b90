//! The node: the long-running process behind every other `warp` command.

mod channel;
mod config_watch;
mod conns;
mod control_server;
mod dgram_frames;
mod drive;
mod flows;
mod gates;
mod hub_lanes;
mod local;
mod local_dgram;
mod own;
mod ping;
mod renames;
mod rest;
mod sink;
mod udp_gates;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use protocols::channel::{ChannelOpen, ChannelReply};
use tracing::{info, warn};

use crate::identity::{Identity, PeerId};
use crate::store::PeerBook;
use conns::Conns;

/// The UDP port a node listens on by default.
pub const DEFAULT_PORT: u16 = 7470;

/// Where a node listens for peers by default.
pub const DEFAULT_LISTEN: SocketAddr = SocketAddr::new(
    std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
    DEFAULT_PORT,
);

/// Where the REST API listens by default.
pub const DEFAULT_API: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 7480);

/// The largest UDP payload path MTU discovery tries.
const MTU_CEILING: u16 = 16_384;

/// UDP socket buffer size: quinn on loopback loses packets with the 208 KiB default.
const SOCKET_BUFFER: usize = 4 << 20;

/// How the node runs.
#[derive(Clone, Debug)]
pub struct NodeOptions {
    /// The UDP address for QUIC.
    pub listen: SocketAddr,
    /// Impairment applied to every datagram sent, for testing on a bad network.
    pub impair: Option<crate::impair::ImpairSpec>,
    /// Where accepted offers download unless told otherwise.
    pub incoming: PathBuf,
    /// The configuration file, watched for changes.
    pub config: PathBuf,
    /// Where the WARP link hub listens; `None` for none.
    pub ws: Option<SocketAddr>,
    /// Let the link hub listen beyond loopback with no tokens.
    pub ws_public: bool,
    /// Where the REST API listens (loopback only); `None` for no API.
    pub api: Option<SocketAddr>,
    /// What happens to keys not in the peer book, when the command line says; the
    /// configuration file's `unknown` otherwise, else block.
    pub unknown: Option<crate::store::Unknown>,
}

/// A running node.
pub struct Node {
    id: PeerId,
    identity: Identity,
    book: PeerBook,
    endpoint: quinn::Endpoint,
    conns: Conns,
    transport: Arc<quinn::TransportConfig>,
    gates: crate::gate_book::GateBook,
    /// Listeners of opened gates, by listen address.
    open_gates: std::sync::Mutex<std::collections::HashMap<String, tokio::task::JoinHandle<()>>>,
    /// Gates exposed by the configuration file, by name and kind (UDP or not).
    config_exposed:
        std::sync::Mutex<std::collections::HashMap<(String, bool), crate::gate_book::Exposed>>,
    /// Gates opened by the configuration file, by listen address.
    config_opened: std::sync::Mutex<std::collections::HashMap<String, crate::gate_book::Opened>>,
    /// Flows set from the command line or the API.
    flow_book: crate::flow_book::FlowBook,
    /// Running flows, by name.
    flows: std::sync::Mutex<std::collections::HashMap<String, Arc<flows::RunningFlow>>>,
    /// The WARP link hub.
    hub: Arc<crate::links::Hub>,
    /// The warpdrive engine (set once, right after the node is made).
    drive: std::sync::OnceLock<Arc<warpdrive::Drive>>,
    /// The owner's credential for the REST API and the `/hub` agent.
    api_token: crate::api_token::ApiToken,
    /// The node's own sockets and files, which no gate may lead to.
    own: own::Own,
    /// `unknown` from the command line, which wins over the file's.
    unknown_flag: Option<crate::store::Unknown>,
    /// `unknown` from the configuration file.
    unknown_file: std::sync::RwLock<Option<crate::store::Unknown>>,
}

/// The QUIC transport settings of every connection: keepalives every second and an idle
/// timeout of 4 s, so a dead peer is noticed within a few seconds; windows sized for fast
/// bulk channels.
fn transport() -> Arc<quinn::TransportConfig> {
    let mut t = quinn::TransportConfig::default();
    t.keep_alive_interval(Some(Duration::from_secs(1)));
    t.max_idle_timeout(Some(
        Duration::from_secs(4)
            .try_into()
            .expect("4 s is a valid idle timeout"),
    ));
    t.stream_receive_window((8u32 << 20).into());
    t.receive_window((16u32 << 20).into());
    t.send_window(16 << 20);
    t.max_concurrent_bidi_streams(conns::STREAMS.into());
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

fn bind_udp(addr: SocketAddr) -> std::io::Result<std::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    // Best effort: the kernel caps these at its own maximum.
    let _ = socket.set_recv_buffer_size(SOCKET_BUFFER);
    let _ = socket.set_send_buffer_size(SOCKET_BUFFER);
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

/// Takes the data directory's lock file, held for the node's lifetime (or while a
/// command uses the database with no node running).
pub fn lock(dir: &Path) -> Result<std::fs::File, String> {
    let path = dir.join("node.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    file.try_lock().map_err(|_| {
        format!(
            "another warp node is already running with data directory {} (set WARP_HOME to run a second one)",
            dir.display()
        )
    })?;
    Ok(file)
}

/// Runs a node in the foreground until Ctrl-C or SIGTERM.
pub async fn run(dir: PathBuf, opts: NodeOptions) -> Result<(), String> {
    let _lock = lock(&dir)?;
    let identity = Identity::load_or_create(&dir).map_err(|e| format!("identity: {e}"))?;
    let api_token = crate::api_token::ApiToken::load_or_create(&dir).map_err(|e| e.to_string())?;
    let db = crate::home::open_db(&dir)?;
    let book = PeerBook::open(&db, Some(identity.peer_id())).map_err(|e| e.to_string())?;
    let gates = crate::gate_book::GateBook::open(&db)?;
    let flow_book = crate::flow_book::FlowBook::open(&db)?;
    // The configuration is read now (the watcher applies later saves), so the hub never
    // listens before it knows whether clients must authenticate, and a file that cannot
    // be read keeps the hub closed rather than open.
    let start_cfg = match std::fs::metadata(&opts.config) {
        Ok(_) => crate::config::load(&opts.config).map(Some),
        Err(_) => Ok(None),
    };
    let links_cfg = match &start_cfg {
        Ok(c) => c.as_ref().map(|c| c.links.clone()).unwrap_or_default(),
        Err(_) => Default::default(),
    };
    let hub = crate::links::Hub::new(
        db.open_tree("links_lanes").map_err(|e| e.to_string())?,
        &links_cfg,
        api_token.as_str().to_string(),
    );

    let tls = crate::tls::server_config(&identity)?;
    let quic = quinn::crypto::rustls::QuicServerConfig::try_from(tls).map_err(|e| e.to_string())?;
    let transport = transport();
    let mut server = quinn::ServerConfig::with_crypto(Arc::new(quic));
    server.transport_config(transport.clone());
    let socket = bind_udp(opts.listen).map_err(|e| {
        format!(
            "cannot listen on udp {}: {e} (--listen ADDR listens elsewhere)",
            opts.listen
        )
    })?;
    let runtime: Arc<dyn quinn::Runtime> = Arc::new(quinn::TokioRuntime);
    let mut udp = runtime
        .wrap_udp_socket(socket)
        .map_err(|e| format!("udp socket: {e}"))?;
    if let Some(spec) = opts.impair.clone() {
        warn!("impairing every datagram sent: {spec}");
        let model = crate::impair::model::Model::new(spec);
        udp = crate::impair::socket::ImpairedSocket::new(udp, model);
    }
    let endpoint = quinn::Endpoint::new_with_abstract_socket(
        quinn::EndpointConfig::default(),
        Some(server),
        udp,
        runtime,
    )
    .map_err(|e| format!("quic endpoint: {e}"))?;
    let local = endpoint.local_addr().map_err(|e| e.to_string())?;

    let node = Arc::new(Node {
        id: identity.peer_id(),
        identity,
        book,
        endpoint: endpoint.clone(),
        conns: Conns::default(),
        transport,
        gates,
        open_gates: Default::default(),
        config_exposed: Default::default(),
        config_opened: Default::default(),
        flow_book,
        flows: Default::default(),
        drive: Default::default(),
        hub: hub.clone(),
        api_token,
        own: own::Own {
            dir: dir.clone(),
            quic: local,
            api: opts.api,
            ws: opts.ws,
        },
        unknown_flag: opts.unknown,
        unknown_file: std::sync::RwLock::new(
            start_cfg.as_ref().ok().and_then(|c| c.as_ref()?.unknown),
        ),
    });
    let net = Arc::new(drive::NodeNet(Arc::downgrade(&node)));
    let engine = warpdrive::Drive::new(&db, net, opts.incoming.clone())?;
    let _ = node.drive.set(engine.clone());
    println!("warp node {} listening on udp {local}", node.id);
    info!(
        "peer id {}, quic on {local}, data in {}",
        node.id,
        dir.display()
    );

    let acceptor = {
        let node = node.clone();
        tokio::spawn(async move {
            while let Some(incoming) = node.endpoint.accept().await {
                tokio::spawn(node.clone().accept(incoming));
            }
        })
    };
    let maintainer = tokio::spawn(node.clone().maintain());
    engine.resume();
    let hub_lanes = hub_lanes::start(&node, local);
    let own_ports: Vec<u16> = [opts.api, opts.ws]
        .iter()
        .flatten()
        .map(|a| a.port())
        .collect();
    let ws = match (opts.ws, &start_cfg) {
        (Some(addr), Ok(_)) => Some(
            hub.serve(addr, opts.ws_public, own_ports.clone())
                .await
                .map_err(|e| {
                    format!("{e} (--ws ADDR listens elsewhere, --ws off serves no hub)")
                })?,
        ),
        (Some(addr), Err(e)) => {
            warn!("the WARP link hub is not served on {addr}: its tokens cannot be read ({e}); fix the file and restart");
            None
        }
        (None, _) => None,
    };
    // Flows from the command line first: they win over the file's flows of the same name.
    for f in node.flow_book.all() {
        let name = f.name.clone();
        if let Err(e) = flows::apply(&node, f, false).await {
            warn!("flow {name}: {e}");
        }
    }
    let watcher = tokio::spawn(config_watch::watch(node.clone(), opts.config.clone()));
    let api = match opts.api {
        Some(addr) => Some(
            rest::start(node.clone(), addr, own_ports)
                .await
                .map_err(|e| {
                    format!("{e} (--api ADDR listens elsewhere, --api off serves no API)")
                })?,
        ),
        None => None,
    };
    for g in node.gates.all_opened() {
        let listen = g.listen.clone();
        match gates::open(node.clone(), g).await {
            Ok(task) => {
                node.lock_open_gates().insert(listen, task);
            }
            Err(e) => warn!("gate {listen}: {e}"),
        }
    }
    // The control socket comes last: once it answers, everything above is up.
    let control =
        control_server::start(node.clone(), &dir).map_err(|e| format!("control socket: {e}"))?;
    println!("  peers (QUIC)  udp {local}");
    if let Some(a) = opts.api {
        println!(
            "  REST API      http://{a}  (token in {})",
            dir.join(crate::api_token::FILE).display()
        );
    }
    if let (Some(a), true) = (opts.ws, ws.is_some()) {
        println!("  WARP links    ws://{a}");
    }
    println!(
        "On the other machine:  warp peers add <name> {} --addr {}",
        node.id,
        SocketAddr::new(reachable_ip(local.ip()), local.port())
    );
    info!("ready");

    shutdown_signal().await;
    info!("shutting down");
    // Link clients hear `@unlinked` for every link and a close 1001 first.
    hub.stop();
    if let Some(ws) = ws {
        ws.abort();
    }
    hub_lanes.abort();
    tokio::time::sleep(Duration::from_millis(100)).await;
    maintainer.abort();
    watcher.abort();
    if let Some(api) = api {
        api.abort();
    }
    acceptor.abort();
    control.abort();
    endpoint.close(conns::CLOSE_SHUTDOWN.into(), b"node shutting down");
    let _ = tokio::time::timeout(Duration::from_secs(1), endpoint.wait_idle()).await;
    let _ = std::fs::remove_file(crate::home::control_socket(&dir));
    db.flush_async().await.map_err(|e| e.to_string())?;
    Ok(())
}

/// The address another machine would dial: the listen address when it is a specific one,
/// else this machine's first address beyond loopback (IPv4 first), else loopback.
fn reachable_ip(listen: std::net::IpAddr) -> std::net::IpAddr {
    if !listen.is_unspecified() {
        return listen;
    }
    let all = crate::interfaces::addresses();
    let usable = |v4: bool| {
        all.iter()
            .map(|a| a.ip)
            .filter(move |ip| ip.is_ipv4() == v4 && !ip.is_loopback() && !ip.is_unspecified())
            .find(|ip| match ip {
                std::net::IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) != 0xfe80,
                std::net::IpAddr::V4(_) => true,
            })
    };
    usable(listen.is_ipv4())
        .or_else(|| usable(!listen.is_ipv4()))
        .unwrap_or(std::net::IpAddr::from([127, 0, 0, 1]))
}

async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(s) => s,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

impl Node {
    /// What happens to keys not in the peer book now.
    fn unknown(&self) -> crate::store::Unknown {
        let file = *self.unknown_file.read().unwrap_or_else(|p| p.into_inner());
        self.unknown_flag.or(file).unwrap_or_default()
    }

    /// Whether `peer` is in the peer book.
    fn knows(&self, peer: &PeerId) -> bool {
        self.book.get(peer).is_some()
    }

    /// Stops the opened gate listening on `listen`, if any, and waits until its listener
    /// is closed, so the address can be bound again at once. Connections already made
    /// through it carry on.
    async fn stop_gate(&self, listen: &str) -> bool {
        let task = self.lock_open_gates().remove(listen);
        match task {
            Some(task) => {
                task.abort();
                let _ = task.await;
                true
            }
            None => false,
        }
    }

    fn lock_config_exposed(
        &self,
    ) -> std::sync::MutexGuard<
        '_,
        std::collections::HashMap<(String, bool), crate::gate_book::Exposed>,
    > {
        self.config_exposed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    fn lock_config_opened(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, crate::gate_book::Opened>>
    {
        self.config_opened.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The exposed gate `name` of the given kind: from the command line, else the file.
    fn exposed(&self, name: &str, udp: bool) -> Option<crate::gate_book::Exposed> {
        self.gates
            .exposed(name)
            .filter(|g| g.udp == udp)
            .or_else(|| {
                self.lock_config_exposed()
                    .get(&(name.to_string(), udp))
                    .cloned()
            })
    }

    /// The warpdrive engine.
    fn drive(&self) -> &Arc<warpdrive::Drive> {
        self.drive
            .get()
            .expect("the engine is set when the node starts")
    }

    fn lock_flows(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, Arc<flows::RunningFlow>>> {
        self.flows.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_open_gates(
        &self,
    ) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, tokio::task::JoinHandle<()>>>
    {
        self.open_gates.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reads a channel's header and hands the channel to its service. Unknown services
    /// are refused on that channel only.
    async fn serve_channel(
        self: Arc<Self>,
        peer: PeerId,
        send: quinn::SendStream,
        recv: quinn::RecvStream,
    ) -> Result<(), String> {
        let mut ch = channel::Channel::new(send, recv, Vec::new());
        let header = tokio::time::timeout(Duration::from_secs(10), ch.read(ChannelOpen::decode))
            .await
            .map_err(|_| "no channel header within 10 s".to_string())??;
        let Some(header) = header else { return Ok(()) };
        // A key not in the book may offer files (which wait for the user), use a gate
        // exposed --public, or send into a flow that names it; nothing else.
        let service = header.service.as_str();
        let stranger_may = [drive::SERVICE].contains(&service)
            || ["gate/", "dgram/", "flow/", "gate-check/", "dgram-check/"]
                .iter()
                .any(|p| service.starts_with(p));
        if !stranger_may && !self.knows(&peer) {
            let msg = format!("{service}: this node does not know your key");
            return ch.decline(ChannelReply::Refused(msg)).await;
        }
        match (header.service.as_str(), header.version) {
            (ping::SERVICE, ping::VERSION) => {
                ch.write(&ChannelReply::Accepted.encode()).await?;
                ping::serve(ch).await
            }
            (sink::SERVICE, sink::VERSION) => {
                ch.write(&ChannelReply::Accepted.encode()).await?;
                sink::serve(ch).await
            }
            (ping::SERVICE, v) => {
                let msg = format!("ping speaks version {}, not {v}", ping::VERSION);
                ch.decline(ChannelReply::UnsupportedVersion(msg)).await
            }
            (service, udp_gates::VERSION) if service.starts_with("dgram/") => {
                let name = service["dgram/".len()..].to_string();
                udp_gates::serve(self.clone(), peer, ch, &name).await
            }
            (drive::SERVICE, drive::VERSION) => drive::serve(self.clone(), peer, ch).await,
            (service, flows::VERSION) if service.starts_with("flow/") => {
                let name = service["flow/".len()..].to_string();
                flows::serve(self.clone(), peer, ch, &name).await
            }
            (service, gates::CHECK_VERSION) if service.starts_with("gate-check/") => {
                let name = service["gate-check/".len()..].to_string();
                gates::serve_check(self.clone(), peer, ch, &name, false).await
            }
            (service, gates::CHECK_VERSION) if service.starts_with("dgram-check/") => {
                let name = service["dgram-check/".len()..].to_string();
                gates::serve_check(self.clone(), peer, ch, &name, true).await
            }
            (service, gates::VERSION) if service.starts_with("gate/") => {
                let name = service["gate/".len()..].to_string();
                gates::serve(self.clone(), peer, ch, &name).await
            }
            (other, _) => {
                warn!("{peer} asked for unknown service {other:?}");
                let msg = format!("no service {other:?} on this node");
                ch.decline(ChannelReply::UnknownService(msg)).await
            }
        }
    }
}
