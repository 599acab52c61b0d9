//! Tests of the log: replay, torn tails, corruption, rotation, group commit, failures.

use std::sync::Arc;

use super::*;
use crate::wal::tail;

fn options(segment_size: u64) -> WalOptions {
    WalOptions { segment_size, sync: SyncMode::Full }
}

/// The records a log replayed on open, in order.
type Replayed = Vec<(Lsn, Vec<u8>)>;

/// Opens the log and collects what it replays.
fn open(dir: &Path, segment_size: u64) -> Result<(Wal, Replayed)> {
    let mut seen = Vec::new();
    let wal = Wal::open(dir, options(segment_size), 0, &mut |lsn, payload| {
        seen.push((lsn, payload.to_vec()));
        Ok(())
    })?;
    Ok((wal, seen))
}

fn payload(i: u64) -> Vec<u8> {
    format!("record {i} {}", "x".repeat((i % 7) as usize)).into_bytes()
}

fn write_records(wal: &Wal, range: std::ops::Range<u64>) {
    for i in range {
        let lsn = wal.append(&payload(i)).expect("append");
        wal.flush(lsn).expect("flush");
    }
}

fn expected(range: std::ops::Range<u64>) -> Vec<(Lsn, Vec<u8>)> {
    range.map(|i| (i, payload(i))).collect()
}

#[test]
fn reopen_replays_every_record_and_continues_numbering() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, seen) = open(dir.path(), 1 << 20).expect("open");
    assert!(seen.is_empty());
    write_records(&wal, 1..51);
    drop(wal);
    let (wal, seen) = open(dir.path(), 1 << 20).expect("reopen");
    assert_eq!(seen, expected(1..51));
    assert_eq!(wal.last_lsn(), 50);
    write_records(&wal, 51..61);
    drop(wal);
    let (_, seen) = open(dir.path(), 1 << 20).expect("reopen");
    assert_eq!(seen, expected(1..61));
}

#[test]
fn skip_through_skips_covered_records() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _) = open(dir.path(), 1 << 20).expect("open");
    write_records(&wal, 1..11);
    drop(wal);
    let mut seen = Vec::new();
    Wal::open(dir.path(), options(1 << 20), 7, &mut |lsn, _| {
        seen.push(lsn);
        Ok(())
    })
    .expect("open");
    assert_eq!(seen, vec![8, 9, 10]);
}

/// The only segment file of a log.
fn only_segment(dir: &Path) -> PathBuf {
    let segments = segment::list(dir).expect("list");
    assert_eq!(segments.len(), 1);
    segments[0].path.clone()
}

#[test]
fn torn_tail_at_every_offset_recovers_the_intact_prefix() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _) = open(dir.path(), 1 << 20).expect("open");
    write_records(&wal, 1..4);
    drop(wal);
    let path = only_segment(dir.path());
    let full = std::fs::read(&path).expect("read");
    let last_start = {
        let mut buf = Vec::new();
        for i in 1..3 {
            record::encode(&mut buf, i, &payload(i));
        }
        buf.len()
    };
    for cut in last_start..full.len() {
        std::fs::write(&path, &full[..cut]).expect("write");
        let (wal, seen) = open(dir.path(), 1 << 20).expect("open torn log");
        assert_eq!(seen, expected(1..3), "cut at {cut}");
        // New records follow the intact prefix and survive another reopen.
        write_records(&wal, 3..5);
        drop(wal);
        let (_, seen) = open(dir.path(), 1 << 20).expect("reopen");
        assert_eq!(seen, expected(1..5), "cut at {cut}");
        std::fs::write(&path, &full).expect("restore");
    }
}

/// Opens with `recovery` and collects what it replays.
fn open_with(dir: &Path, recovery: &Recovery) -> Result<(Wal, Replayed)> {
    let mut seen = Vec::new();
    let wal = Wal::open_with(dir, options(1 << 20), recovery, &mut |lsn, payload| {
        seen.push((lsn, payload.to_vec()));
        Ok(())
    })?;
    Ok((wal, seen))
}

/// Where record `lsn` (of records written by `write_records` from 1) starts.
fn offset_of(lsn: u64) -> usize {
    let mut buf = Vec::new();
    for i in 1..lsn {
        record::encode(&mut buf, i, &payload(i));
    }
    buf.len()
}

/// A crash image of records 1..=n: the segment with the zeros kept ahead of the log.
fn crashed_log(dir: &Path, n: u64) -> PathBuf {
    let (wal, _) = open(dir, 1 << 20).expect("open");
    write_records(&wal, 1..n + 1);
    std::mem::forget(wal);
    only_segment(dir)
}

#[test]
fn what_a_torn_write_leaves_is_cut_off() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Records long enough to cross sector boundaries.
    let (wal, _) = open(dir.path(), 1 << 20).expect("open");
    // Incompressible, so each record is stored at its full 700 bytes.
    let big = |i: u64| -> Vec<u8> {
        let mut x = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..700)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8 | 1
            })
            .collect()
    };
    for i in 1..=6 {
        let lsn = wal.append(&big(i)).expect("append");
        wal.flush(lsn).expect("flush");
    }
    std::mem::forget(wal);
    let path = only_segment(dir.path());
    let full = std::fs::read(&path).expect("read");
    let mut frames = Vec::new();
    for i in 1..=5 {
        let mut one = Vec::new();
        record::encode(&mut one, i, &big(i));
        frames.push(one.len());
    }
    let last_start: usize = frames.iter().sum();
    let mut last = Vec::new();
    record::encode(&mut last, 6, &big(6));
    let last_end = last_start + last.len();
    // The last record's write stopped at each sector boundary inside it: what follows
    // reads as the zeros that were there.
    let mut cuts = 0;
    for boundary in (0..last_end).step_by(tail::SECTOR).filter(|&b| b > last_start) {
        let mut torn = full.clone();
        torn[boundary..last_end].fill(0);
        std::fs::write(&path, &torn).expect("write");
        let (wal, seen) = open(dir.path(), 1 << 20).expect("a torn write opens");
        assert_eq!(seen.len(), 5, "torn at {boundary}");
        assert!(wal.recovery_report().torn_tail.is_some(), "and is reported");
        drop(wal);
        std::fs::write(&path, &full).expect("restore");
        cuts += 1;
    }
    assert!(cuts >= 1, "the last record crosses a sector boundary");
}

#[test]
fn anything_else_at_the_tail_is_damage_and_the_segment_is_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _) = open(dir.path(), 1 << 20).expect("open");
    write_records(&wal, 1..6);
    drop(wal);
    let path = only_segment(dir.path());
    let full = std::fs::read(&path).expect("read");

    let mut cases = Vec::new();
    // Garbage after the last record: a torn write leaves zeros, not garbage.
    let mut garbage = full.clone();
    garbage.extend_from_slice(&[0xAB; 40]);
    cases.push(("garbage after the end", garbage));
    // A flipped byte in the last record's payload: the record is complete.
    let mut flipped = full.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x40;
    cases.push(("a flipped byte in the last record", flipped));
    // A whole record whose length field points far past the end of the file.
    let mut long = full.clone();
    let mut header = Vec::new();
    record::encode(&mut header, 6, b"abc");
    header[0..4].copy_from_slice(&(1u32 << 29).to_le_bytes());
    long.extend_from_slice(&header);
    cases.push(("a damaged length field", long));
    // A flipped bit in a record in the middle: the case, later commits intact.
    let mut middle = full.clone();
    middle[offset_of(3) + 20] ^= 0x02;
    cases.push(("a flipped bit in the middle", middle));
    for (what, bytes) in cases {
        std::fs::write(&path, &bytes).expect("write");
        match open(dir.path(), 1 << 20) {
            Err(StorageError::Corrupt { path: p, .. }) => assert_eq!(p, path, "{what}"),
            other => panic!("{what}: expected damage, got {:?}", other.map(|(_, seen)| seen.len())),
        }
        assert_eq!(std::fs::read(&path).expect("read"), bytes, "{what}: the segment is left as it was");
    }
}

#[test]
fn a_salvage_cuts_at_the_first_bad_record_and_keeps_a_copy() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = crashed_log(dir.path(), 10);
    let mut bytes = std::fs::read(&path).expect("read");
    let at = offset_of(4);
    bytes[at + 18] ^= 0x08;
    std::fs::write(&path, &bytes).expect("write");
    let salvage = Recovery { salvage: true, ..Recovery::default() };
    let (wal, seen) = open_with(dir.path(), &salvage).expect("salvage");
    assert_eq!(seen, expected(1..4), "records before the damage are replayed");
    let report = wal.recovery_report().clone();
    assert_eq!(report.salvaged.len(), 1);
    match &report.salvaged[0].action {
        SalvageAction::Cut { first_lost, intact_lost, last_lost, copies } => {
            assert_eq!((*first_lost, *intact_lost, *last_lost), (4, 6, Some(10)));
            assert_eq!(copies.len(), 1);
            assert_eq!(std::fs::read(&copies[0]).expect("copy"), &bytes[at..]);
        }
        other => panic!("{other:?}"),
    }
    assert!(report.salvaged[0].to_string().contains("from LSN 4 on are lost"), "{}", report.salvaged[0]);
    write_records(&wal, 4..6);
    drop(wal);
    // The cut log is whole: it opens without salvage and numbering continued.
    assert_eq!(open(dir.path(), 1 << 20).expect("reopen").1, expected(1..6));
}

#[test]
fn a_salvage_skips_damage_the_table_files_already_hold() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = crashed_log(dir.path(), 10);
    let mut bytes = std::fs::read(&path).expect("read");
    bytes[offset_of(4) + 18] ^= 0x08;
    std::fs::write(&path, &bytes).expect("write");
    let covered = Recovery { skip_through: 6, must_reach: 6, salvage: false };
    assert!(
        matches!(open_with(dir.path(), &covered), Err(StorageError::Corrupt { .. })),
        "refused without salvage"
    );
    let (_, seen) = open_with(dir.path(), &Recovery { salvage: true, ..covered }).expect("salvage");
    assert_eq!(seen, expected(7..11), "nothing needed is lost");
}

#[test]
fn a_log_ending_before_what_the_files_hold_is_damage_and_cannot_be_salvaged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = crashed_log(dir.path(), 10);
    // Records 8..10 gone, as if zeroed.
    let mut bytes = std::fs::read(&path).expect("read");
    bytes[offset_of(8)..].fill(0);
    std::fs::write(&path, &bytes).expect("write");
    let needs_nine = Recovery { skip_through: 5, must_reach: 9, salvage: false };
    let error = open_with(dir.path(), &needs_nine).expect_err("refused");
    assert!(error.to_string().contains("log records are missing"), "{error}");
    let error = open_with(dir.path(), &Recovery { salvage: true, ..needs_nine }).expect_err("still refused");
    assert!(matches!(error, StorageError::Corrupt { .. }), "{error}");
    // Damage below what the files hold cannot be cut away either.
    bytes = std::fs::read(&path).expect("read");
    bytes[offset_of(3) + 18] ^= 0x01;
    std::fs::write(&path, &bytes).expect("write");
    let error = open_with(dir.path(), &Recovery { skip_through: 1, must_reach: 5, salvage: true })
        .expect_err("refused");
    assert!(error.to_string().contains("salvaging cannot help"), "{error}");
}

#[test]
fn rotation_spreads_records_over_segments_and_replay_crosses_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _) = open(dir.path(), 256).expect("open");
    write_records(&wal, 1..101);
    assert!(wal.segment_count() > 5, "only {} segments", wal.segment_count());
    let logical = wal.size_bytes();
    drop(wal);
    // Closed, the files hold exactly the records (the preallocated zeros are trimmed).
    let total: u64 = segment::list(dir.path()).expect("list").iter().map(|s| s.size).sum();
    assert_eq!(logical, total);
    let (_, seen) = open(dir.path(), 256).expect("reopen");
    assert_eq!(seen, expected(1..101));
}

#[test]
fn corruption_before_a_later_segment_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _) = open(dir.path(), 256).expect("open");
    write_records(&wal, 1..40);
    drop(wal);
    let segments = segment::list(dir.path()).expect("list");
    assert!(segments.len() >= 2);
    let first = &segments[0].path;
    let mut bytes = std::fs::read(first).expect("read");
    let at = bytes.len() - 3;
    bytes[at] ^= 0xFF;
    std::fs::write(first, &bytes).expect("write");
    match open(dir.path(), 256) {
        Err(StorageError::Corrupt { path, .. }) => assert_eq!(&path, first),
        other => panic!("expected corruption, got {:?}", other.map(|(_, seen)| seen.len())),
    }
}

#[test]
fn removing_covered_segments_keeps_the_rest_replayable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _) = open(dir.path(), 256).expect("open");
    write_records(&wal, 1..60);
    let before = wal.segment_count();
    let removed = wal.remove_segments_through(30, None).expect("remove");
    assert!(removed > 0);
    assert_eq!(wal.segment_count(), before - removed);
    drop(wal);
    let mut seen = Vec::new();
    Wal::open(dir.path(), options(256), 30, &mut |lsn, _| {
        seen.push(lsn);
        Ok(())
    })
    .expect("open");
    assert_eq!(seen, (31..60).collect::<Vec<_>>());
    // Nothing the caller still needs was removed: the first remaining segment starts at
    // or before LSN 31.
    let first = segment::list(dir.path()).expect("list")[0].first_lsn;
    assert!(first <= 31);
}

#[test]
fn a_covered_active_segment_is_sealed_and_removed_and_the_log_continues() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _) = open(dir.path(), 1 << 20).expect("open");
    write_records(&wal, 1..10);
    wal.seal_if_covered(5).expect("seal");
    assert_eq!(wal.segment_count(), 1, "records above 5 are in the active segment: not sealed");
    wal.seal_if_covered(9).expect("seal");
    assert_eq!(wal.remove_segments_through(9, None).expect("remove"), 1);
    assert_eq!(wal.size_bytes(), 0);
    write_records(&wal, 10..13);
    drop(wal);
    let (_, seen) = open(dir.path(), 1 << 20).expect("reopen");
    assert_eq!(seen.iter().map(|(lsn, _)| *lsn).collect::<Vec<_>>(), vec![10, 11, 12]);
}

#[test]
fn removed_segments_go_to_the_archive_first() {
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = dir.path().join("archive");
    let (wal, _) = open(&dir.path().join("wal"), 256).expect("open");
    write_records(&wal, 1..60);
    let removed = wal.remove_segments_through(30, Some(&archive)).expect("remove");
    assert!(removed > 0);
    let archived = segment::list(&archive).expect("list archive");
    assert_eq!(archived.len(), removed);
    assert_eq!(archived[0].first_lsn, 1, "the archive starts where the log started");
}

#[test]
fn concurrent_commits_share_fsyncs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _) = open(dir.path(), 1 << 20).expect("open");
    let wal = Arc::new(wal);
    let threads: Vec<_> = (0..8u64)
        .map(|t| {
            let wal = wal.clone();
            std::thread::spawn(move || {
                let mut lsns = Vec::new();
                for i in 0..500u64 {
                    let lsn = wal.append(&(t * 1000 + i).to_le_bytes()).expect("append");
                    wal.flush(lsn).expect("flush");
                    assert!(wal.durable_lsn() >= lsn);
                    lsns.push(lsn);
                }
                lsns
            })
        })
        .collect();
    let mut all: Vec<Lsn> = threads.into_iter().flat_map(|t| t.join().expect("thread")).collect();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), 4000);
    assert!(wal.sync_count() < 4000, "{} fsyncs for 4000 commits", wal.sync_count());
    drop(wal);
    let (_, seen) = open(dir.path(), 1 << 20).expect("reopen");
    assert_eq!(seen.len(), 4000);
    let mut payloads: Vec<u64> = seen
        .iter()
        .map(|(_, p)| {
            let mut b = [0u8; 8];
            b.copy_from_slice(p);
            u64::from_le_bytes(b)
        })
        .collect();
    payloads.sort_unstable();
    let expected: Vec<u64> = (0..8).flat_map(|t| (0..500).map(move |i| t * 1000 + i)).collect();
    assert_eq!(payloads, expected);
}

#[test]
fn a_failed_fsync_fails_this_and_every_later_commit() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _) = open(dir.path(), 1 << 20).expect("open");
    write_records(&wal, 1..3);
    wal.inject(false, true);
    let lsn = wal.append(b"doomed").expect("append");
    assert!(matches!(wal.flush(lsn), Err(StorageError::Io { .. }) | Err(StorageError::WalFailed(_))));
    // Even with the fault gone, the log refuses to promise durability again.
    wal.inject(false, false);
    assert!(matches!(wal.append(b"later"), Err(StorageError::WalFailed(_))));
    assert!(matches!(wal.flush(lsn), Err(StorageError::WalFailed(_))));
}

#[test]
fn a_failed_write_fails_waiting_committers_too() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _) = open(dir.path(), 1 << 20).expect("open");
    wal.inject(true, false);
    let a = wal.append(b"a").expect("append");
    let b = wal.append(b"b").expect("append");
    assert!(wal.flush(a).is_err());
    assert!(matches!(wal.flush(b), Err(StorageError::WalFailed(_))));
}

#[test]
fn oversized_records_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _) = open(dir.path(), 1 << 20).expect("open");
    let huge = vec![0u8; record::MAX_PAYLOAD];
    assert!(matches!(wal.append(&huge), Err(StorageError::TooLarge { .. })));
}

#[test]
fn a_crash_leaves_preallocated_zeros_that_recovery_treats_as_a_clean_end() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _) = open(dir.path(), 1 << 20).expect("open");
    write_records(&wal, 1..50);
    // As after kill -9: no close, so the zeros made ahead of the log stay.
    std::mem::forget(wal);
    let path = only_segment(dir.path());
    let bytes = std::fs::read(&path).expect("read");
    let mut records = Vec::new();
    for i in 1..50 {
        record::encode(&mut records, i, &payload(i));
    }
    assert!(
        bytes.len() as u64 >= segment::PREALLOCATE && bytes.len() > records.len(),
        "{} bytes",
        bytes.len()
    );
    assert_eq!(&bytes[..records.len()], &records[..]);
    assert!(segment::is_preallocated(&bytes[records.len()..]));

    let (wal, seen) = open(dir.path(), 1 << 20).expect("recover");
    assert_eq!(seen, expected(1..50));
    write_records(&wal, 50..60);
    std::mem::forget(wal);
    assert_eq!(open(dir.path(), 1 << 20).expect("recover again").1, expected(1..60));
}

#[test]
fn sealed_segments_end_with_their_last_record_and_only_the_active_one_has_zeros() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _) = open(dir.path(), 256).expect("open");
    write_records(&wal, 1..40);
    let segments = segment::list(dir.path()).expect("list");
    assert!(segments.len() > 3);
    for sealed in &segments[..segments.len() - 1] {
        let bytes = std::fs::read(&sealed.path).expect("read");
        assert!(
            !segment::is_preallocated(&bytes[bytes.len() - 1..]),
            "{} ends in zeros",
            sealed.path.display()
        );
    }
    std::mem::forget(wal);
    assert_eq!(open(dir.path(), 256).expect("recover").1, expected(1..40));
}

#[test]
fn zeros_in_a_segment_with_later_segments_are_corruption() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _) = open(dir.path(), 256).expect("open");
    write_records(&wal, 1..40);
    drop(wal);
    let segments = segment::list(dir.path()).expect("list");
    let first = &segments[0].path;
    let mut bytes = std::fs::read(first).expect("read");
    let half = bytes.len() / 2;
    bytes[half..].fill(0);
    std::fs::write(first, &bytes).expect("write");
    assert!(open(dir.path(), 256).is_err(), "lost records in a sealed segment must not pass as a clean end");
}

/// `len` bytes that LZ4 cannot shrink, different for each `seed`.
fn incompressible(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Appends and flushes records of `len` incompressible bytes until the log refuses one;
/// returns the accepted payloads and the refusal.
fn fill(wal: &Wal, seed: u64, len: usize) -> (Vec<Vec<u8>>, StorageError) {
    let mut accepted = Vec::new();
    for i in 0..10_000 {
        let payload = incompressible(seed + i, len);
        match wal.append(&payload) {
            Ok(lsn) => {
                wal.flush(lsn).expect("a record that got an LSN is written");
                accepted.push(payload);
            }
            Err(e) => return (accepted, e),
        }
    }
    panic!("the log never ran out of room");
}

/// Appends until the backoff after a full disk has passed (a bounded wait, not a timing).
fn append_when_space_returns(wal: &Wal, payload: &[u8]) -> Lsn {
    for _ in 0..500 {
        match wal.append(payload) {
            Ok(lsn) => return lsn,
            Err(e) => assert!(e.is_disk_full(), "{e}"),
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("writing did not resume after space returned");
}

#[test]
fn a_full_disk_refuses_records_before_they_are_logged_and_writing_resumes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _) = open(dir.path(), 64 << 20).expect("open");
    write_records(&wal, 1..11);
    wal.inject_no_space(true);
    // Records still fit in the room already made; then the log refuses, at once and
    // again, without handing out LSNs or failing for good.
    let (accepted, refusal) = fill(&wal, 100, 16 << 10);
    assert!(refusal.is_disk_full(), "{refusal}");
    assert!(!accepted.is_empty(), "the room made before the disk filled is used");
    let last = wal.last_lsn();
    assert_eq!(last, 10 + accepted.len() as u64);
    for _ in 0..5 {
        let refused = incompressible(999, 16 << 10);
        assert!(wal.append(&refused).expect_err("still full").is_disk_full());
    }
    assert_eq!(wal.last_lsn(), last, "refused records get no LSN");
    assert_eq!(wal.durable_lsn(), last);

    wal.inject_no_space(false);
    let resumed = append_when_space_returns(&wal, b"after");
    assert_eq!(resumed, last + 1, "numbering continues without a gap");
    wal.flush(resumed).expect("flush");
    // As after a crash: the zeros stay, recovery must still find exactly what was logged.
    std::mem::forget(wal);
    let (_, seen) = open(dir.path(), 64 << 20).expect("reopen");
    let mut want: Vec<Vec<u8>> = (1..11).map(payload).collect();
    want.extend(accepted);
    want.push(b"after".to_vec());
    assert_eq!(seen.into_iter().map(|(_, p)| p).collect::<Vec<_>>(), want);
}

#[test]
fn concurrent_appenders_on_a_full_disk_lose_nothing_they_were_promised() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _) = open(dir.path(), 1 << 20).expect("open");
    let wal = Arc::new(wal);
    write_records(&wal, 1..2);
    wal.inject_no_space(true);
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let wal = wal.clone();
            std::thread::spawn(move || fill(&wal, t << 32, 8 << 10).0)
        })
        .collect();
    let mut accepted: Vec<Vec<u8>> = threads.into_iter().flat_map(|t| t.join().expect("thread")).collect();
    accepted.push(payload(1));
    drop(wal);
    let (_, seen) = open(dir.path(), 1 << 20).expect("reopen");
    let mut seen: Vec<Vec<u8>> = seen.into_iter().map(|(_, p)| p).collect();
    seen.sort();
    accepted.sort();
    assert_eq!(seen, accepted, "exactly the accepted records, across segment switches");
}

#[test]
fn a_segment_switch_on_a_full_disk_stays_in_the_old_segment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _) = open(dir.path(), 4096).expect("open");
    write_records(&wal, 1..3);
    wal.inject_no_space(true);
    let (accepted, refusal) = fill(&wal, 7, 1000);
    assert!(refusal.is_disk_full(), "{refusal}");
    assert!(accepted.len() > 5, "records past the segment size went on into the old segment");
    assert!(!dir.path().join("next-segment.tmp").exists(), "a failed spare is removed");
    wal.inject_no_space(false);
    let lsn = append_when_space_returns(&wal, b"after");
    wal.flush(lsn).expect("flush");
    write_records(&wal, lsn + 1..lsn + 3);
    assert!(wal.segment_count() > 1, "once space is back, segments switch again");
    drop(wal);
    let (_, seen) = open(dir.path(), 4096).expect("reopen");
    assert_eq!(seen.len() as u64, lsn + 2);
    assert_eq!(seen[2..2 + accepted.len()].iter().map(|(_, p)| p.clone()).collect::<Vec<_>>(), accepted);
}

#[test]
fn a_record_write_that_fails_partway_is_erased_before_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (wal, _) = open(dir.path(), 1 << 20).expect("open");
    write_records(&wal, 1..4);
    wal.inject(true, false);
    // Two records in one batch: the first reaches the file whole, the second all but
    // its last byte, and the write reports failure.
    let a = wal.append(b"first of the failed batch").expect("append");
    let b = wal.append(b"second of the failed batch").expect("append");
    assert!(wal.flush(b).is_err());
    assert!(matches!(wal.flush(a), Err(StorageError::WalFailed(_))));
    std::mem::forget(wal);
    let (_, seen) = open(dir.path(), 1 << 20).expect("reopen");
    assert_eq!(seen, expected(1..4), "a commit reported failed must not come back");
}
