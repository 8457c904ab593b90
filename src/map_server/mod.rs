//! `warp map`: a map server from the same binary. Nodes register signed records of where
//! they can be reached and look up each other's by key; the map tells each node the
//! address it saw it at, and its other addresses so a node can tell whether its NAT maps
//! it differently per destination. The map is reached over the same QUIC as peers, so a
//! node's key is proven by the handshake; records are self-certifying, so a map cannot
//! forge or alter them. Wire: `docs/map.md`.

mod claims;
mod flow_channel;
pub mod flow_file;
pub mod flows;
pub mod joins;
mod records;
pub mod relay;
pub mod rest;
mod serve;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tracing::{info, warn};

use crate::identity::Identity;
use crate::transport::relay::tcp::Carriage;
use crate::transport::{BindError, Endpoint, Peer};

pub use records::{KeepError, Records, MAX_RECORDS};

/// Where a map listens when not told: UDP port 7475 of every address.
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), 7475);

/// How often expired records are dropped.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// Why a map did not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum MapError {
    /// Another map runs on this data directory.
    #[error("another map runs on {0} (map.lock is held)")]
    Locked(PathBuf),
    /// A file of the data directory.
    #[error("{what}: {source}")]
    File {
        /// The file.
        what: String,
        /// What the system said.
        source: std::io::Error,
    },
    /// The database.
    #[error("the map's database: {0}")]
    Store(#[from] sled::Error),
    /// A listening address could not be bound.
    #[error("cannot listen on {addr} (--listen): {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: BindError,
    },
    /// The REST API's address could not be bound.
    #[error("cannot serve the REST API on {addr} (--api): {source}")]
    Api {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The token file.
    #[error(transparent)]
    Token(#[from] crate::api_token::TokenError),
}

/// How a map runs: what `warp map`'s flags say.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Where it listens (QUIC by UDP, and TCP on the same addresses).
    pub listen: Vec<SocketAddr>,
    /// The most each node may relay, in bytes per second (0: no limit).
    pub relay_rate: u64,
    /// The flows file, if the map defines flows.
    pub flows: Option<PathBuf>,
    /// Where the REST API listens (`None`: it does not).
    pub api: Option<SocketAddr>,
}

/// Runs a map as `settings` say, with its key and records under `dir`, until `shutdown`
/// ends; `ready` hears the map's id and bound addresses (QUIC, then the REST API's if
/// any) once it listens.
pub async fn run(
    dir: &Path,
    settings: &Settings,
    ready: impl FnOnce(&str, &[SocketAddr], Option<SocketAddr>),
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), MapError> {
    let (listen, relay_rate) = (&settings.listen, settings.relay_rate);
    let file = |what: &Path| {
        let what = what.display().to_string();
        move |source| MapError::File { what, source }
    };
    std::fs::create_dir_all(dir).map_err(file(dir))?;
    let lock_path = dir.join("map.lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(file(&lock_path))?;
    lock.try_lock()
        .map_err(|_| MapError::Locked(dir.to_path_buf()))?;
    let identity = Identity::load_or_create(dir).map_err(file(&dir.join("identity.pem")))?;
    let id = identity.peer_id();
    let db = sled::open(dir.join("map.sled"))?;
    let mut endpoints = Vec::new();
    let mut bound = Vec::new();
    let relay = Arc::new(relay::Relay::new(relay_rate));
    let mut tasks = Vec::new();
    for addr in listen {
        let carriage = Carriage::new();
        let e = Endpoint::bind_map(*addr, identity.clone(), relay.clone(), carriage.clone())
            .map_err(|source| MapError::Bind {
                addr: *addr,
                source,
            })?;
        let at = e.local_addr().map_err(file(Path::new("QUIC socket")))?;
        // Nodes whose UDP is blocked come by TCP to the same address and port.
        match tokio::net::TcpListener::bind(at).await {
            Ok(l) => tasks.push(tokio::spawn(carriage.accept(l))),
            Err(e) => warn!("no TCP for nodes whose UDP is blocked, on {at}: {e}"),
        }
        bound.push(at);
        endpoints.push(e);
    }
    let flows = Arc::new(flows::Flows::new(
        settings.flows.clone(),
        identity.clone(),
        joins::Joins::open(&db)?,
    ));
    if flows.enabled() {
        let flows = flows.clone();
        tasks.push(tokio::spawn(async move { flows.watch().await }));
    }
    let mut api = None;
    if let Some(addr) = settings.api {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| MapError::Api { addr, source })?;
        api = listener.local_addr().ok();
        let token = crate::api_token::ApiToken::load_or_create(dir)?;
        tasks.push(
            rest::start(flows.clone(), listener, token)
                .map_err(|source| MapError::Api { addr, source })?,
        );
    }
    let map = Arc::new(serve::Serving {
        records: Records::new(db.open_tree("records")?),
        claims: Default::default(),
        watchers: Default::default(),
        listening: bound.clone(),
        relay,
        flows,
    });
    info!(
        "map {id} on {bound:?}, data in {}: {} records held",
        dir.display(),
        map.records.len()
    );
    ready(&id.to_string(), &bound, api);
    for e in &endpoints {
        let (e, map) = (e.clone(), map.clone());
        tasks.push(tokio::spawn(async move {
            while let Some(incoming) = e.accept().await {
                let map = map.clone();
                tokio::spawn(async move {
                    let remote = incoming.remote();
                    match incoming.handshake().await {
                        Ok(path) => serve::connection(map, Peer::new(path, id)).await,
                        Err(e) => tracing::debug!("map: handshake from {remote}: {e}"),
                    }
                });
            }
        }));
    }
    let pruner = {
        let map = map.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(PRUNE_EVERY);
            loop {
                tick.tick().await;
                match map.records.prune(serve::now()) {
                    Ok(0) => {}
                    Ok(n) => info!("{n} expired records dropped; {} held", map.records.len()),
                    Err(e) => warn!("pruning records: {e}"),
                }
            }
        })
    };
    shutdown.await;
    info!("map stopping");
    pruner.abort();
    for t in &tasks {
        t.abort();
    }
    for e in &endpoints {
        e.close(crate::transport::Close::Shutdown, Duration::from_secs(1))
            .await;
    }
    db.flush_async().await?;
    drop(lock);
    Ok(())
}
