//! The node's books read while no node runs (`warp peers`, `warp gate`, `warp flow`,
//! `warp offers` work either way): the data directory's lock is taken, so a node cannot start meanwhile,
//! and the database is opened directly.

use std::path::Path;

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
            db: crate::home::open_db(dir)?,
            _lock: lock,
        })
    }
}
