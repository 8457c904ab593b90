//! A node's flow table from a map: the flows defined on the map in which that node is a
//! member, each with every member's key, role and name, signed by the map's key. The
//! table names the node it was made for and carries a sequence number, so it means
//! nothing to another node and an older table never replaces a newer one. A node trusts
//! it only from a map it was told to trust for flows, by that map's key.
//!
//! On a `map` channel the table's bytes come in parts ([`MAX_PART`] each, see
//! [`Parts`]), as a table may be larger than one frame. Byte layout: `docs/map.md`.

use std::net::SocketAddr;

use ed25519_dalek::{Signature, Verifier, VerifyingKey};

use super::addr::{self, AddrError};

/// The table format's version.
pub const VERSION: u8 = 1;
/// Most flows in one node's table.
pub const MAX_FLOWS: usize = 32;
/// Most members of one flow.
pub const MAX_MEMBERS: usize = 256;
/// Longest flow or member name, in bytes.
pub const MAX_NAME: usize = 32;
/// Largest table, in bytes (a full one, [`MAX_FLOWS`] flows of [`MAX_MEMBERS`] members
/// with the longest names, takes about 545 KiB).
pub const MAX_TABLE: usize = 1 << 20;
/// Largest part of a table in one frame.
pub const MAX_PART: usize = 16 * 1024;
/// Bytes of a signature.
pub const SIG_LEN: usize = 64;
/// What is signed before the table's bytes, so its signature means nothing anywhere else.
const CONTEXT: &[u8] = b"warp map flows v1\0";

/// How a flow's members are joined (as `warp.toml` writes them: `1:1`, `1:n`, `n:1`,
/// `n:n`), by code.
pub mod mode {
    /// `1:1`.
    pub const ONE_TO_ONE: u8 = 0;
    /// `1:n`.
    pub const ONE_TO_MANY: u8 = 1;
    /// `n:1`.
    pub const MANY_TO_ONE: u8 = 2;
    /// `n:n`.
    pub const MANY_TO_MANY: u8 = 3;
}

/// What a member does, by code.
pub mod role {
    /// Sends only.
    pub const SEND: u8 = 1;
    /// Receives only.
    pub const RECV: u8 = 2;
    /// Both.
    pub const BOTH: u8 = 3;
}

/// How a flow's channels use a peer's paths, by code: `aggregate` 0, `redundant` 1,
/// `failover` 2.
pub const MAX_PATHS: u8 = 2;

/// One member of a flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// Its key.
    pub id: [u8; 32],
    /// What it does ([`role`]).
    pub role: u8,
    /// Its name on the map (`drone3`), for people to read.
    pub name: String,
}

/// One flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowDef {
    /// Its name.
    pub name: String,
    /// How members are joined ([`mode`]).
    pub mode: u8,
    /// How its channels use several paths ([`MAX_PATHS`]).
    pub paths: u8,
    /// The local UDP port applications send into, on every member.
    pub port: u16,
    /// The local address of that port, when not the default (the port is ignored).
    pub ip: Option<SocketAddr>,
    /// Where datagrams are delivered on every member, besides the applications that sent.
    pub deliver: Option<SocketAddr>,
    /// Every member, the node the table is for among them.
    pub members: Vec<Member>,
}

/// A node's flow table, signed by the map.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    /// The map's key.
    pub map: [u8; 32],
    /// The node it was made for.
    pub node: [u8; 32],
    /// Higher is newer.
    pub seq: u64,
    /// The flows the node is a member of.
    pub flows: Vec<FlowDef>,
    /// Ed25519 by the map's key over the context and the table's other bytes.
    pub signature: [u8; SIG_LEN],
}

/// What is wrong with a table.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    /// The bytes end inside the table.
    #[error("a flow table cut short")]
    Truncated,
    /// Bytes after its end.
    #[error("{0} bytes after a flow table")]
    Trailing(usize),
    /// A version this node does not read.
    #[error("flow table version {0} (this node reads {VERSION})")]
    Version(u8),
    /// Over [`MAX_FLOWS`] flows, [`MAX_MEMBERS`] members or [`MAX_TABLE`] bytes.
    #[error("a flow table over its limits ({0})")]
    TooLarge(&'static str),
    /// A name over [`MAX_NAME`] bytes, empty, or not UTF-8.
    #[error("a flow table with a bad name")]
    BadName,
    /// A mode, role or paths code this version does not know.
    #[error("a flow table with an unknown {what} code {code}")]
    UnknownCode {
        /// Which field.
        what: &'static str,
        /// The code.
        code: u8,
    },
    /// A malformed address.
    #[error(transparent)]
    Addr(#[from] AddrError),
    /// The map's key did not sign these bytes, or is not a valid key.
    #[error("a flow table not signed by the map's key")]
    BadSignature,
    /// Signed by another key than the map the node trusts.
    #[error("a flow table signed by another map")]
    OtherMap,
    /// Made for another node.
    #[error("a flow table made for another node")]
    OtherNode,
}

/// Appends a name (length byte, then its bytes; at most [`MAX_NAME`]).
fn put_name(out: &mut Vec<u8>, name: &str) {
    let b = crate::text::cut(name, MAX_NAME);
    out.push(b.len() as u8);
    out.extend_from_slice(&b);
}

/// Appends an optional address (`0`, or the address).
fn put_opt(out: &mut Vec<u8>, a: &Option<SocketAddr>) {
    match a {
        None => out.push(0),
        Some(a) => addr::put(out, a),
    }
}

impl Table {
    /// The bytes a signature covers, for the map to sign.
    pub fn signed_bytes(&self) -> Vec<u8> {
        let mut out = CONTEXT.to_vec();
        self.put_unsigned(&mut out);
        out
    }

    fn put_unsigned(&self, out: &mut Vec<u8>) {
        out.push(VERSION);
        out.extend_from_slice(&self.map);
        out.extend_from_slice(&self.node);
        out.extend_from_slice(&self.seq.to_be_bytes());
        let flows = &self.flows[..self.flows.len().min(MAX_FLOWS)];
        out.push(flows.len() as u8);
        for f in flows {
            put_name(out, &f.name);
            out.push(f.mode);
            out.push(f.paths);
            out.extend_from_slice(&f.port.to_be_bytes());
            put_opt(out, &f.ip);
            put_opt(out, &f.deliver);
            let members = &f.members[..f.members.len().min(MAX_MEMBERS)];
            out.extend_from_slice(&(members.len() as u16).to_be_bytes());
            for m in members {
                out.extend_from_slice(&m.id);
                out.push(m.role);
                put_name(out, &m.name);
            }
        }
    }

    /// The table's bytes (flows and members beyond the limits are not written; names
    /// are cut to [`MAX_NAME`]).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.put_unsigned(&mut out);
        out.extend_from_slice(&self.signature);
        out
    }

    /// Reads a table that is all of `buf` (its signature is not checked: [`verify`]).
    ///
    /// [`verify`]: Table::verify
    pub fn decode(buf: &[u8]) -> Result<Table, TableError> {
        if buf.len() > MAX_TABLE {
            return Err(TableError::TooLarge("bytes"));
        }
        let mut r = Reader { buf, at: 0 };
        let version = r.u8()?;
        if version != VERSION {
            return Err(TableError::Version(version));
        }
        let map = r.key()?;
        let node = r.key()?;
        let seq = u64::from_be_bytes(r.take(8)?.try_into().expect("8 bytes"));
        let n = r.u8()? as usize;
        if n > MAX_FLOWS {
            return Err(TableError::TooLarge("flows"));
        }
        let mut flows = Vec::with_capacity(n);
        for _ in 0..n {
            let name = r.name()?;
            let mode = r.code("mode", mode::MANY_TO_MANY)?;
            let paths = r.code("paths", MAX_PATHS)?;
            let port = u16::from_be_bytes(r.take(2)?.try_into().expect("2 bytes"));
            let ip = r.opt_addr()?;
            let deliver = r.opt_addr()?;
            let count = u16::from_be_bytes(r.take(2)?.try_into().expect("2 bytes")) as usize;
            if count > MAX_MEMBERS {
                return Err(TableError::TooLarge("members"));
            }
            let mut members = Vec::with_capacity(count);
            for _ in 0..count {
                let id = r.key()?;
                let role = r.u8()?;
                if !(role::SEND..=role::BOTH).contains(&role) {
                    return Err(TableError::UnknownCode {
                        what: "role",
                        code: role,
                    });
                }
                members.push(Member {
                    id,
                    role,
                    name: r.name()?,
                });
            }
            flows.push(FlowDef {
                name,
                mode,
                paths,
                port,
                ip,
                deliver,
                members,
            });
        }
        let signature: [u8; SIG_LEN] = r.take(SIG_LEN)?.try_into().expect("64 bytes");
        if r.at != buf.len() {
            return Err(TableError::Trailing(buf.len() - r.at));
        }
        Ok(Table {
            map,
            node,
            seq,
            flows,
            signature,
        })
    }

    /// Checks that the table is from the map whose key is `map`, that the key signed
    /// it, and that it was made for `node`.
    pub fn verify(&self, map: &[u8; 32], node: &[u8; 32]) -> Result<(), TableError> {
        if self.map != *map {
            return Err(TableError::OtherMap);
        }
        let key = VerifyingKey::from_bytes(map).map_err(|_| TableError::BadSignature)?;
        key.verify(
            &self.signed_bytes(),
            &Signature::from_bytes(&self.signature),
        )
        .map_err(|_| TableError::BadSignature)?;
        if self.node != *node {
            return Err(TableError::OtherNode);
        }
        Ok(())
    }
}

/// A bounds-checked cursor over a table's bytes.
struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], TableError> {
        let end = self.at.checked_add(n).ok_or(TableError::Truncated)?;
        let b = self.buf.get(self.at..end).ok_or(TableError::Truncated)?;
        self.at = end;
        Ok(b)
    }

    fn u8(&mut self) -> Result<u8, TableError> {
        Ok(self.take(1)?[0])
    }

    fn key(&mut self) -> Result<[u8; 32], TableError> {
        Ok(self.take(32)?.try_into().expect("32 bytes"))
    }

    fn code(&mut self, what: &'static str, max: u8) -> Result<u8, TableError> {
        let code = self.u8()?;
        match code <= max {
            true => Ok(code),
            false => Err(TableError::UnknownCode { what, code }),
        }
    }

    fn name(&mut self) -> Result<String, TableError> {
        let n = self.u8()? as usize;
        if n == 0 || n > MAX_NAME {
            return Err(TableError::BadName);
        }
        crate::text::read(self.take(n)?).ok_or(TableError::BadName)
    }

    fn opt_addr(&mut self) -> Result<Option<SocketAddr>, TableError> {
        match self.buf.get(self.at) {
            None => Err(TableError::Truncated),
            Some(0) => {
                self.at += 1;
                Ok(None)
            }
            Some(_) => {
                let (a, used) = addr::get(&self.buf[self.at..])?;
                self.at += used;
                Ok(Some(a))
            }
        }
    }
}

/// A table's bytes as the parts of its frames, each at most [`MAX_PART`] (an empty
/// table's bytes are never empty: one part at least).
pub fn parts(bytes: &[u8]) -> impl Iterator<Item = (bool, &[u8])> {
    let n = bytes.len().div_ceil(MAX_PART).max(1);
    (0..n).map(move |i| {
        let end = ((i + 1) * MAX_PART).min(bytes.len());
        (i + 1 == n, &bytes[(i * MAX_PART).min(end)..end])
    })
}

/// Gathers a table's parts as they come, up to [`MAX_TABLE`] bytes.
#[derive(Debug, Default)]
pub struct Parts {
    buf: Vec<u8>,
}

impl Parts {
    /// Takes one part: the whole table's bytes after the last part, `None` before it.
    pub fn push(&mut self, last: bool, part: &[u8]) -> Result<Option<Vec<u8>>, TableError> {
        if self.buf.len() + part.len() > MAX_TABLE {
            self.buf = Vec::new();
            return Err(TableError::TooLarge("bytes"));
        }
        self.buf.extend_from_slice(part);
        Ok(last.then(|| std::mem::take(&mut self.buf)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_cover_the_bytes_in_order_and_the_last_is_marked() {
        let bytes: Vec<u8> = (0..40_000u32).map(|i| i as u8).collect();
        let list: Vec<_> = parts(&bytes).collect();
        assert_eq!(list.len(), 3);
        assert!(list[2].0 && !list[0].0 && !list[1].0);
        let mut p = Parts::default();
        let mut whole = None;
        for (last, part) in list {
            assert!(part.len() <= MAX_PART);
            whole = p.push(last, part).unwrap();
        }
        assert_eq!(whole.unwrap(), bytes);
        assert_eq!(parts(&[]).count(), 1);
    }

    #[test]
    fn parts_beyond_the_limit_are_refused() {
        let mut p = Parts::default();
        let big = vec![0u8; MAX_PART];
        for _ in 0..MAX_TABLE / MAX_PART {
            assert_eq!(p.push(false, &big), Ok(None));
        }
        assert_eq!(p.push(true, &[1]), Err(TableError::TooLarge("bytes")));
    }
}
