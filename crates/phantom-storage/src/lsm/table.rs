//! Table files: immutable, sorted runs of entries written by flushes and compactions.
//!
//! ```text
//!   data block*   [flags u8][payload][crc32c u32]   flags 1: LZ4, payload is compressed
//!   bloom         same framing; see `bloom`
//!   index         same framing; per data block: varint key_len, last key, u64 offset,
//!                 u32 length
//!   footer        index offset u64, index length u32, bloom offset u64, bloom length u32,
//!                 entries u64, magic u32, crc32c u32 of the 36 bytes before it
//! ```
//!
//! Every block is checked against its CRC when read, so a damaged block is an error naming
//! the file and offset, never a wrong answer. The index and the bloom filter are read once
//! when the table is opened and stay in memory; data blocks go through the block cache.
//!
//! A [`TableBuilder`] that is dropped before [`TableBuilder::finish`] succeeded (a write
//! failed: a full disk, say) deletes its file, so a failed flush or compaction leaves no
//! space taken behind it.

use std::fs::File;
use std::io::Write;
use std::ops::{Bound, RangeBounds};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::block::{Block, BlockBuilder};
use super::bloom;
use super::cache::BlockCache;
use super::memtable::Slot;
use crate::chunked::{within_end, within_start};
use crate::faults::Faults;
use crate::{Result, StorageError, varint};

/// Target size of a data block before compression.
const BLOCK_SIZE: usize = 4096;
const FOOTER_LEN: usize = 40;
const MAGIC: u32 = 0x5048_4c54; // "PHLT"
const LZ4: u8 = 1;

fn corrupt(path: &Path, offset: u64, reason: impl Into<String>) -> StorageError {
    StorageError::Corrupt { path: path.to_path_buf(), offset, reason: reason.into() }
}

/// Frames a block: compressed if that saves an eighth, then checksummed.
fn frame(payload: &[u8]) -> Vec<u8> {
    let compressed = lz4_flex::compress_prepend_size(payload);
    let (flags, body) = if compressed.len() <= payload.len() - payload.len() / 8 {
        (LZ4, &compressed[..])
    } else {
        (0, payload)
    };
    let mut out = Vec::with_capacity(body.len() + 5);
    out.push(flags);
    out.extend_from_slice(body);
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Checks and unframes a block read from `path` at `offset`.
fn unframe(path: &Path, offset: u64, framed: &[u8]) -> Result<Vec<u8>> {
    let Some((body, crc)) = framed.split_last_chunk::<4>() else {
        return Err(corrupt(path, offset, "block shorter than its frame"));
    };
    if crc32c::crc32c(body) != u32::from_le_bytes(*crc) {
        return Err(corrupt(path, offset, "block checksum mismatch"));
    }
    match body.split_first() {
        Some((0, payload)) => Ok(payload.to_vec()),
        Some((&LZ4, payload)) => {
            // Index and filter blocks of a big table run to megabytes, so the only bound is
            // LZ4's: it never shrinks data more than 255 to 1.
            let len = payload.get(..4).map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])) as usize;
            if len > payload.len().saturating_mul(255).saturating_add(64) {
                return Err(corrupt(path, offset, "compressed block has a bad length"));
            }
            lz4_flex::decompress_size_prepended(payload)
                .map_err(|_| corrupt(path, offset, "block does not decompress"))
        }
        _ => Err(corrupt(path, offset, "unknown block flags")),
    }
}

/// Writes one table file from entries in increasing key order.
pub struct TableBuilder {
    file: File,
    path: PathBuf,
    faults: Arc<Faults>,
    /// Set once the table is complete: the file then outlives the builder.
    finished: bool,
    offset: u64,
    block: BlockBuilder,
    index: Vec<(Vec<u8>, u64, u32)>,
    hashes: Vec<u64>,
    smallest: Option<Vec<u8>>,
    entries: u64,
}

/// What a finished table holds, for the manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableInfo {
    pub smallest: Vec<u8>,
    pub largest: Vec<u8>,
    pub size: u64,
    pub entries: u64,
}

impl TableBuilder {
    pub fn create(path: &Path, faults: Arc<Faults>) -> Result<TableBuilder> {
        let file = File::create(path).map_err(|e| StorageError::io(path, e))?;
        Ok(TableBuilder {
            file,
            path: path.to_path_buf(),
            faults,
            finished: false,
            offset: 0,
            block: BlockBuilder::default(),
            index: Vec::new(),
            hashes: Vec::new(),
            smallest: None,
            entries: 0,
        })
    }

    pub fn add(&mut self, key: &[u8], slot: &Slot) -> Result<()> {
        if self.smallest.is_none() {
            self.smallest = Some(key.to_vec());
        }
        self.block.add(key, slot);
        self.hashes.push(bloom::hash(key));
        self.entries += 1;
        if self.block.size() >= BLOCK_SIZE {
            self.flush_block()?;
        }
        Ok(())
    }

    /// Bytes written so far (for splitting compaction output).
    pub fn size(&self) -> u64 {
        self.offset + self.block.size() as u64
    }

    pub fn is_empty(&self) -> bool {
        self.entries == 0
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(u64, u32)> {
        self.faults
            .before_write()
            .and_then(|()| self.file.write_all(bytes))
            .map_err(|e| StorageError::io(&self.path, e))?;
        let at = self.offset;
        self.offset += bytes.len() as u64;
        Ok((at, bytes.len() as u32))
    }

    fn flush_block(&mut self) -> Result<()> {
        if self.block.is_empty() {
            return Ok(());
        }
        let last = self.block.last_key().to_vec();
        let framed = frame(&self.block.finish());
        let (offset, len) = self.write(&framed)?;
        self.index.push((last, offset, len));
        Ok(())
    }

    /// Writes the filter, index and footer, and fsyncs the file.
    pub fn finish(mut self) -> Result<TableInfo> {
        self.flush_block()?;
        let (bloom_off, bloom_len) = self.write(&frame(&bloom::build(&self.hashes)))?;
        let mut index = Vec::new();
        for (key, offset, len) in &self.index {
            varint::put(&mut index, key.len() as u64);
            index.extend_from_slice(key);
            index.extend_from_slice(&offset.to_le_bytes());
            index.extend_from_slice(&len.to_le_bytes());
        }
        let (index_off, index_len) = self.write(&frame(&index))?;
        let mut footer = Vec::with_capacity(FOOTER_LEN);
        footer.extend_from_slice(&index_off.to_le_bytes());
        footer.extend_from_slice(&index_len.to_le_bytes());
        footer.extend_from_slice(&bloom_off.to_le_bytes());
        footer.extend_from_slice(&bloom_len.to_le_bytes());
        footer.extend_from_slice(&self.entries.to_le_bytes());
        footer.extend_from_slice(&MAGIC.to_le_bytes());
        let crc = crc32c::crc32c(&footer);
        footer.extend_from_slice(&crc.to_le_bytes());
        self.write(&footer)?;
        self.faults
            .before_sync()
            .and_then(|()| self.file.sync_all())
            .map_err(|e| StorageError::io(&self.path, e))?;
        self.finished = true;
        Ok(TableInfo {
            smallest: self.smallest.take().unwrap_or_default(),
            largest: self.index.last().map(|(k, _, _)| k.clone()).unwrap_or_default(),
            size: self.offset,
            entries: self.entries,
        })
    }
}

impl Drop for TableBuilder {
    /// An unfinished table is of no use to anyone: its space goes back.
    fn drop(&mut self) {
        if !self.finished {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// An open table file.
#[derive(Debug)]
pub struct Table {
    pub id: u64,
    pub path: PathBuf,
    file: File,
    /// Per data block: last key, offset, framed length.
    index: Vec<(Vec<u8>, u64, u32)>,
    bloom: Vec<u8>,
}

impl Table {
    pub fn open(path: &Path, id: u64) -> Result<Table> {
        let file = File::open(path).map_err(|e| StorageError::io(path, e))?;
        let size = file.metadata().map_err(|e| StorageError::io(path, e))?.len();
        let footer_at =
            size.checked_sub(FOOTER_LEN as u64).ok_or_else(|| corrupt(path, 0, "file too short"))?;
        let mut footer = [0u8; FOOTER_LEN];
        file.read_exact_at(&mut footer, footer_at).map_err(|e| StorageError::io(path, e))?;
        let u64_at = |at: usize| u64::from_le_bytes(footer[at..at + 8].try_into().unwrap_or_default());
        let u32_at = |at: usize| u32::from_le_bytes(footer[at..at + 4].try_into().unwrap_or_default());
        if u32_at(36) != crc32c::crc32c(&footer[..36]) || u32_at(32) != MAGIC {
            return Err(corrupt(path, footer_at, "bad table footer"));
        }
        let read = |offset: u64, len: u32| -> Result<Vec<u8>> {
            if offset + u64::from(len) > footer_at {
                return Err(corrupt(path, offset, "block out of range"));
            }
            let mut buf = vec![0u8; len as usize];
            file.read_exact_at(&mut buf, offset).map_err(|e| StorageError::io(path, e))?;
            unframe(path, offset, &buf)
        };
        let raw_index = read(u64_at(0), u32_at(8))?;
        let bloom = read(u64_at(12), u32_at(20))?;
        let mut index = Vec::new();
        let mut pos = 0;
        while pos < raw_index.len() {
            let bad = || corrupt(path, u64_at(0), "malformed index");
            let len = varint::get(&raw_index, &mut pos).ok_or_else(bad)? as usize;
            let end = pos.checked_add(len + 12).filter(|&e| e <= raw_index.len()).ok_or_else(bad)?;
            let key = raw_index[pos..pos + len].to_vec();
            let offset =
                u64::from_le_bytes(raw_index[pos + len..pos + len + 8].try_into().map_err(|_| bad())?);
            let block_len = u32::from_le_bytes(raw_index[pos + len + 8..end].try_into().map_err(|_| bad())?);
            index.push((key, offset, block_len));
            pos = end;
        }
        Ok(Table { id, path: path.to_path_buf(), file, index, bloom })
    }

    fn block_bytes(&self, i: usize, cache: &BlockCache) -> Result<Arc<Vec<u8>>> {
        if let Some(block) = cache.get((self.id, i as u32)) {
            return Ok(block);
        }
        let (_, offset, len) = &self.index[i];
        let mut buf = vec![0u8; *len as usize];
        self.file.read_exact_at(&mut buf, *offset).map_err(|e| StorageError::io(&self.path, e))?;
        let block = Arc::new(unframe(&self.path, *offset, &buf)?);
        cache.insert((self.id, i as u32), block.clone());
        Ok(block)
    }

    fn decode(&self, i: usize, cache: &BlockCache) -> Result<Block> {
        let bytes = self.block_bytes(i, cache)?;
        Block::decode(&bytes).map_err(|e| corrupt(&self.path, self.index[i].1, e))
    }

    /// The slot of `key`, if this table has one.
    pub fn get(&self, key: &[u8], hash: u64, cache: &BlockCache) -> Result<Option<Slot>> {
        if !bloom::may_contain(&self.bloom, hash) {
            return Ok(None);
        }
        let i = self.index.partition_point(|(last, _, _)| last.as_slice() < key);
        if i == self.index.len() {
            return Ok(None);
        }
        let bytes = self.block_bytes(i, cache)?;
        Block::lookup(&bytes, key).map_err(|e| corrupt(&self.path, self.index[i].1, e))
    }

    /// Up to `limit` entries of `range` from its start (or end, with `back`).
    pub fn collect(
        &self,
        range: (Bound<&[u8]>, Bound<&[u8]>),
        back: bool,
        limit: usize,
        cache: &BlockCache,
    ) -> Result<Vec<(Vec<u8>, Slot)>> {
        let inside = |k: &[u8]| (range.0, range.1).contains(k);
        let mut out = Vec::new();
        if back {
            let mut i = match range.1 {
                Bound::Included(k) | Bound::Excluded(k) => {
                    self.index.partition_point(|(last, _, _)| last.as_slice() < k)
                }
                Bound::Unbounded => self.index.len(),
            }
            .min(self.index.len().saturating_sub(1));
            while i < self.index.len() && out.len() < limit {
                let block = self.decode(i, cache)?;
                for (k, v) in block.entries.into_iter().rev() {
                    if inside(&k) {
                        out.push((k, v));
                    } else if !within_start(&k, range.0) {
                        return Ok(truncate(out, limit));
                    }
                }
                if i == 0 {
                    break;
                }
                i -= 1;
            }
        } else {
            let mut i = match range.0 {
                Bound::Included(k) | Bound::Excluded(k) => {
                    self.index.partition_point(|(last, _, _)| last.as_slice() < k)
                }
                Bound::Unbounded => 0,
            };
            while i < self.index.len() && out.len() < limit {
                let block = self.decode(i, cache)?;
                for (k, v) in block.entries {
                    if inside(&k) {
                        out.push((k, v));
                    } else if !within_end(&k, range.1) {
                        return Ok(truncate(out, limit));
                    }
                }
                i += 1;
            }
        }
        Ok(truncate(out, limit))
    }

    /// Every entry, block by block (for compaction).
    pub fn iter<'a>(&'a self, cache: &'a BlockCache) -> impl Iterator<Item = Result<(Vec<u8>, Slot)>> + 'a {
        (0..self.index.len()).flat_map(move |i| match self.decode(i, cache) {
            Ok(block) => block.entries.into_iter().map(Ok).collect::<Vec<_>>(),
            Err(e) => vec![Err(e)],
        })
    }
}

fn truncate<T>(mut v: Vec<T>, limit: usize) -> Vec<T> {
    v.truncate(limit);
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(n: u32) -> Vec<(Vec<u8>, Slot)> {
        (0..n)
            .map(|i| {
                let slot = if i % 5 == 0 { None } else { Some(format!("v{i}").repeat(3).into_bytes()) };
                (format!("k{i:08}").into_bytes(), slot)
            })
            .collect()
    }

    fn write(dir: &Path, n: u32) -> (PathBuf, Vec<(Vec<u8>, Slot)>) {
        let path = dir.join("1.sst");
        let data = entries(n);
        let mut b = TableBuilder::create(&path, Faults::none()).expect("create");
        for (k, s) in &data {
            b.add(k, s).expect("add");
        }
        let info = b.finish().expect("finish");
        assert_eq!(info.entries, n as u64);
        assert_eq!(info.smallest, data[0].0);
        assert_eq!(info.largest, data[data.len() - 1].0);
        (path, data)
    }

    #[test]
    fn tables_answer_gets_and_ranges_both_ways() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (path, data) = write(dir.path(), 5000);
        let table = Table::open(&path, 1).expect("open");
        let cache = BlockCache::new(1 << 20);
        for (k, s) in data.iter().step_by(37) {
            assert_eq!(table.get(k, bloom::hash(k), &cache).expect("get"), Some(s.clone()));
        }
        let missing = b"k00000010x".to_vec();
        assert_eq!(table.get(&missing, bloom::hash(&missing), &cache).expect("get"), None);
        let (lo, hi) = (b"k00001000".to_vec(), b"k00001500".to_vec());
        let range = (Bound::Excluded(lo.as_slice()), Bound::Included(hi.as_slice()));
        let expected: Vec<_> = data.iter().filter(|(k, _)| range.contains(k.as_slice())).cloned().collect();
        assert_eq!(table.collect(range, false, 10_000, &cache).expect("scan"), expected);
        let mut reversed = expected.clone();
        reversed.reverse();
        assert_eq!(table.collect(range, true, 10_000, &cache).expect("scan"), reversed);
        assert_eq!(table.collect(range, true, 3, &cache).expect("scan"), reversed[..3].to_vec());
        assert_eq!(table.iter(&cache).map(|e| e.expect("entry")).collect::<Vec<_>>(), data);
    }

    #[test]
    fn large_blocks_round_trip_through_the_frame() {
        // Index and filter blocks of big tables are megabytes long.
        let payload: Vec<u8> = (0..3_000_000u32).map(|i| (i % 97) as u8).collect();
        let framed = frame(&payload);
        assert!(framed.len() < payload.len() / 4, "it compresses");
        assert_eq!(unframe(Path::new("t.sst"), 0, &framed).expect("unframe"), payload);
    }

    #[test]
    fn a_damaged_block_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (path, data) = write(dir.path(), 2000);
        let mut bytes = std::fs::read(&path).expect("read");
        bytes[100] ^= 0xff;
        std::fs::write(&path, bytes).expect("write");
        let table = Table::open(&path, 1).expect("the footer and index are intact");
        let cache = BlockCache::new(1 << 20);
        let k = &data[1].0;
        let err = table.get(k, bloom::hash(k), &cache).expect_err("the first block is damaged");
        assert!(err.to_string().contains("1.sst"), "{err}");
    }
}
