//! `warp map`: a map server from the same binary. Nodes register signed records of where
//! they can be reached and look up each other's by key; the map tells each node the
//! address it saw it at, and its other addresses so a node can tell whether its NAT maps
//! it differently per destination. The map is reached over the same QUIC as peers, so a
//! node's key is proven by the handshake; records are self-certifying, so a map cannot
//! forge or alter them. Wire: `docs/map.md`.

mod claims;
mod records;
pub mod relay;
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
}

/// Runs a map on `listen` with its key and records under `dir` until `shutdown` ends,
/// relaying at most `relay_rate` bytes per second for each node (0: no limit); `ready`
/// hears the map's id and bound addresses once it listens.
pub async fn run(
    dir: &Path,
    (listen, relay_rate): (&[SocketAddr], u64),
    ready: impl FnOnce(&str, &[SocketAddr]),
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<(), MapError> {
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
    let map = Arc::new(serve::Serving {
        records: Records::new(db.open_tree("records")?),
        claims: Default::default(),
        watchers: Default::default(),
        listening: bound.clone(),
        relay,
    });
    info!(
        "map {id} on {bound:?}, data in {}: {} records held",
        dir.display(),
        map.records.len()
    );
    ready(&id.to_string(), &bound);
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
