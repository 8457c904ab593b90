//! A socket address on the wire: family (`4` or `6`), the address's bytes, the port
//! (`u16`, big endian).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// What is wrong with an address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AddrError {
    /// The bytes end inside the address.
    #[error("an address cut short")]
    Truncated,
    /// A family other than 4 or 6.
    #[error("unknown address family {0}")]
    Family(u8),
}

/// Appends `a`.
pub fn put(out: &mut Vec<u8>, a: &SocketAddr) {
    match a.ip() {
        IpAddr::V4(v4) => {
            out.push(4);
            out.extend_from_slice(&v4.octets());
        }
        IpAddr::V6(v6) => {
            out.push(6);
            out.extend_from_slice(&v6.octets());
        }
    }
    out.extend_from_slice(&a.port().to_be_bytes());
}

/// Reads an address at the start of `buf`: the address and the bytes it took.
pub fn get(buf: &[u8]) -> Result<(SocketAddr, usize), AddrError> {
    let (&family, rest) = buf.split_first().ok_or(AddrError::Truncated)?;
    let len = match family {
        4 => 4,
        6 => 16,
        f => return Err(AddrError::Family(f)),
    };
    let bytes = rest.get(..len + 2).ok_or(AddrError::Truncated)?;
    let ip = match family {
        4 => IpAddr::V4(Ipv4Addr::from(
            <[u8; 4]>::try_from(&bytes[..4]).expect("4 bytes"),
        )),
        _ => IpAddr::V6(Ipv6Addr::from(
            <[u8; 16]>::try_from(&bytes[..16]).expect("16 bytes"),
        )),
    };
    let port = u16::from_be_bytes([bytes[len], bytes[len + 1]]);
    Ok((SocketAddr::new(ip, port), 1 + len + 2))
}
