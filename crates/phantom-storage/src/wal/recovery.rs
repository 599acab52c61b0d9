//! Reading the log back at open: replay, the end of the log, damage and salvage.
//!
//! Segments are read in LSN order and every intact record is handed to the caller's
//! replay function. Where a record does not check out, [`super::tail::judge`] says what
//! the bytes from there on are. A clean end or a torn write in the last segment ends the
//! log (a torn tail is cut off and reported); anything else is damage, and so is a torn
//! or clean end with later segments after it (a segment is only started once the previous
//! one is complete and synced), a gap between segments, and a log that ends before the
//! position the caller says the table files already hold ([`Recovery::must_reach`]: those
//! records were durable, so they cannot be missing for any innocent reason).
//!
//! Damage is an error naming the segment and offset, and nothing is changed on disk,
//! unless the caller asked for a salvage ([`Recovery::salvage`]). A salvage:
//!
//! - skips damaged records when every table file already holds them (the intact records
//!   after them continue the log at an LSN at or below [`Recovery::skip_through`] + 1):
//!   nothing is lost;
//! - otherwise cuts the log at the first bad record, keeping a copy of everything cut off
//!   next to it (`<segment>.discarded`, later segments renamed to `<name>.discarded`), and
//!   reports how many intact records went with it. A salvage that would end the log below
//!   what table files already hold is refused: the database would then continue LSNs the
//!   files have seen and lose later commits.

use std::path::{Path, PathBuf};

use super::record::{self, Frame};
use super::segment::{self, ActiveSegment, Segment};
use super::tail::{self, Verdict};
use crate::{Lsn, Result, StorageError};

/// What the caller of [`super::Wal::open_with`] knows about the log from the table files.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recovery {
    /// Records at or below this LSN are read and checked but not replayed: every table
    /// file holds them.
    pub skip_through: Lsn,
    /// The log must reach at least this LSN: some table file already holds changes up to
    /// it, so the records up to it were durable.
    pub must_reach: Lsn,
    /// Salvage a damaged log instead of refusing to open (see the module docs).
    pub salvage: bool,
}

/// What recovery did that a user should hear about.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecoveryReport {
    /// A torn write at the end of the log, cut off (it was never acknowledged).
    pub torn_tail: Option<TornTail>,
    /// What a salvage discarded or skipped.
    pub salvaged: Vec<Salvage>,
}

/// A torn write cut off the end of the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TornTail {
    pub segment: PathBuf,
    pub offset: u64,
    /// Bytes cut off (including the zeros kept ahead of the log).
    pub bytes: u64,
    pub reason: String,
}

impl std::fmt::Display for TornTail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the write-ahead log ends in a torn write at offset {} of {} ({}); it was never acknowledged and was cut off",
            self.offset,
            self.segment.display(),
            self.reason
        )
    }
}

/// Damage a salvage stepped over or cut off.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Salvage {
    pub segment: PathBuf,
    pub offset: u64,
    /// What was wrong there.
    pub reason: String,
    pub action: SalvageAction,
}

/// What a salvage did about one damaged place.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SalvageAction {
    /// The damaged records `first..=last` were skipped: every table file holds them.
    Skipped { first: Lsn, last: Lsn },
    /// The log was cut here: the record with LSN `first_lost` and everything after it is
    /// gone from the log, `intact_lost` of them intact (up to LSN `last_lost`); `copies`
    /// keep the bytes that were cut off.
    Cut { first_lost: Lsn, intact_lost: u64, last_lost: Option<Lsn>, copies: Vec<PathBuf> },
}

impl std::fmt::Display for Salvage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = format!("offset {} of {}", self.offset, self.segment.display());
        match &self.action {
            SalvageAction::Skipped { first, last } => write!(
                f,
                "salvage: skipped damaged log records {first}..={last} at {at} ({}); every table file already holds them",
                self.reason
            ),
            SalvageAction::Cut { first_lost, intact_lost, last_lost, copies } => {
                write!(
                    f,
                    "salvage: cut the write-ahead log at {at} ({}): the transactions logged from LSN {first_lost} on are lost",
                    self.reason
                )?;
                match last_lost {
                    Some(last) => write!(f, ", {intact_lost} of them intact (up to LSN {last})")?,
                    None => write!(f, ", none of them intact")?,
                }
                let copies: Vec<String> = copies.iter().map(|c| c.display().to_string()).collect();
                if !copies.is_empty() {
                    write!(f, "; the discarded bytes are kept in {}", copies.join(", "))?;
                }
                Ok(())
            }
        }
    }
}

/// What the log looks like after recovery: ready to append at `next_lsn`.
pub(super) struct Recovered {
    pub sealed: Vec<Segment>,
    pub active: ActiveSegment,
    pub next_lsn: Lsn,
    pub report: RecoveryReport,
}

/// Said after a refusal: how to get the database open anyway.
const SALVAGE_HINT: &str = "the log is left as it is; opening with the salvage option (`--salvage-wal`) \
     skips damage the table files already cover, or else cuts the log here and keeps a copy of what it cuts";

/// Damage found at `offset` of segment `index`, where the record `lsn` was expected.
struct Damage {
    index: usize,
    offset: usize,
    lsn: Lsn,
    reason: String,
}

/// Reads the log in `dir` (see the module docs).
pub(super) fn recover(
    dir: &Path,
    recovery: &Recovery,
    replay: &mut dyn FnMut(Lsn, &[u8]) -> Result<()>,
) -> Result<Recovered> {
    std::fs::create_dir_all(dir).map_err(|e| StorageError::io(dir, e))?;
    // A segment made ahead of need that never got its name is not part of the log.
    segment::remove_spare(dir);
    let mut segments = segment::list(dir)?;
    let mut next_lsn: Lsn = segments.first().map_or(1, |s| s.first_lsn);
    let mut report = RecoveryReport::default();
    let mut scratch = Vec::new();
    // Where the log ends: a segment and the length of its records.
    let mut end: Option<(usize, usize)> = None;
    let mut index = 0;
    'segments: while index < segments.len() {
        let is_last = index + 1 == segments.len();
        let path = segments[index].path.clone();
        if segments[index].first_lsn != next_lsn {
            let first = segments[index].first_lsn;
            let damage = Damage {
                index,
                offset: 0,
                lsn: next_lsn,
                reason: format!("the segment starts at LSN {first} but LSN {next_lsn} was expected"),
            };
            if !recovery.salvage {
                return Err(refuse(&path, &damage));
            }
            // Records missing between segments that every table file holds can be skipped.
            if first > next_lsn && first - 1 <= recovery.skip_through {
                skip(&damage, &path, first, &mut report);
                next_lsn = first;
            } else {
                // Cut at the end of the previous segment.
                let previous = index.checked_sub(1).ok_or_else(|| refuse(&path, &damage))?;
                let size = segments[previous].size as usize;
                let bytes = read(&segments[previous].path)?;
                let cut = Damage { index: previous, offset: size, ..damage };
                cut_log(dir, recovery, &mut segments, &cut, &bytes, &path, &mut report)?;
                end = Some((previous, size));
                break 'segments;
            }
        }
        let bytes = read(&path)?;
        let mut pos = 0usize;
        while pos < bytes.len() {
            let problem = match record::decode_with(&bytes[pos..], &mut scratch) {
                Frame::Record { lsn, payload, frame_len } if lsn == next_lsn => {
                    if lsn > recovery.skip_through {
                        replay(lsn, &payload)?;
                    }
                    next_lsn += 1;
                    pos += frame_len;
                    continue;
                }
                Frame::Record { lsn, .. } => {
                    Err(format!("an intact record has LSN {lsn}, expected {next_lsn}"))
                }
                Frame::Invalid(why) => Err(format!("an intact record is invalid: {why}")),
                Frame::Truncated => Ok("a record is cut short"),
                Frame::Unverified(why) => Ok(why),
            };
            let verdict = match problem {
                Ok(problem) => tail::judge(&bytes, pos, next_lsn, problem),
                Err(why) => Verdict::Damaged(why),
            };
            let reason = match verdict {
                Verdict::CleanEnd if is_last => {
                    end = Some((index, pos));
                    break 'segments;
                }
                Verdict::Torn(why) if is_last && next_lsn > recovery.must_reach => {
                    tracing::warn!(
                        segment = %path.display(),
                        offset = pos,
                        lost_bytes = bytes.len() - pos,
                        "write-ahead log ends in a torn write ({why}); recovering up to the last intact record"
                    );
                    report.torn_tail = Some(TornTail {
                        segment: path.clone(),
                        offset: pos as u64,
                        bytes: (bytes.len() - pos) as u64,
                        reason: why,
                    });
                    end = Some((index, pos));
                    break 'segments;
                }
                Verdict::Torn(why) if is_last => format!(
                    "{why}; yet the log must reach LSN {} (table files already hold changes up to it), so this is damage",
                    recovery.must_reach
                ),
                Verdict::CleanEnd => "the segment ends early in zeros, and later segments follow".to_string(),
                Verdict::Torn(why) => format!("{why}, and later segments follow"),
                Verdict::Damaged(why) => why,
            };
            let damage = Damage { index, offset: pos, lsn: next_lsn, reason };
            if !recovery.salvage {
                return Err(refuse(&path, &damage));
            }
            if let Some(resume) = tail::next_intact(&bytes, pos + 1, next_lsn)
                && resume.lsn - 1 <= recovery.skip_through
            {
                skip(&damage, &path, resume.lsn, &mut report);
                next_lsn = resume.lsn;
                pos = resume.offset;
                continue;
            }
            cut_log(dir, recovery, &mut segments, &damage, &bytes, &path, &mut report)?;
            end = Some((index, pos));
            break 'segments;
        }
        if is_last {
            end = Some((index, bytes.len()));
        }
        index += 1;
    }
    if next_lsn - 1 < recovery.must_reach {
        let (path, offset) = match end {
            Some((i, offset)) => (segments[i].path.clone(), offset as u64),
            None => (dir.to_path_buf(), 0),
        };
        return Err(StorageError::Corrupt {
            path,
            offset,
            reason: format!(
                "the log ends at LSN {} but table files already hold changes up to LSN {}: log records are missing",
                next_lsn - 1,
                recovery.must_reach
            ),
        });
    }
    let (sealed, active) = match end {
        Some((i, length)) => {
            segments.truncate(i + 1);
            let last =
                segments.pop().ok_or_else(|| StorageError::io(dir, std::io::Error::other("no segment")))?;
            (segments, ActiveSegment::reopen(&last, length as u64)?)
        }
        None => (Vec::new(), ActiveSegment::create(dir, next_lsn)?),
    };
    Ok(Recovered { sealed, active, next_lsn, report })
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| StorageError::io(path, e))
}

fn refuse(path: &Path, damage: &Damage) -> StorageError {
    StorageError::Corrupt {
        path: path.to_path_buf(),
        offset: damage.offset as u64,
        reason: format!("{} (at the record with LSN {}); {SALVAGE_HINT}", damage.reason, damage.lsn),
    }
}

/// A salvage skips damaged records `damage.lsn..resume` that every table file holds.
fn skip(damage: &Damage, path: &Path, resume: Lsn, report: &mut RecoveryReport) {
    let salvage = Salvage {
        segment: path.to_path_buf(),
        offset: damage.offset as u64,
        reason: damage.reason.clone(),
        action: SalvageAction::Skipped { first: damage.lsn, last: resume - 1 },
    };
    tracing::error!("{salvage}");
    report.salvaged.push(salvage);
}

/// A salvage cuts the log at `damage`: the rest of its segment is copied aside, later
/// segments are renamed aside, and the segment itself is cut back when it is reopened.
fn cut_log(
    dir: &Path,
    recovery: &Recovery,
    segments: &mut Vec<Segment>,
    damage: &Damage,
    bytes: &[u8],
    reported_path: &Path,
    report: &mut RecoveryReport,
) -> Result<()> {
    let kept_upto = damage.lsn - 1;
    if kept_upto < recovery.must_reach {
        return Err(StorageError::Corrupt {
            path: reported_path.to_path_buf(),
            offset: damage.offset as u64,
            reason: format!(
                "{} (at the record with LSN {}); salvaging cannot help: cutting the log there would end it at LSN \
                 {kept_upto}, below changes table files already hold (up to LSN {}), and later commits would be lost",
                damage.reason, damage.lsn, recovery.must_reach
            ),
        });
    }
    let mut copies = Vec::new();
    let (mut intact_lost, mut last_lost) = tail::count_intact(bytes, damage.offset, damage.lsn);
    let segment = &segments[damage.index];
    if damage.offset < bytes.len() {
        let copy = aside(&segment.path)?;
        std::fs::write(&copy, &bytes[damage.offset..]).map_err(|e| StorageError::io(&copy, e))?;
        std::fs::File::open(&copy).and_then(|f| f.sync_all()).map_err(|e| StorageError::io(&copy, e))?;
        copies.push(copy);
    }
    let mut expected = last_lost.map_or(damage.lsn, |l| l + 1);
    for later in segments.drain(damage.index + 1..) {
        let later_bytes = read(&later.path)?;
        let (count, last) = tail::count_intact(&later_bytes, 0, expected);
        intact_lost += count;
        if let Some(last) = last {
            last_lost = Some(last);
            expected = last + 1;
        }
        let target = aside(&later.path)?;
        std::fs::rename(&later.path, &target).map_err(|e| StorageError::io(&later.path, e))?;
        copies.push(target);
    }
    segment::sync_dir(dir)?;
    let salvage = Salvage {
        segment: reported_path.to_path_buf(),
        offset: damage.offset as u64,
        reason: damage.reason.clone(),
        action: SalvageAction::Cut { first_lost: damage.lsn, intact_lost, last_lost, copies },
    };
    tracing::error!("{salvage}");
    report.salvaged.push(salvage);
    Ok(())
}

/// A fresh name next to `path` for bytes a salvage discards (`<name>.discarded`, then
/// `.discarded.1` and so on); it does not end in `.wal`, so it is not a segment.
fn aside(path: &Path) -> Result<PathBuf> {
    let name = path
        .file_name()
        .ok_or_else(|| StorageError::io(path, std::io::Error::other("a segment path without a name")))?
        .to_string_lossy()
        .into_owned();
    let mut candidate = path.with_file_name(format!("{name}.discarded"));
    let mut n = 1;
    while candidate.exists() {
        candidate = path.with_file_name(format!("{name}.discarded.{n}"));
        n += 1;
    }
    Ok(candidate)
}
