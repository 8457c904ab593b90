//! Finding peers on the local network by key, with no map and no address typed: the
//! node announces itself by mDNS (DNS-SD service `_warp._udp.local.`, the instance named
//! by its peer id, its QUIC port, every address of the host or the one it listens on)
//! and listens for the announcements of others. What is found is only a hint where to
//! dial: the QUIC handshake still proves the key, so a false announcement costs a failed
//! dial, never a connection to the wrong node.
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

/// Peers found on the local network, and this node's announcement.
pub struct Lan {
    daemon: ServiceDaemon,
    found: Arc<Mutex<HashMap<PeerId, Vec<SocketAddr>>>>,
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
        let name = id.to_string();
        let host = format!("{name}.local.");
        let props = [("id", name.as_str())];
        let ips: Vec<IpAddr> = match listen.ip().is_unspecified() {
            true => Vec::new(),
            false => vec![listen.ip()],
        };
        let info = ServiceInfo::new(SERVICE, &name, &host, &ips[..], listen.port(), &props[..]);
        let info = match info {
            Ok(i) if ips.is_empty() => i.enable_addr_auto(),
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
        let found: Arc<Mutex<HashMap<PeerId, Vec<SocketAddr>>>> = Default::default();
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
        Some(Lan { daemon, found })
    }

    /// The addresses peer `id` announced on the local network.
    pub fn addrs(&self, id: &PeerId) -> Vec<SocketAddr> {
        self.found
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
            .unwrap_or_default()
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

/// Applies one mDNS event to the table of peers found.
fn take(table: &Mutex<HashMap<PeerId, Vec<SocketAddr>>>, me: PeerId, event: ServiceEvent) {
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
            if found.len() >= MAX_FOUND && !found.contains_key(&id) {
                return;
            }
            if found.get(&id) != Some(&addrs) {
                info!("found {id} on the local network at {addrs:?}");
                found.insert(id, addrs);
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
    }
}
