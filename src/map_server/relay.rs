//! The map's relay: it forwards QUIC packets between two nodes that both asked for each
//! other over their authenticated `map` channels (`Relay`), each sending from the address
//! its connection to the map comes from, with the token the map gave it. Anything else
//! is dropped without an answer (so no one gets bytes back for bytes it did not send),
//! and each node may send at most its rate. Wire: `protocols::map::relay`.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use protocols::map::relay::{self, Datagram, TOKEN_LEN};
use rand::RngCore;
use tokio::sync::Notify;

use crate::identity::PeerId;
use crate::transport::relay::canonical;
use crate::transport::Intercept;

/// Most peers one node may ask to be relayed to.
pub const MAX_WANTS: usize = 256;
/// Most nodes relayed for at once.
pub const MAX_NODES: usize = 100_000;
/// A node's rate when the map is not told (`--relay-rate`): bytes per second.
pub const DEFAULT_RATE: u64 = 125_000_000;
/// How far ahead of its rate a node may send in a burst.
const BURST: Duration = Duration::from_millis(100);

/// Why the map will not relay.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RelayError {
    /// The node asked for more peers than [`MAX_WANTS`].
    #[error("relaying to at most {MAX_WANTS} peers per node")]
    TooManyPeers,
    /// The map relays for [`MAX_NODES`] nodes already.
    #[error("this map relays for {MAX_NODES} nodes already")]
    Full,
    /// A node cannot be relayed to itself.
    #[error("a node is not relayed to itself")]
    ToItself,
}

/// A node the map relays for.
struct Node {
    /// Where its connection to the map comes from: the only address its datagrams are
    /// taken from, and where the map sends what others send it.
    addr: SocketAddr,
    token: [u8; TOKEN_LEN],
    /// The peers it asked for.
    wants: HashSet<PeerId>,
    /// Bytes it may still send now, and when that was worked out.
    allowance: f64,
    at: Instant,
}

#[derive(Default)]
struct Table {
    nodes: HashMap<PeerId, Node>,
    tokens: HashMap<[u8; TOKEN_LEN], PeerId>,
}

/// The map's relay state.
pub struct Relay {
    table: Mutex<Table>,
    /// Woken whenever a node asks for another.
    asked: Notify,
    /// Bytes per second each node may send (0: no limit).
    rate: u64,
}

impl Relay {
    /// A relay that lets each node send `rate` bytes per second (0: no limit).
    pub fn new(rate: u64) -> Relay {
        Relay {
            table: Mutex::new(Table::default()),
            asked: Notify::new(),
            rate,
        }
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Node `id`, whose connection comes from `addr`, asks to be relayed to `peer`: its
    /// token, and whether `peer` asked for it too.
    pub fn ask(
        &self,
        id: PeerId,
        addr: SocketAddr,
        peer: PeerId,
    ) -> Result<([u8; TOKEN_LEN], bool), RelayError> {
        if id == peer {
            return Err(RelayError::ToItself);
        }
        let mut t = self.table();
        if !t.nodes.contains_key(&id) && t.nodes.len() >= MAX_NODES {
            return Err(RelayError::Full);
        }
        let token = match t.nodes.get(&id) {
            Some(n) => n.token,
            None => {
                let mut token = [0; TOKEN_LEN];
                rand::rngs::OsRng.fill_bytes(&mut token);
                t.tokens.insert(token, id);
                token
            }
        };
        let rate = self.rate as f64;
        let node = t.nodes.entry(id).or_insert_with(|| Node {
            addr,
            token,
            wants: HashSet::new(),
            allowance: rate * BURST.as_secs_f64(),
            at: Instant::now(),
        });
        node.addr = canonical(addr);
        if !node.wants.contains(&peer) && node.wants.len() >= MAX_WANTS {
            return Err(RelayError::TooManyPeers);
        }
        node.wants.insert(peer);
        let both = t.nodes.get(&peer).is_some_and(|p| p.wants.contains(&id));
        drop(t);
        self.asked.notify_waiters();
        Ok((token, both))
    }

    /// Waits (at most `within`) until `peer` has asked for `id`; whether it has.
    pub async fn wait_for(&self, id: PeerId, peer: PeerId, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let notified = self.asked.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let both = self
                .table()
                .nodes
                .get(&peer)
                .is_some_and(|p| p.wants.contains(&id));
            if both {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return false;
            }
        }
    }

    /// Node `id`'s connection from `addr` ended: it is relayed no more (unless it is
    /// connected from elsewhere now).
    pub fn forget(&self, id: PeerId, addr: SocketAddr) {
        let mut t = self.table();
        if t.nodes.get(&id).is_some_and(|n| n.addr == canonical(addr)) {
            if let Some(n) = t.nodes.remove(&id) {
                t.tokens.remove(&n.token);
            }
        }
    }

    /// Where a `Send` datagram from `from` with `token` for `to`, of `len` bytes, goes:
    /// the sender's key and the receiver's address, if every check passes.
    fn route(
        &self,
        from: SocketAddr,
        token: &[u8; TOKEN_LEN],
        to: &[u8; 32],
        len: usize,
    ) -> Option<(PeerId, SocketAddr)> {
        let mut t = self.table();
        let sender = *t.tokens.get(token)?;
        let to = PeerId(*to);
        let dest = t.nodes.get(&to).filter(|n| n.wants.contains(&sender))?.addr;
        let rate = self.rate as f64;
        let node = t.nodes.get_mut(&sender)?;
        if node.addr != from || !node.wants.contains(&to) {
            return None;
        }
        if rate > 0.0 {
            let now = Instant::now();
            let dt = now.saturating_duration_since(node.at).as_secs_f64();
            node.at = now;
            node.allowance = (node.allowance + dt * rate).min(rate * BURST.as_secs_f64());
            if node.allowance < len as f64 {
                return None;
            }
            node.allowance -= len as f64;
        }
        Some((sender, dest))
    }
}

impl Intercept for Relay {
    fn datagram(
        &self,
        from: SocketAddr,
        bytes: &mut [u8],
    ) -> Option<(SocketAddr, std::ops::Range<usize>)> {
        let Ok(Datagram::Send { token, to, .. }) = Datagram::decode(bytes) else {
            return None;
        };
        let (sender, dest) = self.route(canonical(from), token, to, bytes.len())?;
        let len = bytes.len();
        let out = relay::rewrite_send_as_from(bytes, &sender.0).len();
        Some((dest, len - out..len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send(token: &[u8; TOKEN_LEN], to: PeerId) -> Vec<u8> {
        let mut b = Vec::new();
        Datagram::Send {
            token,
            to: &to.0,
            packet: b"quic packet",
        }
        .encode_into(&mut b);
        b
    }

    /// What the relay sends for `bytes` from `from`.
    fn forwarded(
        relay: &Relay,
        from: SocketAddr,
        mut bytes: Vec<u8>,
    ) -> Vec<(SocketAddr, Vec<u8>)> {
        relay
            .datagram(from, &mut bytes)
            .map(|(to, range)| (to, bytes[range].to_vec()))
            .into_iter()
            .collect()
    }

    #[test]
    fn packets_pass_only_between_two_nodes_that_both_asked() {
        let relay = Relay::new(0);
        let (a, b) = (PeerId([1; 32]), PeerId([2; 32]));
        let (at_a, at_b): (SocketAddr, SocketAddr) = (
            "192.0.2.1:1000".parse().unwrap(),
            "192.0.2.2:2000".parse().unwrap(),
        );
        let (token_a, both) = relay.ask(a, at_a, b).unwrap();
        assert!(!both);
        // b has not asked: nothing goes.
        assert!(forwarded(&relay, at_a, send(&token_a, b)).is_empty());
        let (token_b, both) = relay.ask(b, at_b, a).unwrap();
        assert!(both);
        let out = forwarded(&relay, at_a, send(&token_a, b));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].0, at_b);
        assert_eq!(
            Datagram::decode(&out[0].1),
            Ok(Datagram::From {
                from: &a.0,
                packet: b"quic packet"
            })
        );
        // And back.
        assert_eq!(forwarded(&relay, at_b, send(&token_b, a))[0].0, at_a);
    }

    #[test]
    fn a_made_up_token_a_stolen_one_or_a_third_node_gets_nothing() {
        let relay = Relay::new(0);
        let (a, b, c) = (PeerId([1; 32]), PeerId([2; 32]), PeerId([3; 32]));
        let (at_a, at_b, at_c): (SocketAddr, SocketAddr, SocketAddr) = (
            "192.0.2.1:1000".parse().unwrap(),
            "192.0.2.2:2000".parse().unwrap(),
            "192.0.2.3:3000".parse().unwrap(),
        );
        let (token_a, _) = relay.ask(a, at_a, b).unwrap();
        relay.ask(b, at_b, a).unwrap();
        // A token never given.
        assert!(forwarded(&relay, at_a, send(&[0; TOKEN_LEN], b)).is_empty());
        // a's token from another address.
        assert!(forwarded(&relay, at_c, send(&token_a, b)).is_empty());
        // c asked for b, but b did not ask for c.
        let (token_c, both) = relay.ask(c, at_c, b).unwrap();
        assert!(!both);
        assert!(forwarded(&relay, at_c, send(&token_c, b)).is_empty());
        // a to c: c asked for b only.
        assert!(forwarded(&relay, at_a, send(&token_a, c)).is_empty());
        // A node gone is relayed no more.
        relay.forget(b, at_b);
        assert!(forwarded(&relay, at_a, send(&token_a, b)).is_empty());
        assert_eq!(relay.ask(a, at_a, a), Err(RelayError::ToItself));
    }

    #[test]
    fn a_node_sends_no_faster_than_its_rate() {
        // 10 000 bytes per second: a burst of 1 000 bytes, then nothing at once.
        let relay = Relay::new(10_000);
        let (a, b) = (PeerId([1; 32]), PeerId([2; 32]));
        let (at_a, at_b): (SocketAddr, SocketAddr) = (
            "192.0.2.1:1000".parse().unwrap(),
            "192.0.2.2:2000".parse().unwrap(),
        );
        let (token, _) = relay.ask(a, at_a, b).unwrap();
        relay.ask(b, at_b, a).unwrap();
        let sent = (0..100)
            .filter(|_| !forwarded(&relay, at_a, send(&token, b)).is_empty())
            .count();
        let each = send(&token, b).len();
        assert!(sent >= 1 && sent <= 1_000 / each + 1, "{sent} of 100 went");
    }

    #[tokio::test]
    async fn waiting_for_the_other_side_ends_when_it_asks() {
        let relay = std::sync::Arc::new(Relay::new(0));
        let (a, b) = (PeerId([1; 32]), PeerId([2; 32]));
        relay.ask(a, "192.0.2.1:1".parse().unwrap(), b).unwrap();
        assert!(!relay.wait_for(a, b, Duration::from_millis(20)).await);
        let r = relay.clone();
        let waiting = tokio::spawn(async move { r.wait_for(a, b, Duration::from_secs(10)).await });
        relay.ask(b, "192.0.2.2:1".parse().unwrap(), a).unwrap();
        assert!(waiting.await.unwrap());
    }
}
