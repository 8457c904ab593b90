//! The receiving side's verifier: one running SHA-256 per file over the stream of file
//! bytes, finished early at every chunk boundary and compared with the offer's prefix
//! hash there. It runs on its own thread ahead of the writer, so hashing and writing
//! overlap, and it passes on only bytes whose chunk it has not yet found bad.

use std::sync::Arc;

use protocols::warpdrive::{Info, Kind};
use sha2::{Digest, Sha256};

/// A chunk that does not match its hash.
#[derive(Debug)]
pub struct Mismatch {
    /// Bytes at the start of the checked buffer that precede the bad chunk.
    pub good: usize,
    /// The file offset where the bad chunk starts: what the `.part` file may keep.
    pub keep: u64,
    /// For a person.
    pub message: String,
}

/// Checks an offer's file bytes in stream order.
pub struct Verifier {
    files: Arc<Vec<Info>>,
    chunk_size: u64,
    idx: usize,
    pos: u64,
    in_chunk: u64,
    whole: Sha256,
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
        };
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

    /// Checks the next bytes of the stream.
    pub fn check(&mut self, data: &[u8]) -> Result<(), Mismatch> {
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
                let k = ((self.pos - 1) / self.chunk_size) as usize;
                let h: [u8; 32] = self.whole.clone().finalize().into();
                if f.chunks.get(k) != Some(&h) || (self.pos == f.size && h != f.sha256) {
                    let keep = self.pos - self.in_chunk;
                    return Err(Mismatch {
                        good: done - self.in_chunk.min(done as u64) as usize,
                        keep,
                        message: format!(
                            "{}: chunk {k} does not match its hash; the verified {keep} bytes are kept for a resume",
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
}
