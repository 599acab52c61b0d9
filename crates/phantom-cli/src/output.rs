//! Printing results: a table for people, CSV and JSON for programs.
//!
//! The table format also prints the command tag of statements that return no rows
//! (`INSERT 0 2`, `CREATE TABLE`), as psql does; CSV and JSON print only query results, so
//! their output can be fed straight into another program.

use std::io::{self, Write};

use comfy_table::presets::UTF8_FULL_CONDENSED;
use comfy_table::{CellAlignment, ContentArrangement, Table};
use phantom::{Output, Rows, Value};

/// How results are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A boxed table with a row count, for reading.
    Table,
    /// RFC 4180 CSV with a header line; NULL is an empty field, an empty string is `""`.
    Csv,
    /// One JSON array of objects per query.
    Json,
}

/// Writes one statement's output in `format`.
pub fn write_output(out: &mut impl Write, output: &Output, format: Format) -> io::Result<()> {
    match (output, format) {
        (Output::Rows(rows) | Output::Fetched(rows), Format::Table) => write_table(out, rows),
        (Output::Rows(rows) | Output::Fetched(rows), Format::Csv) => write_csv(out, rows),
        (Output::Rows(rows) | Output::Fetched(rows), Format::Json) => write_json(out, rows),
        (other, Format::Table) => writeln!(out, "{}", other.tag()),
        (_, Format::Csv | Format::Json) => Ok(()),
    }
}

fn write_table(out: &mut impl Write, rows: &Rows) -> io::Result<()> {
    let mut table = Table::new();
    table.load_style(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Disabled);
    table.set_header(rows.columns.iter().map(|c| c.name.as_str()));
    for row in &rows.rows {
        table.add_row(row.values().iter().map(|v| if v.is_null() { String::new() } else { v.to_string() }));
    }
    for (i, column) in rows.columns.iter().enumerate() {
        if column.data_type.is_numeric()
            && let Some(c) = table.column_mut(i)
        {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    writeln!(out, "{table}")?;
    let n = rows.len();
    writeln!(out, "({n} row{})", if n == 1 { "" } else { "s" })
}

fn write_csv(out: &mut impl Write, rows: &Rows) -> io::Result<()> {
    let header: Vec<String> = rows.columns.iter().map(|c| csv_field(&c.name)).collect();
    writeln!(out, "{}", header.join(","))?;
    for row in &rows.rows {
        let fields: Vec<String> = row
            .values()
            .iter()
            .map(|v| match v {
                Value::Null => String::new(),
                Value::Text(s) if s.is_empty() => "\"\"".to_string(),
                other => csv_field(&other.to_string()),
            })
            .collect();
        writeln!(out, "{}", fields.join(","))?;
    }
    Ok(())
}

/// Quotes a field when it holds a separator, a quote or a line break.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

fn write_json(out: &mut impl Write, rows: &Rows) -> io::Result<()> {
    let array: Vec<serde_json::Value> = rows
        .rows
        .iter()
        .map(|row| {
            let object = rows
                .columns
                .iter()
                .zip(row.values())
                .map(|(column, value)| (column.name.clone(), json_value(value)))
                .collect::<serde_json::Map<_, _>>();
            serde_json::Value::Object(object)
        })
        .collect();
    serde_json::to_writer(&mut *out, &array)?;
    writeln!(out)
}

fn json_value(value: &Value) -> serde_json::Value {
    match value {
        Value::Null => serde_json::Value::Null,
        Value::Boolean(b) => serde_json::Value::Bool(*b),
        Value::Int(i) => serde_json::Value::from(*i),
        // JSON has no NaN or infinity; those travel as their SQL text.
        Value::Float(x) => serde_json::Number::from_f64(*x)
            .map_or_else(|| serde_json::Value::String(value.to_string()), serde_json::Value::Number),
        // A NUMERIC is a JSON number when a double holds it without loss (JSON readers
        // parse numbers as doubles), else its exact text.
        Value::Numeric(d) => match d.to_i64_exact() {
            Some(i) => serde_json::Value::from(i),
            None => serde_json::Number::from_f64(d.to_f64())
                .filter(|n| n.to_string().parse::<phantom::Decimal>().is_ok_and(|back| back == *d))
                .map_or_else(|| serde_json::Value::String(d.to_string()), serde_json::Value::Number),
        },
        Value::Text(s) => serde_json::Value::String(s.clone()),
        // As PostgreSQL's JSON functions do: their text form (hex for bytes).
        Value::Bytes(_)
        | Value::Date(_)
        | Value::Time(_)
        | Value::Timestamp(_)
        | Value::TimestampTz(_)
        | Value::Interval(_) => serde_json::Value::String(value.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use phantom::{Column, DataType, Row};

    use super::*;

    fn sample() -> Output {
        Output::Rows(Rows {
            columns: vec![
                Column { name: "a".into(), data_type: DataType::Integer },
                Column { name: "b".into(), data_type: DataType::Text },
            ],
            rows: vec![
                Row(vec![Value::Int(1), Value::Text("x,\"y\"".into())]),
                Row(vec![Value::Null, Value::Text(String::new())]),
            ],
        })
    }

    fn render(output: &Output, format: Format) -> String {
        let mut buf = Vec::new();
        write_output(&mut buf, output, format).expect("write to a Vec");
        String::from_utf8(buf).expect("utf-8")
    }

    #[test]
    fn csv_quotes_and_distinguishes_null_from_empty() {
        assert_eq!(render(&sample(), Format::Csv), "a,b\n1,\"x,\"\"y\"\"\"\n,\"\"\n");
    }

    #[test]
    fn json_keeps_types() {
        assert_eq!(
            render(&sample(), Format::Json),
            "[{\"a\":1,\"b\":\"x,\\\"y\\\"\"},{\"a\":null,\"b\":\"\"}]\n"
        );
    }

    #[test]
    fn json_numerics_are_numbers_when_a_double_holds_them_exactly() {
        let num = |s: &str| Value::Numeric(s.parse().expect("decimal"));
        let output = Output::Rows(Rows {
            columns: vec![Column { name: "n".into(), data_type: DataType::Numeric(None) }],
            rows: vec![
                Row(vec![num("1.50")]),
                Row(vec![num("-42")]),
                Row(vec![num("0.1")]),
                Row(vec![num("12345678901234567890.12345")]),
            ],
        });
        assert_eq!(
            render(&output, Format::Json),
            "[{\"n\":1.5},{\"n\":-42},{\"n\":0.1},{\"n\":\"12345678901234567890.12345\"}]\n"
        );
        assert_eq!(render(&output, Format::Csv), "n\n1.50\n-42\n0.1\n12345678901234567890.12345\n");
    }

    #[test]
    fn table_shows_values_and_row_count() {
        let text = render(&sample(), Format::Table);
        assert!(text.contains("x,\"y\""), "{text}");
        assert!(text.ends_with("(2 rows)\n"), "{text}");
    }

    #[test]
    fn commands_print_their_tag_only_in_table_format() {
        let output = Output::Modified { command: "INSERT", rows: 2 };
        assert_eq!(render(&output, Format::Table), "INSERT 0 2\n");
        assert_eq!(render(&output, Format::Csv), "");
        assert_eq!(render(&output, Format::Json), "");
    }
}
