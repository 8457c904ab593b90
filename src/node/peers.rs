//! The peer book as the node uses it: who a name means, who is known, and what happens
//! to keys that are not.

use super::Node;
use crate::identity::PeerId;
use crate::store::{BookError, PeerEntry, Policy, Unknown};

impl Node {
    /// The book entry `name` (an alias or id) means; a peer id that is not in the book
    /// but is connected (it dialed us, unknown = ask) or a member of a flow from a map
    /// gets a nameless entry, so it can still be reached.
    pub(super) fn resolve(&self, name: &str) -> Result<PeerEntry, BookError> {
        match self.book.resolve(name) {
            Err(BookError::Unknown(n, near)) => match name.parse::<PeerId>() {
                Ok(id) if self.conns.get(&id).is_some() || self.flows.maps.is_member(&id) => {
                    Ok(PeerEntry {
                        alias: name.to_string(),
                        id: id.to_string(),
                        addrs: Vec::new(),
                        policy: Policy::Ask,
                        links: Default::default(),
                    })
                }
                _ => Err(BookError::Unknown(n, near)),
            },
            other => other,
        }
    }

    /// What happens to keys not in the peer book now: the command line's choice, else
    /// the configuration file's, else block.
    pub(super) fn unknown(&self) -> Unknown {
        let file = *self.unknown_file.read().unwrap_or_else(|p| p.into_inner());
        self.unknown_flag.or(file).unwrap_or_default()
    }

    /// A peer as logs name it: `alias (id)` for a peer in the book, else its id.
    pub(super) fn label(&self, peer: &PeerId) -> String {
        match self.book.get(peer) {
            Some(e) if !e.alias.is_empty() => format!("{} ({peer})", e.alias),
            _ => peer.to_string(),
        }
    }

    /// Whether `peer` is in the peer book.
    pub(super) fn knows(&self, peer: &PeerId) -> bool {
        self.book.get(peer).is_some()
    }
}
