//! The tree's file: whole pages read and written at page-aligned offsets, each sealed
//! with a CRC32C that is verified on every read.
//!
//! All I/O goes through [`PageFile`], which can inject faults (failed writes, a full disk,
//! torn pages, failed fsyncs) so tests can prove that a failure is reported or survived,
//! never turned into silent corruption. The file remembers a failed fsync: after one, the
//! kernel may have dropped pages it had accepted, so the tree must not trust the file
//! again (see the tree's failure rules).

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use parking_lot::Mutex;

use super::node::PAGE_SIZE;
use crate::{Result, StorageError};

/// A physical page number: the page's offset in the file divided by [`PAGE_SIZE`].
pub type PhysicalPage = u64;

/// Faults to inject, shared with the test that arms them.
#[derive(Debug, Default)]
pub struct Faults {
    /// Fail writes after this many more succeed (`u64::MAX`: never).
    pub fail_writes_after: AtomicU64,
    /// Fail every fsync.
    pub fail_sync: AtomicBool,
    /// Injected write failures are ENOSPC, as on a full disk, rather than plain errors.
    pub no_space: AtomicBool,
    /// Write only the first 32 bytes of the page written as the N-th write from now (1 =
    /// the next one; 0 = never), then report success: a torn page, as after a power cut.
    pub tear_on_write: AtomicU64,
}

impl Faults {
    /// No faults armed.
    pub fn none() -> Arc<Faults> {
        Arc::new(Faults { fail_writes_after: AtomicU64::new(u64::MAX), ..Faults::default() })
    }
}

/// A file of checksummed pages.
#[derive(Debug)]
pub struct PageFile {
    file: File,
    path: PathBuf,
    faults: Arc<Faults>,
    /// Serializes appends that grow the file, so two writers never race on its length.
    grow: Mutex<()>,
    /// An fsync failed: the file may have lost writes it accepted.
    sync_failed: AtomicBool,
}

impl PageFile {
    /// Opens or creates the file at `path`.
    pub fn open(path: &Path, faults: Arc<Faults>) -> Result<PageFile> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| StorageError::io(path, e))?;
        Ok(PageFile {
            file,
            path: path.to_path_buf(),
            faults,
            grow: Mutex::new(()),
            sync_failed: AtomicBool::new(false),
        })
    }

    /// The file's path, for error messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whole pages in the file.
    pub fn page_count(&self) -> Result<u64> {
        let len = self.file.metadata().map_err(|e| StorageError::io(&self.path, e))?.len();
        Ok(len / PAGE_SIZE as u64)
    }

    /// Bytes on disk.
    pub fn size_bytes(&self) -> u64 {
        self.file.metadata().map_or(0, |m| m.len())
    }

    /// Reads page `page` and verifies its checksum.
    pub fn read(&self, page: PhysicalPage, buf: &mut [u8]) -> Result<()> {
        let offset = page * PAGE_SIZE as u64;
        self.file.read_exact_at(buf, offset).map_err(|e| StorageError::io(&self.path, e))?;
        if !verify(buf) {
            return Err(StorageError::Corrupt {
                path: self.path.clone(),
                offset,
                reason: format!("checksum mismatch in page {page}"),
            });
        }
        Ok(())
    }

    /// Seals `buf` with its checksum and writes it as page `page`.
    pub fn write(&self, page: PhysicalPage, buf: &mut [u8]) -> Result<()> {
        seal(buf);
        let offset = page * PAGE_SIZE as u64;
        let io = |e| StorageError::io(&self.path, e);
        let remaining = self.faults.fail_writes_after.load(Ordering::Relaxed);
        if remaining == 0 {
            return Err(io(if self.faults.no_space.load(Ordering::Relaxed) {
                std::io::Error::new(std::io::ErrorKind::StorageFull, "injected: disk full")
            } else {
                std::io::Error::other("injected write failure")
            }));
        }
        if remaining != u64::MAX {
            self.faults.fail_writes_after.store(remaining - 1, Ordering::Relaxed);
        }
        let tear = self.faults.tear_on_write.load(Ordering::Relaxed);
        if tear > 0 {
            self.faults.tear_on_write.store(tear - 1, Ordering::Relaxed);
            if tear == 1 {
                return self.file.write_all_at(&buf[..32], offset).map_err(io);
            }
        }
        let _grow = self.grow.lock();
        self.file.write_all_at(buf, offset).map_err(io)
    }

    /// Forces written pages to disk.
    pub fn sync(&self) -> Result<()> {
        let result = if self.faults.fail_sync.load(Ordering::Relaxed) {
            Err(std::io::Error::other("injected fsync failure"))
        } else {
            self.file.sync_data()
        };
        result.map_err(|e| {
            self.sync_failed.store(true, Ordering::Relaxed);
            StorageError::io(&self.path, e)
        })
    }

    /// True once an fsync of this file has failed.
    pub fn sync_failed(&self) -> bool {
        self.sync_failed.load(Ordering::Relaxed)
    }
}

/// Stores the CRC32C of bytes `4..` in bytes `0..4`.
pub fn seal(page: &mut [u8]) {
    let crc = crc32c::crc32c(&page[4..]);
    page[..4].copy_from_slice(&crc.to_le_bytes());
}

/// True if the page's checksum matches its content.
pub fn verify(page: &[u8]) -> bool {
    let stored = u32::from_le_bytes([page[0], page[1], page[2], page[3]]);
    stored == crc32c::crc32c(&page[4..])
}
