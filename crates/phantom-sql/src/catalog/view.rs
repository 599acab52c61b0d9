//! View definitions.

use serde::{Deserialize, Serialize};

use super::{PUBLIC, QualifiedName};

/// A view: a named query, stored as its SQL text and bound again wherever it is used, so
/// it always reads its tables as they are. The names in the text are looked up through
/// the search path the view was created with, so a session with another path reads the
/// same tables. What depends on a view or a table is found by binding the views again
/// (see [`crate::depend`]), not from stored dependency lists.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ViewDef {
    /// The schema the view lives in (`public` for views created before schemas existed).
    #[serde(default = "public")]
    pub schema: String,
    /// The view's name.
    pub name: String,
    /// Column names given in `CREATE VIEW v (a, b)`; the query's own names otherwise.
    #[serde(default)]
    pub columns: Vec<String>,
    /// The query, as SQL text.
    pub sql: String,
    /// The search path at CREATE VIEW, for the query's unqualified names.
    #[serde(default = "public_path")]
    pub search_path: Vec<String>,
    /// The owning role's OID; the view reads its tables with this role's privileges.
    #[serde(default = "super::acl::bootstrap_owner", skip_serializing_if = "super::acl::is_bootstrap_owner")]
    pub owner: i64,
    /// The privileges granted on it (`None`: the owner's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acl: Option<super::acl::Acl>,
}

fn public() -> String {
    PUBLIC.to_string()
}

fn public_path() -> Vec<String> {
    vec![PUBLIC.to_string()]
}

impl ViewDef {
    /// The view's qualified name.
    pub fn qualified(&self) -> QualifiedName {
        QualifiedName::new(&self.schema, &self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A view stored before schemas existed lives in public and reads through public.
    #[test]
    fn old_views_live_in_public() {
        let view: ViewDef = serde_json::from_str(r#"{"name":"v","sql":"SELECT 1"}"#).expect("decode");
        assert_eq!(view.qualified(), QualifiedName::new("public", "v"));
        assert_eq!(view.search_path, ["public"]);
    }
}
