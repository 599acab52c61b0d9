//! Schemas and ALTER TABLE changes across a restart: the catalog entries they write are
//! durable like any other commit, rolled-back ones never were, and a dropped `public`
//! stays dropped.

mod common;

use common::{scalar, sqlstate, texts};
use phantom::Database;

const SCHEMAS: &str = "SELECT schema_name FROM information_schema.schemata \
                       WHERE schema_name NOT IN ('pg_catalog', 'information_schema') ORDER BY 1";

#[test]
fn schemas_and_their_objects_survive_a_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let db = Database::open(dir.path()).expect("open");
        let mut s = db.session();
        s.execute(
            "CREATE SCHEMA app;
             CREATE TABLE t (id INT PRIMARY KEY, v TEXT);
             CREATE TABLE app.t (id INT PRIMARY KEY, w INT UNIQUE);
             CREATE TABLE app.child (id INT PRIMARY KEY, t_id INT REFERENCES app.t);
             CREATE INDEX t_v ON t (v);
             CREATE INDEX t_v ON app.t (w);
             INSERT INTO t VALUES (1, 'public');
             INSERT INTO app.t VALUES (1, 10), (2, 20);
             INSERT INTO app.child VALUES (1, 2);
             SET search_path TO app, public;
             CREATE VIEW app.big AS SELECT id FROM t WHERE w > 15;",
        )
        .expect("setup");
        // Rolled back: never there.
        s.execute("BEGIN; CREATE SCHEMA gone; CREATE TABLE gone.x (a INT); ROLLBACK").expect("rollback");
        // Dropped: stays dropped.
        s.execute("CREATE SCHEMA dropped; CREATE TABLE dropped.y (a INT); DROP SCHEMA dropped CASCADE")
            .expect("drop");
    }
    let db = Database::open(dir.path()).expect("reopen");
    let mut s = db.session();
    assert_eq!(texts(&mut s, SCHEMAS), ["app", "public"]);
    assert_eq!(texts(&mut s, "SELECT v FROM t"), ["public"]);
    assert_eq!(scalar(&mut s, "SELECT sum(w) FROM app.t"), 30);
    // The view reads app.t (the path it was created with), not public.t.
    assert_eq!(scalar(&mut s, "SELECT id FROM app.big"), 2);
    assert_eq!(sqlstate(&mut s, "INSERT INTO app.child VALUES (2, 9)"), "23503");
    assert_eq!(sqlstate(&mut s, "INSERT INTO app.t VALUES (3, 10)"), "23505");
    assert_eq!(sqlstate(&mut s, "DROP TABLE app.t"), "2BP01");
    assert_eq!(sqlstate(&mut s, "SELECT * FROM gone.x"), "42P01");
    assert_eq!(sqlstate(&mut s, "SELECT * FROM dropped.y"), "42P01");
    // Both indexes called t_v are there, each in its table's schema.
    assert!(s.describe("t").expect("describe").indexes.iter().any(|i| i.starts_with("t_v (v)")));
    assert!(s.describe("app.t").expect("describe").indexes.iter().any(|i| i.starts_with("t_v (w)")));
    // \d lists tables outside the search path qualified.
    assert_eq!(s.tables().expect("tables"), ["app.child", "app.t", "t"]);
}

#[test]
fn a_dropped_public_schema_stays_dropped_until_created_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let db = Database::open(dir.path()).expect("open");
        let mut s = db.session();
        s.execute("CREATE TABLE t (a INT); CREATE SCHEMA keep; DROP SCHEMA public CASCADE")
            .expect("drop public");
    }
    {
        let db = Database::open(dir.path()).expect("reopen");
        let mut s = db.session();
        assert_eq!(texts(&mut s, SCHEMAS), ["keep"]);
        assert_eq!(sqlstate(&mut s, "CREATE TABLE t (a INT)"), "3F000");
        s.execute("CREATE SCHEMA public; CREATE TABLE t (b TEXT)").expect("recreate");
    }
    let db = Database::open(dir.path()).expect("reopen again");
    let mut s = db.session();
    assert_eq!(texts(&mut s, SCHEMAS), ["keep", "public"]);
    assert_eq!(scalar(&mut s, "SELECT count(*) FROM information_schema.columns WHERE column_name = 'b'"), 1);
}

#[test]
fn altered_constraints_and_columns_survive_a_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let db = Database::open(dir.path()).expect("open");
        let mut s = db.session();
        s.execute(
            "CREATE TABLE p (id INT, code TEXT);
             CREATE TABLE c (id INT, p_id INT, amount TEXT);
             INSERT INTO p VALUES (1, 'a'), (2, 'b');
             INSERT INTO c VALUES (1, 1, '5'), (2, 2, '7');
             ALTER TABLE p ADD CONSTRAINT p_main PRIMARY KEY (id), ADD UNIQUE (code);
             ALTER TABLE c ADD FOREIGN KEY (p_id) REFERENCES p ON DELETE CASCADE,
                           ALTER amount TYPE INT USING amount::int,
                           ADD CHECK (amount > 0),
                           ALTER amount SET NOT NULL,
                           ALTER amount SET DEFAULT 1;
             ALTER TABLE p ADD CONSTRAINT temp CHECK (id < 100);
             ALTER TABLE p DROP CONSTRAINT temp;",
        )
        .expect("setup");
    }
    let db = Database::open(dir.path()).expect("reopen");
    let mut s = db.session();
    assert_eq!(sqlstate(&mut s, "INSERT INTO p VALUES (1, 'z')"), "23505");
    assert_eq!(sqlstate(&mut s, "INSERT INTO p VALUES (3, 'a')"), "23505");
    assert_eq!(sqlstate(&mut s, "INSERT INTO c VALUES (3, 9, 1)"), "23503");
    assert_eq!(sqlstate(&mut s, "INSERT INTO c VALUES (3, 1, 0)"), "23514");
    assert_eq!(sqlstate(&mut s, "INSERT INTO c VALUES (3, 1, NULL)"), "23502");
    s.execute("INSERT INTO p VALUES (100, 'big'); INSERT INTO c (id, p_id) VALUES (3, 100)").expect("insert");
    assert_eq!(scalar(&mut s, "SELECT sum(amount) FROM c"), 13);
    s.execute("DELETE FROM p WHERE id = 1").expect("cascade");
    assert_eq!(scalar(&mut s, "SELECT count(*) FROM c"), 2);
    let p = s.describe("p").expect("describe");
    assert_eq!(p.primary_key, ["id"]);
    assert!(p.checks.is_empty(), "{p:?}");
    assert_eq!(sqlstate(&mut s, "ALTER TABLE p DROP CONSTRAINT p_main"), "2BP01");
}
