//! The sending side's reader: an offer's files in stream order, on a blocking thread, in
//! buffers of up to 1 MiB. A file offered before it was read is hashed as it is read:
//! after the buffer that ends each chunk comes the hash of the file's prefix up to there
//! (of the whole file for its last chunk), and once the whole file has been read its
//! hashes go to the cache, so the next offer of it carries them. A streamed file resumed
//! in the middle is read from its start for the hash, which goes first: the receiver
//! checks the part it has against it.

use std::io::{Read, Seek};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use protocols::warpdrive::info::HASH_LEN;
use protocols::warpdrive::message::MAX_DATA;
use protocols::warpdrive::{Info, Kind};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use crate::disk_error::DiskError;
use crate::hash_cache::HashCache;

/// What the reader hands the sending task, in stream order.
#[derive(Debug)]
pub enum Out {
    /// Bytes of entry `.0`.
    Data(usize, Vec<u8>),
    /// The hash of entry `index`'s prefix that ends with chunk `chunk`.
    Hash {
        /// The entry.
        index: u64,
        /// The chunk.
        chunk: u32,
        /// SHA-256 of the prefix.
        sha256: [u8; HASH_LEN],
    },
}

/// Where the reader starts and how it hashes.
pub struct Plan<'a> {
    /// The offer's entries.
    pub files: &'a [Info],
    /// The local path of each entry.
    pub sources: &'a [String],
    /// The first entry to send.
    pub index: usize,
    /// Its first byte.
    pub offset: u64,
    /// The offer's chunk size.
    pub chunk_size: u32,
}

/// The running hash of one streamed file: every prefix hash so far.
struct Hashing {
    whole: Sha256,
    in_chunk: u64,
    prefixes: Vec<[u8; HASH_LEN]>,
}

impl Hashing {
    fn new() -> Hashing {
        Hashing {
            whole: Sha256::new(),
            in_chunk: 0,
            prefixes: Vec::new(),
        }
    }

    /// Hashes the next bytes; `end` says they are the file's last. Returns how many
    /// chunks ended in them.
    fn update(&mut self, mut data: &[u8], chunk_size: u64, end: bool) -> usize {
        let before = self.prefixes.len();
        while !data.is_empty() {
            let take = ((chunk_size - self.in_chunk) as usize).min(data.len());
            self.whole.update(&data[..take]);
            self.in_chunk += take as u64;
            data = &data[take..];
            if self.in_chunk == chunk_size || (end && data.is_empty()) {
                self.prefixes.push(self.whole.clone().finalize().into());
                self.in_chunk = 0;
            }
        }
        self.prefixes.len() - before
    }
}

/// Reads the files from `plan.index`, byte `plan.offset`, to the end of the offer. A
/// file whose size or time differ from the offer, or that ends early, stops the stream
/// with the reason. Returns when done, on an error, or when the receiving end is gone.
pub fn read_files(plan: Plan<'_>, cache: &HashCache, tx: mpsc::Sender<Result<Out, DiskError>>) {
    for (i, f) in plan.files.iter().enumerate().skip(plan.index) {
        if f.kind == Kind::Dir || f.size == 0 {
            continue;
        }
        let start = if i == plan.index { plan.offset } else { 0 };
        let path = Path::new(&plan.sources[i]);
        if let Err(e) = read_file(f, i, path, start, plan.chunk_size, cache, &tx) {
            let _ = tx.blocking_send(Err(e));
            return;
        }
        if tx.is_closed() {
            return;
        }
    }
}

fn read_file(
    f: &Info,
    i: usize,
    path: &Path,
    start: u64,
    chunk_size: u32,
    cache: &HashCache,
    tx: &mpsc::Sender<Result<Out, DiskError>>,
) -> Result<(), DiskError> {
    let changed = || DiskError::Stale(path.to_path_buf());
    let at = DiskError::at(path);
    let cs = chunk_size as u64;
    let mut file = std::fs::File::open(path).map_err(at)?;
    let before = file.metadata().map_err(at)?;
    let same = |m: &std::fs::Metadata| {
        m.len() == f.size && m.mtime() == f.mtime && m.mtime_nsec() as u32 == f.mtime_ns
    };
    if !same(&before) {
        return Err(changed());
    }
    let mut hashing = f.streamed.then(Hashing::new);
    if let Some(h) = hashing.as_mut() {
        // A resumed file: the hashes to come cover its prefix too.
        let mut prefix = (&mut file).take(start);
        let mut buf = vec![0u8; MAX_DATA];
        let mut read = 0u64;
        while read < start {
            let n = prefix.read(&mut buf).map_err(at)?;
            if n == 0 {
                return Err(changed());
            }
            read += n as u64;
            h.update(&buf[..n], cs, read == f.size);
        }
        // The receiver checks the part it has against this before any byte comes.
        if let Some(last) = h.prefixes.last().filter(|_| start > 0) {
            let hash = Out::Hash {
                index: i as u64,
                chunk: (h.prefixes.len() - 1) as u32,
                sha256: *last,
            };
            if tx.blocking_send(Ok(hash)).is_err() {
                return Ok(());
            }
        }
    } else {
        file.seek(std::io::SeekFrom::Start(start)).map_err(at)?;
    }
    let mut left = f.size - start;
    while left > 0 {
        // Read into spare capacity: no zero-filling of each buffer first.
        let n = left.min(MAX_DATA as u64);
        let mut buf = Vec::with_capacity(n as usize);
        let got = (&mut file).take(n).read_to_end(&mut buf).map_err(at)?;
        if got as u64 != n {
            return Err(changed());
        }
        left -= n;
        let ended = match hashing.as_mut() {
            Some(h) => h.update(&buf, cs, left == 0),
            None => 0,
        };
        if tx.blocking_send(Ok(Out::Data(i, buf))).is_err() {
            return Ok(());
        }
        if let Some(h) = hashing.as_ref() {
            let first = h.prefixes.len() - ended;
            for (k, sha256) in h.prefixes.iter().enumerate().skip(first) {
                let hash = Out::Hash {
                    index: i as u64,
                    chunk: k as u32,
                    sha256: *sha256,
                };
                if tx.blocking_send(Ok(hash)).is_err() {
                    return Ok(());
                }
            }
        }
    }
    let after = file.metadata().map_err(at)?;
    if !same(&after) {
        return Err(changed());
    }
    if let Some(h) = hashing {
        let sha = *h
            .prefixes
            .last()
            .expect("a file with bytes has a last chunk");
        cache.keep(path, &before, chunk_size, &(sha, h.prefixes, f.size));
    }
    Ok(())
}
