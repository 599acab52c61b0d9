//! The interactive shell: line editing and history (rustyline), statements that span lines
//! until `;`, backslash commands, and errors that are reported without ending the session.

use rustyline::DefaultEditor;
use rustyline::error::ReadlineError;

use phantom::{is_blank, split_statements};

use crate::runner::{Flow, Runner};

/// History lives in the user's home directory, shared by all databases, as psql does.
fn history_path() -> Option<std::path::PathBuf> {
    std::env::var_os("HOME").map(|home| std::path::PathBuf::from(home).join(".phantom_history"))
}

/// Runs the shell until `\q` or end of input (Ctrl-D).
pub fn run(runner: &mut Runner, database: &str) {
    let mut editor = match DefaultEditor::new() {
        Ok(editor) => editor,
        Err(e) => {
            eprintln!("phantom: cannot start the line editor: {e}");
            return;
        }
    };
    let history = history_path();
    if let Some(path) = &history {
        // A missing history file is normal on first use.
        let _ = editor.load_history(path);
    }
    println!("phantom {} on {database}. Type \\? for help, \\q to quit.", env!("CARGO_PKG_VERSION"));
    let mut buffer = String::new();
    loop {
        let prompt =
            format!("phantom{}{}> ", if buffer.is_empty() { "=" } else { "-" }, runner.transaction_marker());
        let line = match editor.readline(&prompt) {
            Ok(line) => line,
            // Ctrl-C abandons the statement being typed, as in psql.
            Err(ReadlineError::Interrupted) => {
                buffer.clear();
                continue;
            }
            Err(ReadlineError::Eof) => break,
            Err(e) => {
                eprintln!("phantom: {e}");
                break;
            }
        };
        if is_blank(&buffer) && line.trim_start().starts_with('\\') {
            let _ = editor.add_history_entry(line.trim());
            buffer.clear();
            match runner.meta(line.trim()) {
                Ok(Flow::Quit) => break,
                Ok(Flow::Continue) => {}
                Err(e) => eprintln!("{e}"),
            }
            continue;
        }
        if !buffer.is_empty() {
            buffer.push('\n');
        }
        buffer.push_str(&line);
        let (statements, rest) = split_statements(&buffer);
        if statements.is_empty() {
            if is_blank(&buffer) {
                buffer.clear();
            }
            continue;
        }
        let _ = editor.add_history_entry(buffer.trim());
        for statement in &statements {
            if let Err(e) = runner.execute(statement) {
                eprintln!("{e}");
            }
        }
        buffer = rest;
    }
    if let Some(path) = &history
        && let Err(e) = editor.save_history(path)
    {
        eprintln!("phantom: could not save history to {}: {e}", path.display());
    }
}
