//! The receiving side's writer, run on a blocking thread: checks what is already on disk
//! (a `.part` file is verified chunk by chunk against the offer's prefix hashes, never
//! trusted), then writes the stream of file bytes into `.part` files behind the
//! [`Verifier`](crate::verify::Verifier), and gives each file its name, mode and time
//! once its last chunk — and so its SHA-256 — has matched.

use std::fs::{File, FileTimes};
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use protocols::warpdrive::{Info, Kind};
use sha2::{Digest, Sha256};
use tracing::{info, warn};

use crate::disk_error::DiskError;
use crate::part_file::PartFile;
use crate::receive_error::{ReceiveError, TreeError};
use crate::target::Target;
use crate::verify::Verifier;

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
    file: PartFile,
    part: PathBuf,
    pos: u64,
}

/// A prepared writer, its verifier, and where the stream must start (`None`: every
/// entry is in place).
pub type Prepared = (Writer, Verifier, Option<(u64, u64)>);

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
    ) -> Result<Prepared, ReceiveError> {
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
                let (cur, whole) = w.verify_part(part)?;
                bytes += cur.pos;
                let at = (w.idx as u64, cur.pos);
                let v = Verifier::new(w.files.clone(), chunk_size, w.idx, cur.pos, whole);
                w.cur = Some(cur);
                w.store(bytes, entries);
                return Ok((w, v, Some(at)));
            }
            match std::fs::symlink_metadata(&fin) {
                Ok(m) if m.is_file() && m.len() == f.size => {
                    let trusted = (w.idx as u64) < done_hint;
                    if !trusted && crate::file_hash::hash_file(&fin, chunk_size)?.0 != f.sha256 {
                        return Err(DiskError::Occupied(fin).into());
                    }
                    bytes += f.size;
                    entries += 1;
                    w.idx += 1;
                }
                Ok(_) => return Err(DiskError::Occupied(fin).into()),
                Err(_) => {
                    w.open_fresh()?;
                    if w.cur.is_none() {
                        // An empty file: in place already; look at the next entry.
                        entries += 1;
                        continue;
                    }
                    w.store(bytes, entries);
                    let at = w.idx as u64;
                    let v = Verifier::new(w.files.clone(), chunk_size, w.idx, 0, Sha256::new());
                    return Ok((w, v, Some((at, 0))));
                }
            }
        }
        w.store(bytes, entries);
        let v = Verifier::new(w.files.clone(), chunk_size, w.idx, 0, Sha256::new());
        Ok((w, v, None))
    }

    fn store(&self, bytes: u64, entries: u64) {
        self.progress.bytes_done.store(bytes, Relaxed);
        self.progress.entries_done.store(entries, Relaxed);
    }

    /// Verifies an existing `.part` chunk by chunk; keeps the verified prefix only and
    /// returns it open at its end, with the hash of what it holds.
    fn verify_part(&self, part: PathBuf) -> Result<(Current, Sha256), DiskError> {
        let f = &self.files[self.idx];
        let (mut file, _) = self.target.open_part(&f.path)?;
        let at = |e| DiskError::Io {
            path: part.clone(),
            source: e,
        };
        let len = file.metadata().map_err(at)?.len().min(f.size);
        let mut whole = Sha256::new();
        let mut good = 0u64;
        let mut buf = vec![0u8; self.chunk_size as usize];
        while good < len {
            let n = (self.chunk_size.min(f.size - good)) as usize;
            if good + n as u64 > len {
                break; // a partial chunk at the end cannot be checked: fetch it again
            }
            file.read_exact(&mut buf[..n]).map_err(at)?;
            let mut next = whole.clone();
            next.update(&buf[..n]);
            let h: [u8; 32] = next.clone().finalize().into();
            let k = (good / self.chunk_size) as usize;
            let Some(want) = f.chunks.get(k) else {
                // A file offered before it was read: this chunk's hash never arrived.
                info!(
                    "{}: chunk {k} has no hash yet: fetching again from byte {good}",
                    part.display()
                );
                break;
            };
            if want != &h {
                warn!(
                    "{}: chunk {k} differs from the offer's hash ({} vs {}): fetching again from byte {good}",
                    part.display(),
                    hex(&h),
                    hex(want)
                );
                break;
            }
            whole = next;
            good += n as u64;
        }
        file.set_len(good).map_err(at)?;
        reserve(&file, f.size).map_err(at)?;
        use std::io::Seek;
        file.seek(std::io::SeekFrom::Start(good)).map_err(at)?;
        info!("{}: {good} bytes verified, resuming there", part.display());
        Ok((
            Current {
                file: PartFile::new(file, f.size, good),
                part,
                pos: good,
            },
            whole,
        ))
    }

    /// Opens a new `.part` for entry `idx`; an empty file is put in place at once
    /// (leaving `cur` empty).
    fn open_fresh(&mut self) -> Result<(), DiskError> {
        let f = &self.files[self.idx];
        let (file, part) = self.target.open_part(&f.path)?;
        file.set_len(0).map_err(DiskError::at(&part))?;
        reserve(&file, f.size).map_err(DiskError::at(&part))?;
        let cur = Current {
            file: PartFile::new(file, f.size, 0),
            part,
            pos: 0,
        };
        self.cur = Some(cur);
        if f.size == 0 {
            return self.finish_file();
        }
        Ok(())
    }

    /// Writes the next bytes of the stream (already checked by the verifier).
    pub fn write(&mut self, mut data: &[u8]) -> Result<(), ReceiveError> {
        while !data.is_empty() {
            let f = &self.files[self.idx.min(self.files.len() - 1)];
            let Some(cur) = self.cur.as_mut() else {
                return Err(ReceiveError::TooLong);
            };
            let take = (f.size - cur.pos).min(data.len() as u64) as usize;
            cur.file
                .write(cur.pos, &data[..take])
                .map_err(DiskError::at(&cur.part))?;
            cur.pos += take as u64;
            self.progress.bytes_done.fetch_add(take as u64, Relaxed);
            data = &data[take..];
            if cur.pos == f.size {
                self.finish_file()?;
                self.advance()?;
            }
        }
        Ok(())
    }

    /// Cuts the current `.part` file back to its first `keep` bytes (the verified ones).
    pub fn truncate(&mut self, keep: u64) {
        if let Some(cur) = self.cur.as_mut() {
            let _ = cur.file.file().set_len(keep);
        }
    }

    /// Sets the finished file's mode and time and renames it into place. Its bytes were
    /// verified (its last prefix hash is its SHA-256) before they reached the writer.
    fn finish_file(&mut self) -> Result<(), DiskError> {
        let f = &self.files[self.idx];
        let Some(cur) = self.cur.take() else {
            return Ok(()); // callers finish only an open file
        };
        let fin = self.target.path(&f.path)?;
        let err = DiskError::at(&cur.part);
        cur.file
            .file()
            .set_permissions(std::fs::Permissions::from_mode(local_mode(f.mode)))
            .map_err(err)?;
        cur.file
            .file()
            .set_times(FileTimes::new().set_modified(time_of(f)))
            .map_err(err)?;
        if std::fs::symlink_metadata(&fin).is_ok_and(|m| m.is_dir()) {
            return Err(DiskError::IsDir(fin));
        }
        std::fs::rename(&cur.part, &fin).map_err(err)?;
        self.progress.entries_done.fetch_add(1, Relaxed);
        self.idx += 1;
        Ok(())
    }

    /// Moves past directories and empty files to the next file with bytes to come.
    fn advance(&mut self) -> Result<(), DiskError> {
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
    pub fn finish(mut self) -> Result<(), ReceiveError> {
        self.advance()?;
        if self.idx < self.files.len() || self.cur.is_some() {
            return Err(ReceiveError::Short);
        }
        for f in self.files.iter().rev().filter(|f| f.kind == Kind::Dir) {
            let p = self.target.path(&f.path)?;
            let err = DiskError::at(&p);
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(local_mode(f.mode)))
                .map_err(err)?;
            File::open(&p)
                .and_then(|d| d.set_times(FileTimes::new().set_modified(time_of(f))))
                .map_err(err)?;
        }
        // On the disk before the offer is reported complete: a power cut after
        // "completed" loses nothing.
        self.target.sync()?;
        Ok(())
    }
}

/// Reserves the disk blocks of a file of `size` bytes without changing its length, so a
/// full disk is found before the transfer rather than in the middle of it (and writes
/// into reserved blocks are cheaper). File systems without `fallocate` just skip it.
fn reserve(file: &File, size: u64) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    if size == 0 {
        return Ok(());
    }
    let have = file.metadata().map_or(0, |m| m.len());
    if let Some((free, total)) = space(file) {
        let keep = keep_free(total);
        let more = size.saturating_sub(have);
        if more > 0 && free.saturating_sub(keep) < more {
            return Err(std::io::Error::other(format!(
                "not enough free space for {size} bytes: {free} bytes free, and warp leaves {keep} free (5% of the disk, at most 1 GiB)"
            )));
        }
    }
    // SAFETY: a plain system call on an open descriptor; no memory is passed.
    let r = unsafe {
        libc::fallocate(
            file.as_raw_fd(),
            libc::FALLOC_FL_KEEP_SIZE,
            0,
            size as libc::off_t,
        )
    };
    if r == 0 {
        return Ok(());
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EOPNOTSUPP) | Some(libc::ENOSYS) => Ok(()),
        Some(libc::ENOSPC) => Err(std::io::Error::other(format!(
            "not enough free space for {size} bytes"
        ))),
        _ => Err(e),
    }
}

/// Bytes a download leaves free on the disk it writes to: 5% of its size, at most 1 GiB,
/// so an offer never fills the disk the user's other programs need.
fn keep_free(total: u64) -> u64 {
    (total / 20).min(1 << 30)
}

/// Free bytes (for an unprivileged user) and total bytes of the file system of `file`.
fn space(file: &File) -> Option<(u64, u64)> {
    use std::os::fd::AsRawFd;
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a valid, writable statvfs for the call to fill.
    if unsafe { libc::fstatvfs(file.as_raw_fd(), &mut st) } != 0 {
        return None;
    }
    let unit = st.f_frsize as u64;
    Some((st.f_bavail as u64 * unit, st.f_blocks as u64 * unit))
}

/// The mode a received entry gets: the sender's permission bits (never setuid, setgid or
/// sticky) less this process's umask, as a file the user made would have.
fn local_mode(sent: u32) -> u32 {
    sent & 0o777 & !umask()
}

/// The process's umask, read once from `/proc/self/status` (reading it with `umask(2)`
/// would change it for every thread meanwhile); 022 where that cannot be read.
fn umask() -> u32 {
    static UMASK: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *UMASK.get_or_init(|| {
        std::fs::read_to_string("/proc/self/status")
            .ok()
            .and_then(|s| {
                let line = s.lines().find(|l| l.starts_with("Umask:"))?;
                u32::from_str_radix(line["Umask:".len()..].trim(), 8).ok()
            })
            .unwrap_or(0o022)
    })
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
pub fn check_tree(files: &[Info]) -> Result<(), TreeError> {
    let mut seen = std::collections::HashMap::new();
    for f in files {
        if let Some((parent, _)) = f.path.as_str().rsplit_once('/') {
            if seen.get(parent) != Some(&Kind::Dir) {
                return Err(TreeError::Orphan {
                    path: f.path.to_string(),
                    parent: parent.to_string(),
                });
            }
        }
        if seen.insert(f.path.as_str(), f.kind).is_some() {
            return Err(TreeError::Twice(f.path.to_string()));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn received_modes_lose_setuid_setgid_sticky_and_the_umask() {
        let m = super::local_mode(0o6777);
        assert_eq!(m & 0o7000, 0);
        assert_eq!(m & super::umask(), 0);
        assert_eq!(super::local_mode(0o644) & 0o600, 0o600 & !super::umask());
    }

    #[test]
    fn a_reservation_leaves_part_of_the_disk_free() {
        assert_eq!(super::keep_free(100 << 20), 5 << 20);
        assert_eq!(super::keep_free(1 << 40), 1 << 30);
        let dir = tempfile::tempdir().unwrap();
        let f = std::fs::File::create(dir.path().join("x")).unwrap();
        let (free, total) = super::space(&f).unwrap();
        assert!(free <= total && total > 0);
        let e = super::reserve(&f, free).unwrap_err();
        assert!(e.to_string().contains("warp leaves"), "{e}");
        super::reserve(&f, 4096).unwrap();
    }
}
