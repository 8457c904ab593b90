//! The receiving side's writer, run on a blocking thread: checks what is already on disk
//! (a `.part` file is verified chunk by chunk against the offer's hashes, never trusted),
//! then writes the stream of file bytes into `.part` files, hashing as it goes, and gives
//! each file its name, mode and time once its SHA-256 matches.

use std::fs::{File, FileTimes};
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use protocols::warpdrive::{Info, Kind};
use sha2::{Digest, Sha256};
use tracing::{info, warn};

use crate::target::Target;

/// Progress, read by the engine while the writer runs.
#[derive(Debug, Default)]
pub struct Progress {
    /// File bytes verified or written, of the whole offer.
    pub bytes_done: AtomicU64,
    /// Entries in place.
    pub entries_done: AtomicU64,
    /// Bytes received over the network, every attempt.
    pub transferred: AtomicU64,
}

/// The file being written.
struct Current {
    file: File,
    part: PathBuf,
    pos: u64,
    whole: Sha256,
    chunk: Sha256,
    in_chunk: u64,
}

/// Writes an offer's entries in order.
pub struct Writer {
    target: Target,
    files: Arc<Vec<Info>>,
    chunk_size: u64,
    idx: usize,
    cur: Option<Current>,
    progress: Arc<Progress>,
}

fn hex(h: &[u8]) -> String {
    h.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

impl Writer {
    /// Looks at what is on disk and positions the writer at the first byte still needed:
    /// `(entry, offset)` to ask the sender for, or `None` when every entry is in place.
    /// Entries before `done_hint` whose file is there with the right size were verified
    /// when written and are not read again.
    pub fn prepare(
        target: Target,
        files: Arc<Vec<Info>>,
        chunk_size: u32,
        done_hint: u64,
        progress: Arc<Progress>,
    ) -> Result<(Writer, Option<(u64, u64)>), String> {
        check_tree(&files)?;
        for f in files.iter().filter(|f| f.kind == Kind::Dir) {
            target.make_dir(&f.path)?;
        }
        let mut w = Writer {
            target,
            files,
            chunk_size: chunk_size as u64,
            idx: 0,
            cur: None,
            progress,
        };
        let (mut bytes, mut entries) = (0u64, 0u64);
        while w.idx < w.files.len() {
            let f = &w.files[w.idx];
            if f.kind == Kind::Dir {
                entries += 1;
                w.idx += 1;
                continue;
            }
            let fin = w.target.path(&f.path)?;
            let part = w.target.part_path(&f.path)?;
            if part.exists() {
                let cur = w.verify_part(part)?;
                bytes += cur.pos;
                let at = (w.idx as u64, cur.pos);
                w.cur = Some(cur);
                w.store(bytes, entries);
                return Ok((w, Some(at)));
            }
            match std::fs::symlink_metadata(&fin) {
                Ok(m) if m.is_file() && m.len() == f.size => {
                    let trusted = (w.idx as u64) < done_hint;
                    if !trusted && crate::scan::hash_file(&fin, chunk_size)?.0 != f.sha256 {
                        return Err(format!(
                            "{}: exists and is not the offered file; nothing was overwritten",
                            fin.display()
                        ));
                    }
                    bytes += f.size;
                    entries += 1;
                    w.idx += 1;
                }
                Ok(_) => {
                    return Err(format!(
                        "{}: exists and is not the offered file; nothing was overwritten",
                        fin.display()
                    ))
                }
                Err(_) => {
                    w.open_fresh()?;
                    if w.cur.is_none() {
                        // An empty file: in place already; look at the next entry.
                        entries += 1;
                        continue;
                    }
                    w.store(bytes, entries);
                    let at = w.idx as u64;
                    return Ok((w, Some((at, 0))));
                }
            }
        }
        w.store(bytes, entries);
        Ok((w, None))
    }

    fn store(&self, bytes: u64, entries: u64) {
        self.progress.bytes_done.store(bytes, Relaxed);
        self.progress.entries_done.store(entries, Relaxed);
    }

    /// Verifies an existing `.part` chunk by chunk; keeps the verified prefix only.
    fn verify_part(&self, part: PathBuf) -> Result<Current, String> {
        let f = &self.files[self.idx];
        let (mut file, _) = self.target.open_part(&f.path)?;
        let len = file
            .metadata()
            .map_err(|e| e.to_string())?
            .len()
            .min(f.size);
        let mut whole = Sha256::new();
        let mut good = 0u64;
        let mut buf = vec![0u8; self.chunk_size as usize];
        while good < len {
            let n = (self.chunk_size.min(f.size - good)) as usize;
            if good + n as u64 > len {
                break; // a partial chunk at the end cannot be checked: fetch it again
            }
            file.read_exact(&mut buf[..n])
                .map_err(|e| format!("{}: {e}", part.display()))?;
            let h: [u8; 32] = Sha256::digest(&buf[..n]).into();
            let k = (good / self.chunk_size) as usize;
            if f.chunks.get(k) != Some(&h) {
                warn!(
                    "{}: chunk {k} differs from the offer's hash ({} vs {}): fetching again from byte {good}",
                    part.display(),
                    hex(&h),
                    f.chunks.get(k).map(|c| hex(c)).unwrap_or_default()
                );
                break;
            }
            whole.update(&buf[..n]);
            good += n as u64;
        }
        file.set_len(good)
            .map_err(|e| format!("{}: {e}", part.display()))?;
        use std::io::Seek;
        file.seek(std::io::SeekFrom::Start(good))
            .map_err(|e| format!("{}: {e}", part.display()))?;
        info!("{}: {good} bytes verified, resuming there", part.display());
        Ok(Current {
            file,
            part,
            pos: good,
            whole,
            chunk: Sha256::new(),
            in_chunk: 0,
        })
    }

    /// Opens a new `.part` for entry `idx`; an empty file is put in place at once
    /// (leaving `cur` empty).
    fn open_fresh(&mut self) -> Result<(), String> {
        let f = &self.files[self.idx];
        let (file, part) = self.target.open_part(&f.path)?;
        file.set_len(0)
            .map_err(|e| format!("{}: {e}", part.display()))?;
        let cur = Current {
            file,
            part,
            pos: 0,
            whole: Sha256::new(),
            chunk: Sha256::new(),
            in_chunk: 0,
        };
        self.cur = Some(cur);
        if f.size == 0 {
            return self.finish_file();
        }
        Ok(())
    }

    /// Takes the next bytes of the stream.
    pub fn write(&mut self, mut data: &[u8]) -> Result<(), String> {
        self.progress
            .transferred
            .fetch_add(data.len() as u64, Relaxed);
        while !data.is_empty() {
            let f = &self.files[self.idx.min(self.files.len() - 1)];
            let cs = self.chunk_size;
            let Some(cur) = self.cur.as_mut() else {
                return Err("the sender sent more bytes than the offer holds".into());
            };
            let take = (f.size - cur.pos)
                .min(cs - cur.in_chunk)
                .min(data.len() as u64) as usize;
            cur.file
                .write_all(&data[..take])
                .map_err(|e| format!("{}: {e}", cur.part.display()))?;
            cur.whole.update(&data[..take]);
            cur.chunk.update(&data[..take]);
            cur.pos += take as u64;
            cur.in_chunk += take as u64;
            self.progress.bytes_done.fetch_add(take as u64, Relaxed);
            data = &data[take..];
            if cur.in_chunk == cs || cur.pos == f.size {
                let k = ((cur.pos - 1) / cs) as usize;
                let h: [u8; 32] = cur.chunk.finalize_reset().into();
                if f.chunks.get(k) != Some(&h) {
                    let keep = cur.pos - cur.in_chunk;
                    let _ = cur.file.set_len(keep);
                    return Err(format!(
                        "{}: chunk {k} does not match its hash; the verified {keep} bytes are kept for a resume",
                        f.path
                    ));
                }
                cur.in_chunk = 0;
            }
            if cur.pos == f.size {
                self.finish_file()?;
                self.advance()?;
            }
        }
        Ok(())
    }

    /// Checks the whole file's hash, sets mode and time, and renames it into place.
    fn finish_file(&mut self) -> Result<(), String> {
        let f = &self.files[self.idx];
        let cur = self.cur.take().ok_or("no file open")?;
        let h: [u8; 32] = cur.whole.finalize().into();
        if h != f.sha256 {
            return Err(format!("{}: SHA-256 does not match the offer", f.path));
        }
        let fin = self.target.path(&f.path)?;
        let err = |e: std::io::Error| format!("{}: {e}", cur.part.display());
        cur.file
            .set_permissions(std::fs::Permissions::from_mode(f.mode))
            .map_err(err)?;
        cur.file
            .set_times(FileTimes::new().set_modified(time_of(f)))
            .map_err(err)?;
        if std::fs::symlink_metadata(&fin).is_ok_and(|m| m.is_dir()) {
            return Err(format!("{}: is a directory", fin.display()));
        }
        std::fs::rename(&cur.part, &fin).map_err(err)?;
        self.progress.entries_done.fetch_add(1, Relaxed);
        self.idx += 1;
        Ok(())
    }

    /// Moves past directories and empty files to the next file with bytes to come.
    fn advance(&mut self) -> Result<(), String> {
        while self.idx < self.files.len() {
            let f = &self.files[self.idx];
            if f.kind == Kind::Dir {
                self.progress.entries_done.fetch_add(1, Relaxed);
                self.idx += 1;
                continue;
            }
            // An empty file is put in place at once and counted by `finish_file`.
            self.open_fresh()?;
            if self.cur.is_some() {
                return Ok(());
            }
        }
        Ok(())
    }

    /// After the last byte: every entry must be in place; directories get their modes
    /// and times last (innermost first), so writing into them was never blocked.
    pub fn finish(mut self) -> Result<(), String> {
        self.advance()?;
        if self.idx < self.files.len() || self.cur.is_some() {
            return Err("the sender stopped before the end of the offer".into());
        }
        for f in self.files.iter().rev().filter(|f| f.kind == Kind::Dir) {
            let p = self.target.path(&f.path)?;
            let err = |e: std::io::Error| format!("{}: {e}", p.display());
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(f.mode)).map_err(err)?;
            File::open(&p)
                .and_then(|d| d.set_times(FileTimes::new().set_modified(time_of(f))))
                .map_err(err)?;
        }
        Ok(())
    }
}

fn time_of(f: &Info) -> SystemTime {
    let ns = Duration::from_nanos(f.mtime_ns as u64);
    if f.mtime >= 0 {
        UNIX_EPOCH + Duration::from_secs(f.mtime as u64) + ns
    } else {
        UNIX_EPOCH - Duration::from_secs(f.mtime.unsigned_abs()) + ns
    }
}

/// An offer's tree must be well formed: no path twice, and every entry's parent an
/// earlier directory entry.
pub fn check_tree(files: &[Info]) -> Result<(), String> {
    let mut seen = std::collections::HashMap::new();
    for f in files {
        if let Some((parent, _)) = f.path.as_str().rsplit_once('/') {
            if seen.get(parent) != Some(&Kind::Dir) {
                return Err(format!(
                    "{}: its directory {parent:?} is not an earlier entry",
                    f.path
                ));
            }
        }
        if seen.insert(f.path.as_str(), f.kind).is_some() {
            return Err(format!("{}: named twice", f.path));
        }
    }
    Ok(())
}
