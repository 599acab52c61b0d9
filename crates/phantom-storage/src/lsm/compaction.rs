//! Compaction: choosing what to merge, and merging it.
//!
//! ## Leveled (the default)
//!
//! Level 0 holds flushed memtables, which overlap. Each deeper level is one sorted run
//! split into files, with a target size ten times the level above (level 1:
//! [`LsmOptions::level1_bytes`]). Every level gets a score: level 0 its file count over the
//! trigger, deeper levels their size over the target. The highest score of at least 1
//! wins: level 0 merges with the overlapping part of level 1; a deeper level merges one of
//! its files with the overlapping files below it. When nothing below overlaps (and the
//! level-0 files do not overlap each other, as for data written in key order), the files
//! just move down a level, unchanged: a *trivial move*. Data is rewritten about ten times per
//! level on its way down, but a lookup reads at most one file per level.
//!
//! ## Size-tiered
//!
//! Every table is a run; runs are ordered by age. When [`LsmOptions::merge_trigger`]
//! consecutive runs have similar sizes (within a factor of two), they merge into one. Data
//! is rewritten about once per size tier, but a lookup may read every run.
//!
//! ## Merging
//!
//! Inputs are merged by a k-way merge that keeps, for each key, the entry of the newest
//! input. Tombstones are dropped when the output is the oldest data for its key range
//! (nothing older lies below). The compaction filter sees every surviving entry. Leveled
//! output is split into files of about [`LsmOptions::table_bytes`] (a tiered run stays
//! one file), and writing is paced to [`LsmOptions::compaction_bytes_per_sec`].

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::manifest::{Edit, TableRecord};
use super::table::{Table, TableBuilder};
use super::{Compaction, Inner, LsmOptions, NewTables, Run, Version, table_path};
use crate::Result;

/// What one compaction does.
struct Task {
    /// Newest first: on equal keys the first input wins.
    inputs: Vec<Arc<Run>>,
    output_level: usize,
    /// The output is the oldest data in its key range: tombstones can go.
    bottom: bool,
    /// Nothing older than the inputs lies outside them, whatever the key: what the
    /// compaction filter is told (see [`super::CompactionFilter`]).
    complete: bool,
    /// Move the input files to the output level without rewriting them.
    trivial: bool,
}

fn level_target(options: &LsmOptions, level: usize) -> u64 {
    options.level1_bytes.saturating_mul(10u64.saturating_pow(level.saturating_sub(1) as u32))
}

fn overlapping(runs: &[Arc<Run>], smallest: &[u8], largest: &[u8]) -> Vec<Arc<Run>> {
    runs.iter()
        .filter(|r| r.record.largest.as_slice() >= smallest && r.record.smallest.as_slice() <= largest)
        .cloned()
        .collect()
}

fn key_span(runs: &[Arc<Run>]) -> (Vec<u8>, Vec<u8>) {
    let smallest = runs.iter().map(|r| r.record.smallest.clone()).min().unwrap_or_default();
    let largest = runs.iter().map(|r| r.record.largest.clone()).max().unwrap_or_default();
    (smallest, largest)
}

fn pick_leveled(version: &Version, options: &LsmOptions, allow_moves: bool) -> Option<Task> {
    let levels = &version.levels;
    let mut best: Option<(f64, usize)> = None;
    for (level, runs) in levels.iter().enumerate() {
        let score = if level == 0 {
            runs.len() as f64 / options.merge_trigger as f64
        } else {
            runs.iter().map(|r| r.record.size).sum::<u64>() as f64 / level_target(options, level) as f64
        };
        if score >= 1.0 && best.is_none_or(|(s, _)| score > s) {
            best = Some((score, level));
        }
    }
    let (_, level) = best?;
    let below = levels.get(level + 1).map_or(&[][..], Vec::as_slice);
    let mut inputs: Vec<Arc<Run>> = if level == 0 {
        levels[0].clone()
    } else {
        // The file whose range overlaps least below: cheapest to push down.
        let run = levels[level].iter().min_by_key(|r| {
            overlapping(below, &r.record.smallest, &r.record.largest)
                .iter()
                .map(|o| o.record.size)
                .sum::<u64>()
        })?;
        vec![run.clone()]
    };
    let (smallest, largest) = key_span(&inputs);
    let below_inputs = overlapping(below, &smallest, &largest);
    // Nothing below overlaps and the inputs do not overlap each other (always true below
    // level 0; true at level 0 for data that arrived in key order): the files can move
    // down as they are, without being rewritten. Not while a compaction filter is set: it
    // must see every entry eventually.
    if allow_moves && below_inputs.is_empty() && !pairwise_overlap(&inputs) {
        return Some(Task { inputs, output_level: level + 1, bottom: false, complete: false, trivial: true });
    }
    inputs.extend(below_inputs);
    let bottom = levels.iter().skip(level + 2).all(Vec::is_empty);
    // The files of these levels that do not overlap the inputs, and the levels above,
    // may hold older entries next to the inputs' keys (an older version of a row sorts
    // after its newer ones): only a merge of every table leaves nothing older outside.
    let complete = bottom && inputs.len() == levels.iter().map(Vec::len).sum::<usize>();
    Some(Task { inputs, output_level: level + 1, bottom, complete, trivial: false })
}

/// True if any two runs' key ranges overlap.
fn pairwise_overlap(runs: &[Arc<Run>]) -> bool {
    let mut spans: Vec<(&[u8], &[u8])> =
        runs.iter().map(|r| (r.record.smallest.as_slice(), r.record.largest.as_slice())).collect();
    spans.sort();
    spans.windows(2).any(|w| w[1].0 <= w[0].1)
}

fn pick_tiered(version: &Version, options: &LsmOptions) -> Option<Task> {
    let runs = version.levels.first()?;
    let trigger = options.merge_trigger.max(2);
    // The longest window of consecutive runs whose sizes are within 2x of each other.
    let mut best: Option<(usize, usize)> = None;
    for start in 0..runs.len() {
        let (mut lo, mut hi) = (u64::MAX, 0u64);
        let mut end = start;
        while end < runs.len() {
            let size = runs[end].record.size.max(1);
            let (new_lo, new_hi) = (lo.min(size), hi.max(size));
            if new_hi > new_lo.saturating_mul(2) {
                break;
            }
            (lo, hi) = (new_lo, new_hi);
            end += 1;
        }
        if end - start >= trigger && best.is_none_or(|(s, e)| end - start > e - s) {
            best = Some((start, end));
        }
    }
    // Too many runs of unlike sizes: merge the newest ones anyway, to bound reads.
    if best.is_none() && runs.len() >= options.slowdown_runs {
        best = Some((0, trigger.min(runs.len())));
    }
    let (start, end) = best?;
    Some(Task {
        inputs: runs[start..end].to_vec(),
        output_level: 0,
        bottom: end == runs.len(),
        // Runs are ordered by age: every run after the window is newer than all of it.
        complete: end == runs.len(),
        trivial: false,
    })
}

impl Inner {
    /// Runs one compaction if any is due. True if one ran.
    pub(super) fn compact_once(&self) -> Result<bool> {
        let _one_at_a_time = self.compact_lock.lock();
        let version = self.state.read().version.clone();
        let task = match self.options.compaction {
            Compaction::Leveled => pick_leveled(&version, &self.options, self.filter.read().is_none()),
            Compaction::Tiered => pick_tiered(&version, &self.options),
        };
        let Some(task) = task else { return Ok(false) };
        let result = if task.trivial { self.move_down(&task) } else { self.run(&task) };
        self.settle(result)?;
        Ok(true)
    }

    fn run(&self, task: &Task) -> Result<()> {
        let seq = task.inputs.iter().map(|r| r.record.seq).max().unwrap_or(0);
        let mut filter = self.filter.read().clone().map(|start| start(task.complete));
        let mut iters: Vec<_> = task.inputs.iter().map(|r| r.table.iter(&self.cache).peekable()).collect();
        let mut heap = BinaryHeap::new();
        for (i, it) in iters.iter_mut().enumerate() {
            if let Some(key) = peek_key(it)? {
                heap.push(Reverse((key, i)));
            }
        }
        let mut outputs: Vec<TableRecord> = Vec::new();
        let mut new = NewTables::new(&self.dir);
        let mut builder: Option<(u64, TableBuilder)> = None;
        let started = Instant::now();
        let mut written = 0u64;
        let mut last_key: Option<Vec<u8>> = None;
        while let Some(Reverse((_, i))) = heap.pop() {
            let (key, slot) = match iters[i].next() {
                Some(entry) => entry?,
                None => continue,
            };
            if let Some(next_key) = peek_key(&mut iters[i])? {
                heap.push(Reverse((next_key, i)));
            }
            // An older duplicate of a key already taken from a newer input.
            if last_key.as_deref() == Some(key.as_slice()) {
                continue;
            }
            last_key = Some(key.clone());
            if slot.is_none() && task.bottom {
                continue;
            }
            if let Some(keep) = filter.as_mut()
                && !keep(&key, &slot)
            {
                continue;
            }
            if builder.is_none() {
                let id = self.manifest.lock().next_table_id();
                builder = Some((id, TableBuilder::create(&table_path(&self.dir, id), self.faults.clone())?));
            }
            if let Some((_, b)) = builder.as_mut() {
                b.add(&key, &slot)?;
                // A tiered run is one file; only a leveled run is split into files.
                let split = self.options.compaction == Compaction::Leveled;
                if split && b.size() >= self.options.table_bytes {
                    written += b.size();
                    outputs.push(self.finish_output(builder.take(), task.output_level, seq)?);
                    new.ids.extend(outputs.last().map(|o| o.id));
                    self.pace(started, written);
                }
            }
        }
        if builder.as_ref().is_some_and(|(_, b)| !b.is_empty()) {
            outputs.push(self.finish_output(builder.take(), task.output_level, seq)?);
            new.ids.extend(outputs.last().map(|o| o.id));
        }
        self.install(task, outputs, &mut new)
    }

    fn finish_output(
        &self,
        builder: Option<(u64, TableBuilder)>,
        level: usize,
        seq: u64,
    ) -> Result<TableRecord> {
        let Some((id, builder)) = builder else {
            return Err(crate::StorageError::Failed {
                path: self.dir.clone(),
                reason: "no compaction output open".into(),
            });
        };
        let info = builder.finish()?;
        Ok(TableRecord {
            id,
            level: level as u32,
            seq,
            smallest: info.smallest,
            largest: info.largest,
            size: info.size,
            entries: info.entries,
        })
    }

    /// Sleeps as needed to keep the write rate under the limit.
    fn pace(&self, started: Instant, written: u64) {
        let rate = self.options.compaction_bytes_per_sec;
        if rate == 0 {
            return;
        }
        let due = Duration::from_secs_f64(written as f64 / rate as f64);
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            std::thread::sleep(wait);
        }
    }

    /// A trivial move: the same files, one level down.
    fn move_down(&self, task: &Task) -> Result<()> {
        let ids: Vec<u64> = task.inputs.iter().map(|r| r.record.id).collect();
        let moved: Vec<TableRecord> = task
            .inputs
            .iter()
            .map(|r| TableRecord { level: task.output_level as u32, ..r.record.clone() })
            .collect();
        self.manifest.lock().commit(Edit {
            added: moved.clone(),
            removed: ids.clone(),
            ..Edit::default()
        })?;
        let mut state = self.state.write();
        let mut version = (*state.version).clone();
        for level in &mut version.levels {
            level.retain(|r| !ids.contains(&r.record.id));
        }
        if version.levels.len() <= task.output_level {
            version.levels.resize(task.output_level + 1, Vec::new());
        }
        for (run, record) in task.inputs.iter().zip(moved) {
            let table = Table::open(&run.table.path, record.id)?;
            version.levels[task.output_level].push(Arc::new(Run { table, record }));
        }
        version.sort();
        state.version = Arc::new(version);
        Ok(())
    }

    /// Records the compaction in the manifest, swaps the new files in, and deletes the
    /// inputs.
    fn install(&self, task: &Task, outputs: Vec<TableRecord>, new: &mut NewTables<'_>) -> Result<()> {
        let removed: Vec<u64> = task.inputs.iter().map(|r| r.record.id).collect();
        let mut runs = Vec::with_capacity(outputs.len());
        for record in &outputs {
            runs.push(Arc::new(Run {
                table: Table::open(&table_path(&self.dir, record.id), record.id)?,
                record: record.clone(),
            }));
        }
        self.commit_new_tables(new, Edit { added: outputs, removed: removed.clone(), ..Edit::default() })?;
        {
            let mut state = self.state.write();
            let mut version = (*state.version).clone();
            for level in &mut version.levels {
                level.retain(|r| !removed.contains(&r.record.id));
            }
            if version.levels.len() <= task.output_level {
                version.levels.resize(task.output_level + 1, Vec::new());
            }
            version.levels[task.output_level].extend(runs);
            while version.levels.last().is_some_and(Vec::is_empty) && version.levels.len() > 1 {
                version.levels.pop();
            }
            version.sort();
            state.version = Arc::new(version);
        }
        for run in &task.inputs {
            self.cache.remove_table(run.record.id);
            let _ = std::fs::remove_file(&run.table.path);
        }
        Ok(())
    }
}

/// The key of the next entry, or the error reading it (taken out of the iterator).
fn peek_key<I: Iterator<Item = Result<(Vec<u8>, super::Slot)>>>(
    it: &mut std::iter::Peekable<I>,
) -> Result<Option<Vec<u8>>> {
    match it.peek() {
        None => Ok(None),
        Some(Ok((key, _))) => Ok(Some(key.clone())),
        Some(Err(_)) => match it.next() {
            Some(Err(e)) => Err(e),
            _ => Ok(None),
        },
    }
}
