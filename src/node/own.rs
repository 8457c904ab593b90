//! The node's own sockets and files, which no gate may lead to: the control socket and
//! everything else in the data directory, the REST API, the link hub and the QUIC socket.
//! Otherwise a gate, once exposed, would hand a peer the owner's powers.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use super::local::UNIX_PREFIX;

/// Where the node itself listens and keeps its files.
#[derive(Clone, Debug)]
pub struct Own {
    /// The data directory (control socket, keys, database).
    pub dir: PathBuf,
    /// The QUIC socket (UDP).
    pub quic: SocketAddr,
    /// The REST API (TCP), if served.
    pub api: Option<SocketAddr>,
    /// The WARP link hub (TCP), if served.
    pub ws: Option<SocketAddr>,
}

/// Why a gate address is refused.
#[derive(Debug, thiserror::Error)]
pub enum OwnAddress {
    /// The address is one of the node's own servers.
    #[error("{address} is this node's own {what}: a gate may not lead to it")]
    Server {
        /// The address as given.
        address: String,
        /// Which server.
        what: &'static str,
    },
    /// The path is in the node's data directory.
    #[error("{0} is in this node's data directory: a gate may not use it")]
    DataDir(String),
}

impl Own {
    /// Refuses a gate address (a target, or an opened gate's listen address) that is the
    /// node's own: a Unix socket in the data directory, or a host:port that reaches one of
    /// its servers. Host names are resolved, so `localhost:7480` is caught too.
    pub async fn check(&self, address: &str, udp: bool) -> Result<(), OwnAddress> {
        if let Some(path) = address.strip_prefix(UNIX_PREFIX) {
            return match self.in_data_dir(Path::new(path)) {
                true => Err(OwnAddress::DataDir(address.to_string())),
                false => Ok(()),
            };
        }
        // An address that does not resolve cannot reach us; using it fails later with
        // its own error.
        let Ok(addrs) = tokio::net::lookup_host(address).await else {
            return Ok(());
        };
        let servers: Vec<(SocketAddr, &'static str)> = if udp {
            vec![(self.quic, "QUIC socket")]
        } else {
            [(self.api, "REST API"), (self.ws, "WARP link hub")]
                .into_iter()
                .filter_map(|(a, what)| a.map(|a| (a, what)))
                .collect()
        };
        for a in addrs {
            if let Some((_, what)) = servers.iter().find(|(s, _)| reaches(a, *s)) {
                return Err(OwnAddress::Server {
                    address: address.to_string(),
                    what,
                });
            }
        }
        Ok(())
    }

    /// Whether `path` (which may not exist yet) is in the data directory, symlinks and
    /// `..` resolved.
    fn in_data_dir(&self, path: &Path) -> bool {
        let Ok(dir) = self.dir.canonicalize() else {
            return true;
        };
        resolve(path).is_none_or(|p| p.starts_with(&dir))
    }
}

/// `path` made absolute with symlinks resolved; for a path that does not exist yet, its
/// parent resolved and the name added. `None` when not even the parent resolves.
fn resolve(path: &Path) -> Option<PathBuf> {
    if let Ok(p) = path.canonicalize() {
        return Some(p);
    }
    let name = path.file_name()?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Some(parent.canonicalize().ok()?.join(name))
}

/// Whether connecting to `target` may reach a server bound to `server`: the same port,
/// and an address that is the server's own, loopback or unspecified, or any address when
/// the server listens on all of them.
fn reaches(target: SocketAddr, server: SocketAddr) -> bool {
    let local = |ip: IpAddr| ip.is_loopback() || ip.is_unspecified();
    target.port() == server.port()
        && (target.ip() == server.ip() || local(target.ip()) || server.ip().is_unspecified())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn own(dir: &Path) -> Own {
        Own {
            dir: dir.to_path_buf(),
            quic: "0.0.0.0:7470".parse().unwrap(),
            api: Some("127.0.0.1:7480".parse().unwrap()),
            ws: Some("127.0.0.1:9001".parse().unwrap()),
        }
    }

    #[tokio::test]
    async fn the_nodes_own_servers_and_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let o = own(dir.path());
        let sock = format!("unix:{}/control.sock", dir.path().display());
        let sneaky = format!("unix:{}/sub/../control.sock", dir.path().display());
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        for bad in [sock.as_str(), sneaky.as_str()] {
            assert!(
                matches!(o.check(bad, false).await, Err(OwnAddress::DataDir(_))),
                "{bad}"
            );
        }
        let link = tempfile::tempdir().unwrap();
        let via = link.path().join("via");
        std::os::unix::fs::symlink(dir.path(), &via).unwrap();
        let linked = format!("unix:{}/control.sock", via.display());
        assert!(o.check(&linked, false).await.is_err(), "through a symlink");
        for bad in [
            "127.0.0.1:7480",
            "localhost:9001",
            "0.0.0.0:7480",
            "[::1]:7480",
        ] {
            assert!(
                matches!(o.check(bad, false).await, Err(OwnAddress::Server { .. })),
                "{bad}"
            );
        }
        assert!(o.check("127.0.0.1:7470", true).await.is_err());
        assert!(
            o.check("127.0.0.1:7470", false).await.is_ok(),
            "TCP 7470 is not QUIC"
        );
        assert!(o.check("127.0.0.1:22", false).await.is_ok());
        assert!(
            o.check("127.0.0.1:7480", true).await.is_ok(),
            "UDP 7480 is not the API"
        );
        let elsewhere = format!("unix:{}/app.sock", link.path().display());
        assert!(o.check(&elsewhere, false).await.is_ok());
    }
}
