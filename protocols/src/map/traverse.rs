//! The `traverse` channel: two peers connected only through a map's relay tell each
//! other how their NATs map (as their maps measured it) and where the maps saw them, to
//! choose how to open a direct path: a node behind a NAT that maps per destination
//! ("symmetric") opens many sockets towards the other, and a node behind a NAT that
//! keeps one port ("cone") probes the other's public address at random ports until one
//! of those sockets answers. Each side sends one [`Hello`]; the dialer first.
//!
//! Bytes: NAT kind (`u8`: 0 unknown, 1 endpoint-independent, 2 endpoint-dependent),
//! address count (`u8`, at most [`MAX_ADDRS`]), the addresses (as in [`addr`]).

use std::net::SocketAddr;

use super::addr::{self, AddrError};

/// The channel service.
pub const SERVICE: &str = "traverse";
/// Its version.
pub const VERSION: u16 = 1;
/// Most addresses in a hello.
pub const MAX_ADDRS: usize = 8;

/// How a node's NAT maps its sockets, as far as it knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NatKind {
    /// Not measured (one map address, or no map answered).
    Unknown,
    /// One public port per socket whatever the destination (or no NAT).
    Independent,
    /// A public port per socket and destination.
    Dependent,
}

/// One side's hello.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hello {
    /// How its NAT maps.
    pub nat: NatKind,
    /// Where maps saw it, and its own addresses.
    pub addrs: Vec<SocketAddr>,
}

/// What is wrong with a hello.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HelloError {
    /// A NAT kind this version does not know.
    #[error("unknown NAT kind {0}")]
    Kind(u8),
    /// More addresses than [`MAX_ADDRS`].
    #[error("a hello with {0} addresses (at most {MAX_ADDRS})")]
    TooManyAddrs(usize),
    /// A malformed address.
    #[error(transparent)]
    Addr(#[from] AddrError),
}

impl Hello {
    /// The hello's bytes (addresses past [`MAX_ADDRS`] are left out).
    pub fn encode(&self) -> Vec<u8> {
        let n = self.addrs.len().min(MAX_ADDRS);
        let mut out = vec![
            match self.nat {
                NatKind::Unknown => 0,
                NatKind::Independent => 1,
                NatKind::Dependent => 2,
            },
            n as u8,
        ];
        for a in &self.addrs[..n] {
            addr::put(&mut out, a);
        }
        out
    }

    /// Decodes the hello at the start of `buf`: the hello and the bytes it took, or
    /// `None` until all of it is there.
    pub fn decode(buf: &[u8]) -> Result<Option<(Hello, usize)>, HelloError> {
        let (Some(&kind), Some(&n)) = (buf.first(), buf.get(1)) else {
            return Ok(None);
        };
        let nat = match kind {
            0 => NatKind::Unknown,
            1 => NatKind::Independent,
            2 => NatKind::Dependent,
            k => return Err(HelloError::Kind(k)),
        };
        let n = n as usize;
        if n > MAX_ADDRS {
            return Err(HelloError::TooManyAddrs(n));
        }
        let mut at = 2;
        let mut addrs = Vec::with_capacity(n);
        for _ in 0..n {
            match addr::get(&buf[at..]) {
                Ok((a, used)) => {
                    addrs.push(a);
                    at += used;
                }
                Err(AddrError::Truncated) => return Ok(None),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(Some((Hello { nat, addrs }, at)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hello_round_trips_and_waits_for_its_end() {
        let h = Hello {
            nat: NatKind::Dependent,
            addrs: vec![
                "203.0.113.3:40000".parse().unwrap(),
                "[2001:db8::1]:7470".parse().unwrap(),
            ],
        };
        let b = h.encode();
        assert_eq!(Hello::decode(&b), Ok(Some((h, b.len()))));
        for cut in 0..b.len() {
            assert_eq!(Hello::decode(&b[..cut]), Ok(None), "cut at {cut}");
        }
        assert_eq!(Hello::decode(&[3, 0]), Err(HelloError::Kind(3)));
        assert_eq!(Hello::decode(&[1, 9]), Err(HelloError::TooManyAddrs(9)));
        assert_eq!(
            Hello::decode(&[1, 1, 5, 0]),
            Err(HelloError::Addr(AddrError::Family(5)))
        );
    }
}
