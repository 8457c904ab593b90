//! The peer book, kept in sled: who a peer is (alias and key), where to reach it, and what
//! it may do (policy). Entries are stored as Recon text.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::bad_word::BadWord;
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

/// What a peer may do with this node's WARP lanes over the tunnel (links to
/// `/peer/<this node>/...` from clients of its hub). Default-deny.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LinkAccess {
    /// Nothing: its links are refused. The default.
    #[default]
    None,
    /// Link and sync to lanes (declared agents and `/hub`).
    Read,
    /// Also send commands to the declared agents' lanes (never to `/hub`).
    Write,
}

impl fmt::Display for LinkAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LinkAccess::None => "none",
            LinkAccess::Read => "read",
            LinkAccess::Write => "write",
        })
    }
}

impl FromStr for LinkAccess {
    type Err = BadWord;
    fn from_str(s: &str) -> Result<LinkAccess, BadWord> {
        match s {
            "none" => Ok(LinkAccess::None),
            "read" => Ok(LinkAccess::Read),
            "write" => Ok(LinkAccess::Write),
            _ => Err(BadWord::new(s, "a links access", "none, read or write")),
        }
    }
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
    type Err = BadWord;
    fn from_str(s: &str) -> Result<Policy, BadWord> {
        match s {
            "ask" => Ok(Policy::Ask),
            "trust" => Ok(Policy::Trust),
            "block" => Ok(Policy::Block),
            _ => Err(BadWord::new(s, "a policy", "ask, trust or block")),
        }
    }
}

/// What happens to a key that is not in the book.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Unknown {
    /// Its connections are refused. The default.
    #[default]
    Block,
    /// Its connections are let in, but it may only offer files, which wait for the user;
    /// gates serve it only when exposed `--public`.
    Ask,
}

impl fmt::Display for Unknown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Unknown::Block => "block",
            Unknown::Ask => "ask",
        })
    }
}

impl FromStr for Unknown {
    type Err = BadWord;
    fn from_str(s: &str) -> Result<Unknown, BadWord> {
        match s {
            "block" => Ok(Unknown::Block),
            "ask" => Ok(Unknown::Ask),
            _ => Err(BadWord::new(s, "a setting of unknown", "block or ask")),
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
    /// What it may do with this node's WARP lanes.
    #[serde(default, skip_serializing_if = "is_no_access")]
    pub links: LinkAccess,
}

fn is_no_access(a: &LinkAccess) -> bool {
    *a == LinkAccess::None
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
    /// No peer by that alias or id (and the nearest alias, if one is close).
    #[error(
        "unknown peer {0:?}{hint}: add it with `warp peers add <alias> <peer-id>`",
        hint = .1.as_ref().map(|n| format!(" (did you mean {n}?)")).unwrap_or_default()
    )]
    Unknown(String, Option<String>),
    /// The id is in the book under another alias.
    #[error(
        "peer {id} is in the book as {alias}: `warp peers rename {alias} <new alias>` renames it"
    )]
    AlreadyAs {
        /// The id.
        id: String,
        /// Its alias now.
        alias: String,
    },
    /// The id is this node's own.
    #[error("{0} is this node's own id: a node does not add itself")]
    Own(String),
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
    /// This node's own id, which the book never takes.
    me: Option<PeerId>,
}

/// How many single-character edits turn `a` into `b` (Levenshtein), for suggestions.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

impl PeerBook {
    /// Opens the book in `db` of the node whose id is `me`.
    pub fn open(db: &sled::Db, me: Option<PeerId>) -> Result<PeerBook, BookError> {
        Ok(PeerBook {
            tree: db.open_tree("peers")?,
            me,
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
        let nearest = self
            .list()
            .into_iter()
            .map(|e| (edit_distance(name, &e.alias), e.alias))
            .filter(|(d, a)| *d <= 2 && *d < a.len())
            .min()
            .map(|(_, a)| a);
        Err(BookError::Unknown(name.to_string(), nearest))
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
        if Some(id) == self.me {
            return Err(BookError::Own(id.to_string()));
        }
        if let Some(other) = self.list().into_iter().find(|e| e.alias == alias) {
            if other.peer_id() != Some(id) {
                return Err(BookError::AliasTaken(alias.to_string()));
            }
        }
        if let Some(known) = self.get(&id).filter(|e| e.alias != alias) {
            return Err(BookError::AlreadyAs {
                id: id.to_string(),
                alias: known.alias,
            });
        }
        let known = self.get(&id);
        let entry = PeerEntry {
            alias: alias.to_string(),
            id: id.to_string(),
            addrs,
            policy: known.as_ref().map_or(Policy::Ask, |e| e.policy),
            links: known.map_or(LinkAccess::None, |e| e.links),
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

    /// Gives a peer a new alias.
    pub fn rename(&self, name: &str, alias: &str) -> Result<PeerEntry, BookError> {
        let mut e = self.resolve(name)?;
        if alias.is_empty() || alias.parse::<PeerId>().is_ok() {
            return Err(BookError::Invalid(format!("{alias:?} cannot be an alias")));
        }
        if self.list().iter().any(|o| o.alias == alias && o.id != e.id) {
            return Err(BookError::AliasTaken(alias.to_string()));
        }
        e.alias = alias.to_string();
        self.put(&e)?;
        Ok(e)
    }

    /// Sets a peer's policy. A peer id that is not in the book yet is added, with no
    /// address, under an alias made from the start of its id.
    pub fn set_policy(&self, name: &str, policy: Policy) -> Result<PeerEntry, BookError> {
        self.change(name, |e| e.policy = policy)
    }

    /// Sets what a peer may do with this node's WARP lanes; an id not in the book yet is
    /// added as by [`PeerBook::set_policy`].
    pub fn set_links(&self, name: &str, links: LinkAccess) -> Result<PeerEntry, BookError> {
        self.change(name, |e| e.links = links)
    }

    fn change(&self, name: &str, f: impl FnOnce(&mut PeerEntry)) -> Result<PeerEntry, BookError> {
        let mut e = match (self.resolve(name), name.parse::<PeerId>()) {
            (Ok(e), _) => e,
            (Err(BookError::Unknown(..)), Ok(id)) if Some(id) != self.me => PeerEntry {
                alias: self.free_alias(&id),
                id: id.to_string(),
                addrs: Vec::new(),
                policy: Policy::Ask,
                links: LinkAccess::None,
            },
            (Err(e), _) => return Err(e),
        };
        f(&mut e);
        self.put(&e)?;
        Ok(e)
    }

    /// The shortest start of `id` (at least 8 characters) that no entry uses as alias.
    fn free_alias(&self, id: &PeerId) -> String {
        let text = id.to_string();
        let taken: Vec<String> = self.list().into_iter().map(|e| e.alias).collect();
        (8..text.len())
            .map(|n| text[..n].to_string())
            .find(|a| !taken.contains(a))
            .unwrap_or(text)
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
            let book = PeerBook::open(&db, None).unwrap();
            book.add("bob", id, vec!["127.0.0.1:7470".into()]).unwrap();
            book.set_policy("bob", Policy::Trust).unwrap();
            assert!(matches!(
                book.add("bob", PeerId([4; 32]), vec![]),
                Err(BookError::AliasTaken(_))
            ));
            assert!(matches!(book.resolve("carol"), Err(BookError::Unknown(..))));
        }
        let db = sled::open(dir.path().join("db")).unwrap();
        let book = PeerBook::open(&db, None).unwrap();
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

    #[test]
    fn the_book_refuses_silent_renames_and_its_own_id_and_suggests_aliases() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path().join("db")).unwrap();
        let me = PeerId([1; 32]);
        let book = PeerBook::open(&db, Some(me)).unwrap();
        let bob = PeerId([2; 32]);
        book.add("bob", bob, vec!["127.0.0.1:1".into()]).unwrap();
        assert!(matches!(
            book.add("bob2", bob, vec![]),
            Err(BookError::AlreadyAs { alias, .. }) if alias == "bob"
        ));
        assert_eq!(book.resolve("bob").unwrap().addrs, ["127.0.0.1:1"]);
        assert!(matches!(book.add("me", me, vec![]), Err(BookError::Own(_))));
        let e = book.resolve("bbo").unwrap_err().to_string();
        assert!(e.contains("did you mean bob?"), "{e}");
        assert!(!book
            .resolve("zzzzzz")
            .unwrap_err()
            .to_string()
            .contains("mean"));
        book.rename("bob", "robert").unwrap();
        assert_eq!(book.resolve("robert").unwrap().peer_id(), Some(bob));
        assert!(book.resolve("bob").is_err());
    }

    #[test]
    fn a_policy_for_an_id_not_in_the_book_adds_it() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path().join("db")).unwrap();
        let book = PeerBook::open(&db, None).unwrap();
        let id = PeerId([9; 32]);
        let e = book.set_policy(&id.to_string(), Policy::Trust).unwrap();
        assert_eq!(e.alias, id.to_string()[..8]);
        assert_eq!(book.policy(&id), Policy::Trust);
        assert!(matches!(
            book.set_policy("carol", Policy::Trust),
            Err(BookError::Unknown(..))
        ));
    }
}
