//! The workloads. Each runs against both targets and publishes one result table.

pub mod engines;
pub mod insert;
pub mod pgbench;
pub mod point_select;
pub mod servers;
pub mod storage;
pub mod tpcb;
pub mod versions;

use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};

use crate::BenchResult;
use crate::targets::{Phantom, Sqlite, Target};

/// Bytes of the files under `path` (or of the file itself).
pub fn dir_size(path: &Path) -> u64 {
    match std::fs::read_dir(path) {
        Ok(entries) => entries.flatten().map(|e| dir_size(&e.path())).sum(),
        Err(_) => std::fs::metadata(path).map_or(0, |m| m.len()),
    }
}

/// A progress bar for `len` steps of `what`.
pub fn progress(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template("{msg:>28} [{bar:30}] {pos}/{len} ({per_sec}, {eta})") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_string());
    bar
}

/// Fresh instances of both targets, each in its own new directory.
pub struct FreshTargets {
    pub targets: Vec<Box<dyn Target>>,
    /// Removed on drop, after the targets (fields drop in declaration order).
    _dirs: Vec<tempfile::TempDir>,
}

/// Opens both targets in new directories under `base`.
pub fn fresh_targets(base: &Path) -> BenchResult<FreshTargets> {
    let phantom_dir = tempfile::tempdir_in(base)?;
    let sqlite_dir = tempfile::tempdir_in(base)?;
    let targets: Vec<Box<dyn Target>> =
        vec![Box::new(Phantom::open(phantom_dir.path())?), Box::new(Sqlite::open(sqlite_dir.path())?)];
    Ok(FreshTargets { targets, _dirs: vec![phantom_dir, sqlite_dir] })
}

/// Loads `rows` rows in one transaction, with a progress bar.
pub fn load(target: &mut dyn Target, rows: u64, value_len: usize) -> BenchResult<()> {
    let bar = progress(rows, &format!("{}: load", target.name()));
    target.execute("BEGIN")?;
    for id in 0..rows as i64 {
        target.insert(id, &crate::targets::value_for(id, value_len))?;
        if id % 1024 == 0 {
            bar.set_position(id as u64);
        }
    }
    target.execute("COMMIT")?;
    bar.finish_and_clear();
    Ok(())
}
