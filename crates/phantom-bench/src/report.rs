//! Result tables: printed with comfy-table and written as Markdown.

use std::fmt::Write as _;
use std::path::Path;

use comfy_table::{Cell, CellAlignment, Table, presets::UTF8_FULL_CONDENSED};

use crate::BenchResult;

/// Whether a bigger number is better (throughput) or worse (latency, size).
#[derive(Clone, Copy)]
pub enum Better {
    /// Throughput: the ratio reads "times as fast".
    Higher,
    /// Latency: the ratio reads "times as long".
    Lower,
}

/// One measured quantity for both databases.
pub struct Metric {
    /// What was measured, with its unit.
    pub name: String,
    /// Phantom-DB's number.
    pub phantom: f64,
    /// SQLite's number.
    pub sqlite: f64,
    /// Which direction is good.
    pub better: Better,
}

/// A number with as many decimals as its size deserves.
pub fn format_number(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.4}")
    }
}

impl Metric {
    fn ratio(&self) -> String {
        if self.sqlite == 0.0 {
            return "-".into();
        }
        let r = self.phantom / self.sqlite;
        let verdict = match self.better {
            Better::Higher if r >= 1.0 => "better",
            Better::Lower if r <= 1.0 => "better",
            _ => "worse",
        };
        format!("{r:.2}x ({verdict})")
    }
}

/// Prints `metrics` and writes them to `results/<file>.md` with a note on the setup.
pub fn publish(title: &str, file: &str, setup: &str, metrics: &[Metric], results: &Path) -> BenchResult<()> {
    let mut md = String::new();
    writeln!(md, "# {title}\n")?;
    writeln!(md, "{setup}\n")?;
    md.push_str(&metrics_table(title, metrics)?);
    write_markdown(results, file, &md)
}

/// Prints `metrics` under `title` and returns them as a Markdown table (no heading), for
/// result files that hold several tables.
pub fn metrics_table(title: &str, metrics: &[Metric]) -> BenchResult<String> {
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED);
    table.set_header(vec!["metric", "Phantom-DB", "SQLite", "Phantom-DB / SQLite"]);
    for m in metrics {
        table.add_row(vec![
            Cell::new(&m.name),
            Cell::new(format_number(m.phantom)).set_alignment(CellAlignment::Right),
            Cell::new(format_number(m.sqlite)).set_alignment(CellAlignment::Right),
            Cell::new(m.ratio()).set_alignment(CellAlignment::Right),
        ]);
    }
    println!("\n{title}\n{table}\n");

    let mut md = String::new();
    writeln!(md, "| metric | Phantom-DB | SQLite | Phantom-DB / SQLite |")?;
    writeln!(md, "|---|---:|---:|---:|")?;
    for m in metrics {
        writeln!(
            md,
            "| {} | {} | {} | {} |",
            m.name,
            format_number(m.phantom),
            format_number(m.sqlite),
            m.ratio()
        )?;
    }
    Ok(md)
}

/// Prints a table of text cells under `title` and returns it as Markdown (no heading);
/// every column but the first is right-aligned.
pub fn text_table(title: &str, header: &[&str], rows: &[Vec<String>]) -> BenchResult<String> {
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED);
    table.set_header(header.to_vec());
    let mut md = String::new();
    writeln!(md, "| {} |", header.join(" | "))?;
    writeln!(md, "|---|{}", "---:|".repeat(header.len().saturating_sub(1)))?;
    for row in rows {
        let cells = row.iter().enumerate().map(|(i, v)| {
            let cell = Cell::new(v);
            if i == 0 { cell } else { cell.set_alignment(CellAlignment::Right) }
        });
        table.add_row(cells.collect::<Vec<_>>());
        writeln!(md, "| {} |", row.join(" | "))?;
    }
    println!("\n{title}\n{table}\n");
    Ok(md)
}

/// Writes `md` to `results/<file>.md`.
pub fn write_markdown(results: &Path, file: &str, md: &str) -> BenchResult<()> {
    std::fs::create_dir_all(results)?;
    let path = results.join(format!("{file}.md"));
    std::fs::write(&path, md)?;
    println!("written to {}", path.display());
    Ok(())
}

/// Prints a table with one column per system and writes it to `results/<file>.md`.
pub fn publish_columns(
    title: &str,
    file: &str,
    setup: &str,
    systems: &[&str],
    rows: &[(String, Vec<f64>)],
    results: &Path,
) -> BenchResult<()> {
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED);
    let mut header = vec!["metric".to_string()];
    header.extend(systems.iter().map(|s| s.to_string()));
    table.set_header(header.clone());
    let mut md = String::new();
    writeln!(md, "# {title}\n")?;
    writeln!(md, "{setup}\n")?;
    writeln!(md, "| {} |", header.join(" | "))?;
    writeln!(md, "|---|{}", "---:|".repeat(systems.len()))?;
    for (name, values) in rows {
        let mut cells = vec![Cell::new(name)];
        cells.extend(values.iter().map(|v| Cell::new(format_number(*v)).set_alignment(CellAlignment::Right)));
        table.add_row(cells);
        let shown: Vec<String> = values.iter().map(|v| format_number(*v)).collect();
        writeln!(md, "| {name} | {} |", shown.join(" | "))?;
    }
    println!("\n{title}\n{table}\n");
    write_markdown(results, file, &md)
}

/// A line describing the machine and build, for result files.
pub fn environment() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let date = std::process::Command::new("date")
        .arg("-u")
        .arg("+%Y-%m-%d %H:%M UTC")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .unwrap_or_default();
    let build = if cfg!(debug_assertions) { "debug build (numbers not meaningful)" } else { "release build" };
    format!("Measured {} on {cores} cores, {build}.", date.trim())
}
