//! View definitions.

use serde::{Deserialize, Serialize};

/// A view: a named query, stored as its SQL text and bound again wherever it is used, so
/// it always reads its tables as they are (as in PostgreSQL, minus the dependency
/// tracking: dropping a table a view reads makes the view fail when used).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ViewDef {
    /// The view's name.
    pub name: String,
    /// Column names given in `CREATE VIEW v (a, b)`; the query's own names otherwise.
    #[serde(default)]
    pub columns: Vec<String>,
    /// The query, as SQL text.
    pub sql: String,
}
