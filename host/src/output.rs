//! Printing helpers: JSON for scripts, aligned columns for people.
//!
//! Output goes through [`print_line`], not `println!`, which panics when the reader
//! has gone away (`talaria sessions list --json | head`).

use std::io::Write;

use serde::Serialize;

use crate::error::{Error, Result};

/// Writes one line to stdout. A closed pipe ends the program quietly with success, as
/// it does for other command-line tools.
pub fn print_line(text: &str) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{text}") {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
    }
}

pub fn print_json<T: Serialize + ?Sized>(value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::failure(format!("cannot encode JSON: {e}")))?;
    print_line(&text);
    Ok(())
}

/// Prints rows with columns padded to the widest cell (the last column is not padded).
pub fn print_table(rows: &[Vec<String>]) {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}  ", width = widths[i]));
            }
        }
        print_line(line.trim_end());
    }
}

/// `println!` that survives a closed pipe (see [`print_line`]).
#[macro_export]
macro_rules! outln {
    () => {
        $crate::output::print_line("")
    };
    ($($arg:tt)*) => {
        $crate::output::print_line(&format!($($arg)*))
    };
}
