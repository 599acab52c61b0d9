//! Backslash commands: `\dt`, `\d TABLE`, `\timing`, `\q`, `\?`.
//!
//! They work the same in the shell, in `-c` arguments and in piped scripts (where they must
//! stand on a line of their own), and they print through the same formats as queries, so
//! `\d t` with `--format json` is machine-readable too.

use std::io::{self, Write};

use phantom::{Column, DataType, Output, Row, Rows, Value};

use crate::output::{Format, write_output};
use crate::runner::{CliError, Flow, Runner};

/// The help text for `\?`.
pub const HELP: &str = "\
General
  \\q                 quit
  \\?                 show this help
  \\timing [on|off]   show how long each statement takes

Informational
  \\dt                list tables
  \\d [TABLE]         describe a table (without a name: list tables)

SQL statements end with `;` and may span lines.";

impl Runner {
    /// Runs one backslash command (the line, starting with `\`).
    pub fn meta(&mut self, line: &str) -> Result<Flow, CliError> {
        let mut words = line.split_whitespace();
        let command = words.next().unwrap_or_default();
        let argument = words.next();
        if let Some(extra) = words.next() {
            return Err(CliError::Meta(format!("{command}: unexpected argument \"{extra}\"")));
        }
        match (command, argument) {
            ("\\q" | "\\quit", None) => return Ok(Flow::Quit),
            ("\\?", None) => println!("{HELP}"),
            ("\\timing", _) => {
                self.timing = match argument {
                    None => !self.timing,
                    Some("on") => true,
                    Some("off") => false,
                    Some(other) => {
                        return Err(CliError::Meta(format!("\\timing: expected on or off, got \"{other}\"")));
                    }
                };
                println!("Timing is {}.", if self.timing { "on" } else { "off" });
            }
            ("\\dt", None) | ("\\d", None) => self.list_tables()?,
            ("\\d", Some(table)) => self.describe_table(table)?,
            _ => {
                return Err(CliError::Meta(format!("invalid command {line}; try \\? for help")));
            }
        }
        io::stdout().flush()?;
        Ok(Flow::Continue)
    }

    fn list_tables(&mut self) -> Result<(), CliError> {
        let tables = self.session.tables()?;
        if tables.is_empty() && self.format == Format::Table {
            println!("Did not find any tables.");
            return Ok(());
        }
        let rows = Rows {
            columns: vec![text_column("Name"), text_column("Engine")],
            rows: tables
                .iter()
                .map(|name| {
                    let engine = self.session.describe(name).map(|d| d.engine)?;
                    Ok(Row(vec![Value::Text(name.clone()), Value::Text(engine)]))
                })
                .collect::<Result<_, phantom::Error>>()?,
        };
        write_output(&mut io::stdout().lock(), &Output::Rows(rows), self.format)?;
        Ok(())
    }

    fn describe_table(&mut self, name: &str) -> Result<(), CliError> {
        let table = self.session.describe(name)?;
        let rows = Rows {
            columns: ["Column", "Type", "Nullable", "Default"].into_iter().map(text_column).collect(),
            rows: table
                .columns
                .iter()
                .map(|c| {
                    Row(vec![
                        Value::Text(c.name.clone()),
                        Value::Text(c.data_type.to_string()),
                        Value::Text(if c.nullable { String::new() } else { "not null".into() }),
                        c.default.clone().map_or(Value::Null, Value::Text),
                    ])
                })
                .collect(),
        };
        let mut out = io::stdout().lock();
        if self.format == Format::Table {
            writeln!(out, "Table \"{}\"", table.name)?;
        }
        write_output(&mut out, &Output::Rows(rows), self.format)?;
        if self.format == Format::Table {
            if !table.primary_key.is_empty() {
                writeln!(out, "Primary key: ({})", table.primary_key.join(", "))?;
            }
            writeln!(out, "Engine: {}", table.engine)?;
            if !table.indexes.is_empty() {
                writeln!(out, "Indexes:")?;
                for index in &table.indexes {
                    writeln!(out, "    {index}")?;
                }
            }
            for (title, lines) in [
                ("Check constraints:", &table.checks),
                ("Foreign-key constraints:", &table.foreign_keys),
                ("Referenced by:", &table.referenced_by),
            ] {
                if !lines.is_empty() {
                    writeln!(out, "{title}")?;
                    for line in lines {
                        writeln!(out, "    {line}")?;
                    }
                }
            }
        }
        Ok(())
    }
}

fn text_column(name: &str) -> Column {
    Column { name: name.to_string(), data_type: DataType::Text }
}
