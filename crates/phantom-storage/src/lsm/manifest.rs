//! The manifest: the log of changes to an LSM tree's set of table files.
//!
//! Every flush and compaction appends one *edit* (tables added, tables removed, and the
//! log position the tree has persisted) as a CRC-framed record, fsynced before the
//! change takes effect. Opening the tree replays the edits to rebuild the set of live
//! tables. When the manifest grows large it is rewritten as a single edit describing the
//! current state (write, fsync, rename), so a rewrite is never torn.
//!
//! An append that fails (a full disk) is cut back off the file before the error is
//! returned, so a half-written edit can never sit in front of later ones; the edit can be
//! tried again. A failed fsync, or a failure to cut back, breaks the manifest for good:
//! what the file holds is then unknown, and it refuses further edits until the tree is
//! reopened. A rewrite that fails leaves the old file in place (the edit that triggered it
//! is durable already) and is tried again at the next edit.
//!
//! ## Torn or damaged
//!
//! A crash in the middle of an append leaves the last edit incomplete: the file ends
//! before the edit does (its header, or its body as long as the header says, provided no
//! whole edit follows: else the length field is damaged), or what follows the last whole
//! edit is zeros (space a file system extended the file by before the bytes arrived).
//! That edit never took effect and is ignored. Anything else that fails its checks is
//! damage and an error naming the file and offset: an edit with a bad checksum followed
//! by more data, or any bad edit that is not at the end, but also a *whole* last edit with
//! a bad checksum. An append is one `write` of the edit then an
//! fsync, and Linux file systems (ext4 in its default ordered mode, XFS) put an append's
//! bytes on disk before its new length, so an interrupted append does not leave a
//! full-length edit of garbage; calling that torn would silently drop an edit that did
//! take effect. If a file system does leave one, the tree refuses to open rather than
//! guess.
//!
//! An ignored torn edit is reported ([`Manifest::torn_tail`]); the file is cut back to the
//! last whole edit only when the next edit is appended, so an open that is then refused
//! (see [`crate::RecoveryPoint`]) leaves the file as it found it. Table files the manifest
//! does not name (leftovers of an interrupted flush or compaction) are not deleted here:
//! the tree does that when asked, once recovery has accepted what the manifest says.

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

/// The offset of the first whole edit (its checksum verifies and its body decodes) at or
/// after `from`, trying every offset.
fn whole_edit_from(bytes: &[u8], from: usize) -> Option<usize> {
    (from..bytes.len().saturating_sub(8)).find(|&at| {
        let len = u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize;
        let crc = u32::from_le_bytes([bytes[at + 4], bytes[at + 5], bytes[at + 6], bytes[at + 7]]);
        bytes
            .get(at + 8..at + 8 + len)
            .is_some_and(|body| crc32c::crc32c(body) == crc && decode(body).is_some())
    })
}

/// The open manifest file.
#[derive(Debug)]
pub struct Manifest {
    path: PathBuf,
    file: File,
    /// Bytes of whole edits (the file may be longer until a torn tail is cut off).
    size: u64,
    /// An incomplete last edit ignored at open: its offset and what was wrong.
    torn_tail: Option<(u64, String)>,
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
    /// Opens (or creates) the manifest in `dir` and replays it. A torn last edit is
    /// ignored; damage anywhere is an error (see the module docs).
    pub fn open(dir: &Path) -> Result<Manifest> {
        let path = dir.join(NAME);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(StorageError::io(&path, e)),
        };
        let corrupt = |offset: usize, reason: String| StorageError::Corrupt {
            path: path.clone(),
            offset: offset as u64,
            reason,
        };
        let mut state = ManifestState::default();
        let mut pos = 0;
        let mut torn_tail = None;
        while pos < bytes.len() {
            let rest = &bytes[pos..];
            let torn = if rest.iter().all(|&b| b == 0) {
                Some("zeros follow the last edit".to_string())
            } else if rest.len() < 8 {
                Some(format!("the last edit's header is cut short after {} bytes", rest.len()))
            } else {
                None
            };
            let len =
                torn.is_none().then(|| u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize);
            let body = len.and_then(|len| rest.get(8..8 + len));
            let torn = torn.or_else(|| {
                body.is_none().then(|| {
                    format!("the last edit runs past the end of the file ({} bytes left)", rest.len())
                })
            });
            if let Some(why) = torn {
                // An edit whose length runs past the end could also be a damaged length
                // field; a whole edit after it settles that.
                if let Some(later) = whole_edit_from(&bytes, pos + 1) {
                    return Err(corrupt(pos, format!("{why}, yet a whole edit follows at offset {later}")));
                }
                torn_tail = Some((pos as u64, why));
                break;
            }
            let body = body.unwrap_or_default();
            let crc = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
            if crc32c::crc32c(body) != crc {
                let after = rest.len() - 8 - body.len();
                let reason = if after > 0 {
                    format!("an edit fails its checksum and {after} more bytes follow it")
                } else {
                    "the last edit is whole but fails its checksum".to_string()
                };
                return Err(corrupt(pos, reason));
            }
            let edit = decode(body).ok_or_else(|| corrupt(pos, "malformed manifest edit".into()))?;
            state.apply(&edit);
            pos += 8 + body.len();
        }
        if let Some((offset, why)) = &torn_tail {
            tracing::warn!(manifest = %path.display(), offset, "manifest ends in a torn edit ({why}); ignoring it");
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|e| StorageError::io(&path, e))?;
        Ok(Manifest {
            path,
            file,
            size: pos as u64,
            torn_tail,
            rewrite_at: REWRITE_AT,
            state,
            broken: None,
            rewrite_failing: false,
            faults: Faults::none(),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The torn last edit ignored at open, if there was one: its offset and what was
    /// wrong with it.
    pub fn torn_tail(&self) -> Option<&(u64, String)> {
        self.torn_tail.as_ref()
    }

    /// Appends `edit` durably and applies it to the state. On an error the edit did not
    /// take effect; a write error (a full disk) leaves the manifest as it was, so the edit
    /// may be tried again.
    pub fn commit(&mut self, edit: Edit) -> Result<()> {
        if let Some(reason) = &self.broken {
            return Err(StorageError::Failed { path: self.path.clone(), reason: reason.clone() });
        }
        if self.torn_tail.take().is_some() {
            // Appends go to the end of the file: cut the torn edit off first.
            self.file.set_len(self.size).map_err(|e| StorageError::io(&self.path, e))?;
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

    /// A manifest of three edits, and where each starts.
    fn three_edits(dir: &Path) -> (Vec<u8>, Vec<usize>) {
        let mut m = Manifest::open(dir).expect("open");
        let mut starts = Vec::new();
        for id in 1..=3 {
            starts.push(m.size as usize);
            m.commit(Edit { added: vec![table(id, 0)], persisted_lsn: Some(id * 10), ..Edit::default() })
                .expect("commit");
        }
        drop(m);
        (std::fs::read(dir.join(NAME)).expect("read"), starts)
    }

    #[test]
    fn a_flipped_bit_anywhere_but_an_unfinished_last_edit_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (pristine, starts) = three_edits(dir.path());
        let path = dir.path().join(NAME);
        for pos in 0..pristine.len() {
            let mut bytes = pristine.clone();
            bytes[pos] ^= 1 << (pos % 8);
            std::fs::write(&path, &bytes).expect("write");
            match Manifest::open(dir.path()) {
                Err(StorageError::Corrupt { offset, .. }) => {
                    assert!(
                        starts.contains(&(offset as usize)),
                        "byte {pos}: offset {offset} is an edit's start"
                    )
                }
                Err(e) => panic!("byte {pos}: {e}"),
                Ok(m) => {
                    // Only a length field of the last edit grown past the end of the file
                    // reads as an unfinished append; the edits before it stand.
                    let last = starts[2];
                    assert!((last..last + 4).contains(&pos), "byte {pos} was taken for a torn tail");
                    assert!(m.torn_tail().is_some());
                    assert_eq!(m.state.persisted_lsn, 20);
                    assert_eq!(m.state.tables.len(), 2);
                }
            }
            assert_eq!(std::fs::read(&path).expect("read"), bytes, "byte {pos}: opening changes nothing");
        }
    }

    #[test]
    fn an_unfinished_last_edit_is_ignored_and_cut_off_at_the_next_append() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (pristine, starts) = three_edits(dir.path());
        let path = dir.path().join(NAME);
        for cut in starts[2] + 1..pristine.len() {
            std::fs::write(&path, &pristine[..cut]).expect("write");
            let m = Manifest::open(dir.path()).expect("a torn tail opens");
            assert_eq!(m.state.persisted_lsn, 20, "cut at {cut}");
            assert_eq!(m.torn_tail().map(|t| t.0), Some(starts[2] as u64));
        }
        // Zeros where the last edit should be (a file extended before its bytes arrived).
        let mut zeros = pristine[..starts[2]].to_vec();
        zeros.extend_from_slice(&[0; 30]);
        std::fs::write(&path, &zeros).expect("write");
        let mut m = Manifest::open(dir.path()).expect("zeros are a torn tail");
        assert_eq!(std::fs::read(&path).expect("read").len(), zeros.len(), "not cut at open");
        m.commit(Edit { persisted_lsn: Some(99), ..Edit::default() }).expect("commit");
        drop(m);
        let m = Manifest::open(dir.path()).expect("reopen");
        assert!(m.torn_tail().is_none(), "the torn edit was cut off before the append");
        assert_eq!(m.state.persisted_lsn, 99);
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
