//! A peer's paths: the connections that reach it, each with its health (up, probing,
//! down) from what was heard on it and when; which of them channels should use first;
//! and the bonded channels waiting for streams on other paths. Shared by the peer and
//! the bonded channels it carries.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use protocols::bond::health::{Health, PathState};
use protocols::bond::PathId;
use quinn::{RecvStream, SendStream};
use tokio::sync::{mpsc, watch};

use super::close::{Close, Closed};
use super::path::Path;
use crate::identity::PeerId;

/// How often each path's traffic is looked at for its health.
const LOOK_EVERY: Duration = Duration::from_millis(50);

/// How a path reaches the peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathKind {
    /// Straight to the peer's address.
    Direct,
    /// Through a map that forwards the packets.
    Relay,
}

impl std::fmt::Display for PathKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PathKind::Direct => "direct",
            PathKind::Relay => "relay",
        })
    }
}

/// One path to a peer: its two ends, its state, round trip and traffic.
#[derive(Clone, Debug, PartialEq)]
pub struct PathInfo {
    /// This node's address on this path.
    pub local: SocketAddr,
    /// The peer's address on this path (for a relayed path, the map's).
    pub remote: SocketAddr,
    /// How it reaches the peer.
    pub kind: PathKind,
    /// Whether it is alive.
    pub state: PathState,
    /// The smoothed round-trip time.
    pub rtt: Duration,
    /// UDP bytes sent on it.
    pub tx_bytes: u64,
    /// UDP bytes received on it.
    pub rx_bytes: u64,
    /// UDP bytes per second sent on it, over the last second or so.
    pub send_rate: u64,
    /// The share of its packets that were lost, since it was made (0 to 1).
    pub loss: f64,
}

/// A path as a channel sees it.
#[derive(Clone)]
pub(crate) struct PathView {
    /// Its number within the peer.
    pub id: PathId,
    /// Whether it is alive.
    pub state: PathState,
    /// Its round trip now.
    pub rtt: Duration,
    /// The connection.
    pub conn: quinn::Connection,
}

/// A stream the peer opened to join one of its bonded channels on another path.
pub(crate) struct Joined {
    /// The path it came on.
    pub path: PathId,
    /// Its sending half.
    pub send: SendStream,
    /// Its receiving half.
    pub recv: RecvStream,
    /// Bytes read after its header.
    pub early: Vec<u8>,
}

/// Why a connection did not become a path.
pub(crate) enum Refused {
    /// The peer's last path had already closed: the connection belongs to a new peer.
    PeerClosed(Box<Path>),
    /// Another connection on the same addresses won the tie-break; this one was closed.
    Duplicate,
}

struct Slot {
    id: PathId,
    path: Path,
    health: Health,
    /// UDP datagrams received when last looked at.
    rx: u64,
    /// When the send rate was last measured, and the bytes sent then.
    tx_mark: (Instant, u64),
    /// UDP bytes per second sent, over the last second or so.
    send_rate: u64,
}

/// How long the send rate is measured over.
const RATE_OVER: Duration = Duration::from_secs(1);

impl Slot {
    fn new(id: PathId, path: Path) -> Slot {
        let now = Instant::now();
        Slot {
            id,
            path,
            health: Health::new(now),
            rx: 0,
            tx_mark: (now, 0),
            send_rate: 0,
        }
    }
}

#[derive(Default)]
struct Slots {
    list: Vec<Slot>,
    next: PathId,
}

/// The paths of one peer.
pub(crate) struct PathTable {
    slots: Mutex<Slots>,
    /// Bumped whenever a path comes, goes, or changes state.
    changed: watch::Sender<u64>,
    /// Why the peer's last path ended, once it has.
    closed: watch::Sender<Option<Closed>>,
    /// Bonded channels the peer opened, by number: where their join streams go.
    bonds: Mutex<HashMap<u64, mpsc::Sender<Joined>>>,
    next_bond: AtomicU64,
    /// Bytes that came early and wait in the reorder buffers of all the peer's bonded
    /// channels.
    early: Budget,
}

/// A count of bytes that may not pass a limit.
struct Budget {
    used: AtomicU64,
    limit: u64,
}

impl Budget {
    fn new(limit: u64) -> Budget {
        Budget {
            used: AtomicU64::new(0),
            limit,
        }
    }

    /// Takes `more` and gives back `less`; false (and nothing changed) when that would
    /// pass the limit. Giving back always succeeds.
    fn charge(&self, more: u64, less: u64) -> bool {
        let mut now = self.used.load(Ordering::Relaxed);
        loop {
            let next = (now + more).saturating_sub(less);
            if more > less && next > self.limit {
                return false;
            }
            match self
                .used
                .compare_exchange_weak(now, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return true,
                Err(seen) => now = seen,
            }
        }
    }
}

/// The most bytes one peer's bonded channels may hold that came ahead of a missing
/// segment, all together. An honest sender's early bytes are about its rate times the
/// difference between its paths' round trips (100 Mbit/s × 50 ms is 625 KB); a peer
/// that sends more is breaking the channels it does it on.
pub const EARLY_BUDGET: u64 = 64 << 20;

impl PathTable {
    /// A table with `first` as its only path.
    pub fn new(first: Path) -> PathTable {
        let table = PathTable {
            slots: Mutex::new(Slots::default()),
            changed: watch::Sender::new(0),
            closed: watch::Sender::new(None),
            bonds: Mutex::new(HashMap::new()),
            next_bond: AtomicU64::new(0),
            early: Budget::new(EARLY_BUDGET),
        };
        table.slots().list.push(Slot::new(0, first));
        table.slots().next = 1;
        table
    }

    fn slots(&self) -> MutexGuard<'_, Slots> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn bump(&self) {
        self.changed.send_modify(|n| *n += 1);
    }

    /// Adds `path`. Two connections between the same two sockets (both sides dialed at
    /// once) are one too many: the one dialed by `winner` is kept on both sides.
    pub fn add(&self, path: Path, winner: PeerId) -> Result<PathId, Refused> {
        let mut slots = self.slots();
        if self.closed.borrow().is_some() {
            return Err(Refused::PeerClosed(Box::new(path)));
        }
        if let Some(i) = slots.list.iter().position(|s| {
            s.path.remote() == path.remote()
                && s.path.local().port() == path.local().port()
                && s.path.is_open()
        }) {
            let old = &slots.list[i].path;
            if old.dialer() == winner && path.dialer() != winner {
                path.close(Close::Duplicate);
                return Err(Refused::Duplicate);
            }
            old.close(Close::Duplicate);
            slots.list.remove(i);
        }
        let id = slots.next;
        slots.next += 1;
        slots.list.push(Slot::new(id, path));
        drop(slots);
        self.bump();
        Ok(id)
    }

    /// Path `id`'s connection ended with `why`; the last one ends the peer.
    pub fn remove(&self, id: PathId, why: Closed) {
        let mut slots = self.slots();
        let before = slots.list.len();
        slots.list.retain(|s| s.id != id);
        let gone = slots.list.len() != before;
        let empty = slots.list.is_empty();
        drop(slots);
        if empty {
            self.closed.send_if_modified(|c| {
                let first = c.is_none();
                if first {
                    *c = Some(why);
                }
                first
            });
        }
        if gone {
            self.bump();
        }
    }

    /// Looks at every path's traffic at `now`: anything received keeps it up, silence
    /// past its limit takes it down (quinn's keep-alives make an idle path answer).
    fn look(&self, now: Instant) {
        let mut changed = false;
        for s in self.slots().list.iter_mut() {
            let stats = s.path.conn.stats();
            let rx = stats.udp_rx.datagrams;
            let (at, tx) = s.tx_mark;
            let dt = now.saturating_duration_since(at);
            if dt >= RATE_OVER {
                let sent = stats.udp_tx.bytes.saturating_sub(tx);
                s.send_rate = (sent as u128 * 1_000_000 / dt.as_micros().max(1)) as u64;
                s.tx_mark = (now, stats.udp_tx.bytes);
            }
            if rx > s.rx {
                s.rx = rx;
                changed |= s.health.heard(now, Some(s.path.conn.rtt()));
            }
            let was = s.health.state();
            changed |= s.health.tick(now) != was;
        }
        if changed {
            self.bump();
        }
    }

    /// Looks at the paths' health every 50 ms until the peer has no path left.
    pub async fn watch_health(self: Arc<Self>) {
        let mut closed = self.closed.subscribe();
        let mut every = tokio::time::interval(LOOK_EVERY);
        loop {
            tokio::select! {
                _ = every.tick() => self.look(Instant::now()),
                _ = closed.wait_for(|c| c.is_some()) => return,
            }
        }
    }

    /// The paths, best first: up ones by round trip, then those not heard from yet,
    /// then the dead. A relayed path is a stand-by: while a direct path is up, channels
    /// see it as down (what it held goes again on the direct one), and it takes over
    /// when no direct path is up.
    pub fn views(&self) -> Vec<PathView> {
        let slots = self.slots();
        let direct_up = slots
            .list
            .iter()
            .any(|s| s.path.relay().is_none() && s.health.state() == PathState::Up);
        let mut views: Vec<PathView> = slots
            .list
            .iter()
            .map(|s| PathView {
                id: s.id,
                state: match s.path.relay() {
                    Some(_) if direct_up => PathState::Down,
                    _ => s.health.state(),
                },
                rtt: s.path.conn.rtt(),
                conn: s.path.conn.clone(),
            })
            .collect();
        drop(slots);
        let rank = |s: PathState| match s {
            PathState::Up => 0,
            PathState::Probing => 1,
            PathState::Down => 2,
        };
        views.sort_by_key(|v| (rank(v.state), v.rtt, v.id));
        views
    }

    /// Whether some path is relayed (its channels are then bonded, so that they can
    /// move to a direct path when one comes).
    pub fn any_relayed(&self) -> bool {
        self.slots().list.iter().any(|s| s.path.relay().is_some())
    }

    /// What each path is, for people: the one channels use first, first.
    pub fn infos(&self) -> Vec<PathInfo> {
        let order: Vec<PathId> = self.views().iter().map(|v| v.id).collect();
        let mut slots: Vec<(usize, PathInfo)> = self
            .slots()
            .list
            .iter()
            .map(|s| {
                let rank = order
                    .iter()
                    .position(|id| *id == s.id)
                    .unwrap_or(usize::MAX);
                let stats = s.path.conn.stats();
                let (sent, lost) = (stats.path.sent_packets, stats.path.lost_packets);
                (
                    rank,
                    PathInfo {
                        local: s.path.local(),
                        remote: s.path.relay().unwrap_or(s.path.remote()),
                        kind: match s.path.relay() {
                            Some(_) => PathKind::Relay,
                            None => PathKind::Direct,
                        },
                        state: s.health.state(),
                        rtt: s.path.conn.rtt(),
                        tx_bytes: stats.udp_tx.bytes,
                        rx_bytes: stats.udp_rx.bytes,
                        send_rate: s.send_rate,
                        loss: if sent == 0 {
                            0.0
                        } else {
                            lost as f64 / sent as f64
                        },
                    },
                )
            })
            .collect();
        slots.sort_by_key(|(rank, _)| *rank);
        slots.into_iter().map(|(_, info)| info).collect()
    }

    /// Whether some path goes to `addr` (as written in a peer book) through `via`.
    pub fn reaches(&self, addr: &str, via: Option<&str>) -> bool {
        self.slots().list.iter().any(|s| s.path.reaches(addr, via))
    }

    /// Closes every path with `why`.
    pub fn close(&self, why: Close) {
        for s in self.slots().list.iter() {
            s.path.close(why);
        }
    }

    /// Notified whenever a path comes, goes or changes state.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Notified when the last path ends.
    pub fn subscribe_closed(&self) -> watch::Receiver<Option<Closed>> {
        self.closed.subscribe()
    }

    /// Why the last path ended, once it has.
    pub fn closed(&self) -> Option<Closed> {
        self.closed.borrow().clone()
    }

    /// Charges `more` early bytes to the peer (and gives back `less`); false when that
    /// would take its channels past [`EARLY_BUDGET`] (nothing is charged then).
    pub fn charge_early(&self, more: u64, less: u64) -> bool {
        self.early.charge(more, less)
    }

    /// A number for a bonded channel this node opens, unique within the peer.
    pub fn next_bond(&self) -> u64 {
        self.next_bond.fetch_add(1, Ordering::Relaxed)
    }

    /// Where streams joining the peer's bonded channel `bond` go, while it lives; false
    /// when that number is already taken.
    pub fn register_bond(&self, bond: u64, joins: mpsc::Sender<Joined>) -> bool {
        let mut bonds = self.bonds.lock().unwrap_or_else(|p| p.into_inner());
        if bonds.contains_key(&bond) {
            return false;
        }
        bonds.insert(bond, joins);
        true
    }

    /// Bonded channel `bond` ended.
    pub fn unregister_bond(&self, bond: u64) {
        let mut bonds = self.bonds.lock().unwrap_or_else(|p| p.into_inner());
        bonds.remove(&bond);
    }

    /// Where a stream joining bonded channel `bond` goes, if it lives.
    pub fn bond(&self, bond: u64) -> Option<mpsc::Sender<Joined>> {
        let bonds = self.bonds.lock().unwrap_or_else(|p| p.into_inner());
        bonds.get(&bond).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::Budget;

    #[test]
    fn a_budget_refuses_what_would_pass_its_limit_and_always_takes_back() {
        let b = Budget::new(100);
        assert!(b.charge(60, 0));
        assert!(!b.charge(41, 0), "161 would pass 100");
        assert!(b.charge(40, 0));
        // Growing by 10 while giving back 5 still passes the limit.
        assert!(!b.charge(10, 5));
        assert!(b.charge(0, 100));
        assert!(b.charge(100, 0));
        // Giving back more than was taken leaves none, not a wrapped count.
        assert!(b.charge(0, 500));
        assert!(b.charge(100, 0));
    }
}
