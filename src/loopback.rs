//! What a local HTTP or WebSocket server of the node accepts in `Host` and `Origin`.
//!
//! Loopback is not a trust boundary: any web page the user opens can send requests to
//! 127.0.0.1, and a DNS-rebinding page sends them with its own name in `Host`. So a server
//! listening on loopback answers only requests whose `Host` names loopback (`localhost`,
//! `127.0.0.1`, `[::1]`, with its own port or none), and refuses browsers whose `Origin` is
//! not one of the node's own loopback servers. Clients that are not browsers send no
//! `Origin` and are not affected.

/// Whether `host` (a `Host` header) names loopback, with port `port` or none.
pub fn host_ok(host: &str, port: u16) -> bool {
    let (name, given_port) = split_host_port(host);
    let port_ok = match given_port {
        None => true,
        Some(p) => p.parse::<u16>().ok() == Some(port),
    };
    port_ok && is_loopback_name(name)
}

/// Whether `origin` (an `Origin` header) is a page served by the node itself: `http` on a
/// loopback name and one of `own_ports`. `null` and every other origin are refused.
pub fn origin_ok(origin: &str, own_ports: &[u16]) -> bool {
    let Some(rest) = origin.strip_prefix("http://") else {
        return false;
    };
    let (name, port) = split_host_port(rest);
    let port: Option<u16> = match port {
        Some(p) => p.parse().ok(),
        None => Some(80),
    };
    is_loopback_name(name) && port.is_some_and(|p| own_ports.contains(&p))
}

/// `host[:port]` or `[v6][:port]` split into the name and the port text.
fn split_host_port(s: &str) -> (&str, Option<&str>) {
    if let Some(rest) = s.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((v6, "")) => (v6, None),
            Some((v6, tail)) => match tail.strip_prefix(':') {
                Some(p) => (v6, Some(p)),
                None => ("", None),
            },
            None => ("", None),
        };
    }
    match s.rsplit_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (s, None),
    }
}

fn is_loopback_name(name: &str) -> bool {
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_hosts_with_our_port_pass() {
        for ok in [
            "localhost",
            "LOCALHOST:7480",
            "127.0.0.1",
            "127.0.0.1:7480",
            "[::1]",
            "[::1]:7480",
        ] {
            assert!(host_ok(ok, 7480), "{ok}");
        }
        for bad in [
            "evil.example:7480",
            "evil.example",
            "127.0.0.1:7481",
            "127.0.0.1.evil.example",
            "localhost.evil.example:7480",
            "[::1]x",
            "[::2]:7480",
            "",
            "0.0.0.0:7480",
            "10.0.0.1:7480",
            "127.0.0.1:",
        ] {
            assert!(!host_ok(bad, 7480), "{bad}");
        }
    }

    #[test]
    fn only_the_nodes_own_pages_are_allowed_origins() {
        let own = [7480, 9001];
        for ok in [
            "http://127.0.0.1:7480",
            "http://localhost:9001",
            "http://[::1]:7480",
        ] {
            assert!(origin_ok(ok, &own), "{ok}");
        }
        for bad in [
            "null",
            "http://evil.example",
            "https://127.0.0.1:7480",
            "http://127.0.0.1:8000",
            "http://127.0.0.1",
            "http://evil.example:7480",
            "file://",
        ] {
            assert!(!origin_ok(bad, &own), "{bad}");
        }
    }
}
