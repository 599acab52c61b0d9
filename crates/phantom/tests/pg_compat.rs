//! The catalog queries real clients send, run against Phantom-DB with a sample schema,
//! checking the answers (names, types as `format_type` prints them, NOT NULL, defaults,
//! indexes, constraints), not just that they run.
//!
//! The queries in `tests/pg_compat/` were captured from the clients themselves against
//! PostgreSQL 15.18: psql 15's hidden queries with `psql -E` (`\dt`, `\d t`, `\l`, `\dn`,
//! `\di`, ...), psycopg 3's and tokio-postgres's type lookups and pgbench's partition
//! probe from the server log (`log_statement = all`). psql first looks a relation's OID
//! up and then quotes it into the following queries; the files have `{oid}` there and
//! the test substitutes the OID its own first query returned, as psql would.
//!
//! psql stops describing a table at the first query that fails, so every query of a
//! command must succeed for the command to work at all.

use std::path::PathBuf;

use phantom::{Database, Session, Value};

const SCHEMA: &str = "
    CREATE TABLE accounts (id integer PRIMARY KEY, name varchar(40) NOT NULL, balance bigint DEFAULT 0,
                           code char(3), created timestamp, note text);
    CREATE TABLE transfers (id bigint PRIMARY KEY, src integer NOT NULL REFERENCES accounts (id),
                            dst integer REFERENCES accounts (id) ON DELETE CASCADE,
                            amount double precision CHECK (amount > 0), at date DEFAULT current_date);
    CREATE UNIQUE INDEX accounts_name_key ON accounts (name);
    CREATE INDEX transfers_src_idx ON transfers (src, dst);
    CREATE VIEW big AS SELECT id, name FROM accounts WHERE balance > 100;
";

fn session() -> (Database, Session) {
    let db = Database::memory();
    let mut s = db.session();
    s.execute(SCHEMA).expect("schema");
    (db, s)
}

fn fixture(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/pg_compat").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A result as text, one string per value (NULL as `NULL`, booleans as `t`/`f`).
type Table = Vec<Vec<String>>;

fn rows(s: &mut Session, sql: &str) -> Table {
    let result = s.query(sql).unwrap_or_else(|e| panic!("{e}\nin:\n{sql}"));
    result.rows.iter().map(|r| r.values().iter().map(Value::to_string).collect()).collect()
}

/// Runs a psql command's queries in order: the first one finds the relation (when the
/// command describes one) and its OID goes into the others.
fn psql(s: &mut Session, file: &str) -> Vec<Table> {
    let text = fixture(file);
    let mut oid: Option<String> = None;
    let mut results = Vec::new();
    for query in text.split("-- next query") {
        let query = match &oid {
            Some(oid) => query.replace("{oid}", oid.as_str()),
            None => query.to_string(),
        };
        assert!(!query.contains("{oid}"), "{file}: no OID found before:\n{query}");
        let result = rows(s, &query);
        if oid.is_none() && query.contains("OPERATOR(pg_catalog.~)") {
            assert_eq!(result.len(), 1, "{file}: the relation lookup must find one relation: {result:?}");
            oid = Some(result[0][0].clone());
        }
        results.push(result);
    }
    results
}

fn table(rows: &[&[&str]]) -> Table {
    rows.iter().map(|r| r.iter().map(|v| v.to_string()).collect()).collect()
}

#[test]
fn psql_lists_tables_views_indexes_schemas_and_databases() {
    let (_db, mut s) = session();
    let dt = psql(&mut s, "psql_dt.sql");
    assert_eq!(
        dt[0],
        table(&[&["public", "accounts", "table", "phantom"], &["public", "transfers", "table", "phantom"]])
    );
    let d = psql(&mut s, "psql_d.sql");
    assert_eq!(
        d[0],
        table(&[
            &["public", "accounts", "table", "phantom"],
            &["public", "big", "view", "phantom"],
            &["public", "transfers", "table", "phantom"],
        ])
    );
    let dv = psql(&mut s, "psql_dv.sql");
    assert_eq!(dv[0], table(&[&["public", "big", "view", "phantom"]]));
    let di = psql(&mut s, "psql_di.sql");
    assert_eq!(
        di[0],
        table(&[
            &["public", "accounts_name_key", "index", "phantom", "accounts"],
            &["public", "accounts_pkey", "index", "phantom", "accounts"],
            &["public", "transfers_pkey", "index", "phantom", "transfers"],
            &["public", "transfers_src_idx", "index", "phantom", "transfers"],
        ])
    );
    let dn = psql(&mut s, "psql_dn.sql");
    assert_eq!(dn[0], table(&[&["public", "phantom"]]));
    let l = psql(&mut s, "psql_l.sql");
    assert_eq!(l[0].len(), 1);
    assert_eq!(&l[0][0][..5], &["phantom", "phantom", "UTF8", "C", "C"]);
    assert_eq!(l[0][0][6], "libc");
    // \dt+ adds persistence, access method, a size and the (absent) description.
    let dt_plus = psql(&mut s, "psql_dt_plus.sql");
    assert_eq!(dt_plus[0].len(), 2);
    assert_eq!(&dt_plus[0][0][..6], &["public", "accounts", "table", "phantom", "permanent", "heap"]);
    assert!(dt_plus[0][0][6].ends_with("bytes") || dt_plus[0][0][6].ends_with("kB"), "{:?}", dt_plus[0][0]);
    assert_eq!(dt_plus[0][0][7], "NULL");
    // \df lists user functions: there are none.
    let df = psql(&mut s, "psql_df.sql");
    assert!(df[0].is_empty());
}

#[test]
fn psql_describes_a_table() {
    let (_db, mut s) = session();
    let r = psql(&mut s, "psql_d_accounts.sql");
    assert_eq!(r.len(), 12, "every query psql sends must run");
    assert_eq!(&r[0][0][1..], &["public", "accounts"]);
    // relchecks, relkind, relhasindex, ..., access method.
    assert_eq!(&r[1][0][..3], &["0", "r", "t"]);
    assert_eq!(r[1][0][14], "heap");
    // Columns: name, type, default, NOT NULL, collation, identity, generated.
    assert_eq!(
        r[2],
        table(&[
            &["id", "integer", "NULL", "t", "NULL", "", ""],
            &["name", "character varying(40)", "NULL", "t", "NULL", "", ""],
            &["balance", "bigint", "0", "f", "NULL", "", ""],
            &["code", "character(3)", "NULL", "f", "NULL", "", ""],
            &["created", "timestamp without time zone", "NULL", "f", "NULL", "", ""],
            &["note", "text", "NULL", "f", "NULL", "", ""],
        ])
    );
    // Indexes, primary key first: name, primary, unique, ..., definition, constraint.
    let indexes: Table = r[3].iter().map(|row| row[..8].to_vec()).collect();
    assert_eq!(
        indexes,
        table(&[
            &[
                "accounts_pkey",
                "t",
                "t",
                "f",
                "t",
                "CREATE UNIQUE INDEX accounts_pkey ON public.accounts USING btree (id)",
                "PRIMARY KEY (id)",
                "p",
            ],
            &[
                "accounts_name_key",
                "f",
                "t",
                "f",
                "t",
                "CREATE UNIQUE INDEX accounts_name_key ON public.accounts USING btree (name)",
                "UNIQUE (name)",
                "u",
            ],
        ])
    );
    // No foreign keys of its own; referenced by two of transfers', shown by name.
    assert!(r[4].is_empty());
    assert_eq!(
        r[5],
        table(&[
            &[
                "transfers_dst_fkey",
                "transfers",
                "FOREIGN KEY (dst) REFERENCES accounts(id) ON DELETE CASCADE"
            ],
            &["transfers_src_fkey", "transfers", "FOREIGN KEY (src) REFERENCES accounts(id)"],
        ])
    );
    // Policies, statistics objects, publications, triggers, parents, partitions: none.
    for (i, result) in r.iter().enumerate().skip(6) {
        assert!(result.is_empty(), "query {i}: {result:?}");
    }
}

#[test]
fn psql_describes_checks_foreign_keys_defaults_and_plain_indexes() {
    let (_db, mut s) = session();
    let r = psql(&mut s, "psql_d_transfers.sql");
    assert_eq!(r.len(), 13);
    assert_eq!(r[1][0][0], "1", "one check constraint");
    let columns: Table = r[2].iter().map(|row| row[..4].to_vec()).collect();
    assert_eq!(
        columns,
        table(&[
            &["id", "bigint", "NULL", "t"],
            &["src", "integer", "NULL", "t"],
            &["dst", "integer", "NULL", "f"],
            &["amount", "double precision", "NULL", "f"],
            &["at", "date", "current_date", "f"],
        ])
    );
    let plain = r[3].iter().find(|row| row[0] == "transfers_src_idx").expect("the secondary index");
    assert_eq!(&plain[1..3], &["f", "f"]);
    assert_eq!(plain[5], "CREATE INDEX transfers_src_idx ON public.transfers USING btree (src, dst)");
    assert_eq!(plain[6], "NULL", "a plain index backs no constraint");
    assert_eq!(r[4], table(&[&["transfers_amount_check", "CHECK (amount > 0)"]]));
    assert_eq!(
        r[5],
        table(&[
            &[
                "t",
                "transfers_dst_fkey",
                "FOREIGN KEY (dst) REFERENCES accounts(id) ON DELETE CASCADE",
                "transfers"
            ],
            &["t", "transfers_src_fkey", "FOREIGN KEY (src) REFERENCES accounts(id)", "transfers"],
        ])
    );
    assert!(r[6].is_empty(), "nothing references transfers");
}

#[test]
fn psql_describes_a_view_and_an_index() {
    let (_db, mut s) = session();
    let view = psql(&mut s, "psql_d_view.sql");
    assert_eq!(view[1][0][1], "v");
    let columns: Table = view[2].iter().map(|row| row[..2].to_vec()).collect();
    assert_eq!(columns, table(&[&["id", "integer"], &["name", "character varying(40)"]]));

    let index = psql(&mut s, "psql_d_index.sql");
    assert_eq!(index[1][0][1], "i");
    assert_eq!(index[1][0][14], "btree");
    assert_eq!(index[2], table(&[&["id", "integer", "yes", "id"]]));
    // unique, primary, clustered, valid, ..., access method, table, predicate.
    assert_eq!(&index[3][0][..4], &["t", "t", "f", "t"]);
    assert_eq!(&index[3][0][8..], &["btree", "accounts", "NULL"]);
}

#[test]
fn psql_finds_nothing_for_an_unknown_relation() {
    let (_db, mut s) = session();
    let lookup = fixture("psql_d_accounts.sql").split("-- next query").next().unwrap_or_default().to_string();
    let r = rows(&mut s, &lookup.replace("^(accounts)$", "^(nosuch)$"));
    assert!(r.is_empty());
}

#[test]
fn driver_type_lookups_answer_with_postgres_oids() {
    let (_db, mut s) = session();
    let psycopg = s.prepare(&fixture("psycopg_typeinfo.sql")).expect("prepare");
    let int4 = s.query_prepared(&psycopg, &[Value::Text("int4".into())]).expect("int4");
    let got: Table = int4.rows.iter().map(|r| r.values().iter().map(Value::to_string).collect()).collect();
    assert_eq!(got, table(&[&["int4", "23", "1007", "integer", ","]]));
    let varchar = s.query_prepared(&psycopg, &[Value::Text("character varying".into())]).expect("varchar");
    assert_eq!(varchar.rows[0].values()[1].to_string(), "1043");
    let none = s.query_prepared(&psycopg, &[Value::Text("nosuch".into())]).expect("nosuch");
    assert!(none.rows.is_empty());

    let tokio = s.prepare(&fixture("tokio_postgres_typeinfo.sql")).expect("prepare");
    let int8 = s.query_prepared(&tokio, &[Value::Int(20)]).expect("int8");
    let got: Table = int8.rows.iter().map(|r| r.values().iter().map(Value::to_string).collect()).collect();
    assert_eq!(got, table(&[&["int8", "b", "0", "NULL", "0", "pg_catalog", "0"]]));
    let array = s.query_prepared(&tokio, &[Value::Int(1007)]).expect("_int4");
    let got: Table = array.rows.iter().map(|r| r.values().iter().map(Value::to_string).collect()).collect();
    assert_eq!(got, table(&[&["_int4", "b", "23", "NULL", "0", "pg_catalog", "0"]]));
}

#[test]
fn pgbench_probes_find_its_table() {
    let (_db, mut s) = session();
    s.execute("create table pgbench_accounts(aid int not null,bid int,abalance int,filler char(84)) with (fillfactor=100)")
        .expect("create");
    // Zero rows would make pgbench exit ("no pgbench_accounts table found").
    assert_eq!(rows(&mut s, &fixture("pgbench_partitions.sql")), table(&[&["2", "NULL", "0"]]));
    let relkind = s.prepare(&fixture("pgbench16_relkind.sql")).expect("prepare");
    let r = s.query_prepared(&relkind, &[Value::Text("pgbench_accounts".into())]).expect("relkind");
    assert_eq!(r.rows[0].values()[0].to_string(), "r");
    let missing = s.query_prepared(&relkind, &[Value::Text("nosuch".into())]).expect("missing");
    assert!(missing.rows.is_empty());
}

#[test]
fn client_settings_round_trip() {
    let (_db, mut s) = session();
    // What JDBC and psycopg send on connect, and what they read back.
    for sql in [
        "SET extra_float_digits = 3",
        "SET application_name = 'PostgreSQL JDBC Driver'",
        "SET datestyle = 'ISO'",
    ] {
        s.execute(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    assert_eq!(rows(&mut s, "SHOW extra_float_digits"), table(&[&["3"]]));
    assert_eq!(
        rows(&mut s, "SELECT current_setting('application_name')"),
        table(&[&["PostgreSQL JDBC Driver"]])
    );
    assert_eq!(rows(&mut s, "SHOW transaction isolation level"), table(&[&["read committed"]]));
    assert_eq!(rows(&mut s, "SHOW standard_conforming_strings"), table(&[&["on"]]));
    assert_eq!(rows(&mut s, "SHOW server_version_num"), table(&[&["150000"]]));
    assert!(rows(&mut s, "SHOW server_version")[0][0].starts_with("15.0"));
}

/// Unaliased select-list expressions are named as PostgreSQL names them (psql and
/// drivers show these names, and ORMs map rows by them).
#[test]
fn result_columns_are_named_as_postgresql_names_them() {
    let db = phantom::Database::memory();
    let mut session = db.session();
    let cases = [
        ("CAST(1 AS int8)", "int8"),
        ("1::\"char\"", "char"),
        ("'a'::name", "name"),
        ("1::oid", "oid"),
        ("'2020-01-01'::date", "date"),
        ("'1 day'::interval", "interval"),
        ("'x'::bytea", "bytea"),
        ("'{1}'::int[]", "int4"),
        ("EXTRACT(year FROM DATE '2020-01-01')", "extract"),
        ("DATE '2020-01-01'", "date"),
        ("TIMESTAMP '2020-01-01'", "timestamp"),
        ("INTERVAL '1 day'", "interval"),
        ("EXISTS (SELECT 1)", "exists"),
        ("(SELECT 1 AS z)", "z"),
        ("(SELECT a FROM (VALUES (1)) t(a))", "a"),
        ("ARRAY[1, 2]", "array"),
        ("coalesce(1, 2)", "coalesce"),
        ("1 + 1", "?column?"),
    ];
    for (expr, name) in cases {
        let rows = session.query(&format!("SELECT {expr}")).unwrap_or_else(|e| panic!("{expr}: {e}"));
        assert_eq!(rows.columns[0].name, name, "SELECT {expr}");
    }
}

/// The notices and warnings PostgreSQL sends for statements that succeed: IF [NOT]
/// EXISTS skipping, what CASCADE dropped, transaction control out of place, filtered by
/// `client_min_messages`.
#[test]
fn statements_raise_postgresql_notices() {
    let db = phantom::Database::memory();
    let mut session = db.session();
    fn notices(session: &mut Session, sql: &str) -> Vec<String> {
        session.execute(sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
        session
            .take_notices()
            .into_iter()
            .map(|n| {
                let detail = n.detail.map(|d| format!(" [{d}]")).unwrap_or_default();
                format!("{} {}: {}{detail}", n.severity.name(), n.code, n.message)
            })
            .collect()
    }
    let mut run = |sql: &str| notices(&mut session, sql);
    assert_eq!(run("DROP TABLE IF EXISTS nope"), ["NOTICE 00000: table \"nope\" does not exist, skipping"]);
    assert_eq!(run("DROP VIEW IF EXISTS nope"), ["NOTICE 00000: view \"nope\" does not exist, skipping"]);
    assert_eq!(
        run("DROP TABLE IF EXISTS nosuch.t"),
        ["NOTICE 00000: schema \"nosuch\" does not exist, skipping"]
    );
    assert_eq!(run("CREATE TABLE t (a int)"), Vec::<String>::new());
    assert_eq!(
        run("CREATE TABLE IF NOT EXISTS t (a int)"),
        ["NOTICE 42P07: relation \"t\" already exists, skipping"]
    );
    assert_eq!(
        run("ALTER TABLE t ADD COLUMN IF NOT EXISTS a int"),
        ["NOTICE 42701: column \"a\" of relation \"t\" already exists, skipping"]
    );
    assert_eq!(
        run("ALTER TABLE t DROP COLUMN IF EXISTS b"),
        ["NOTICE 00000: column \"b\" of relation \"t\" does not exist, skipping"]
    );
    assert_eq!(
        run("ALTER TABLE IF EXISTS nope ADD COLUMN c int"),
        ["NOTICE 00000: relation \"nope\" does not exist, skipping"]
    );
    assert_eq!(
        run("CREATE SCHEMA IF NOT EXISTS public"),
        ["NOTICE 42P06: schema \"public\" already exists, skipping"]
    );
    assert_eq!(
        run("CREATE SEQUENCE IF NOT EXISTS t"),
        ["NOTICE 42P07: relation \"t\" already exists, skipping"]
    );
    assert_eq!(run("DROP ROLE IF EXISTS nobody"), ["NOTICE 00000: role \"nobody\" does not exist, skipping"]);
    run("CREATE VIEW v AS SELECT a FROM t");
    assert_eq!(run("DROP TABLE t CASCADE"), ["NOTICE 00000: drop cascades to view v"]);
    run("CREATE TABLE t (a int)");
    run("CREATE VIEW v AS SELECT a FROM t");
    run("CREATE VIEW w AS SELECT a FROM v");
    assert_eq!(
        run("DROP TABLE t CASCADE"),
        ["NOTICE 00000: drop cascades to 2 other objects [drop cascades to view v\ndrop cascades to view w]"]
    );
    assert_eq!(run("COMMIT"), ["WARNING 25P01: there is no transaction in progress"]);
    run("BEGIN");
    assert_eq!(run("BEGIN"), ["WARNING 25001: there is already a transaction in progress"]);
    assert_eq!(run("COMMIT"), Vec::<String>::new());
    // An implicit block (the server's, up to a Sync) turns explicit at BEGIN, silently,
    // and a COMMIT of it warns.
    let s = &mut session;
    s.begin_implicit();
    assert_eq!(notices(s, "BEGIN"), Vec::<String>::new());
    assert_eq!(notices(s, "COMMIT"), Vec::<String>::new());
    s.begin_implicit();
    assert_eq!(notices(s, "COMMIT"), ["WARNING 25P01: there is no transaction in progress"]);
    assert!(!s.in_transaction());
    notices(s, "SET client_min_messages = warning");
    assert_eq!(notices(s, "DROP TABLE IF EXISTS nope"), Vec::<String>::new());
    assert_eq!(notices(s, "ROLLBACK"), ["WARNING 25P01: there is no transaction in progress"]);
    notices(s, "SET client_min_messages = error");
    assert_eq!(notices(s, "ROLLBACK"), Vec::<String>::new());
}
