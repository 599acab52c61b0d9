//! Removes duplicate rows, streaming: the first occurrence of each row passes. The rows
//! seen are kept, and charged to `reservation` (see [`crate::budget`]).

use std::collections::HashSet;

use super::Rows;
use crate::budget::{HASH_ENTRY_OVERHEAD, Reservation, row_bytes};

/// Passes each distinct row of `input` once. NULLs are equal to each other here, as SQL's
/// DISTINCT requires.
pub fn distinct(input: Rows, mut reservation: Reservation) -> Rows {
    let mut seen = HashSet::new();
    Box::new(input.filter_map(move |row| match row {
        Ok(row) => {
            if seen.contains(&row) {
                return None;
            }
            if let Err(e) = reservation.charge(row_bytes(&row) + HASH_ENTRY_OVERHEAD) {
                return Some(Err(e));
            }
            seen.insert(row.clone());
            Some(Ok(row))
        }
        Err(e) => Some(Err(e)),
    }))
}
