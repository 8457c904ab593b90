//! Hashes of large files this node has sent, kept in sled by device and inode and
//! trusted only while the file's size, modification time and change time are the same —
//! the change time cannot be set by a user, so any write to the file invalidates the
//! entry. A file is hashed as it is first sent; offering it again (to another peer, or
//! after a failed offer) puts its hashes in the offer, and sending it again reads it
//! without hashing. Nothing is lost if an entry is wrong: the receiver checks every byte
//! against the hashes, and the sender checks size and time again before sending.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

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

    /// The hashes of the file described by `meta`, with chunks of `chunk_size`, if it
    /// was hashed before and has not changed since.
    pub fn cached(&self, meta: &std::fs::Metadata, chunk_size: u32) -> Option<Hashes> {
        if meta.size() < MIN_SIZE {
            return None;
        }
        self.get(meta, &stamp(meta, chunk_size))
    }

    /// Keeps the hashes of `path`, read from start to end while it was as `before`
    /// says, unless it is small or changed meanwhile.
    pub fn keep(&self, path: &Path, before: &std::fs::Metadata, chunk_size: u32, h: &Hashes) {
        let want = stamp(before, chunk_size);
        if before.size() < MIN_SIZE || h.2 != before.size() {
            return;
        }
        if std::fs::metadata(path).is_ok_and(|after| stamp(&after, chunk_size) == want) {
            self.put(before, &want, h);
        }
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
    fn an_unchanged_file_is_served_from_the_cache_and_a_changed_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::open(dir.path().join("db")).unwrap();
        let cache = HashCache::open(&db).unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, vec![1u8; MIN_SIZE as usize + 5]).unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(cache.cached(&meta, 1 << 20), None);
        let first = crate::file_hash::hash_file(&path, 1 << 20).unwrap();
        cache.keep(&path, &meta, 1 << 20, &first);
        assert_eq!(cache.cached(&meta, 1 << 20), Some(first.clone()));
        // Small files are not kept.
        let small = dir.path().join("s");
        std::fs::write(&small, b"tiny").unwrap();
        let sm = std::fs::metadata(&small).unwrap();
        cache.keep(
            &small,
            &sm,
            1 << 20,
            &crate::file_hash::hash_file(&small, 1 << 20).unwrap(),
        );
        assert_eq!(cache.get(&sm, &stamp(&sm, 1 << 20)), None);
        // Same size, new bytes: the change time moves, the entry no longer applies.
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(&path, vec![2u8; MIN_SIZE as usize + 5]).unwrap();
        let meta2 = std::fs::metadata(&path).unwrap();
        assert_eq!(cache.cached(&meta2, 1 << 20), None);
        // Hashes of the old bytes are not kept for the new file.
        cache.keep(&path, &meta, 1 << 20, &first);
        assert_eq!(cache.cached(&meta2, 1 << 20), None);
        // Another chunk size is another entry.
        let second = crate::file_hash::hash_file(&path, 1 << 20).unwrap();
        cache.keep(&path, &meta2, 1 << 20, &second);
        assert_eq!(cache.cached(&meta2, 2 << 20), None);
        assert_eq!(cache.cached(&meta2, 1 << 20), Some(second));
    }
}
