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
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

use super::node::PAGE_SIZE;
pub use crate::faults::Faults;
use crate::{Result, StorageError};

/// A physical page number: the page's offset in the file divided by [`PAGE_SIZE`].
pub type PhysicalPage = u64;

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
        self.faults.before_write().map_err(io)?;
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
        let result = self.faults.before_sync().and_then(|()| self.file.sync_data());
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
