//! Where a node keeps its files: `$WARP_HOME`, else the platform's data directory.

use std::path::PathBuf;

/// The node's data directory: `$WARP_HOME` when set, else `<data dir>/warp`
/// (`~/.local/share/warp` on Linux). Created with mode 0700 when missing.
pub fn data_dir() -> std::io::Result<PathBuf> {
    let dir = match std::env::var_os("WARP_HOME") {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => dirs::data_dir()
            .ok_or_else(|| std::io::Error::other("no data directory: set WARP_HOME"))?
            .join("warp"),
    };
    if !dir.exists() {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)?;
    }
    Ok(dir)
}

/// The control socket's path in the data directory.
pub fn control_socket(dir: &std::path::Path) -> PathBuf {
    dir.join("control.sock")
}

/// How often the database's writes are made durable, at most.
pub const FLUSH_EVERY_MS: u64 = 100;

/// The database's page cache.
pub const CACHE_BYTES: u64 = 64 << 20;

/// Opens the node's database (`db` in the data directory); errors name it and say what to
/// do about a corrupt one.
pub fn open_db(dir: &std::path::Path) -> Result<sled::Db, DbError> {
    let path = dir.join("db");
    // Writes reach the disk within 100 ms (sled's default is 500 ms): a crash loses at
    // most the last 100 ms of durable lane updates and offer progress.
    // Its page cache is bounded too (sled's default is 1 GiB).
    let config = sled::Config::new()
        .path(&path)
        .cache_capacity(CACHE_BYTES)
        .flush_every_ms(Some(FLUSH_EVERY_MS));
    config.open().map_err(|source| match source {
        sled::Error::Corruption { .. } => DbError::Corrupt { path, source },
        source => DbError::Open { path, source },
    })
}

/// Why the node's database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// Its files do not read back.
    #[error("database {}: corrupt ({source}). Move it aside to start with empty books (peers, gates, flows, offers); the identity is kept", path.display())]
    Corrupt {
        /// The database's directory.
        path: PathBuf,
        /// What sled said.
        source: sled::Error,
    },
    /// It could not be opened (permissions, disk).
    #[error("database {}: {source}", path.display())]
    Open {
        /// The database's directory.
        path: PathBuf,
        /// What sled said.
        source: sled::Error,
    },
}
