//! The node's books read while no node runs (`warp peers`, `warp gate`, `warp flow`,
//! `warp offers` work either way): the data directory's lock is taken, so a node cannot start meanwhile,
//! and the database is opened directly.

use std::path::Path;

use crate::control::{Client, Request, Response};

/// Reads a listing's answer from the books while no node runs.
pub type ReadBooks = fn(&Path) -> Result<Response, String>;

/// The running node's answer to `req`; with no node running, `listing` (when given) reads
/// the answer from the books, and anything else is refused naming the data directory.
pub async fn answer(
    dir: &Path,
    req: &Request,
    listing: Option<ReadBooks>,
) -> Result<Response, String> {
    match (Client::connect(dir).await, listing) {
        (Some(mut client), _) => {
            client.send(req).await.map_err(|e| e.to_string())?;
            client.next().await.map_err(|e| e.to_string())
        }
        (None, Some(read)) => read(dir),
        (None, None) => Err(crate::control::not_running(dir)),
    }
}

/// The database, held with the data directory's lock for as long as this lives.
pub struct Offline {
    /// The node's database.
    pub db: sled::Db,
    _lock: std::fs::File,
}

impl Offline {
    /// Opens the books of the node whose data directory is `dir`.
    pub fn open(dir: &Path) -> Result<Offline, String> {
        let lock = crate::node::lock(dir).map_err(|_| {
            "the node is starting or stopping (its control socket is not answering yet); try again"
                .to_string()
        })?;
        Ok(Offline {
            db: crate::home::open_db(dir).map_err(|e| e.to_string())?,
            _lock: lock,
        })
    }
}
