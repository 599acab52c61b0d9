//! Name resolution: which column of the input row a name refers to.
//!
//! A name that matches no column gets PostgreSQL's hint when a column's name is close to
//! it (a few typing mistakes away): the edit distance is computed only on this error
//! path, over the columns of the scope, so a correct query pays nothing for it.

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
            Some(t) => Err(self.missing(
                table,
                name,
                Error::new(SqlState::UndefinedColumn, format!("column {t}.{name} does not exist")),
            )),
            None => Err(self.missing(
                table,
                name,
                Error::new(SqlState::UndefinedColumn, format!("column \"{name}\" does not exist")),
            )),
        }
    }

    /// `error` with PostgreSQL's "Perhaps you meant ..." hint when one or two columns
    /// (of different tables) are the closest to `name` and close enough: at most three
    /// edits, and no more than half of `name`'s length. More candidates at the same
    /// distance make the hint ambiguous, and PostgreSQL then gives none.
    fn missing(&self, table: Option<&str>, name: &str, error: Error) -> Error {
        const MAX_DISTANCE: usize = 3;
        let limit = MAX_DISTANCE.min(name.chars().count() / 2);
        let mut best: Vec<&OutputColumn> = Vec::new();
        let mut best_distance = limit;
        for column in &self.columns {
            let Some(column_table) = column.table.as_deref() else { continue };
            if column.hidden || table.is_some_and(|t| t != column_table) {
                continue;
            }
            let distance = edit_distance(&column.name, name);
            if distance > best_distance {
                continue;
            }
            if distance < best_distance {
                best_distance = distance;
                best.clear();
            }
            if distance == best_distance {
                best.push(column);
            }
        }
        let quoted = |c: &OutputColumn| format!("\"{}.{}\"", c.table.as_deref().unwrap_or_default(), c.name);
        match best.as_slice() {
            [one] => error.with_hint(format!("Perhaps you meant to reference the column {}.", quoted(one))),
            [first, second] if first.table != second.table => error.with_hint(format!(
                "Perhaps you meant to reference the column {} or the column {}.",
                quoted(first),
                quoted(second)
            )),
            _ => error,
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

/// The Levenshtein distance between `a` and `b` (insertions, deletions and substitutions
/// of characters, each costing one).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        current[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitute.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::DataType;

    fn column(table: &str, name: &str) -> OutputColumn {
        OutputColumn {
            table: Some(table.into()),
            name: name.into(),
            data_type: DataType::Integer,
            hidden: false,
        }
    }

    fn hint(scope: &Scope, table: Option<&str>, name: &str) -> Option<String> {
        scope.resolve(table, name).err().and_then(|e| e.hint)
    }

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("abc", "abc"), 0);
        assert_eq!(edit_distance("abc", "abd"), 1);
        assert_eq!(edit_distance("abc", "ab"), 1);
        assert_eq!(edit_distance("", "xyz"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn close_names_are_suggested() {
        let scope = Scope::new(vec![column("t", "abc"), column("t", "total"), column("u", "amount")]);
        let meant = |c: &str| Some(format!("Perhaps you meant to reference the column \"{c}\"."));
        assert_eq!(hint(&scope, None, "abd"), meant("t.abc"));
        assert_eq!(hint(&scope, Some("t"), "totl"), meant("t.total"));
        assert_eq!(hint(&scope, None, "amont"), meant("u.amount"));
        // Qualified by another table: that table's columns only.
        assert_eq!(hint(&scope, Some("u"), "abd"), None);
        // Too far, or more than half of a short name.
        assert_eq!(hint(&scope, None, "zzzzzz"), None);
        assert_eq!(hint(&scope, None, "ab"), meant("t.abc"));
        assert_eq!(hint(&scope, None, "xbz"), None);
    }

    #[test]
    fn ties_across_tables_name_both_and_within_one_table_none() {
        let two = Scope::new(vec![column("a", "name"), column("b", "name")]);
        assert_eq!(
            hint(&two, None, "nam"),
            Some("Perhaps you meant to reference the column \"a.name\" or the column \"b.name\".".into())
        );
        let same = Scope::new(vec![column("t", "abc"), column("t", "abe")]);
        assert_eq!(hint(&same, None, "abd"), None);
    }
}
