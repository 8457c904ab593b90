//! Finding peers on the local network by key, with no map and no address typed: the
//! node announces itself by mDNS (DNS-SD service `_warp._udp.local.`, the instance named
//! by its peer id, its QUIC port, every address of the host or the one it listens on)
//! and listens for the announcements of others. What is found is only a hint where to
//! dial: the QUIC handshake still proves the key, so a false announcement costs a failed
//! dial, never a connection to the wrong node.
//!
//! While `warp share` waits with a pairing code, the announcement also carries the code's
//! number (TXT `pair`), so that `warp receive` finds the node that printed it (the code's
//! secret never leaves the two nodes: it is checked by a key exchange over the tunnel).
//!
//! A node that listens on loopback only is on no network and announces nothing (so the
//! tests' nodes stay off the machine's real network); `--no-lan` (`[node] lan = false`)
//! turns it off.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use mdns_sd::{ServiceDaemon, ServiceEvent, ServiceInfo};
use tracing::{debug, info, warn};

use crate::identity::PeerId;

/// The DNS-SD service type of warp nodes.
pub const SERVICE: &str = "_warp._udp.local.";

/// Most peers remembered from announcements (a LAN with more is unusual; the oldest
/// are not evicted, newer ones are ignored).
const MAX_FOUND: usize = 4096;

/// Most pairing numbers read from one announcement.
const MAX_PAIRS: usize = 16;

/// What a peer announced.
#[derive(Clone, Debug, PartialEq)]
struct Found {
    addrs: Vec<SocketAddr>,
    /// The numbers of the pairing codes it waits with.
    pairs: Vec<u16>,
}

type Table = Arc<Mutex<HashMap<PeerId, Found>>>;

/// Peers found on the local network, and this node's announcement.
pub struct Lan {
    daemon: ServiceDaemon,
    found: Table,
    id: PeerId,
    listen: SocketAddr,
}

/// This node's announcement, with the numbers of the codes it waits with.
fn announcement(
    id: PeerId,
    listen: SocketAddr,
    pairs: &[u16],
) -> Result<ServiceInfo, mdns_sd::Error> {
    let name = id.to_string();
    let host = format!("{name}.local.");
    let pairs = pairs
        .iter()
        .map(u16::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let props = [("id", name.as_str()), ("pair", pairs.as_str())];
    let ips: Vec<IpAddr> = match listen.ip().is_unspecified() {
        true => Vec::new(),
        false => vec![listen.ip()],
    };
    let info = ServiceInfo::new(SERVICE, &name, &host, &ips[..], listen.port(), &props[..])?;
    Ok(match ips.is_empty() {
        true => info.enable_addr_auto(),
        false => info,
    })
}

impl Lan {
    /// Announces the node `id` listening on `listen`, and starts looking for others;
    /// `None` when it listens on loopback only, or mDNS cannot start (logged).
    pub fn start(id: PeerId, listen: SocketAddr) -> Option<Lan> {
        if listen.ip().is_loopback() {
            return None;
        }
        let daemon = match ServiceDaemon::new() {
            Ok(d) => d,
            Err(e) => {
                warn!("no discovery on the local network (mDNS): {e}");
                return None;
            }
        };
        let info = match announcement(id, listen, &[]) {
            Ok(i) => i,
            Err(e) => {
                warn!("no announcement on the local network: {e}");
                return None;
            }
        };
        if let Err(e) = daemon.register(info) {
            warn!("no announcement on the local network: {e}");
        }
        let events = match daemon.browse(SERVICE) {
            Ok(r) => r,
            Err(e) => {
                warn!("no discovery on the local network: {e}");
                return None;
            }
        };
        let found: Table = Default::default();
        let table = found.clone();
        std::thread::Builder::new()
            .name("warp-lan".into())
            .spawn(move || {
                // Ends when the daemon shuts down and closes the channel.
                while let Ok(event) = events.recv() {
                    take(&table, id, event);
                }
            })
            .ok()?;
        info!("announcing this node on the local network (mDNS {SERVICE})");
        Some(Lan {
            daemon,
            found,
            id,
            listen,
        })
    }

    /// The addresses peer `id` announced on the local network.
    pub fn addrs(&self, id: &PeerId) -> Vec<SocketAddr> {
        self.found
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .map(|f| f.addrs.clone())
            .unwrap_or_default()
    }

    /// The peers that announce a pairing code numbered `nameplate`, with their addresses.
    pub fn pairing(&self, nameplate: u16) -> Vec<(PeerId, Vec<SocketAddr>)> {
        let found = self.found.lock().unwrap_or_else(|p| p.into_inner());
        found
            .iter()
            .filter(|(_, f)| f.pairs.contains(&nameplate) && !f.addrs.is_empty())
            .map(|(id, f)| (*id, f.addrs.clone()))
            .collect()
    }

    /// Announces anew with the numbers of the codes this node now waits with.
    pub fn set_pairs(&self, pairs: &[u16]) {
        let sent =
            announcement(self.id, self.listen, pairs).and_then(|info| self.daemon.register(info));
        if let Err(e) = sent {
            warn!("could not announce pairing codes on the local network: {e}");
        }
    }

    /// Withdraws the announcement and stops looking.
    pub fn stop(&self) {
        if let Err(e) = self.daemon.shutdown() {
            debug!("mDNS shutdown: {e}");
        }
    }
}

/// Whether an announced address can be dialed as it is: not loopback or unspecified, and
/// not an IPv6 link-local one (which needs the interface it was seen on).
fn dialable(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => !v4.is_loopback() && !v4.is_unspecified(),
        IpAddr::V6(v6) => {
            !v6.is_loopback() && !v6.is_unspecified() && v6.segments()[0] & 0xffc0 != 0xfe80
        }
    }
}

/// Peer id of an instance's full name (`<id>._warp._udp.local.`).
fn peer_of(fullname: &str) -> Option<PeerId> {
    fullname
        .strip_suffix(SERVICE)?
        .strip_suffix('.')?
        .parse()
        .ok()
}

/// The pairing numbers of a TXT `pair` value (`7,12`); what is not one is skipped.
fn pairs_of(text: &str) -> Vec<u16> {
    text.split(',')
        .filter_map(|n| n.trim().parse::<u16>().ok())
        .filter(|n| (1..=protocols::pair::code::MAX_NAMEPLATE).contains(n))
        .take(MAX_PAIRS)
        .collect()
}

/// Applies one mDNS event to the table of peers found.
fn take(table: &Mutex<HashMap<PeerId, Found>>, me: PeerId, event: ServiceEvent) {
    let mut found = table.lock().unwrap_or_else(|p| p.into_inner());
    match event {
        ServiceEvent::ServiceResolved(s) => {
            let Some(id) = peer_of(s.get_fullname()).filter(|id| *id != me) else {
                return;
            };
            // The instance name is the key; a TXT id that disagrees is not ours.
            if s.get_property_val_str("id") != Some(id.to_string().as_str()) {
                return;
            }
            let mut addrs: Vec<SocketAddr> = s
                .get_addresses()
                .iter()
                .map(|a| SocketAddr::new(a.to_ip_addr(), s.get_port()))
                .filter(|a| dialable(a.ip()))
                .collect();
            addrs.sort();
            addrs.dedup();
            addrs.truncate(16);
            let pairs = s.get_property_val_str("pair").map_or(Vec::new(), pairs_of);
            if found.len() >= MAX_FOUND && !found.contains_key(&id) {
                return;
            }
            let now = Found { addrs, pairs };
            if found.get(&id) != Some(&now) {
                info!(
                    "found {id} on the local network at {:?}{}",
                    now.addrs,
                    match now.pairs.is_empty() {
                        true => String::new(),
                        false => format!(", waiting with pairing codes {:?}", now.pairs),
                    }
                );
                found.insert(id, now);
            }
        }
        ServiceEvent::ServiceRemoved(_, fullname) => {
            if let Some(id) = peer_of(&fullname) {
                if found.remove(&id).is_some() {
                    info!("{id} left the local network");
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn instance_names_give_peer_ids() {
        let dir = tempfile::tempdir().unwrap();
        let id = crate::identity::Identity::load_or_create(dir.path())
            .unwrap()
            .peer_id();
        let full = format!("{id}.{}", super::SERVICE);
        assert_eq!(super::peer_of(&full), Some(id));
        assert_eq!(super::peer_of("printer._warp._udp.local."), None);
        assert_eq!(super::peer_of(&format!("{id}._http._tcp.local.")), None);
        assert!(super::dialable("10.1.0.2".parse().unwrap()));
        assert!(!super::dialable("127.0.0.1".parse().unwrap()));
        assert!(!super::dialable("fe80::1".parse().unwrap()));
        assert!(super::dialable("2001:db8::1".parse().unwrap()));
        assert_eq!(super::pairs_of("7,12"), vec![7, 12]);
        assert_eq!(super::pairs_of(""), Vec::<u16>::new());
        assert_eq!(super::pairs_of("0,x,1000,999"), vec![999]);
    }
}
