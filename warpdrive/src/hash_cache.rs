//! Hashes of large files this node has offered, kept in sled by device and inode and
//! trusted only while the file's size, modification time and change time are the same —
//! the change time cannot be set by a user, so any write to the file invalidates the
//! entry. Offering the same file again (to another peer, or after a failed offer) then
//! skips reading and hashing it. Nothing is lost if an entry is wrong: the receiver
//! checks every byte against the hashes, and the sender checks size and time again
//! before sending.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::disk_error::DiskError;
use crate::file_hash::Hashes;
use crate::store_error::StoreError;

/// Files smaller than this are hashed each time (it costs less than a lookup).
pub const MIN_SIZE: u64 = 4 << 20;

/// The cache.
#[derive(Clone)]
pub struct HashCache {
    tree: sled::Tree,
}

/// What an entry is valid for.
fn stamp(meta: &std::fs::Metadata, chunk_size: u32) -> [u64; 6] {
    [
        meta.size(),
        meta.mtime() as u64,
        meta.mtime_nsec() as u64,
        meta.ctime() as u64,
        meta.ctime_nsec() as u64,
        chunk_size as u64,
    ]
}

fn key(meta: &std::fs::Metadata) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&meta.dev().to_be_bytes());
    k[8..].copy_from_slice(&meta.ino().to_be_bytes());
    k
}

impl HashCache {
    /// Opens the cache in `db`.
    pub fn open(db: &sled::Db) -> Result<HashCache, StoreError> {
        Ok(HashCache {
            tree: db.open_tree("warpdrive_hashes")?,
        })
    }

    /// The hashes of `path` with chunks of `chunk_size`: from the cache when the file is
    /// unchanged, else computed (and kept when the file is large).
    pub fn hashes(
        &self,
        path: &Path,
        meta: &std::fs::Metadata,
        chunk_size: u32,
    ) -> Result<Hashes, DiskError> {
        if meta.size() < MIN_SIZE {
            return crate::file_hash::hash_file(path, chunk_size);
        }
        let want = stamp(meta, chunk_size);
        if let Some(h) = self.get(meta, &want) {
            return Ok(h);
        }
        let h = crate::file_hash::hash_file(path, chunk_size)?;
        // Kept only if the file did not change while it was read.
        if let Ok(after) = std::fs::metadata(path) {
            if stamp(&after, chunk_size) == want && h.2 == meta.size() {
                self.put(meta, &want, &h);
            }
        }
        Ok(h)
    }

    fn get(&self, meta: &std::fs::Metadata, want: &[u64; 6]) -> Option<Hashes> {
        let v = self.tree.get(key(meta)).ok()??;
        let (head, rest) = v.split_at_checked(48)?;
        let got: Vec<u64> = head
            .chunks_exact(8)
            .map(|c| u64::from_be_bytes(c.try_into().expect("8 bytes")))
            .collect();
        if got != want || rest.len() < 32 || (rest.len() - 32) % 32 != 0 {
            return None;
        }
        let sha: [u8; 32] = rest[..32].try_into().ok()?;
        let prefixes = rest[32..]
            .chunks_exact(32)
            .map(|c| c.try_into().expect("32 bytes"))
            .collect();
        Some((sha, prefixes, want[0]))
    }

    fn put(&self, meta: &std::fs::Metadata, stamp: &[u64; 6], h: &Hashes) {
        let mut v = Vec::with_capacity(48 + 32 * (1 + h.1.len()));
        for x in stamp {
            v.extend_from_slice(&x.to_be_bytes());
        }
        v.extend_from_slice(&h.0);
        for p in &h.1 {
            v.extend_from_slice(p);
        }
        let _ = self.tree.insert(key(meta), v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unchanged_file_is_served_from_the_cache_and_a_changed_one_is_hashed_again() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path().join("db")).unwrap();
        let cache = HashCache::open(&db).unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, vec![1u8; MIN_SIZE as usize + 5]).unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        let first = cache.hashes(&path, &meta, 1 << 20).unwrap();
        assert_eq!(first, crate::file_hash::hash_file(&path, 1 << 20).unwrap());
        assert_eq!(
            cache.get(&meta, &stamp(&meta, 1 << 20)),
            Some(first.clone())
        );
        // Same size, new bytes: the change time moves, the entry no longer applies.
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&path, vec![2u8; MIN_SIZE as usize + 5]).unwrap();
        let meta2 = std::fs::metadata(&path).unwrap();
        assert_eq!(cache.get(&meta2, &stamp(&meta2, 1 << 20)), None);
        let second = cache.hashes(&path, &meta2, 1 << 20).unwrap();
        assert_ne!(first.0, second.0);
        // Another chunk size is another entry.
        assert_eq!(cache.get(&meta2, &stamp(&meta2, 2 << 20)), None);
    }
}
