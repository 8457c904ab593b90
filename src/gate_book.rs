//! Gates kept in sled, so they come back when the node restarts: services this node
//! exposes to peers (name → local address) and local listeners that lead to a peer's
//! service.

use serde::{Deserialize, Serialize};

/// A service exposed to peers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exposed {
    /// The name peers ask for (`ssh`).
    pub name: String,
    /// The local address connections are made to (`127.0.0.1:22`).
    pub target: String,
    /// Peers (aliases or ids) allowed to use it; empty for every peer in the book that is
    /// not blocked.
    #[serde(default)]
    pub allow: Vec<String>,
    /// A UDP service (datagrams) rather than TCP.
    #[serde(default)]
    pub udp: bool,
    /// Serve keys that are not in the peer book too (when no allow list is given).
    #[serde(default)]
    pub public: bool,
}

impl Exposed {
    /// Who can reach the service, in words.
    pub fn reach(&self) -> String {
        if !self.allow.is_empty() {
            format!("only {}", self.allow.join(", "))
        } else if self.public {
            "ANY key that connects, including peers not in the book (public)".to_string()
        } else {
            "every peer in the book that is not blocked".to_string()
        }
    }
}

/// A local listener leading to a peer's exposed service.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Opened {
    /// The local address applications connect to (`127.0.0.1:2222`).
    pub listen: String,
    /// The peer, by alias or id.
    pub peer: String,
    /// The service's name on the peer.
    pub name: String,
    /// A UDP gate (datagrams) rather than TCP.
    #[serde(default)]
    pub udp: bool,
    /// Let the listener take connections from other hosts: needed for a listen address
    /// beyond loopback (like `ssh -g`).
    #[serde(default)]
    pub gateway: bool,
    /// How each connection's channel uses the peer's paths when it has several.
    #[serde(
        default,
        with = "crate::bond_mode",
        skip_serializing_if = "crate::bond_mode::is_default"
    )]
    pub mode: crate::bond_mode::Mode,
}

/// Both lists, in sled.
#[derive(Clone)]
pub struct GateBook {
    exposed: sled::Tree,
    opened: sled::Tree,
}

/// Why the gate book refused a change.
#[derive(Debug, thiserror::Error)]
pub enum GateBookError {
    /// Not a name a gate may have.
    #[error("{0:?} cannot name a gate: use 1 to 48 of a-z, 0-9, '.', '_' and '-'")]
    BadName(String),
    /// No gate of that name is exposed.
    #[error("no exposed gate {0:?}")]
    NotExposed(String),
    /// The database failed.
    #[error("gate book: {0}")]
    Db(#[from] sled::Error),
    /// A record could not be written as Recon.
    #[error("gate book: {0}")]
    Encode(#[from] recon::SerError),
}

/// `true` for a name a gate may have: it becomes part of the channel's service name.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 48
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
}

fn put<T: Serialize>(tree: &sled::Tree, key: &str, v: &T) -> Result<(), GateBookError> {
    let text = recon::to_string(v)?;
    tree.insert(key.as_bytes(), text.as_bytes())?;
    tree.flush()?;
    Ok(())
}

fn all<T: serde::de::DeserializeOwned>(tree: &sled::Tree) -> Vec<T> {
    tree.iter()
        .values()
        .filter_map(|v| v.ok())
        .filter_map(|v| recon::from_str(std::str::from_utf8(&v).ok()?).ok())
        .collect()
}

impl GateBook {
    /// Opens the gate lists in `db`.
    pub fn open(db: &sled::Db) -> Result<GateBook, GateBookError> {
        let tree = |name: &str| db.open_tree(name);
        Ok(GateBook {
            exposed: tree("gates_exposed")?,
            opened: tree("gates_opened")?,
        })
    }

    /// Exposes (or re-targets) a service.
    pub fn expose(&self, g: &Exposed) -> Result<(), GateBookError> {
        if !valid_name(&g.name) {
            return Err(GateBookError::BadName(g.name.clone()));
        }
        put(&self.exposed, &g.name, g)
    }

    /// Stops exposing a service.
    pub fn unexpose(&self, name: &str) -> Result<Exposed, GateBookError> {
        let old = self
            .exposed(name)
            .ok_or_else(|| GateBookError::NotExposed(name.to_string()))?;
        self.exposed.remove(name.as_bytes())?;
        Ok(old)
    }

    /// The exposed service called `name`.
    pub fn exposed(&self, name: &str) -> Option<Exposed> {
        let v = self.exposed.get(name.as_bytes()).ok()??;
        recon::from_str(std::str::from_utf8(&v).ok()?).ok()
    }

    /// Every exposed service.
    pub fn all_exposed(&self) -> Vec<Exposed> {
        all(&self.exposed)
    }

    /// Records an opened gate.
    pub fn record_open(&self, g: &Opened) -> Result<(), GateBookError> {
        put(&self.opened, &g.listen, g)
    }

    /// Forgets an opened gate.
    pub fn forget_open(&self, listen: &str) -> Result<Option<Opened>, GateBookError> {
        let old = self
            .opened
            .remove(listen.as_bytes())?
            .and_then(|v| recon::from_str(std::str::from_utf8(&v).ok()?).ok());
        Ok(old)
    }

    /// Every opened gate.
    pub fn all_opened(&self) -> Vec<Opened> {
        all(&self.opened)
    }
}
