//! Relayed paths: QUIC between two peers, carried through a map that forwards its
//! packets (wire: `protocols::map::relay`). The peers' QUIC is end to end; the map sees
//! ciphertext. On the node, each relayed peer has a made-up address in `240.0.0.0/4`
//! (reserved, never on a network) that its QUIC connection is dialed at or accepted
//! from; the node's socket ([`node_socket`]) wraps what quinn sends there for the map
//! and unwraps what the map forwards. On the map, [`map_socket`] hands relay datagrams
//! to the map's [`Intercept`] instead of its QUIC.

pub mod map_socket;
pub mod node_socket;
pub mod tcp;

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Mutex, MutexGuard};

use protocols::map::relay::TOKEN_LEN;

/// What a map does with the relay datagrams that reach it.
pub trait Intercept: Send + Sync + 'static {
    /// `bytes` came from `from` and start with the relay marker: where to send what (a
    /// part of `bytes`, which may be changed in place), or `None` to drop it.
    fn datagram(
        &self,
        from: SocketAddr,
        bytes: &mut [u8],
    ) -> Option<(SocketAddr, std::ops::Range<usize>)>;
}

/// The first octet of made-up addresses (`240.0.0.0/4`, reserved).
const FIRST_OCTET: u8 = 240;

/// A peer reached through a map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Route {
    /// The map's address.
    pub map: SocketAddr,
    /// The peer's key.
    pub peer: [u8; 32],
    /// This node's token for that map.
    pub token: [u8; TOKEN_LEN],
}

#[derive(Default)]
struct Table {
    by_addr: HashMap<SocketAddr, Route>,
    by_pair: HashMap<(SocketAddr, [u8; 32]), SocketAddr>,
    maps: HashSet<SocketAddr>,
    next: u32,
}

/// The node's relayed peers, by made-up address and by map and key.
#[derive(Default)]
pub struct Routes {
    table: Mutex<Table>,
}

/// `addr` with an IPv4-mapped IPv6 address turned back into IPv4.
pub fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

/// `addr` as a socket of that family takes it (IPv4 as IPv4-mapped on an IPv6 socket).
pub fn in_family(addr: SocketAddr, v6: bool) -> SocketAddr {
    match (addr, v6) {
        (SocketAddr::V4(a), true) => SocketAddr::new(a.ip().to_ipv6_mapped().into(), a.port()),
        _ => addr,
    }
}

/// Whether `addr` is in `240.0.0.0/4` (reserved, never on a network): a made-up address
/// of a relayed peer here, or of a node whose datagrams a map takes over TCP there.
pub fn is_reserved(addr: SocketAddr) -> bool {
    match canonical(addr).ip() {
        IpAddr::V4(v4) => v4.octets()[0] >= FIRST_OCTET,
        IpAddr::V6(_) => false,
    }
}

/// Whether `addr` is a made-up address of a relayed peer.
pub fn is_made_up(addr: SocketAddr) -> bool {
    match canonical(addr).ip() {
        IpAddr::V4(v4) => v4.octets()[0] == FIRST_OCTET,
        IpAddr::V6(_) => false,
    }
}

impl Routes {
    fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The made-up address of `route`'s peer through its map (the same one as before
    /// for the same map and peer; the token is updated).
    pub fn add(&self, route: Route) -> SocketAddr {
        let map = canonical(route.map);
        let route = Route { map, ..route };
        let mut t = self.table();
        t.maps.insert(map);
        if let Some(addr) = t.by_pair.get(&(map, route.peer)).copied() {
            t.by_addr.insert(addr, route);
            return addr;
        }
        t.next = t.next.wrapping_add(1) & 0x00ff_ffff;
        let n = t.next;
        let addr = SocketAddr::new(
            Ipv4Addr::new(FIRST_OCTET, (n >> 16) as u8, (n >> 8) as u8, n as u8).into(),
            1,
        );
        t.by_pair.insert((map, route.peer), addr);
        t.by_addr.insert(addr, route);
        addr
    }

    /// The route at made-up address `addr`.
    pub fn get(&self, addr: SocketAddr) -> Option<Route> {
        self.table().by_addr.get(&canonical(addr)).copied()
    }

    /// The made-up address of `peer` through the map at `map`, if this node asked for it.
    pub fn addr_of(&self, map: SocketAddr, peer: &[u8; 32]) -> Option<SocketAddr> {
        self.table().by_pair.get(&(canonical(map), *peer)).copied()
    }

    /// Whether `addr` is a map that relays for this node.
    pub fn is_map(&self, addr: SocketAddr) -> bool {
        self.table().maps.contains(&canonical(addr))
    }
}

/// How many segments of the largest datagram a read takes, for a socket that would say
/// `gro`: quinn sizes each read's buffer as that many times the largest datagram (16 KiB
/// here), and the kernel never joins more than 64 KiB into one read, so four are enough
/// (and keep quinn's buffers at 2 MiB instead of 32).
pub fn receive_segments(gro: usize) -> usize {
    gro.clamp(1, 4)
}

/// Puts one datagram `bytes` from `from` into a read's buffer and its description;
/// false (nothing put) when it does not fit.
pub fn put(
    buf: &mut [u8],
    meta: &mut quinn::udp::RecvMeta,
    from: SocketAddr,
    bytes: &[u8],
) -> bool {
    let Some(to) = buf.get_mut(..bytes.len()) else {
        return false;
    };
    to.copy_from_slice(bytes);
    *meta = quinn::udp::RecvMeta {
        addr: from,
        len: bytes.len(),
        stride: bytes.len(),
        ecn: None,
        dst_ip: None,
    };
    true
}

/// The segments of a received batch of `len` bytes cut every `stride` bytes (the
/// kernel joins same-sized datagrams from one sender): each segment's range.
pub fn segments(len: usize, stride: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    let stride = stride.max(1);
    (0..len)
        .step_by(stride)
        .map(move |at| at..(at + stride).min(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_keeps_its_made_up_address_and_the_address_leads_back_to_it() {
        let routes = Routes::default();
        let map: SocketAddr = "192.0.2.1:7475".parse().unwrap();
        let r = Route {
            map,
            peer: [1; 32],
            token: [9; TOKEN_LEN],
        };
        let a = routes.add(r);
        assert!(is_made_up(a) && !is_made_up(map));
        assert!(is_made_up(in_family(a, true)));
        let b = routes.add(Route { peer: [2; 32], ..r });
        assert_ne!(a, b);
        let again = routes.add(Route {
            token: [3; TOKEN_LEN],
            ..r
        });
        assert_eq!(again, a);
        assert_eq!(
            routes.get(in_family(a, true)).unwrap().token,
            [3; TOKEN_LEN]
        );
        assert_eq!(routes.addr_of(in_family(map, true), &[2; 32]), Some(b));
        assert!(routes.is_map(map));
        assert_eq!(routes.addr_of(map, &[5; 32]), None);
    }

    #[test]
    fn segments_cover_a_batch_with_a_shorter_last() {
        let s: Vec<_> = segments(10, 4).collect();
        assert_eq!(s, vec![0..4, 4..8, 8..10]);
        assert_eq!(segments(0, 4).count(), 0);
    }
}
