//! A node's record on the map: its key, a sequence number, an expiry and the addresses
//! it can be reached at, signed by the key. Any reader verifies it: a map cannot forge or
//! alter where a node is, and an older record never replaces a newer one (the reader
//! keeps the highest sequence number). The reader gives the time (`now`, Unix seconds):
//! this module has no clock.

use std::net::SocketAddr;

use ed25519_dalek::{Signature, Verifier, VerifyingKey};

use super::addr::{self, AddrError};

/// The record format's version.
pub const VERSION: u8 = 1;
/// Most addresses in a record.
pub const MAX_ADDRS: usize = 16;
/// The furthest ahead a record may expire, in seconds (an hour).
pub const MAX_TTL: u64 = 3600;
/// Bytes of a signature.
pub const SIG_LEN: usize = 64;
/// What is signed before the record's bytes, so a record's signature means nothing
/// anywhere else.
const CONTEXT: &[u8] = b"warp map record v1\0";

/// A node's record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    /// The node's key (its peer id's bytes).
    pub id: [u8; 32],
    /// Higher is newer.
    pub seq: u64,
    /// Unix seconds after which the record means nothing.
    pub expires: u64,
    /// Where the node can be reached, best first.
    pub addrs: Vec<SocketAddr>,
    /// Ed25519 over the context and the record's other bytes.
    pub signature: [u8; SIG_LEN],
}

/// What is wrong with a record.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The bytes end inside the record.
    #[error("a record cut short")]
    Truncated,
    /// Bytes after its end.
    #[error("{0} bytes after a record")]
    Trailing(usize),
    /// A version this node does not read.
    #[error("record version {0} (this node reads {VERSION})")]
    Version(u8),
    /// More addresses than [`MAX_ADDRS`].
    #[error("a record with {0} addresses (at most {MAX_ADDRS})")]
    TooManyAddrs(usize),
    /// A malformed address.
    #[error(transparent)]
    Addr(#[from] AddrError),
    /// The key is not a valid Ed25519 key, or did not sign these bytes.
    #[error("a record not signed by its key")]
    BadSignature,
    /// It expired.
    #[error("a record that expired")]
    Expired,
    /// It expires further ahead than [`MAX_TTL`].
    #[error("a record that expires more than {MAX_TTL} s ahead")]
    TooFarAhead,
}

impl Record {
    /// The bytes a signature covers, for the holder of the key to sign.
    pub fn signed_bytes(&self) -> Vec<u8> {
        let mut out = CONTEXT.to_vec();
        self.put_unsigned(&mut out);
        out
    }

    fn put_unsigned(&self, out: &mut Vec<u8>) {
        out.push(VERSION);
        out.extend_from_slice(&self.id);
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.expires.to_be_bytes());
        let n = self.addrs.len().min(MAX_ADDRS);
        out.push(n as u8);
        for a in &self.addrs[..n] {
            addr::put(out, a);
        }
    }

    /// The record's bytes (at most [`MAX_ADDRS`] addresses are written).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + 19 * self.addrs.len() + SIG_LEN);
        self.put_unsigned(&mut out);
        out.extend_from_slice(&self.signature);
        out
    }

    /// Reads a record that is all of `buf` (its signature is not checked: [`verify`]).
    ///
    /// [`verify`]: Record::verify
    pub fn decode(buf: &[u8]) -> Result<Record, RecordError> {
        let head = buf.get(..50).ok_or(RecordError::Truncated)?;
        if head[0] != VERSION {
            return Err(RecordError::Version(head[0]));
        }
        let id: [u8; 32] = head[1..33].try_into().expect("32 bytes");
        let seq = u64::from_be_bytes(head[33..41].try_into().expect("8 bytes"));
        let expires = u64::from_be_bytes(head[41..49].try_into().expect("8 bytes"));
        let n = head[49] as usize;
        if n > MAX_ADDRS {
            return Err(RecordError::TooManyAddrs(n));
        }
        let mut at = 50;
        let mut addrs = Vec::with_capacity(n);
        for _ in 0..n {
            let (a, used) = addr::get(&buf[at..])?;
            addrs.push(a);
            at += used;
        }
        let signature: [u8; SIG_LEN] = buf
            .get(at..at + SIG_LEN)
            .ok_or(RecordError::Truncated)?
            .try_into()
            .expect("64 bytes");
        at += SIG_LEN;
        if at != buf.len() {
            return Err(RecordError::Trailing(buf.len() - at));
        }
        Ok(Record {
            id,
            seq,
            expires,
            addrs,
            signature,
        })
    }

    /// Checks that the key signed the record and that it is valid at `now` (Unix seconds).
    pub fn verify(&self, now: u64) -> Result<(), RecordError> {
        let key = VerifyingKey::from_bytes(&self.id).map_err(|_| RecordError::BadSignature)?;
        key.verify(
            &self.signed_bytes(),
            &Signature::from_bytes(&self.signature),
        )
        .map_err(|_| RecordError::BadSignature)?;
        if self.expires <= now {
            return Err(RecordError::Expired);
        }
        if self.expires > now.saturating_add(MAX_TTL) {
            return Err(RecordError::TooFarAhead);
        }
        Ok(())
    }
}
