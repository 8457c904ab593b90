//! Hashing a file for an offer: SHA-256 of the whole file and of each chunk-aligned
//! prefix, in one pass.

use std::io::Read;
use std::path::Path;

use protocols::warpdrive::info::HASH_LEN;
use sha2::{Digest, Sha256};

use crate::disk_error::DiskError;

/// A file's hashes: of the whole file, of each chunk-aligned prefix, and the bytes read.
pub type Hashes = ([u8; HASH_LEN], Vec<[u8; HASH_LEN]>, u64);

/// SHA-256 of the whole file and of each prefix that ends at a chunk boundary (or at the
/// end of the file), in one pass: the prefix digests are the running hash finished early.
pub fn hash_file(path: &Path, chunk_size: u32) -> Result<Hashes, DiskError> {
    let mut f = std::fs::File::open(path).map_err(DiskError::at(path))?;
    let mut whole = Sha256::new();
    let mut in_chunk = 0u64;
    let mut prefixes = Vec::new();
    let mut size = 0u64;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(DiskError::at(path))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        let mut rest = &buf[..n];
        while !rest.is_empty() {
            let take = ((chunk_size as u64 - in_chunk) as usize).min(rest.len());
            whole.update(&rest[..take]);
            in_chunk += take as u64;
            rest = &rest[take..];
            if in_chunk == chunk_size as u64 {
                prefixes.push(whole.clone().finalize().into());
                in_chunk = 0;
            }
        }
    }
    let digest: [u8; HASH_LEN] = whole.finalize().into();
    if in_chunk > 0 {
        prefixes.push(digest);
    }
    Ok((digest, prefixes, size))
}
