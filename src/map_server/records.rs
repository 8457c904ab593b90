//! The records a map keeps, in sled: one per key, the newest by sequence number, each
//! verified before it is kept and dropped once expired. Records are self-certifying, so
//! this store need not be trusted: a reader verifies every record it is given.

use std::sync::atomic::{AtomicUsize, Ordering};

use protocols::map::{Record, RecordError};

/// Most records one map keeps.
pub const MAX_RECORDS: usize = 1_000_000;

/// Why a record was not kept.
#[derive(Debug, thiserror::Error)]
pub enum KeepError {
    /// It does not verify (signature, expiry).
    #[error(transparent)]
    Invalid(#[from] RecordError),
    /// The map holds a record of this key with the same or a higher sequence number.
    #[error("a record with sequence number {held} or higher is held; this one has {got}")]
    Stale {
        /// The sequence number held.
        held: u64,
        /// The one offered.
        got: u64,
    },
    /// The map is full.
    #[error("this map holds {MAX_RECORDS} records")]
    Full,
    /// The database failed.
    #[error("the map's database: {0}")]
    Store(#[from] sled::Error),
}

/// The records of one map.
pub struct Records {
    tree: sled::Tree,
    /// How many the tree holds (sled counts by walking the tree).
    count: AtomicUsize,
}

impl Records {
    /// The records in `tree` (counted once, here).
    pub fn new(tree: sled::Tree) -> Records {
        let count = AtomicUsize::new(tree.len());
        Records { tree, count }
    }

    /// Keeps `r` if it verifies at `now` and is newer than the one held; its expiry.
    pub fn keep(&self, r: &Record, now: u64) -> Result<u64, KeepError> {
        r.verify(now)?;
        let held = self.tree.get(r.id)?;
        match held.and_then(|b| Record::decode(&b).ok()) {
            Some(h) if h.seq >= r.seq && h.expires > now => {
                return Err(KeepError::Stale {
                    held: h.seq,
                    got: r.seq,
                })
            }
            Some(_) => {}
            None if self.len() >= MAX_RECORDS => return Err(KeepError::Full),
            None => {}
        }
        if self.tree.insert(r.id, r.encode())?.is_none() {
            self.count.fetch_add(1, Ordering::Relaxed);
        }
        Ok(r.expires)
    }

    /// The live record of `id` at `now`.
    pub fn get(&self, id: &[u8; 32], now: u64) -> Result<Option<Record>, sled::Error> {
        let Some(bytes) = self.tree.get(id)? else {
            return Ok(None);
        };
        Ok(Record::decode(&bytes).ok().filter(|r| r.expires > now))
    }

    /// Drops the records expired at `now`; how many.
    pub fn prune(&self, now: u64) -> Result<usize, sled::Error> {
        let mut gone = 0;
        for item in self.tree.iter() {
            let (k, v) = item?;
            if Record::decode(&v).map_or(true, |r| r.expires <= now)
                && self.tree.remove(k)?.is_some()
            {
                self.count.fetch_sub(1, Ordering::Relaxed);
                gone += 1;
            }
        }
        Ok(gone)
    }

    /// How many records are held.
    pub fn len(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Identity;

    fn record(who: &Identity, seq: u64, expires: u64) -> Record {
        let mut r = Record {
            id: who.peer_id().0,
            seq,
            expires,
            addrs: vec!["192.0.2.1:7470".parse().unwrap()],
            signature: [0; 64],
        };
        r.signature = who.sign(&r.signed_bytes());
        r
    }

    #[test]
    fn only_newer_verified_records_replace_older_ones() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path().join("db")).unwrap();
        let records = Records::new(db.open_tree("records").unwrap());
        let key = |name: &str| {
            std::fs::create_dir_all(dir.path().join(name)).unwrap();
            Identity::load_or_create(&dir.path().join(name)).unwrap()
        };
        let (a, b) = (key("a"), key("b"));
        let now = 1_000;
        assert_eq!(
            records.keep(&record(&a, 5, now + 60), now).unwrap(),
            now + 60
        );
        // A replayed older record, or the same one again, is refused.
        assert!(matches!(
            records.keep(&record(&a, 4, now + 90), now),
            Err(KeepError::Stale { held: 5, got: 4 })
        ));
        assert!(matches!(
            records.keep(&record(&a, 5, now + 90), now),
            Err(KeepError::Stale { .. })
        ));
        // Signed by another key: refused, and what is held stays.
        let mut forged = record(&a, 9, now + 60);
        forged.signature = b.sign(&forged.signed_bytes());
        assert!(matches!(
            records.keep(&forged, now),
            Err(KeepError::Invalid(RecordError::BadSignature))
        ));
        assert_eq!(records.get(&a.peer_id().0, now).unwrap().unwrap().seq, 5);
        records.keep(&record(&a, 6, now + 60), now).unwrap();
        assert_eq!(records.get(&a.peer_id().0, now).unwrap().unwrap().seq, 6);
        // Expired: no longer given, then pruned.
        assert!(records.get(&a.peer_id().0, now + 60).unwrap().is_none());
        assert_eq!(records.prune(now + 60).unwrap(), 1);
        assert!(records.is_empty());
    }
}
