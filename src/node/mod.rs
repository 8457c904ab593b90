//! The node: the long-running process behind every other `warp` command.

mod commands;
mod config_watch;
mod conns;
mod control_server;
mod dgram_frames;
mod drive;
mod flow_set;
mod flows;
mod gate_access;
mod gate_error;
mod gate_open;
mod gate_set;
mod gates;
mod hub_lanes;
mod lan;
mod links_peer;
mod local;
mod local_dgram;
mod map_flows;
mod maps;
mod own;
mod pair;
mod pair_codes;
mod pair_step;
mod peers;
mod ping;
mod renames;
mod rest;
mod service_error;
mod services;
mod sink;
mod start_error;
mod traverse;
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
pub use start_error::StartError;

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

/// How the node runs.
#[derive(Clone, Debug)]
pub struct NodeOptions {
    /// The UDP address for QUIC.
    pub listen: SocketAddr,
    /// Impairment applied to every datagram sent, for testing on a bad network.
    pub impair: Vec<crate::transport::impair::ImpairSpec>,
    /// The network interfaces peers are reached through; empty: every one with a route.
    pub interfaces: Vec<String>,
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
    /// Announce the node and find peers on the local network (mDNS), unless it listens
    /// on loopback only.
    pub lan: bool,
    /// Maps (HOST:PORT) to register with and to ask for peers that have no address, from
    /// the command line (they win over `map = [...]` in the configuration file, which is
    /// applied at start and on every save).
    pub maps: Vec<String>,
}

/// A running node.
pub struct Node {
    id: PeerId,
    book: PeerBook,
    endpoint: crate::transport::Endpoint,
    conns: Conns,
    /// `--interface`: the interfaces peers are reached through (empty: any).
    interfaces: Vec<String>,
    /// Peers found on the local network, and this node's announcement there.
    lan: Option<lan::Lan>,
    /// The pairing codes this node waits with, and the keys paired by one.
    pairings: pair_codes::Pairings,
    /// The maps it registers with and asks for peers.
    maps: maps::Maps,
    /// Its key, to sign what it publishes.
    signer: crate::identity::Identity,
    /// Every gate: the book, the file's, the listeners.
    gates: gate_set::GateSet,
    /// Every flow: the book and the running ones.
    flows: flow_set::FlowSet,
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

/// Takes the data directory's lock file, held for the node's lifetime (or while a
/// command uses the database with no node running).
pub fn lock(dir: &Path) -> Result<std::fs::File, StartError> {
    let path = dir.join("node.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| StartError::File {
            what: path.display().to_string(),
            source,
        })?;
    file.try_lock()
        .map_err(|_| StartError::Locked(dir.to_path_buf()))?;
    Ok(file)
}

/// A node running in this process, started by [`start`].
pub struct NodeHandle {
    /// The node's peer id.
    pub id: PeerId,
    /// Where it listens for peers (QUIC over UDP).
    pub quic: SocketAddr,
    /// Where the REST API listens, if it does.
    pub api: Option<SocketAddr>,
    /// Where the WARP link hub listens, if it does.
    pub ws: Option<SocketAddr>,
    /// The data directory.
    pub dir: PathBuf,
    stopped: tokio::task::JoinHandle<Result<(), StartError>>,
}

impl NodeHandle {
    /// Waits until the node has stopped: its shutdown future completed, link clients and
    /// peers were told, and the database was flushed.
    pub async fn stopped(self) -> Result<(), StartError> {
        self.stopped
            .await
            .map_err(|e| StartError::Task(e.to_string()))?
    }

    /// The address another machine would dial to reach this node.
    pub fn reachable(&self) -> SocketAddr {
        SocketAddr::new(reachable_ip(self.quic.ip()), self.quic.port())
    }
}

/// Runs a node in the foreground until Ctrl-C or SIGTERM, saying where it listens.
pub async fn run(dir: PathBuf, opts: NodeOptions) -> Result<(), StartError> {
    let node = start(dir, opts, shutdown_signal()).await?;
    println!("warp node {} listening on udp {}", node.id, node.quic);
    println!("  peers (QUIC)  udp {}", node.quic);
    if let Some(a) = node.api {
        println!(
            "  REST API      http://{a}  (token in {})",
            node.dir.join(crate::api_token::FILE).display()
        );
    }
    if let Some(a) = node.ws {
        println!("  WARP links    ws://{a}");
    }
    println!(
        "On the other machine:  warp peers add <name> {} --addr {}",
        node.id,
        node.reachable()
    );
    node.stopped().await
}

/// Starts a node on data directory `dir` in this process; it runs until `shutdown`
/// completes. Returns once every listener is up (the control socket last).
pub async fn start(
    dir: PathBuf,
    opts: NodeOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<NodeHandle, StartError> {
    let lock_file = lock(&dir)?;
    let identity = Identity::load_or_create(&dir).map_err(|source| StartError::File {
        what: "identity".into(),
        source,
    })?;
    let api_token = crate::api_token::ApiToken::load_or_create(&dir)?;
    let db = crate::home::open_db(&dir)?;
    let book = PeerBook::open(&db, Some(identity.peer_id()))?;
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
        db.open_tree("links_lanes")?,
        &links_cfg,
        api_token.as_str().to_string(),
    );

    let id = identity.peer_id();
    let endpoint =
        crate::transport::Endpoint::bind(opts.listen, identity.clone(), opts.impair.clone())?;
    let local = endpoint.local_addr().map_err(|source| StartError::File {
        what: "QUIC socket".into(),
        source,
    })?;

    let node = Arc::new(Node {
        id,
        book,
        endpoint: endpoint.clone(),
        conns: Conns::default(),
        interfaces: opts.interfaces.clone(),
        lan: opts.lan.then(|| lan::Lan::start(id, local)).flatten(),
        pairings: Default::default(),
        maps: maps::Maps::new(opts.maps.clone()),
        signer: identity.clone(),
        gates: gate_set::GateSet::new(gates),
        flows: flow_set::FlowSet::new(
            flow_book,
            map_flows::MapTables::new(db.open_tree("map_flow_tables")?),
        ),
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
    hub.remote
        .set_dial(Arc::new(links_peer::NodeDial(Arc::downgrade(&node))));
    let engine = warpdrive::Drive::new(&db, net, opts.incoming.clone())?;
    let _ = node.drive.set(engine.clone());
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
    let registrar = tokio::spawn(node.clone().keep_registered());
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
                .map_err(|source| StartError::Listen {
                    source,
                    hint: "--ws ADDR listens elsewhere, --ws off serves no hub",
                })?,
        ),
        (Some(addr), Err(e)) => {
            warn!("the WARP link hub is not served on {addr}: its tokens cannot be read ({e}); fix the file and restart");
            None
        }
        (None, _) => None,
    };
    // Flows from the command line first: they win over the file's flows of the same name.
    for f in node.flows.book.all() {
        let name = f.name.clone();
        let origin = (crate::flow_book::Origin::Command, Default::default());
        if let Err(e) = flows::apply(&node, f, origin).await {
            warn!("flow {name}: {e}");
        }
    }
    let watcher = tokio::spawn(config_watch::watch(node.clone(), opts.config.clone()));
    let api =
        match opts.api {
            Some(addr) => Some(rest::start(node.clone(), addr, own_ports).await.map_err(
                |source| StartError::Listen {
                    source,
                    hint: "--api ADDR listens elsewhere, --api off serves no API",
                },
            )?),
            None => None,
        };
    for g in node.gates.book.all_opened() {
        if let Err(e) = node.gates.start(node.clone(), &g).await {
            warn!("gate {}: {e}", g.listen);
        }
    }
    // The control socket comes last: once it answers, everything above is up.
    let control = control_server::start(node.clone(), &dir).map_err(|source| StartError::File {
        what: "control socket".into(),
        source,
    })?;
    info!("ready");
    let handle = NodeHandle {
        id: node.id,
        quic: local,
        api: opts.api,
        ws: opts.ws.filter(|_| ws.is_some()),
        dir: dir.clone(),
        stopped: tokio::spawn(async move {
            let _lock = lock_file;
            shutdown.await;
            info!("shutting down");
            // Link clients hear `@unlinked` for every link and a close 1001 first.
            if let Some(ws) = ws {
                ws.abort();
            }
            hub.stop(Duration::from_secs(1)).await;
            let mut tasks = vec![hub_lanes, maintainer, registrar, watcher, acceptor, control];
            tasks.extend(api);
            for task in &tasks {
                task.abort();
            }
            for task in tasks {
                let _ = task.await;
            }
            node.gates.stop_all().await;
            let running: Vec<String> = node.flows.running().keys().cloned().collect();
            for name in running {
                flows::stop(&node, &name).await;
            }
            if let Some(lan) = &node.lan {
                lan.stop();
            }
            endpoint
                .close(crate::transport::Close::Shutdown, Duration::from_secs(1))
                .await;
            node.drive().stop();
            let _ = std::fs::remove_file(crate::home::control_socket(&dir));
            db.flush_async().await?;
            // Tasks that served peers and clients hold the node (and through it the
            // database) until they notice the end; the data directory is free for the
            // next node once they have let go.
            let held = Arc::downgrade(&node);
            drop((node, hub, endpoint, db));
            let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
            while held.strong_count() > 0 && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            if held.strong_count() > 0 {
                warn!("some tasks still hold the node after 2 s");
            }
            Ok(())
        }),
    };
    Ok(handle)
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

/// Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
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
    /// Announces on the local network the numbers of the pairing codes this node now
    /// waits with.
    fn announce_pairs(&self) {
        if let Some(lan) = &self.lan {
            lan.set_pairs(&self.pairings.numbers());
        }
    }

    /// The warpdrive engine.
    fn drive(&self) -> &Arc<warpdrive::Drive> {
        self.drive
            .get()
            .expect("the engine is set when the node starts")
    }

    /// Reads a channel's header and hands the channel to its service. Unknown services
    /// are refused on that channel only.
    async fn serve_channel(
        self: Arc<Self>,
        peer: PeerId,
        mut ch: crate::transport::Channel,
    ) -> Result<(), service_error::ServiceError> {
        const HEADER_WITHIN: Duration = Duration::from_secs(10);
        let header = tokio::time::timeout(HEADER_WITHIN, ch.read(ChannelOpen::decode))
            .await
            .map_err(|_| service_error::ServiceError::NoHeader(HEADER_WITHIN))??;
        let Some(header) = header else { return Ok(()) };
        let Some((service, name)) = services::Service::lookup(&header.service) else {
            warn!(
                "{} asked for unknown service {:?}",
                self.label(&peer),
                header.service
            );
            let msg = format!("no service {:?} on this node", header.service);
            return Ok(ch.decline(ChannelReply::UnknownService(msg)).await?);
        };
        let may = match self.unknown() {
            crate::store::Unknown::Ask => service.strangers_may(),
            crate::store::Unknown::Block => {
                service.blocked_strangers_may(self.pairings.is_paired(&peer))
            }
        };
        // A member of a flow a trusted map defines may use that flow's channel.
        let member = matches!(service, services::Service::Flow) && self.flows.maps.is_member(&peer);
        if !may && !member && !self.knows(&peer) {
            let msg = format!("{}: this node does not know your key", header.service);
            return Ok(ch.decline(ChannelReply::Refused(msg)).await?);
        }
        if header.version != service.version() {
            let msg = format!(
                "{service} speaks version {}, not {}",
                service.version(),
                header.version
            );
            return Ok(ch.decline(ChannelReply::UnsupportedVersion(msg)).await?);
        }
        let name = name.to_string();
        match service {
            services::Service::Ping => {
                ch.write(&ChannelReply::Accepted.encode()).await?;
                ping::serve(ch).await
            }
            services::Service::Sink => {
                ch.write(&ChannelReply::Accepted.encode()).await?;
                sink::serve(ch).await
            }
            services::Service::Drive => drive::serve(self, peer, ch).await,
            services::Service::Gate => gates::serve(self, peer, ch, &name).await,
            services::Service::Dgram => udp_gates::serve(self, peer, ch, &name).await,
            services::Service::GateCheck => gates::serve_check(self, peer, ch, &name, false).await,
            services::Service::DgramCheck => gates::serve_check(self, peer, ch, &name, true).await,
            services::Service::Flow => flows::serve(self, peer, ch, &name).await,
            services::Service::Pair => pair::serve(self, peer, ch).await,
            services::Service::Traverse => traverse::serve(self, peer, ch).await,
            services::Service::Links => links_peer::serve(self, peer, ch).await,
        }
    }
}
