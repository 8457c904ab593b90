//! The registry of channel services: each service's name on the wire (exact, or a prefix
//! followed by the name of a gate or flow), the version it speaks, and whether a key not
//! in the book may open it. Dispatch is a lookup here; every service answers a version it
//! does not speak with `UnsupportedVersion`.

use std::fmt;

/// A service peers can open channels to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    /// Round-trip probes (`ping`).
    Ping,
    /// Bytes in, counted and checked (`sink`, behind `warp speed`).
    Sink,
    /// File offers and downloads (`warpdrive`).
    Drive,
    /// A TCP or Unix connection through an exposed gate (`gate/<name>`).
    Gate,
    /// A datagram session through an exposed UDP gate (`dgram/<name>`).
    Dgram,
    /// Whether an exposed gate would serve the asking peer (`gate-check/<name>`).
    GateCheck,
    /// The same for a UDP gate (`dgram-check/<name>`).
    DgramCheck,
    /// Datagrams of a flow (`flow/<name>`).
    Flow,
    /// Pairing by code (`pair`).
    Pair,
    /// Opening a direct path through two NATs, over a relay (`traverse`).
    Traverse,
    /// A peer's hub linking to this node's WARP lanes (`links`).
    Links,
}

/// How a service is named on the wire.
enum Naming {
    /// Exactly this name.
    Exact(&'static str),
    /// This prefix, then the name of a gate or flow.
    Prefix(&'static str),
}

impl Service {
    /// Every service.
    pub const ALL: [Service; 11] = [
        Service::Ping,
        Service::Sink,
        Service::Drive,
        Service::Gate,
        Service::Dgram,
        Service::GateCheck,
        Service::DgramCheck,
        Service::Flow,
        Service::Pair,
        Service::Traverse,
        Service::Links,
    ];

    fn naming(self) -> Naming {
        match self {
            Service::Ping => Naming::Exact(super::ping::SERVICE),
            Service::Sink => Naming::Exact(super::sink::SERVICE),
            Service::Drive => Naming::Exact(super::drive::SERVICE),
            Service::Gate => Naming::Prefix("gate/"),
            Service::Dgram => Naming::Prefix("dgram/"),
            Service::GateCheck => Naming::Prefix("gate-check/"),
            Service::DgramCheck => Naming::Prefix("dgram-check/"),
            Service::Flow => Naming::Prefix("flow/"),
            Service::Pair => Naming::Exact(super::pair::SERVICE),
            Service::Traverse => Naming::Exact(protocols::map::traverse::SERVICE),
            Service::Links => Naming::Exact(super::links_peer::SERVICE),
        }
    }

    /// The version the service speaks.
    pub fn version(self) -> u16 {
        match self {
            Service::Ping => super::ping::VERSION,
            Service::Sink => super::sink::VERSION,
            Service::Drive => super::drive::VERSION,
            Service::Gate => super::gates::VERSION,
            Service::Dgram => super::udp_gates::VERSION,
            Service::GateCheck | Service::DgramCheck => super::gates::CHECK_VERSION,
            Service::Flow => super::flows::VERSION,
            Service::Pair => super::pair::VERSION,
            Service::Traverse => protocols::map::traverse::VERSION,
            Service::Links => super::links_peer::VERSION,
        }
    }

    /// Whether a key not in the book may open it when unknown keys are let in
    /// (`unknown = ask`): it may offer files (which wait for the user), use a gate exposed
    /// `--public`, send into a flow that names it, or pair by a code; the service itself
    /// checks those. Nothing else (no probes, no traversal sockets, no links to the lanes
    /// for strangers).
    pub fn strangers_may(self) -> bool {
        !matches!(
            self,
            Service::Ping | Service::Sink | Service::Traverse | Service::Links
        )
    }

    /// Whether a key not in the book may open it when unknown keys are blocked: only to
    /// pair by a code this node waits with, and then, once paired, to fetch the offer
    /// made to it (`paired`).
    pub fn blocked_strangers_may(self, paired: bool) -> bool {
        match self {
            Service::Pair => true,
            Service::Drive => paired,
            _ => false,
        }
    }

    /// The service a channel header names, and the gate or flow name after its prefix
    /// (empty for services named exactly).
    pub fn lookup(wire: &str) -> Option<(Service, &str)> {
        Service::ALL
            .into_iter()
            .find_map(|s| match s.naming() {
                Naming::Exact(n) if n == wire => Some((s, "")),
                Naming::Prefix(p) => wire.strip_prefix(p).map(|rest| (s, rest)),
                Naming::Exact(_) => None,
            })
            .filter(|(s, rest)| matches!(s.naming(), Naming::Exact(_)) || !rest.is_empty())
    }
}

impl fmt::Display for Service {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.naming() {
            Naming::Exact(n) => f.write_str(n),
            Naming::Prefix(p) => write!(f, "{p}<name>"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_service_is_found_by_its_wire_name() {
        assert_eq!(Service::lookup("ping"), Some((Service::Ping, "")));
        assert_eq!(Service::lookup("sink"), Some((Service::Sink, "")));
        assert_eq!(Service::lookup("warpdrive"), Some((Service::Drive, "")));
        assert_eq!(Service::lookup("gate/web"), Some((Service::Gate, "web")));
        assert_eq!(Service::lookup("dgram/dns"), Some((Service::Dgram, "dns")));
        assert_eq!(
            Service::lookup("gate-check/web"),
            Some((Service::GateCheck, "web"))
        );
        assert_eq!(
            Service::lookup("dgram-check/dns"),
            Some((Service::DgramCheck, "dns"))
        );
        assert_eq!(Service::lookup("flow/cam"), Some((Service::Flow, "cam")));
        assert_eq!(Service::lookup("pair"), Some((Service::Pair, "")));
        assert_eq!(Service::lookup("traverse"), Some((Service::Traverse, "")));
        assert_eq!(Service::lookup("links"), Some((Service::Links, "")));
        // Blocked strangers may pair, and fetch only once paired.
        assert!(Service::Pair.blocked_strangers_may(false));
        assert!(!Service::Drive.blocked_strangers_may(false));
        assert!(Service::Drive.blocked_strangers_may(true));
        assert!(!Service::Ping.blocked_strangers_may(true));
    }

    #[test]
    fn unknown_names_and_prefixes_without_a_name_are_not_services() {
        for wire in ["", "pin", "pings", "gate/", "gate", "flow/", "link", "Ping"] {
            assert_eq!(Service::lookup(wire), None, "{wire:?}");
        }
    }

    #[test]
    fn only_ping_sink_traverse_and_links_are_closed_to_strangers() {
        let closed: Vec<_> = Service::ALL
            .into_iter()
            .filter(|s| !s.strangers_may())
            .collect();
        assert_eq!(
            closed,
            [
                Service::Ping,
                Service::Sink,
                Service::Traverse,
                Service::Links
            ]
        );
    }
}
