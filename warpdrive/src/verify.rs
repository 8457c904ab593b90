//! The receiving side's verifier: one running SHA-256 per file over the stream of file
//! bytes, finished early at every chunk boundary and compared with the prefix hash
//! there. It runs on its own thread ahead of the writer, so hashing and writing overlap,
//! and it passes on only bytes whose chunk it has not yet found bad.
//!
//! A file hashed when it was offered has its prefix hashes in the offer. A file offered
//! before it was read ([`Info::streamed`]) gets each prefix hash in a `Hash` frame right
//! after the bytes that end the chunk: a buffer that ends such a chunk is held
//! ([`Verifier::waiting`]) until the hash arrives ([`Verifier::hash`]), so no file is
//! put in place before its last chunk matched. A streamed file resumed in the middle
//! first gets the sender's hash of the part this side has: if the file changed on the
//! sender meanwhile, that part is dropped rather than mixed with the new bytes.

use std::collections::VecDeque;
use std::sync::Arc;

use protocols::warpdrive::info::HASH_LEN;
use protocols::warpdrive::{Info, Kind};
use sha2::{Digest, Sha256};

/// A chunk that does not match its hash.
#[derive(Debug)]
pub struct Mismatch {
    /// Bytes at the start of the checked (or held) buffer that precede the bad chunk.
    pub good: usize,
    /// The file offset where the bad chunk starts: what the `.part` file may keep.
    pub keep: u64,
    /// For a person.
    pub message: String,
}

/// A hash the sender sent that matched: the receiver keeps it, so a resumed download
/// can check what is on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verified {
    /// The entry.
    pub index: u64,
    /// The chunk.
    pub chunk: u32,
    /// SHA-256 of the file's prefix that ends with the chunk.
    pub sha256: [u8; HASH_LEN],
}

/// A chunk of a streamed file that ended in the last buffer, and waits for its hash.
#[derive(Debug)]
struct Awaited {
    index: usize,
    chunk: u64,
    digest: [u8; HASH_LEN],
    /// Where the chunk starts in its file.
    start: u64,
    /// Bytes of the held buffer before the chunk (0 if it began in an earlier buffer).
    before: usize,
    /// The hash of what a resumed file had already, due before any byte.
    resumed: bool,
}

/// Checks an offer's file bytes in stream order.
pub struct Verifier {
    files: Arc<Vec<Info>>,
    chunk_size: u64,
    idx: usize,
    pos: u64,
    in_chunk: u64,
    whole: Sha256,
    awaiting: VecDeque<Awaited>,
}

impl Verifier {
    /// Starts at entry `idx`, byte `pos` (a chunk boundary), with the hash of the bytes
    /// before it.
    pub fn new(
        files: Arc<Vec<Info>>,
        chunk_size: u32,
        idx: usize,
        pos: u64,
        whole: Sha256,
    ) -> Verifier {
        let mut v = Verifier {
            files,
            chunk_size: chunk_size as u64,
            idx,
            pos,
            in_chunk: 0,
            whole,
            awaiting: VecDeque::new(),
        };
        if let Some(f) = v.files.get(idx).filter(|f| f.streamed && pos > 0) {
            v.awaiting.push_back(Awaited {
                index: idx,
                chunk: (pos - 1) / v.chunk_size,
                digest: v.whole.clone().finalize().into(),
                start: 0,
                before: 0,
                resumed: true,
            });
            if pos == f.size {
                (v.idx, v.pos, v.whole) = (idx + 1, 0, Sha256::new());
            }
        }
        v.skip_empty();
        v
    }

    /// Moves past entries that carry no bytes.
    fn skip_empty(&mut self) {
        while self
            .files
            .get(self.idx)
            .is_some_and(|f| f.kind == Kind::Dir || f.size == 0)
        {
            self.idx += 1;
        }
    }

    /// Whether chunks that ended in the last buffer wait for their hashes: that buffer
    /// must be held back from the writer, and the next frame must be a `Hash`.
    pub fn waiting(&self) -> bool {
        !self.awaiting.is_empty()
    }

    /// Checks the next bytes of the stream. Chunks of streamed files that end in
    /// `data` are queued for their hashes.
    pub fn check(&mut self, data: &[u8]) -> Result<(), Mismatch> {
        if let Some(a) = self.awaiting.front() {
            return Err(Mismatch {
                good: 0,
                keep: a.start,
                message: format!(
                    "{}: the sender sent more bytes before the hash of chunk {}",
                    self.files[a.index].path, a.chunk
                ),
            });
        }
        let mut done = 0usize;
        while done < data.len() {
            let Some(f) = self.files.get(self.idx) else {
                return Err(Mismatch {
                    good: done,
                    keep: self.pos,
                    message: "the sender sent more bytes than the offer holds".into(),
                });
            };
            let take = (f.size - self.pos)
                .min(self.chunk_size - self.in_chunk)
                .min((data.len() - done) as u64) as usize;
            self.whole.update(&data[done..done + take]);
            self.pos += take as u64;
            self.in_chunk += take as u64;
            done += take;
            if self.in_chunk == self.chunk_size || self.pos == f.size {
                let k = (self.pos - 1) / self.chunk_size;
                let h: [u8; HASH_LEN] = self.whole.clone().finalize().into();
                let start = self.pos - self.in_chunk;
                let before = done.saturating_sub(self.in_chunk as usize);
                if f.streamed {
                    self.awaiting.push_back(Awaited {
                        index: self.idx,
                        chunk: k,
                        digest: h,
                        start,
                        before,
                        resumed: false,
                    });
                } else if f.chunks.get(k as usize) != Some(&h)
                    || (self.pos == f.size && h != f.sha256)
                {
                    return Err(Mismatch {
                        good: before,
                        keep: start,
                        message: format!(
                            "{}: chunk {k} does not match its hash; the verified {start} bytes are kept for a resume",
                            f.path
                        ),
                    });
                }
                self.in_chunk = 0;
            }
            if self.pos == f.size {
                self.idx += 1;
                self.pos = 0;
                self.whole = Sha256::new();
                self.skip_empty();
            }
        }
        Ok(())
    }

    /// Takes the sender's hash of chunk `chunk` of entry `index`: it must be the next
    /// one awaited, and match the bytes that arrived.
    pub fn hash(
        &mut self,
        index: u64,
        chunk: u32,
        sha256: [u8; HASH_LEN],
    ) -> Result<Verified, Mismatch> {
        let Some(a) = self.awaiting.pop_front() else {
            // Nothing held: keep what the current chunk had before.
            return Err(Mismatch {
                good: 0,
                keep: self.pos - self.in_chunk,
                message: format!(
                    "the sender sent a hash for entry {index} chunk {chunk}, where none was due"
                ),
            });
        };
        let path = &self.files[a.index].path;
        let bad = |message: String| {
            Err(Mismatch {
                good: a.before,
                keep: a.start,
                message,
            })
        };
        if index != a.index as u64 || chunk as u64 != a.chunk {
            return bad(format!(
                "{path}: the sender sent the hash of entry {index} chunk {chunk} where chunk {} was due",
                a.chunk
            ));
        }
        if sha256 != a.digest && a.resumed {
            return bad(format!(
                "{path}: the file changed on the sender since the download began; the partial copy was dropped: accept again to fetch it anew"
            ));
        }
        if sha256 != a.digest {
            return bad(format!(
                "{path}: chunk {chunk} does not match the sender's hash (the file changed on the sender, or was damaged on the way); the verified {} bytes are kept for a resume",
                a.start
            ));
        }
        Ok(Verified {
            index,
            chunk,
            sha256,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocols::warpdrive::RelPath;

    /// A streamed file of `size` bytes, chunks of 64 KiB.
    fn streamed(size: u64) -> Arc<Vec<Info>> {
        Arc::new(vec![Info {
            path: RelPath::parse("f").unwrap(),
            kind: Kind::File,
            mode: 0o644,
            mtime: 0,
            mtime_ns: 0,
            size,
            sha256: [0; HASH_LEN],
            chunks: Vec::new(),
            streamed: true,
        }])
    }

    const CS: u32 = 64 << 10;

    fn prefix(bytes: &[u8]) -> [u8; HASH_LEN] {
        Sha256::digest(bytes).into()
    }

    #[test]
    fn a_streamed_chunk_waits_for_its_hash_and_only_the_one_due_passes() {
        let bytes = vec![7u8; 2 * CS as usize];
        let mut v = Verifier::new(streamed(bytes.len() as u64), CS, 0, 0, Sha256::new());
        // One buffer ends chunk 0: held until its hash.
        v.check(&bytes[..CS as usize]).unwrap();
        assert!(v.waiting());
        // More bytes before that hash: refused, nothing of them kept.
        let m = v.check(&bytes[CS as usize..]).unwrap_err();
        assert_eq!((m.good, m.keep), (0, 0));
        assert!(
            m.message.contains("before the hash of chunk 0"),
            "{}",
            m.message
        );

        let mut v = Verifier::new(streamed(bytes.len() as u64), CS, 0, 0, Sha256::new());
        v.check(&bytes[..CS as usize]).unwrap();
        // The hash of another chunk than the one due.
        let m = v.hash(0, 1, prefix(&bytes)).unwrap_err();
        assert!(m.message.contains("where chunk 0 was due"), "{}", m.message);

        let mut v = Verifier::new(streamed(bytes.len() as u64), CS, 0, 0, Sha256::new());
        v.check(&bytes[..CS as usize]).unwrap();
        let ok = v.hash(0, 0, prefix(&bytes[..CS as usize])).unwrap();
        assert_eq!((ok.index, ok.chunk), (0, 0));
        assert!(!v.waiting());
        // The last chunk: a wrong hash keeps the first chunk and names the second.
        v.check(&bytes[CS as usize..]).unwrap();
        let m = v.hash(0, 1, [0; HASH_LEN]).unwrap_err();
        assert_eq!((m.good, m.keep), (0, CS as u64));
        assert!(
            m.message.contains("chunk 1 does not match"),
            "{}",
            m.message
        );
        // A hash when none is due.
        let mut v = Verifier::new(streamed(bytes.len() as u64), CS, 0, 0, Sha256::new());
        assert!(v.hash(0, 0, [0; HASH_LEN]).is_err());
    }

    #[test]
    fn a_resumed_streamed_file_first_checks_the_part_it_has() {
        let bytes = vec![3u8; 2 * CS as usize];
        let mut have = Sha256::new();
        have.update(&bytes[..CS as usize]);
        let mut v = Verifier::new(streamed(bytes.len() as u64), CS, 0, CS as u64, have.clone());
        assert!(v.waiting());
        let m = v.hash(0, 0, [1; HASH_LEN]).unwrap_err();
        assert_eq!(m.keep, 0);
        assert!(m.message.contains("changed on the sender"), "{}", m.message);
        let mut v = Verifier::new(streamed(bytes.len() as u64), CS, 0, CS as u64, have);
        v.hash(0, 0, prefix(&bytes[..CS as usize])).unwrap();
        v.check(&bytes[CS as usize..]).unwrap();
        v.hash(0, 1, prefix(&bytes)).unwrap();
        assert!(!v.waiting());
    }
}
