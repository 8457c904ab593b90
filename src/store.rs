//! The peer book, kept in sled: who a peer is (alias and key), where to reach it, and what
//! it may do (policy). Entries are stored as Recon text.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::identity::PeerId;

/// What a peer may do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// Connections and pings are answered; offers wait for the user. The default.
    #[default]
    Ask,
    /// Like ask, and offers are accepted at once.
    Trust,
    /// Refused at connection time.
    Block,
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Policy::Ask => "ask",
            Policy::Trust => "trust",
            Policy::Block => "block",
        })
    }
}

impl FromStr for Policy {
    type Err = String;
    fn from_str(s: &str) -> Result<Policy, String> {
        match s {
            "ask" => Ok(Policy::Ask),
            "trust" => Ok(Policy::Trust),
            "block" => Ok(Policy::Block),
            _ => Err(format!("unknown policy {s:?}: use ask, trust or block")),
        }
    }
}

/// One entry of the peer book.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PeerEntry {
    /// The name the user gave the peer.
    pub alias: String,
    /// The peer id, as text.
    pub id: String,
    /// Addresses (`host:port`) to dial it at.
    pub addrs: Vec<String>,
    /// What it may do.
    pub policy: Policy,
}

impl PeerEntry {
    /// The entry's peer id.
    pub fn peer_id(&self) -> Option<PeerId> {
        self.id.parse().ok()
    }
}

/// A failed peer-book operation.
#[derive(Debug, thiserror::Error)]
pub enum BookError {
    /// The database failed.
    #[error("peer book: {0}")]
    Db(#[from] sled::Error),
    /// No peer by that alias or id.
    #[error("unknown peer {0:?}: add it with `warp peers add <alias> <peer-id>`")]
    Unknown(String),
    /// The alias names another peer already.
    #[error("alias {0:?} is taken by another peer")]
    AliasTaken(String),
    /// A bad argument.
    #[error("{0}")]
    Invalid(String),
}

/// The peer book.
#[derive(Clone)]
pub struct PeerBook {
    tree: sled::Tree,
}

impl PeerBook {
    /// Opens the book in `db`.
    pub fn open(db: &sled::Db) -> Result<PeerBook, BookError> {
        Ok(PeerBook {
            tree: db.open_tree("peers")?,
        })
    }

    /// Every entry, by alias.
    pub fn list(&self) -> Vec<PeerEntry> {
        let mut all: Vec<PeerEntry> = self
            .tree
            .iter()
            .values()
            .filter_map(|v| v.ok())
            .filter_map(|v| recon::from_str(std::str::from_utf8(&v).ok()?).ok())
            .collect();
        all.sort_by(|a, b| a.alias.cmp(&b.alias));
        all
    }

    /// The entry for a peer id.
    pub fn get(&self, id: &PeerId) -> Option<PeerEntry> {
        let v = self.tree.get(id.0).ok()??;
        recon::from_str(std::str::from_utf8(&v).ok()?).ok()
    }

    /// The entry named by an alias or a peer id.
    pub fn resolve(&self, name: &str) -> Result<PeerEntry, BookError> {
        if let Some(e) = self.list().into_iter().find(|e| e.alias == name) {
            return Ok(e);
        }
        if let Ok(id) = name.parse::<PeerId>() {
            if let Some(e) = self.get(&id) {
                return Ok(e);
            }
        }
        Err(BookError::Unknown(name.to_string()))
    }

    /// The policy for a peer id; `ask` for peers not in the book.
    pub fn policy(&self, id: &PeerId) -> Policy {
        self.get(id).map_or(Policy::Ask, |e| e.policy)
    }

    fn put(&self, e: &PeerEntry) -> Result<(), BookError> {
        let id: PeerId =
            e.id.parse()
                .map_err(|err| BookError::Invalid(format!("{err}")))?;
        let text = recon::to_string(e).map_err(|err| BookError::Invalid(err.to_string()))?;
        self.tree.insert(id.0, text.as_bytes())?;
        self.tree.flush()?;
        Ok(())
    }

    /// Adds a peer, or updates its alias and addresses if its id is known.
    pub fn add(&self, alias: &str, id: PeerId, addrs: Vec<String>) -> Result<PeerEntry, BookError> {
        if alias.is_empty() || alias.parse::<PeerId>().is_ok() {
            return Err(BookError::Invalid(format!("{alias:?} cannot be an alias")));
        }
        for a in &addrs {
            if a.parse::<std::net::SocketAddr>().is_err() && !a.contains(':') {
                return Err(BookError::Invalid(format!("{a:?} is not host:port")));
            }
        }
        if let Some(other) = self.list().into_iter().find(|e| e.alias == alias) {
            if other.peer_id() != Some(id) {
                return Err(BookError::AliasTaken(alias.to_string()));
            }
        }
        let policy = self.get(&id).map_or(Policy::Ask, |e| e.policy);
        let entry = PeerEntry {
            alias: alias.to_string(),
            id: id.to_string(),
            addrs,
            policy,
        };
        self.put(&entry)?;
        Ok(entry)
    }

    /// Removes a peer.
    pub fn remove(&self, name: &str) -> Result<PeerEntry, BookError> {
        let e = self.resolve(name)?;
        if let Some(id) = e.peer_id() {
            self.tree.remove(id.0)?;
            self.tree.flush()?;
        }
        Ok(e)
    }

    /// Sets a peer's policy.
    pub fn set_policy(&self, name: &str, policy: Policy) -> Result<PeerEntry, BookError> {
        let mut e = self.resolve(name)?;
        e.policy = policy;
        self.put(&e)?;
        Ok(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_book_keeps_peers_across_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let id = PeerId([3; 32]);
        {
            let db = sled::open(dir.path().join("db")).unwrap();
            let book = PeerBook::open(&db).unwrap();
            book.add("bob", id, vec!["127.0.0.1:7470".into()]).unwrap();
            book.set_policy("bob", Policy::Trust).unwrap();
            assert!(matches!(
                book.add("bob", PeerId([4; 32]), vec![]),
                Err(BookError::AliasTaken(_))
            ));
            assert!(matches!(book.resolve("carol"), Err(BookError::Unknown(_))));
        }
        let db = sled::open(dir.path().join("db")).unwrap();
        let book = PeerBook::open(&db).unwrap();
        let e = book.resolve(&id.to_string()).unwrap();
        assert_eq!((e.alias.as_str(), e.policy), ("bob", Policy::Trust));
        assert_eq!(
            book.resolve("bob").unwrap().addrs,
            vec!["127.0.0.1:7470".to_string()]
        );
        book.remove("bob").unwrap();
        assert!(book.list().is_empty());
        assert_eq!(book.policy(&id), Policy::Ask);
    }
}
