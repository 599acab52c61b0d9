//! Non-interactive runs: `-c` arguments and SQL streamed from stdin.
//!
//! Both stop at the first error, print it on stderr and report failure, so the process
//! exits with status 1. Error positions are translated from "line 1 of the statement" to
//! the line and column of the input, which is what a person fixing a script needs.

use std::io::BufRead;

use phantom::{Position, is_blank, split_statements};

use crate::runner::{CliError, Flow, Runner};

/// Runs each `-c` argument in order: a backslash command, or one or more SQL statements
/// (the last one may omit its `;`). Returns false after the first error.
pub fn run_commands(runner: &mut Runner, commands: &[String]) -> bool {
    for command in commands {
        let outcome = if command.trim_start().starts_with('\\') {
            runner.meta(command.trim()).map(|flow| flow == Flow::Continue)
        } else {
            run_text(runner, command, 1).map(|()| true)
        };
        match outcome {
            Ok(true) => {}
            Ok(false) => return true,
            Err(e) => {
                eprintln!("{e}");
                return false;
            }
        }
    }
    true
}

/// Reads SQL from `input`, running each statement as soon as its terminating `;` has been
/// read. A line that starts with `\` between statements is a backslash command. A final
/// statement without `;` runs at end of input, as psql does.
pub fn run_stream(runner: &mut Runner, input: impl BufRead) -> bool {
    match stream(runner, input) {
        Ok(()) => true,
        Err(e) => {
            eprintln!("{e}");
            false
        }
    }
}

fn stream(runner: &mut Runner, input: impl BufRead) -> Result<(), CliError> {
    let mut buffer = String::new();
    // The input line on which `buffer` starts.
    let mut buffer_line = 1;
    let mut line_number = 0;
    for line in input.lines() {
        let line = line?;
        line_number += 1;
        if is_blank(&buffer) && line.trim_start().starts_with('\\') {
            if runner.meta(line.trim())? == Flow::Quit {
                return Ok(());
            }
            buffer.clear();
            buffer_line = line_number + 1;
            continue;
        }
        buffer.push_str(&line);
        buffer.push('\n');
        if !line.contains(';') {
            continue;
        }
        let (statements, rest) = split_statements(&buffer);
        if statements.is_empty() {
            continue;
        }
        run_statements(runner, &buffer, &statements, buffer_line)?;
        let rest_start = buffer.len() - rest.len();
        buffer_line += buffer[..rest_start].matches('\n').count() as u64;
        buffer = rest;
    }
    run_text(runner, &buffer, buffer_line)
}

/// Runs every statement in `text`, which starts on input line `first_line`.
fn run_text(runner: &mut Runner, text: &str, first_line: u64) -> Result<(), CliError> {
    let (mut statements, rest) = split_statements(text);
    if !rest.is_empty() {
        statements.push(rest.trim().to_string());
    }
    run_statements(runner, text, &statements, first_line)
}

/// Runs `statements`, which were split from `text` in order.
fn run_statements(
    runner: &mut Runner,
    text: &str,
    statements: &[String],
    first_line: u64,
) -> Result<(), CliError> {
    let mut cursor = 0;
    for statement in statements {
        let offset = text[cursor..].find(statement.as_str()).map_or(cursor, |o| cursor + o);
        cursor = offset + statement.len();
        runner.execute(statement).map_err(|e| match e {
            CliError::Sql(mut error) => {
                if let Some(position) = error.position {
                    error.position = Some(input_position(text, offset, first_line, position));
                }
                CliError::Sql(error)
            }
            other => other,
        })?;
    }
    Ok(())
}

/// Translates `position`, relative to a statement that starts at byte `offset` of `text`,
/// into a position in the input, where `text` starts on line `first_line`.
fn input_position(text: &str, offset: usize, first_line: u64, position: Position) -> Position {
    let before = &text[..offset];
    let statement_line = first_line + before.matches('\n').count() as u64;
    let statement_column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) as u64 + 1;
    if position.line == 1 {
        Position { line: statement_line, column: statement_column + position.column - 1 }
    } else {
        Position { line: statement_line + position.line - 1, column: position.column }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_translated_to_the_input() {
        let text = "SELECT 1;\n\n  SELEC 2;";
        let offset = text.find("SELEC 2").expect("present");
        let p = input_position(text, offset, 10, Position { line: 1, column: 1 });
        assert_eq!(p, Position { line: 12, column: 3 });
        let p = input_position(text, offset, 10, Position { line: 2, column: 4 });
        assert_eq!(p, Position { line: 13, column: 4 });
    }
}
