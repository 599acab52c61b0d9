//! Removes duplicate rows, streaming: the first occurrence of each row passes.

use std::collections::HashSet;

use super::Rows;

/// Passes each distinct row of `input` once. NULLs are equal to each other here, as SQL's
/// DISTINCT requires.
pub fn distinct(input: Rows) -> Rows {
    let mut seen = HashSet::new();
    Box::new(input.filter(move |row| match row {
        Ok(row) => seen.insert(row.clone()),
        Err(_) => true,
    }))
}
