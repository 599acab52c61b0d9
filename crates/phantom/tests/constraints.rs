//! Table constraints across a restart, and between two sessions: CHECK, UNIQUE and
//! FOREIGN KEY definitions come back from the catalog after a reopen and keep being
//! enforced; a referential action's changes are part of the statement's transaction.

mod common;

use common::{scalar, sqlstate};
use phantom::Database;

#[test]
fn constraints_survive_a_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let db = Database::open(dir.path()).expect("open");
        let mut s = db.session();
        s.execute(
            "CREATE TABLE p (id INT PRIMARY KEY, code TEXT UNIQUE, n INT CHECK (n >= 0));
             CREATE TABLE c (id INT PRIMARY KEY, p_id INT REFERENCES p ON DELETE CASCADE,
                             code TEXT, FOREIGN KEY (code) REFERENCES p (code) ON UPDATE SET NULL);
             INSERT INTO p VALUES (1, 'a', 1), (2, 'b', 2);
             INSERT INTO c VALUES (10, 1, 'a'), (11, 2, 'b'), (12, 2, NULL);",
        )
        .expect("setup");
    }
    let db = Database::open(dir.path()).expect("reopen");
    let mut s = db.session();
    assert_eq!(sqlstate(&mut s, "INSERT INTO p VALUES (3, 'c', -1)"), "23514");
    assert_eq!(sqlstate(&mut s, "INSERT INTO p VALUES (3, 'a', 1)"), "23505");
    assert_eq!(sqlstate(&mut s, "INSERT INTO c VALUES (13, 9, NULL)"), "23503");
    assert_eq!(sqlstate(&mut s, "INSERT INTO c VALUES (13, 1, 'zz')"), "23503");
    assert_eq!(sqlstate(&mut s, "DROP TABLE p"), "2BP01");
    s.execute("UPDATE p SET code = 'x' WHERE id = 1").expect("set null");
    assert_eq!(scalar(&mut s, "SELECT count(*) FROM c WHERE code IS NULL"), 2);
    s.execute("DELETE FROM p WHERE id = 2").expect("cascade");
    assert_eq!(scalar(&mut s, "SELECT count(*) FROM c"), 1);
    let description = s.describe("p").expect("describe");
    assert!(description.indexes.iter().any(|i| i.starts_with("p_code_key UNIQUE (code)")), "{description:?}");
    assert_eq!(description.checks, ["p_n_check CHECK (n >= 0)"]);
    assert_eq!(
        description.referenced_by,
        [
            "TABLE c CONSTRAINT c_p_id_fkey FOREIGN KEY (p_id) REFERENCES p (id) ON DELETE CASCADE",
            "TABLE c CONSTRAINT c_code_fkey FOREIGN KEY (code) REFERENCES p (code) ON UPDATE SET NULL",
        ]
    );
    assert_eq!(s.describe("c").expect("describe").foreign_keys.len(), 2);
}

#[test]
fn a_cascade_rolls_back_with_its_transaction() {
    let db = Database::memory();
    let mut s = db.session();
    s.execute(
        "CREATE TABLE p (id INT PRIMARY KEY);
         CREATE TABLE c (id INT PRIMARY KEY, p_id INT REFERENCES p ON DELETE CASCADE);
         INSERT INTO p VALUES (1), (2);
         INSERT INTO c VALUES (1, 1), (2, 1), (3, 2);",
    )
    .expect("setup");
    s.execute("BEGIN; DELETE FROM p WHERE id = 1").expect("delete");
    assert_eq!(scalar(&mut s, "SELECT count(*) FROM c"), 1);
    // Another session does not see the uncommitted cascade.
    let mut other = db.session();
    assert_eq!(scalar(&mut other, "SELECT count(*) FROM c"), 3);
    s.execute("ROLLBACK").expect("rollback");
    assert_eq!(scalar(&mut s, "SELECT count(*) FROM c"), 3);
    // A failing statement undoes its cascades too: the row 3 -> parent 2 survives.
    s.execute("CREATE TABLE g (c_id INT REFERENCES c)").expect("grandchild");
    s.execute("INSERT INTO g VALUES (3)").expect("insert");
    assert_eq!(sqlstate(&mut s, "DELETE FROM p WHERE id = 2"), "23503");
    assert_eq!(scalar(&mut s, "SELECT count(*) FROM c WHERE p_id = 2"), 1);
}
