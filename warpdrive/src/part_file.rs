//! A `.part` file being written. Large files are written with `O_DIRECT` where the file
//! system allows it: the bytes go from one aligned buffer to the disk without filling the
//! page cache (on the machines measured, putting a fresh GiB into the page cache cost
//! more CPU than hashing it). Any write that is not aligned — a file's last bytes, an odd
//! frame — turns `O_DIRECT` off for the rest of the file and goes through the cache.

use std::fs::File;
use std::io::Write;
use std::os::fd::AsRawFd;

/// Alignment of direct writes (offset, length and buffer).
const ALIGN: usize = 4096;
/// Files below this size are written through the page cache.
const DIRECT_MIN: u64 = 8 << 20;
/// The largest direct write (one data frame).
const STAGING: usize = 1 << 20;

/// An open `.part` file.
pub struct PartFile {
    file: File,
    direct: bool,
    staging: Vec<u8>,
}

impl PartFile {
    /// Takes `file` (of `size` bytes in the end, positioned at `pos`).
    pub fn new(file: File, size: u64, pos: u64) -> PartFile {
        let mut p = PartFile {
            file,
            direct: false,
            staging: Vec::new(),
        };
        if size >= DIRECT_MIN && pos.is_multiple_of(ALIGN as u64) && p.set_direct(true) {
            p.direct = true;
            p.staging = vec![0; STAGING + ALIGN];
        }
        p
    }

    /// The file.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Turns `O_DIRECT` on or off; `false` if the file system refuses.
    fn set_direct(&self, on: bool) -> bool {
        let fd = self.file.as_raw_fd();
        // SAFETY: fcntl on a descriptor this value owns; no memory is passed.
        unsafe {
            let flags = libc::fcntl(fd, libc::F_GETFL);
            if flags < 0 {
                return false;
            }
            let new = if on {
                flags | libc::O_DIRECT
            } else {
                flags & !libc::O_DIRECT
            };
            libc::fcntl(fd, libc::F_SETFL, new) == 0
        }
    }

    fn buffered(&mut self) {
        if self.direct {
            self.set_direct(false);
            self.direct = false;
            self.staging = Vec::new();
        }
    }

    /// Writes `data` at the file's position `pos` (where the last write ended).
    pub fn write(&mut self, pos: u64, data: &[u8]) -> std::io::Result<()> {
        let aligned = pos.is_multiple_of(ALIGN as u64)
            && data.len().is_multiple_of(ALIGN)
            && data.len() <= STAGING;
        if self.direct && aligned {
            let off = self.staging.as_ptr().align_offset(ALIGN);
            let buf = &mut self.staging[off..off + data.len()];
            buf.copy_from_slice(data);
            let mut done = 0;
            while done < buf.len() {
                match self.file.write(&buf[done..]) {
                    Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
                    Ok(n) if (done + n).is_multiple_of(ALIGN) => done += n,
                    Ok(n) => {
                        // A short, unaligned write: finish through the cache.
                        done += n;
                        self.buffered();
                        return self.file.write_all(&data[done..]);
                    }
                    Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
                        self.buffered();
                        return self.file.write_all(&data[done..]);
                    }
                    Err(e) => return Err(e),
                }
            }
            return Ok(());
        }
        self.buffered();
        self.file.write_all(data)
    }
}
