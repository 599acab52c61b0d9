//! Garbage collection: removing versions no snapshot can see.
//!
//! The *horizon* is the oldest live snapshot (or the visibility watermark when there is
//! none): no reader, now or later, looks at the database as of an earlier time. For each
//! key, the newest version at or below the horizon is what those readers see; every older
//! version is shadowed and can go. If that newest version is a tombstone, it can go too,
//! once nothing older of the key is left anywhere: readers then find no version, which
//! means the same as finding the tombstone.
//!
//! ```text
//!   key k:  ts 12  "c"      above the horizon: kept
//!           ts  9  "b"      newest at or below: kept (what a reader at 10 sees)
//!           ts  5  "a"      shadowed: removed
//!   horizon = 10
//! ```
//!
//! Two collectors apply the same rule ([`VersionFilter`]):
//! - LSM trees run it inside compaction (the compaction filter hook); a tombstone is only
//!   dropped when the compaction's inputs hold everything older in the tree (the bottom of
//!   the tree is not enough: the key's older versions sort after the tombstone and may sit
//!   in a file that does not overlap the compaction).
//! - B+trees (and the memory engine) are *vacuumed*: a scan finds the removable versions
//!   and deletes them in batches. A background pass vacuums a keyspace after enough new
//!   versions arrived in it; `VACUUM [table]` runs it on demand.
//!
//! ## Why crash recovery cannot bring garbage back wrongly
//!
//! Recovery replays the log records after the last checkpoint, re-creating their
//! versions. Could it re-create an old version whose newer version (or tombstone) is not
//! replayed? Writers of one key are serialized by its exclusive row lock, which is held
//! until the writer's record is in the log: so for one key, log order is timestamp order.
//! If the old version's record is replayed, the newer one's (later in the log) is too, and
//! the old version is shadowed again. Nothing removed by collection is lost or revived.

use std::ops::Bound;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use phantom_storage::{Engine, WriteBatch};

use crate::keyspace::{EngineKind, Keyspaces, VacuumCandidate};
use crate::oracle::Oracle;
use crate::periodic::Periodic;
use crate::{Result, Timestamp, version};

/// How often the background collector looks for work.
const TICK: Duration = Duration::from_millis(200);
/// A keyspace is vacuumed in the background after this many new versions ...
const VACUUM_MIN_VERSIONS: u64 = 1_000;
/// ... once they are at least this fraction (1/n) of its stored versions.
const VACUUM_FRACTION: u64 = 4;

/// Removed versions are deleted in batches of this many keys.
const BATCH: usize = 1024;

/// The rule, applied to one keyspace's versions in engine order.
#[derive(Debug)]
pub struct VersionFilter {
    horizon: Timestamp,
    /// True when nothing older than the entries seen lies elsewhere (a full scan, or an
    /// LSM compaction of everything older): tombstones may go.
    complete: bool,
    current: Option<Vec<u8>>,
    /// The current key already has a version at or below the horizon.
    covered: bool,
}

impl VersionFilter {
    /// A filter for versions seen with `complete` knowledge, at `horizon`.
    pub fn new(horizon: Timestamp, complete: bool) -> Self {
        VersionFilter { horizon, complete, current: None, covered: false }
    }

    /// True to keep the version stored under engine key `key` with engine value `value`.
    /// Entries that do not decode are kept: collection never deletes what it cannot read.
    pub fn keep(&mut self, key: &[u8], value: &[u8]) -> bool {
        let Ok((user_key, ts)) = version::decode_key(key) else { return true };
        if self.current.as_deref() != Some(user_key) {
            self.current = Some(user_key.to_vec());
            self.covered = false;
        }
        if ts > self.horizon {
            return true;
        }
        if self.covered {
            return false;
        }
        self.covered = true;
        let tombstone = matches!(version::decode_value(value), Ok(None));
        !(tombstone && self.complete)
    }
}

/// The compaction filter an LSM keyspace uses, reading the horizon when each compaction
/// starts.
pub fn compaction_filter(
    horizon: Arc<std::sync::atomic::AtomicU64>,
) -> phantom_storage::lsm::CompactionFilter {
    Arc::new(move |complete: bool| {
        let mut filter = VersionFilter::new(horizon.load(std::sync::atomic::Ordering::Acquire), complete);
        Box::new(move |key: &[u8], slot: &Option<Vec<u8>>| match slot {
            Some(value) => filter.keep(key, value),
            // An engine-level deletion marker (from a vacuum): the engine's own rules.
            None => true,
        })
    })
}

/// What a vacuum did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VacuumStats {
    /// Versions looked at.
    pub scanned: u64,
    /// Versions removed.
    pub removed: u64,
}

/// Removes every version of `engine` that no snapshot at or after `horizon` can see.
pub fn vacuum(engine: &dyn Engine, horizon: Timestamp) -> Result<VacuumStats> {
    let mut filter = VersionFilter::new(horizon, true);
    let mut stats = VacuumStats::default();
    let mut doomed = WriteBatch::new();
    for entry in engine.scan((Bound::Unbounded, Bound::Unbounded)) {
        let (key, value) = entry?;
        stats.scanned += 1;
        if !filter.keep(&key, &value) {
            doomed.delete(key);
            stats.removed += 1;
            if doomed.len() >= BATCH {
                // Not logged: removing invisible versions changes nothing a reader sees,
                // and a crash merely leaves them for the next vacuum (see the module docs).
                engine.apply(std::mem::take(&mut doomed), 0)?;
            }
        }
    }
    if !doomed.is_empty() {
        engine.apply(doomed, 0)?;
    }
    Ok(stats)
}

/// One pass of the background collector: publish the horizon to LSM compactions and
/// vacuum the B+tree and memory keyspaces that gained enough versions.
pub fn collect(keyspaces: &Keyspaces, oracle: &Oracle) -> Result<VacuumStats> {
    vacuum_where(keyspaces, oracle, |c| {
        let new = c.written.load(Ordering::Relaxed);
        !matches!(c.kind, EngineKind::Lsm(_))
            && new >= VACUUM_MIN_VERSIONS
            && new.saturating_mul(VACUUM_FRACTION) >= c.engine.stats().keys
    })
}

/// Vacuums, at the current horizon, every keyspace `due` picks.
pub fn vacuum_where(
    keyspaces: &Keyspaces,
    oracle: &Oracle,
    due: impl Fn(&VacuumCandidate) -> bool,
) -> Result<VacuumStats> {
    let horizon = oracle.oldest_snapshot();
    keyspaces.set_gc_horizon(horizon);
    let mut total = VacuumStats::default();
    for candidate in keyspaces.vacuum_candidates() {
        if !due(&candidate) {
            continue;
        }
        let new = candidate.written.load(Ordering::Relaxed);
        let stats = vacuum(candidate.engine.as_ref(), horizon)?;
        candidate.written.fetch_sub(new, Ordering::Relaxed);
        tracing::debug!(
            keyspace = candidate.id,
            scanned = stats.scanned,
            removed = stats.removed,
            horizon,
            "vacuumed"
        );
        total.scanned += stats.scanned;
        total.removed += stats.removed;
    }
    Ok(total)
}

/// Starts the background collector: [`collect`] every [`TICK`], until the handle is
/// dropped.
pub fn start_collector(keyspaces: Arc<Keyspaces>, oracle: Arc<Oracle>) -> Result<Periodic> {
    Periodic::start("phantom-gc", TICK, move || {
        if let Err(e) = collect(&keyspaces, &oracle) {
            tracing::warn!(error = %e, "garbage collection failed; retrying later");
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use phantom_storage::memory::Memory;

    fn put(batch: &mut WriteBatch, key: &str, ts: Timestamp, value: Option<&str>) {
        batch.put(version::encode_key(key.as_bytes(), ts), version::encode_value(value.map(str::as_bytes)));
    }

    fn versions(engine: &dyn Engine) -> Vec<(String, Timestamp)> {
        engine
            .scan((Bound::Unbounded, Bound::Unbounded))
            .map(|e| {
                let (k, _) = e.expect("scan");
                let (user, ts) = version::decode_key(&k).expect("decode");
                (String::from_utf8_lossy(user).into_owned(), ts)
            })
            .collect()
    }

    #[test]
    fn keeps_exactly_what_snapshots_at_or_after_the_horizon_see() {
        let engine = Memory::new();
        let mut batch = WriteBatch::new();
        put(&mut batch, "a", 5, Some("a1"));
        put(&mut batch, "a", 9, Some("a2"));
        put(&mut batch, "a", 12, Some("a3"));
        put(&mut batch, "b", 3, Some("b1"));
        put(&mut batch, "b", 8, None);
        put(&mut batch, "c", 11, None);
        put(&mut batch, "c", 4, Some("c1"));
        engine.apply(batch, 1).expect("apply");
        let stats = vacuum(&engine, 10).expect("vacuum");
        assert_eq!(stats, VacuumStats { scanned: 7, removed: 3 });
        // a@5 shadowed by a@9; b's tombstone at 8 and b@3 both gone; c@11 is above the
        // horizon, so c@4 stays for snapshots at 10.
        assert_eq!(
            versions(&engine),
            vec![("a".into(), 12), ("a".into(), 9), ("c".into(), 11), ("c".into(), 4)]
        );
    }

    #[test]
    fn an_incomplete_view_keeps_tombstones() {
        let mut filter = VersionFilter::new(10, false);
        let tomb = version::encode_value(None);
        assert!(filter.keep(&version::encode_key(b"k", 7), &tomb));
        assert!(!filter.keep(&version::encode_key(b"k", 2), &version::encode_value(Some(b"v"))));
    }

    #[test]
    fn a_leveled_compaction_keeps_a_tombstone_whose_older_versions_lie_outside_it() {
        use phantom_storage::Lsm;
        use phantom_storage::lsm::{BlockCache, LsmOptions};
        use std::sync::atomic::AtomicU64;

        let dir = tempfile::tempdir().expect("tempdir");
        let options = LsmOptions { merge_trigger: 1, ..LsmOptions::default() };
        let tree = Lsm::open(dir.path(), options, BlockCache::new(1 << 20)).expect("open");
        tree.set_compaction_filter(Some(compaction_filter(Arc::new(AtomicU64::new(100)))));
        let mut batch = WriteBatch::new();
        put(&mut batch, "k", 1, Some("old"));
        tree.apply(batch, 1).expect("apply");
        tree.compact_fully().expect("k@1 into level 1");
        let mut batch = WriteBatch::new();
        put(&mut batch, "k", 5, None);
        tree.apply(batch, 2).expect("apply");
        // k@5 sorts before k@1, so level 1's table holding k@1 does not overlap the
        // compaction of k@5 into level 1, which is nonetheless the bottom of the tree.
        tree.compact_fully().expect("k@5 into level 1");
        let seen = tree.scan(version::visible_range(b"k", 10)).next().map(|e| {
            let (_, value) = e.expect("scan");
            version::decode_value(&value).expect("decode").map(<[u8]>::to_vec)
        });
        assert_eq!(seen.flatten(), None, "a snapshot at 10 must find k deleted: {:?}", versions(&tree));
    }

    #[test]
    fn lsm_compaction_drops_what_the_horizon_allows() {
        use phantom_storage::Lsm;
        use phantom_storage::lsm::{BlockCache, LsmOptions};
        use std::sync::atomic::AtomicU64;

        let dir = tempfile::tempdir().expect("tempdir");
        let tree = Lsm::open(dir.path(), LsmOptions::default(), BlockCache::new(1 << 20)).expect("open");
        let horizon = Arc::new(AtomicU64::new(60));
        tree.set_compaction_filter(Some(compaction_filter(horizon)));
        // Four flushed tables of 20 versions each: the fourth triggers a compaction into
        // level 1, the bottom of this tree.
        for flush in 0..4u64 {
            for ts in flush * 20 + 1..=flush * 20 + 20 {
                let mut batch = WriteBatch::new();
                put(&mut batch, "hot", ts, Some("v"));
                match ts {
                    10 => put(&mut batch, "gone", ts, Some("old")),
                    50 => put(&mut batch, "gone", ts, None),
                    _ => {}
                }
                tree.apply(batch, ts).expect("apply");
            }
            tree.compact_fully().expect("flush and compact");
        }
        assert_eq!(tree.tables_per_level().first(), Some(&0), "level 0 was compacted");
        let left = versions(&tree);
        // hot: 61..=80 above the horizon, plus 60, the newest at or below it. gone: a
        // tombstone at or below the horizon with nothing older left: removed entirely.
        assert_eq!(left.len(), 21, "{left:?}");
        assert!(left.iter().all(|(k, ts)| k == "hot" && *ts >= 60));
    }
}
