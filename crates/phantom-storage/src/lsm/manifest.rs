//! The manifest: the log of changes to an LSM tree's set of table files.
//!
//! Every flush and compaction appends one *edit* (tables added, tables removed, and the
//! log position the tree has persisted) as a CRC-framed record, fsynced before the
//! change takes effect. Opening the tree replays the edits to rebuild the set of live
//! tables; a torn last record (a crash mid-append) is ignored, which is safe because its
//! change never took effect. Table files the manifest does not name are leftovers of an
//! interrupted flush or compaction and are deleted on open. When the manifest grows large
//! it is rewritten as a single edit describing the current state (write, fsync, rename).
//!
//! An append that fails (a full disk) is cut back off the file before the error is
//! returned, so a half-written edit can never sit in front of later ones; the edit can be
//! tried again. A failed fsync, or a failure to cut back, breaks the manifest for good:
//! what the file holds is then unknown, and it refuses further edits until the tree is
//! reopened. A rewrite that fails leaves the old file in place (the edit that triggered it
//! is durable already) and is tried again at the next edit.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::Compaction;
use crate::faults::Faults;
use crate::wal::Lsn;
use crate::{Result, StorageError, varint};

/// A table as the manifest records it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableRecord {
    pub id: u64,
    pub level: u32,
    /// Recency: newer data has a higher sequence (flushes take the table id; a merge
    /// takes the newest of its inputs), which orders overlapping runs.
    pub seq: u64,
    pub smallest: Vec<u8>,
    pub largest: Vec<u8>,
    pub size: u64,
    pub entries: u64,
}

/// One change to the tree.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Edit {
    pub added: Vec<TableRecord>,
    pub removed: Vec<u64>,
    pub persisted_lsn: Option<Lsn>,
    pub compaction: Option<Compaction>,
}

/// The state the manifest describes.
#[derive(Clone, Debug, Default)]
pub struct ManifestState {
    pub tables: Vec<TableRecord>,
    pub persisted_lsn: Lsn,
    pub next_table_id: u64,
    pub compaction: Option<Compaction>,
}

impl ManifestState {
    fn apply(&mut self, edit: &Edit) {
        self.tables.retain(|t| !edit.removed.contains(&t.id));
        for t in &edit.added {
            self.next_table_id = self.next_table_id.max(t.id + 1);
            self.tables.push(t.clone());
        }
        if let Some(lsn) = edit.persisted_lsn {
            self.persisted_lsn = self.persisted_lsn.max(lsn);
        }
        if edit.compaction.is_some() {
            self.compaction = edit.compaction;
        }
    }
}

fn encode(edit: &Edit) -> Vec<u8> {
    let mut out = Vec::new();
    varint::put(&mut out, edit.added.len() as u64);
    for t in &edit.added {
        for n in [t.id, u64::from(t.level), t.size, t.entries, t.seq] {
            varint::put(&mut out, n);
        }
        for key in [&t.smallest, &t.largest] {
            varint::put(&mut out, key.len() as u64);
            out.extend_from_slice(key);
        }
    }
    varint::put(&mut out, edit.removed.len() as u64);
    edit.removed.iter().for_each(|&id| varint::put(&mut out, id));
    varint::put(&mut out, edit.persisted_lsn.map_or(0, |l| l + 1));
    out.push(match edit.compaction {
        None => 0,
        Some(Compaction::Leveled) => 1,
        Some(Compaction::Tiered) => 2,
    });
    out
}

fn decode(bytes: &[u8]) -> Option<Edit> {
    let mut pos = 0;
    let mut edit = Edit::default();
    let added = varint::get(bytes, &mut pos)?;
    for _ in 0..added.min(1 << 20) {
        let mut nums = [0u64; 5];
        for slot in &mut nums {
            *slot = varint::get(bytes, &mut pos)?;
        }
        let mut keys = [Vec::new(), Vec::new()];
        for key in &mut keys {
            let len = varint::get(bytes, &mut pos)? as usize;
            *key = bytes.get(pos..pos.checked_add(len)?)?.to_vec();
            pos += len;
        }
        let [smallest, largest] = keys;
        edit.added.push(TableRecord {
            id: nums[0],
            level: u32::try_from(nums[1]).ok()?,
            size: nums[2],
            entries: nums[3],
            seq: nums[4],
            smallest,
            largest,
        });
    }
    let removed = varint::get(bytes, &mut pos)?;
    for _ in 0..removed.min(1 << 20) {
        edit.removed.push(varint::get(bytes, &mut pos)?);
    }
    edit.persisted_lsn = varint::get(bytes, &mut pos)?.checked_sub(1);
    edit.compaction = match *bytes.get(pos)? {
        0 => None,
        1 => Some(Compaction::Leveled),
        2 => Some(Compaction::Tiered),
        _ => return None,
    };
    (pos + 1 == bytes.len()).then_some(edit)
}

/// The open manifest file.
#[derive(Debug)]
pub struct Manifest {
    path: PathBuf,
    file: File,
    size: u64,
    /// Rewrite when the file passes this size.
    rewrite_at: u64,
    pub state: ManifestState,
    /// Set when the file can no longer be trusted to hold the edits (see the module docs).
    broken: Option<String>,
    /// A failed rewrite has been logged (until one succeeds).
    rewrite_failing: bool,
    /// Injected faults (tests).
    pub faults: Arc<Faults>,
}

const NAME: &str = "MANIFEST";
/// Rewrite the manifest when it passes this size.
const REWRITE_AT: u64 = 1 << 20;

impl Manifest {
    /// Opens (or creates) the manifest in `dir` and replays it.
    pub fn open(dir: &Path) -> Result<Manifest> {
        let path = dir.join(NAME);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(StorageError::io(&path, e)),
        };
        let mut state = ManifestState::default();
        let mut pos = 0;
        while pos + 8 <= bytes.len() {
            let len =
                u32::from_le_bytes([bytes[pos], bytes[pos + 1], bytes[pos + 2], bytes[pos + 3]]) as usize;
            let crc = u32::from_le_bytes([bytes[pos + 4], bytes[pos + 5], bytes[pos + 6], bytes[pos + 7]]);
            let Some(body) = bytes.get(pos + 8..pos + 8 + len) else { break };
            if crc32c::crc32c(body) != crc {
                break;
            }
            let edit = decode(body).ok_or_else(|| StorageError::Corrupt {
                path: path.clone(),
                offset: pos as u64,
                reason: "malformed manifest edit".into(),
            })?;
            state.apply(&edit);
            pos += 8 + len;
        }
        if pos < bytes.len() {
            tracing::warn!(manifest = %path.display(), offset = pos, "manifest ends in a torn edit; ignoring it");
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| StorageError::io(&path, e))?;
        file.set_len(pos as u64).map_err(|e| StorageError::io(&path, e))?;
        Ok(Manifest {
            path,
            file,
            size: pos as u64,
            rewrite_at: REWRITE_AT,
            state,
            broken: None,
            rewrite_failing: false,
            faults: Faults::none(),
        })
    }

    /// Appends `edit` durably and applies it to the state. On an error the edit did not
    /// take effect; a write error (a full disk) leaves the manifest as it was, so the edit
    /// may be tried again.
    pub fn commit(&mut self, edit: Edit) -> Result<()> {
        if let Some(reason) = &self.broken {
            return Err(StorageError::Failed { path: self.path.clone(), reason: reason.clone() });
        }
        let body = encode(&edit);
        let mut framed = Vec::with_capacity(body.len() + 8);
        framed.extend_from_slice(&(body.len() as u32).to_le_bytes());
        framed.extend_from_slice(&crc32c::crc32c(&body).to_le_bytes());
        framed.extend_from_slice(&body);
        let written = match self.faults.before_write() {
            Ok(()) => self.file.write_all(&framed),
            // An injected failure leaves half the edit in the file, as a full disk can.
            Err(e) => self.file.write_all(&framed[..framed.len() / 2]).and(Err(e)),
        };
        if let Err(e) = written {
            // Part of the edit may be in the file: cut it off, or later edits would follow it.
            if let Err(cut) = self.file.set_len(self.size) {
                return Err(self.break_for(format!("{e}, and cutting the torn edit off failed: {cut}")));
            }
            return Err(StorageError::io(&self.path, e));
        }
        if let Err(e) = self.faults.before_sync().and_then(|()| self.file.sync_data()) {
            return Err(self.break_for(format!("fsync failed: {e}")));
        }
        self.size += framed.len() as u64;
        self.state.apply(&edit);
        if self.size > self.rewrite_at {
            match self.rewrite() {
                Ok(()) => self.rewrite_failing = false,
                Err(e) => {
                    if !std::mem::replace(&mut self.rewrite_failing, true) {
                        tracing::warn!(manifest = %self.path.display(), error = %e, "could not rewrite the manifest; will try again");
                    }
                }
            }
        }
        Ok(())
    }

    /// Marks the manifest broken and returns the error saying so.
    fn break_for(&mut self, reason: String) -> StorageError {
        self.broken = Some(reason.clone());
        StorageError::Failed { path: self.path.clone(), reason }
    }

    /// A fresh table id.
    pub fn next_table_id(&mut self) -> u64 {
        let id = self.state.next_table_id;
        self.state.next_table_id += 1;
        id
    }

    /// Replaces the file with one edit describing the current state.
    fn rewrite(&mut self) -> Result<()> {
        let snapshot = Edit {
            added: self.state.tables.clone(),
            removed: Vec::new(),
            persisted_lsn: Some(self.state.persisted_lsn),
            compaction: self.state.compaction,
        };
        let body = encode(&snapshot);
        let tmp = self.path.with_extension("tmp");
        let written = File::create(&tmp).and_then(|mut file| {
            self.faults.before_write()?;
            file.write_all(&(body.len() as u32).to_le_bytes())?;
            file.write_all(&crc32c::crc32c(&body).to_le_bytes())?;
            file.write_all(&body)?;
            file.sync_all()
        });
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(StorageError::io(&tmp, e));
        }
        std::fs::rename(&tmp, &self.path).map_err(|e| StorageError::io(&self.path, e))?;
        if let Some(dir) = self.path.parent() {
            File::open(dir).and_then(|d| d.sync_all()).map_err(|e| StorageError::io(dir, e))?;
        }
        self.file =
            OpenOptions::new().append(true).open(&self.path).map_err(|e| StorageError::io(&self.path, e))?;
        self.size = 8 + body.len() as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(id: u64, level: u32) -> TableRecord {
        TableRecord {
            id,
            level,
            seq: id,
            smallest: vec![1, 2],
            largest: vec![9],
            size: 100 * id,
            entries: id,
        }
    }

    #[test]
    fn edits_replay_and_a_torn_tail_is_ignored() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let mut m = Manifest::open(dir.path()).expect("open");
            m.commit(Edit {
                added: vec![table(1, 0), table(2, 0)],
                compaction: Some(Compaction::Tiered),
                ..Edit::default()
            })
            .expect("commit");
            m.commit(Edit {
                added: vec![table(3, 1)],
                removed: vec![1, 2],
                persisted_lsn: Some(42),
                ..Edit::default()
            })
            .expect("commit");
        }
        let path = dir.path().join(NAME);
        let mut bytes = std::fs::read(&path).expect("read");
        bytes.extend_from_slice(&[50, 0, 0, 0, 1, 2]); // a torn third edit
        std::fs::write(&path, bytes).expect("write");
        let m = Manifest::open(dir.path()).expect("reopen");
        assert_eq!(m.state.tables, vec![table(3, 1)]);
        assert_eq!(m.state.persisted_lsn, 42);
        assert_eq!(m.state.next_table_id, 4);
        assert_eq!(m.state.compaction, Some(Compaction::Tiered));
    }

    #[test]
    fn a_large_manifest_is_rewritten_without_losing_state() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut m = Manifest::open(dir.path()).expect("open");
        m.rewrite_at = 1024;
        for id in 0..200u64 {
            m.commit(Edit { added: vec![table(id + 1, 0)], removed: vec![id], ..Edit::default() })
                .expect("commit");
        }
        assert!(std::fs::metadata(dir.path().join(NAME)).expect("meta").len() < 1024 + 64);
        drop(m);
        let m = Manifest::open(dir.path()).expect("reopen");
        assert_eq!(m.state.tables, vec![table(200, 0)]);
    }
}
