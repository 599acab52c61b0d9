//! When the files of a database may be opened together: the checks recovery makes before
//! and after replaying the log.
//!
//! A database on disk is three kinds of files that must agree: every keyspace's own
//! files, each naming the log position its last checkpoint covers (a B+tree in its header
//! slots, an LSM tree in its manifest: a [`RecoveryPoint`]); `data/MANIFEST`, naming the
//! position `L` of the last checkpoint that completed for *every* keyspace; and the log,
//! which holds the records from some position on. A checkpoint writes the keyspaces' files
//! first, then `data/MANIFEST`, then removes the log segments at or below `L` (see
//! [`crate::checkpoint`]), so after any crash:
//!
//! 1. every keyspace's files cover at least `L`, or the keyspace was created after `L`
//!    (its creation is then a log record after `L`, and the log rebuilds it);
//! 2. the log starts at or below `L + 1`;
//! 3. the log reaches at least as far as any keyspace's files (a checkpoint syncs the log
//!    through the position it covers before any file claims it).
//!
//! A file that breaks rule 1 opened from an older state than it last made durable: a
//! damaged newer header slot made it fall back to the older one, or a damaged manifest
//! lost edits. Falling back is what a torn write of a checkpoint that never completed
//! needs (then the older state still covers `L`, and the log brings it forward), but here
//! the newer state completed, its log is gone and the older state's pages may have been
//! reused: opening would answer with stale data, or with none (a table reading as empty,
//! the catalog forgetting a table and its file then deleted as unreferenced). So the open
//! is refused with a corruption error (SQLSTATE XX001) naming the file and what was
//! damaged. Rules 2 and 3 catch a log with missing segments. Damage that rule 1 accepts
//! (a torn header of a checkpoint that never completed) is logged and reported.

use std::collections::HashSet;
use std::path::Path;

use phantom_storage::{Lsn, RecoveryPoint, StorageError};

use crate::checkpoint::Manifest;
use crate::keyspace::KeyspaceId;

/// The checks, with what they were given.
pub(crate) struct Rules<'a> {
    pub manifest: &'a Manifest,
    pub manifest_path: &'a Path,
    /// Every keyspace opened from its files, before the log was replayed.
    pub points: &'a [(KeyspaceId, RecoveryPoint)],
}

impl Rules<'_> {
    /// Rule 2, before replaying: the log's oldest segment (`first`, `None` without any)
    /// starts at or below `L + 1`.
    pub fn check_log_start(&self, wal_dir: &Path, first: Option<Lsn>) -> phantom_storage::Result<()> {
        let covered = self.manifest.checkpoint_lsn;
        match first {
            Some(first) if first > covered + 1 => Err(StorageError::Corrupt {
                path: wal_dir.to_path_buf(),
                offset: 0,
                reason: format!(
                    "the oldest log segment starts at LSN {first}, but {} covers the log only through LSN \
                     {covered}: log records {}..{} are missing",
                    self.manifest_path.display(),
                    covered + 1,
                    first - 1
                ),
            }),
            _ => Ok(()),
        }
    }

    /// Rule 3's bound: the furthest position any file claims to hold.
    pub fn must_reach(&self) -> Lsn {
        self.points.iter().map(|(_, p)| p.covered_lsn).fold(self.manifest.checkpoint_lsn, Lsn::max)
    }

    /// Rule 1, after replaying: every keyspace covers `L` or was created by a replayed
    /// record (`created`). Damage it accepts is logged and returned, for the report.
    pub fn check_keyspaces(&self, created: &HashSet<KeyspaceId>) -> phantom_storage::Result<Vec<String>> {
        let covered = self.manifest.checkpoint_lsn;
        let mut accepted = Vec::new();
        for (id, point) in self.points {
            if point.covered_lsn >= covered || created.contains(id) {
                if let Some(damage) = &point.damage {
                    let note = format!(
                        "{}: {damage}; opened from {}, which covers the log through LSN {} (as far as the last \
                         completed checkpoint needs), and the log replayed the rest",
                        point.path.display(),
                        point.source,
                        point.covered_lsn
                    );
                    tracing::warn!("{note}");
                    accepted.push(note);
                }
                continue;
            }
            let what = match &point.damage {
                Some(damage) => format!("{damage}; "),
                None => String::new(),
            };
            return Err(StorageError::Corrupt {
                path: point.path.clone(),
                offset: point.offset,
                reason: format!(
                    "{what}{} covers the log only through LSN {}, but {} records a checkpoint through LSN {covered} \
                     that completed for every table, this file included: its newer state is lost, and the older \
                     one cannot stand in for it (the log that would bring it forward may be gone and its pages \
                     reused), so the database is not opened; restore the file from a backup",
                    point.source,
                    point.covered_lsn,
                    self.manifest_path.display()
                ),
            });
        }
        Ok(accepted)
    }
}
