//! One entry of an offer: a file or a directory, with what the receiver needs to
//! recreate it (mode, modification time) and to verify it: SHA-256 of the whole file and
//! of every prefix that ends at a chunk boundary, so a resumed download checks the part
//! it already has, and one running hash checks both as the bytes arrive. A file offered
//! before it was read carries no hashes here: they follow its bytes (`Hash` frames).

use super::error::DecodeError;
use super::path::{RelPath, MAX_PATH};
use super::reader::{put_text, Reader};

/// Bytes of a SHA-256 digest.
pub const HASH_LEN: usize = 32;

/// What an entry is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A regular file.
    File,
    /// A directory (kept even when empty).
    Dir,
}

/// One entry of an offer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Info {
    /// Where it goes, relative to the download directory.
    pub path: RelPath,
    /// File or directory.
    pub kind: Kind,
    /// Permission bits (at most `0o7777`).
    pub mode: u32,
    /// Modification time: seconds since the Unix epoch.
    pub mtime: i64,
    /// Nanoseconds past `mtime` (below 10⁹).
    pub mtime_ns: u32,
    /// Bytes (0 for a directory).
    pub size: u64,
    /// SHA-256 of the whole file (zeros for a directory).
    pub sha256: [u8; HASH_LEN],
    /// For each chunk `k` of the offer's chunk size, SHA-256 of the file's first
    /// `min((k + 1) × chunk size, size)` bytes (so the last equals `sha256`).
    pub chunks: Vec<[u8; HASH_LEN]>,
    /// The file was offered before it was read: its hashes travel with its bytes, in a
    /// `Hash` frame after each chunk. On the wire `sha256` is zeros and `chunks` empty;
    /// a receiver may fill in the ones it has verified so far.
    pub streamed: bool,
}

/// How many chunks of `chunk_size` a file of `size` bytes has.
pub fn chunk_count(size: u64, chunk_size: u32) -> u64 {
    size.div_ceil(chunk_size as u64)
}

impl Info {
    /// Appends the entry's bytes.
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_text(out, self.path.as_str());
        out.push(match self.kind {
            Kind::File => 0,
            Kind::Dir => 1,
        });
        out.extend_from_slice(&self.mode.to_be_bytes());
        out.extend_from_slice(&self.mtime.to_be_bytes());
        out.extend_from_slice(&self.mtime_ns.to_be_bytes());
        out.extend_from_slice(&self.size.to_be_bytes());
        if self.streamed {
            out.extend_from_slice(&[0; HASH_LEN]);
            out.extend_from_slice(&0u32.to_be_bytes());
            return;
        }
        out.extend_from_slice(&self.sha256);
        out.extend_from_slice(&(self.chunks.len() as u32).to_be_bytes());
        for c in &self.chunks {
            out.extend_from_slice(c);
        }
    }

    /// Reads one entry, checking every field against the offer's `chunk_size`.
    pub(super) fn decode(r: &mut Reader<'_>, chunk_size: u32) -> Result<Info, DecodeError> {
        let path = RelPath::parse(r.text(MAX_PATH, "path")?).map_err(DecodeError::Path)?;
        let kind = match r.u8()? {
            0 => Kind::File,
            1 => Kind::Dir,
            k => return Err(DecodeError::Invalid(format!("{path}: entry kind {k}"))),
        };
        let mode = r.u32()?;
        if mode > 0o7777 {
            return Err(DecodeError::Invalid(format!("{path}: mode {mode:o}")));
        }
        let mtime = r.u64()? as i64;
        let mtime_ns = r.u32()?;
        if mtime_ns >= 1_000_000_000 {
            return Err(DecodeError::Invalid(format!("{path}: {mtime_ns} ns")));
        }
        let size = r.u64()?;
        let sha256 = r.array()?;
        let count = r.u32()? as u64;
        let expected = match kind {
            Kind::File => chunk_count(size, chunk_size),
            Kind::Dir if size == 0 && sha256 == [0; HASH_LEN] => 0,
            Kind::Dir => {
                return Err(DecodeError::Invalid(format!(
                    "{path}: a directory with content"
                )))
            }
        };
        // A file offered before it was read: no hashes at all, its bytes bring them.
        let streamed = kind == Kind::File && count == 0 && expected > 0;
        if streamed && sha256 != [0; HASH_LEN] {
            return Err(DecodeError::Invalid(format!(
                "{path}: a whole-file hash without chunk hashes"
            )));
        }
        if count != expected && !streamed {
            return Err(DecodeError::Invalid(format!(
                "{path}: {count} chunk hashes for {size} bytes (expected {expected})"
            )));
        }
        // The count was checked against the size; the bytes must be there too before
        // anything is allocated for them.
        let raw = r.bytes(count as usize * HASH_LEN)?;
        let chunks = raw
            .chunks_exact(HASH_LEN)
            .map(|c| c.try_into().expect("exact chunks"))
            .collect();
        Ok(Info {
            path,
            kind,
            mode,
            mtime,
            mtime_ns,
            size,
            sha256,
            chunks,
            streamed,
        })
    }
}
