//! Name resolution: which column of the input row a name refers to.

use crate::error::{Error, Result, SqlState};
use crate::planner::OutputColumn;

/// The columns visible to an expression, in input-row order.
#[derive(Clone, Debug, Default)]
pub struct Scope {
    /// The columns, by position.
    pub columns: Vec<OutputColumn>,
}

impl Scope {
    /// A scope over `columns`.
    pub fn new(columns: Vec<OutputColumn>) -> Self {
        Scope { columns }
    }

    /// The position of column `name`, qualified by `table` if given.
    pub fn resolve(&self, table: Option<&str>, name: &str) -> Result<usize> {
        let matches: Vec<usize> = self
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.name == name && table.is_none_or(|t| c.table.as_deref() == Some(t)))
            .map(|(i, _)| i)
            .collect();
        // Columns merged by JOIN ... USING hide the originals, which stay reachable when
        // qualified; an unqualified name prefers the visible one.
        let visible: Vec<usize> = matches.iter().copied().filter(|&i| !self.columns[i].hidden).collect();
        let candidates = if matches.len() > 1 && !visible.is_empty() { visible } else { matches };
        match candidates.as_slice() {
            [i] => return Ok(*i),
            [] => {}
            _ => {
                return Err(Error::new(
                    SqlState::AmbiguousColumn,
                    format!("column reference \"{name}\" is ambiguous"),
                ));
            }
        }
        match table {
            Some(t) if !self.columns.iter().any(|c| c.table.as_deref() == Some(t)) => Err(Error::new(
                SqlState::UndefinedTable,
                format!("missing FROM-clause entry for table \"{t}\""),
            )),
            Some(t) => {
                Err(Error::new(SqlState::UndefinedColumn, format!("column {t}.{name} does not exist")))
            }
            None => Err(Error::new(SqlState::UndefinedColumn, format!("column \"{name}\" does not exist"))),
        }
    }

    /// Positions of the columns `*` (or `table.*`) expands to.
    pub fn wildcard(&self, table: Option<&str>) -> Result<Vec<usize>> {
        let positions: Vec<usize> = self
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| !c.hidden && table.is_none_or(|t| c.table.as_deref() == Some(t)))
            .map(|(i, _)| i)
            .collect();
        if let Some(t) = table
            && !self.columns.iter().any(|c| c.table.as_deref() == Some(t))
        {
            return Err(Error::new(
                SqlState::UndefinedTable,
                format!("missing FROM-clause entry for table \"{t}\""),
            ));
        }
        Ok(positions)
    }

    /// Number of columns.
    pub fn len(&self) -> usize {
        self.columns.len()
    }

    /// True if there are no columns.
    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }
}
