//! The machine's network interfaces: their addresses (`getifaddrs`), and which of them
//! have a route to an address (the paths a peer's address can be reached on).

use std::net::IpAddr;

/// One address of an interface that is up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterfaceAddr {
    /// The interface's name (`eth0`, `wlan0`).
    pub name: String,
    /// The address.
    pub ip: IpAddr,
}

/// The IPv4 and IPv6 addresses of every interface that is up, loopback included.
pub fn addresses() -> Vec<InterfaceAddr> {
    let mut out = Vec::new();
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `head` with a list that we read, then free once.
    if unsafe { libc::getifaddrs(&mut head) } != 0 {
        return out;
    }
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: `cur` is a node of the list getifaddrs returned, not yet freed.
        let ifa = unsafe { &*cur };
        cur = ifa.ifa_next;
        if ifa.ifa_addr.is_null() || ifa.ifa_flags & libc::IFF_UP as u32 == 0 {
            continue;
        }
        // SAFETY: `ifa_addr` is non-null and points at a sockaddr of its family.
        let ip = unsafe {
            match (*ifa.ifa_addr).sa_family as i32 {
                libc::AF_INET => {
                    let sin = &*(ifa.ifa_addr as *const libc::sockaddr_in);
                    IpAddr::from(u32::from_be(sin.sin_addr.s_addr).to_be_bytes())
                }
                libc::AF_INET6 => {
                    let sin6 = &*(ifa.ifa_addr as *const libc::sockaddr_in6);
                    IpAddr::from(sin6.sin6_addr.s6_addr)
                }
                _ => continue,
            }
        };
        // SAFETY: `ifa_name` is a NUL-terminated string owned by the list.
        let name = unsafe { std::ffi::CStr::from_ptr(ifa.ifa_name) }
            .to_string_lossy()
            .into_owned();
        out.push(InterfaceAddr { name, ip });
    }
    // SAFETY: `head` came from getifaddrs and is freed once.
    unsafe { libc::freeifaddrs(head) };
    out
}

/// The interfaces that are up and have a route to `ip` in the main routing table
/// (`/proc/net/route`, `/proc/net/ipv6_route`), each once, in the table's order.
pub fn routes_to(ip: IpAddr) -> Vec<String> {
    let table = match ip {
        IpAddr::V4(_) => std::fs::read_to_string("/proc/net/route"),
        IpAddr::V6(_) => std::fs::read_to_string("/proc/net/ipv6_route"),
    };
    let Ok(table) = table else {
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    for line in table.lines() {
        let Some(name) = route_line(line, ip) else {
            continue;
        };
        if !out.contains(&name) && is_up(&name) {
            out.push(name);
        }
    }
    out
}

/// The interface of one line of a routing table, if the route is up and covers `ip`.
fn route_line(line: &str, ip: IpAddr) -> Option<String> {
    const RTF_UP: u32 = 1;
    let f: Vec<&str> = line.split_whitespace().collect();
    match ip {
        IpAddr::V4(v4) => {
            // Iface Destination Gateway Flags RefCnt Use Metric Mask ...; addresses in
            // hex, in the machine's byte order.
            let hex = |s: &str| u32::from_str_radix(s, 16).ok();
            let (dest, flags, mask) = (hex(f.get(1)?)?, hex(f.get(3)?)?, hex(f.get(7)?)?);
            let addr = u32::from_ne_bytes(v4.octets());
            (flags & RTF_UP != 0 && addr & mask == dest && f[0] != "lo").then(|| f[0].to_string())
        }
        IpAddr::V6(v6) => {
            // dest prefix src src-prefix next-hop metric refcnt use flags iface
            let dest = u128::from_str_radix(f.first()?, 16).ok()?;
            let prefix = u32::from_str_radix(f.get(1)?, 16).ok()?;
            let flags = u32::from_str_radix(f.get(8)?, 16).ok()?;
            let name = f.get(9)?;
            let mask = match prefix {
                0 => 0,
                p if p <= 128 => u128::MAX << (128 - p),
                _ => return None,
            };
            let addr = u128::from_be_bytes(v6.octets());
            (flags & RTF_UP != 0 && addr & mask == dest & mask && *name != "lo")
                .then(|| name.to_string())
        }
    }
}

/// Whether interface `name` is up (its link, not only its flag: a cable pulled is down).
fn is_up(name: &str) -> bool {
    match std::fs::read_to_string(format!("/sys/class/net/{name}/operstate")) {
        Ok(state) => !matches!(state.trim(), "down" | "lowerlayerdown" | "notpresent"),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_route_line_covers_the_addresses_of_its_prefix_only() {
        use std::net::IpAddr;
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        // 10.1.0.0/24 on link1, as /proc/net/route writes it on a little-endian machine.
        let dest = u32::from_ne_bytes([10, 1, 0, 0]);
        let mask = u32::from_ne_bytes([255, 255, 255, 0]);
        let line = format!("link1\t{dest:08X}\t00000000\t0001\t0\t0\t0\t{mask:08X}\t0\t0\t0");
        assert_eq!(
            super::route_line(&line, ip("10.1.0.7")),
            Some("link1".into())
        );
        assert_eq!(super::route_line(&line, ip("10.2.0.7")), None);
        // A route that is not up covers nothing.
        let down = line.replace("\t0001\t", "\t0000\t");
        assert_eq!(super::route_line(&down, ip("10.1.0.7")), None);
        // The header line is no route.
        assert_eq!(
            super::route_line("Iface\tDestination\tGateway", ip("10.1.0.7")),
            None
        );
        let v6 = "fd000000000000000000000000000000 08 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001 eth1";
        assert_eq!(super::route_line(v6, ip("fd12::1")), Some("eth1".into()));
        assert_eq!(super::route_line(v6, ip("fe80::1")), None);
    }

    #[test]
    fn loopback_is_among_the_addresses() {
        let all = super::addresses();
        assert!(all.iter().any(|a| a.ip.is_loopback()), "{all:?}");
    }
}
