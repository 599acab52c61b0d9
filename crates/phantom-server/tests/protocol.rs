//! The simple and extended query protocols, errors and transaction status, through
//! tokio-postgres and a raw protocol client.

mod common;

use common::{Raw, bind_body, connect, describe_body, execute_body, kinds, parse_body, start, status, tags};
use tokio_postgres::SimpleQueryMessage;
use tokio_postgres::error::{ErrorPosition, SqlState};

fn rows(messages: &[SimpleQueryMessage]) -> Vec<Vec<Option<String>>> {
    messages
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect()),
            _ => None,
        })
        .collect()
}

fn completions(messages: &[SimpleQueryMessage]) -> Vec<u64> {
    messages
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::CommandComplete(n) => Some(*n),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simple_protocol_runs_every_statement_in_order() {
    let server = start().await;
    let client = connect(&server).await;
    let out = client
        .simple_query("CREATE TABLE t (a INT PRIMARY KEY, b TEXT); INSERT INTO t VALUES (1, 'x'), (2, NULL); SELECT a, b FROM t ORDER BY a; UPDATE t SET b = 'y' WHERE a = 2")
        .await
        .expect("query");
    assert_eq!(completions(&out), [0, 2, 2, 1]);
    assert_eq!(rows(&out), vec![vec![Some("1".into()), Some("x".into())], vec![Some("2".into()), None]]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_error_stops_the_rest_and_a_multi_statement_query_is_one_transaction() {
    let server = start().await;
    let client = connect(&server).await;
    client.simple_query("CREATE TABLE t (a INT PRIMARY KEY)").await.expect("create");
    let err = client
        .simple_query("INSERT INTO t VALUES (1); INSERT INTO t VALUES (1); INSERT INTO t VALUES (3)")
        .await
        .expect_err("duplicate");
    assert_eq!(err.code(), Some(&SqlState::UNIQUE_VIOLATION));
    let db = err.as_db_error().expect("db error");
    assert_eq!(db.detail(), Some("Key (a)=(1) already exists."));
    // The first INSERT was rolled back with the second, and the third never ran.
    let out = client.simple_query("SELECT count(*) FROM t").await.expect("count");
    assert_eq!(rows(&out), vec![vec![Some("0".into())]]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_carry_sqlstate_and_a_position_in_the_whole_query_string() {
    let server = start().await;
    let client = connect(&server).await;
    let err = client.simple_query("SELECT 1; SELECT * FROM nope").await.expect_err("no table");
    let db = err.as_db_error().expect("db error");
    assert_eq!(db.code(), &SqlState::UNDEFINED_TABLE);
    assert_eq!(db.message(), "relation \"nope\" does not exist");
    assert_eq!(db.severity(), "ERROR");
    // "nope" is at character 25 of the string (1-based).
    assert_eq!(db.position(), Some(&ErrorPosition::Original(25)));

    let err = client.simple_query("SELECT 1 +* 2").await.expect_err("syntax");
    assert_eq!(err.code(), Some(&SqlState::SYNTAX_ERROR));
    assert!(
        matches!(err.as_db_error().and_then(|d| d.position()), Some(ErrorPosition::Original(p)) if *p > 1)
    );

    let err = client.query("SELECT 1 / $1::int", &[&0i32]).await.expect_err("division");
    assert_eq!(err.code(), Some(&SqlState::DIVISION_BY_ZERO));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_carry_postgresql_hints() {
    let server = start().await;
    let client = connect(&server).await;
    client.simple_query("CREATE TABLE t (abc INT)").await.expect("create");
    let hint = |e: tokio_postgres::Error| e.as_db_error().and_then(|d| d.hint().map(str::to_string));

    let err = client.simple_query("SELECT foo(1)").await.expect_err("no function");
    assert_eq!(err.code(), Some(&SqlState::UNDEFINED_FUNCTION));
    assert_eq!(
        hint(err).as_deref(),
        Some(
            "No function matches the given name and argument types. You might need to add explicit type casts."
        )
    );
    let err = client.simple_query("SELECT 1 + 'a'::text").await.expect_err("no operator");
    assert_eq!(
        hint(err).as_deref(),
        Some(
            "No operator matches the given name and argument types. You might need to add explicit type casts."
        )
    );
    let err = client.query("SELECT abd FROM t", &[]).await.expect_err("no column");
    assert_eq!(err.code(), Some(&SqlState::UNDEFINED_COLUMN));
    assert_eq!(hint(err).as_deref(), Some("Perhaps you meant to reference the column \"t.abc\"."));
    // Errors PostgreSQL gives no hint get none.
    let err = client.simple_query("SELECT 1 / 0").await.expect_err("division");
    assert_eq!(hint(err), None);
    let err = client.simple_query("SELECT xyz FROM t").await.expect_err("nothing close");
    assert_eq!(hint(err), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ready_for_query_reports_idle_in_block_and_failed() {
    let server = start().await;
    let mut raw = Raw::connect(&server).await;
    assert_eq!(status(&raw.query("SELECT 1").await), 'I');
    assert_eq!(status(&raw.query("BEGIN").await), 'T');
    assert_eq!(status(&raw.query("SELECT 1").await), 'T');
    let failed = raw.query("SELECT * FROM nope").await;
    assert_eq!(kinds(&failed), "EZ");
    assert_eq!(status(&failed), 'E');
    let refused = raw.query("SELECT 1").await;
    assert_eq!(refused[0].field(b'C').as_deref(), Some("25P02"));
    assert_eq!(status(&refused), 'E');
    assert_eq!(tags(&raw.query("ROLLBACK").await), ["ROLLBACK"]);
    // An error outside a block leaves the session idle.
    assert_eq!(status(&raw.query("SELECT 1 / 0").await), 'I');
    // The same through the extended protocol.
    raw.send(b'P', &parse_body("", "BEGIN", &[])).await;
    raw.send(b'B', &bind_body("", "", &[], None)).await;
    raw.send(b'E', &execute_body("", 0)).await;
    raw.send(b'S', &[]).await;
    let out = raw.until_ready().await;
    assert_eq!(kinds(&out), "12CZ");
    assert_eq!(status(&out), 'T');
    assert_eq!(status(&raw.query("COMMIT").await), 'I');
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_queries_tags_and_notices() {
    let server = start().await;
    let mut raw = Raw::connect(&server).await;
    assert_eq!(kinds(&raw.query("").await), "IZ");
    assert_eq!(kinds(&raw.query(" ; -- nothing\n").await), "IZ");
    let out = raw.query("CREATE TABLE t (a INT); INSERT INTO t VALUES (1), (2); DELETE FROM t WHERE a = 1; SELECT * FROM t; DROP TABLE t").await;
    assert_eq!(tags(&out), ["CREATE TABLE", "INSERT 0 2", "DELETE 1", "SELECT 1", "DROP TABLE"]);
    let out = raw.query("BEGIN; BEGIN").await;
    let notice = out.iter().find(|m| m.kind == b'N').expect("a notice for the second BEGIN");
    assert_eq!(notice.field(b'C').as_deref(), Some("25001"));
    assert_eq!(notice.field(b'S').as_deref(), Some("WARNING"));
    raw.query("COMMIT").await;
    let out = raw.query("COMMIT").await;
    assert!(out.iter().any(|m| m.kind == b'N' && m.field(b'C').as_deref() == Some("25P01")), "{out:?}");
    // The statements' own notices come before their CommandComplete, DETAIL included,
    // through both protocols.
    raw.query(
        "CREATE TABLE n (a INT); CREATE VIEW nv AS SELECT a FROM n; CREATE VIEW nw AS SELECT a FROM nv",
    )
    .await;
    let out = raw.query("DROP TABLE IF EXISTS nope; DROP TABLE n CASCADE").await;
    assert_eq!(kinds(&out), "NCNCZ", "{out:?}");
    assert_eq!(out[0].field(b'M').as_deref(), Some("table \"nope\" does not exist, skipping"));
    assert_eq!(out[0].field(b'S').as_deref(), Some("NOTICE"));
    assert_eq!(out[2].field(b'M').as_deref(), Some("drop cascades to 2 other objects"));
    assert_eq!(out[2].field(b'D').as_deref(), Some("drop cascades to view nv\ndrop cascades to view nw"));
    raw.send(b'P', &parse_body("", "DROP VIEW IF EXISTS nope", &[])).await;
    raw.send(b'B', &bind_body("", "", &[], None)).await;
    raw.send(b'E', &execute_body("", 0)).await;
    raw.send(b'S', &[]).await;
    let out = raw.until_ready().await;
    assert_eq!(kinds(&out), "12NCZ", "{out:?}");
    assert_eq!(out[2].field(b'M').as_deref(), Some("view \"nope\" does not exist, skipping"));
    // client_min_messages filters them.
    raw.query("SET client_min_messages = warning").await;
    assert_eq!(kinds(&raw.query("DROP TABLE IF EXISTS nope").await), "CZ");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extended_protocol_infers_unspecified_parameter_types() {
    let server = start().await;
    let client = connect(&server).await;
    client
        .batch_execute("CREATE TABLE acc (aid INT PRIMARY KEY, bid INT, abalance INT, filler CHAR(84)); INSERT INTO acc VALUES (1, 1, 0, ''), (2, 1, 0, '')")
        .await
        .expect("setup");
    // What pgbench -M extended/prepared sends: no parameter types at all.
    let update =
        client.prepare("UPDATE acc SET abalance = abalance + $1 WHERE aid = $2").await.expect("prepare");
    assert_eq!(update.params(), [tokio_postgres::types::Type::INT4, tokio_postgres::types::Type::INT4]);
    assert_eq!(client.execute(&update, &[&-1477i32, &2i32]).await.expect("update"), 1);
    let select = client.prepare("SELECT abalance FROM acc WHERE aid = $1").await.expect("prepare");
    assert_eq!(select.columns()[0].type_(), &tokio_postgres::types::Type::INT4);
    let row = client.query_one(&select, &[&2i32]).await.expect("select");
    assert_eq!(row.get::<_, i32>(0), -1477);
    // The same statement many times, and a named statement reused after others.
    for i in 0..20 {
        client.execute(&update, &[&1i32, &1i32]).await.expect("again");
        if i % 5 == 0 {
            client.query("SELECT 1", &[]).await.expect("other");
        }
    }
    assert_eq!(client.query_one(&select, &[&1i32]).await.expect("select").get::<_, i32>(0), 20);
    // Declared types win over inferred ones.
    let typed = client
        .prepare_typed("SELECT aid FROM acc WHERE aid = $1", &[tokio_postgres::types::Type::INT8])
        .await
        .expect("typed");
    assert_eq!(typed.params(), [tokio_postgres::types::Type::INT8]);
    assert_eq!(client.query_one(&typed, &[&2i64]).await.expect("typed").get::<_, i32>(0), 2);
    // Parameters in text format (what pgbench and psql send) go through type input.
    let err = client.query("SELECT aid FROM acc WHERE aid = $1", &[&"x"]).await.expect_err("text for int");
    assert!(
        err.to_string().contains("error serializing parameter 0"),
        "tokio-postgres refuses it client side: {err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn portals_with_row_limits_suspend_and_resume() {
    let server = start().await;
    let mut client = connect(&server).await;
    client
        .batch_execute("CREATE TABLE n (i INT PRIMARY KEY); INSERT INTO n SELECT * FROM (VALUES (1),(2),(3),(4),(5),(6),(7)) v")
        .await
        .expect("setup");
    let txn = client.transaction().await.expect("begin");
    let portal = txn.bind("SELECT i FROM n WHERE i > $1 ORDER BY i", &[&1i32]).await.expect("bind");
    let mut seen = Vec::new();
    loop {
        let batch = txn.query_portal(&portal, 2).await.expect("fetch");
        if batch.is_empty() {
            break;
        }
        assert!(batch.len() <= 2);
        seen.extend(batch.iter().map(|r| r.get::<_, i32>(0)));
    }
    assert_eq!(seen, [2, 3, 4, 5, 6, 7]);
    txn.commit().await.expect("commit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extended_protocol_by_hand_describe_errors_and_skip_to_sync() {
    let server = start().await;
    let mut raw = Raw::connect(&server).await;
    raw.query("CREATE TABLE t (a INT, b VARCHAR(10))").await;
    raw.send(b'P', &parse_body("s1", "SELECT a, b FROM t WHERE a = $1", &[])).await;
    raw.send(b'D', &describe_body(b'S', "s1")).await;
    raw.send(b'S', &[]).await;
    let out = raw.until_ready().await;
    assert_eq!(kinds(&out), "1tTZ");
    let types = &out[1].body;
    assert_eq!(types, &[0, 1, 0, 0, 0, 23], "one parameter of type int4");
    // After an error every message up to Sync is skipped: no BindComplete, no rows.
    raw.send(b'B', &bind_body("", "nope", &[], None)).await;
    raw.send(b'E', &execute_body("", 0)).await;
    raw.send(b'S', &[]).await;
    let out = raw.until_ready().await;
    assert_eq!(kinds(&out), "EZ");
    assert_eq!(out[0].field(b'C').as_deref(), Some("26000"));
    // A Query sent before the Sync is skipped too.
    raw.send(b'B', &bind_body("", "nope", &[], None)).await;
    raw.send(b'Q', b"SELECT 1\0").await;
    raw.send(b'S', &[]).await;
    assert_eq!(kinds(&raw.until_ready().await), "EZ");
    // Wrong parameter count.
    raw.send(b'B', &bind_body("", "s1", &[], None)).await;
    raw.send(b'S', &[]).await;
    let out = raw.until_ready().await;
    assert_eq!(out[0].field(b'C').as_deref(), Some("08P01"));
    // A portal's description carries its result formats; an empty query is EmptyQueryResponse.
    raw.send(b'B', &bind_body("p", "s1", &[Some(b"1")], Some(1))).await;
    raw.send(b'D', &describe_body(b'P', "p")).await;
    raw.send(b'E', &execute_body("p", 0)).await;
    raw.send(b'P', &parse_body("", "  ", &[])).await;
    raw.send(b'B', &bind_body("", "", &[], None)).await;
    raw.send(b'E', &execute_body("", 0)).await;
    raw.send(b'C', &describe_body(b'S', "s1")).await;
    raw.send(b'S', &[]).await;
    let out = raw.until_ready().await;
    assert_eq!(kinds(&out), "2TC12I3Z");
    let format_code = &out[1].body[out[1].body.len() - 2..];
    assert_eq!(format_code, &[0, 1], "binary result format");
    // The closed statement is gone.
    raw.send(b'B', &bind_body("", "s1", &[Some(b"1")], None)).await;
    raw.send(b'S', &[]).await;
    assert_eq!(raw.until_ready().await[0].field(b'C').as_deref(), Some("26000"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_reported_settings_are_sent_as_parameter_status() {
    let server = start().await;
    let mut raw = Raw::connect(&server).await;
    let parameter = |messages: &[common::Message], name: &str| -> Option<String> {
        messages.iter().filter(|m| m.kind == b'S').find_map(|m| {
            let mut parts = m.body.split(|&b| b == 0);
            let key = String::from_utf8_lossy(parts.next()?).into_owned();
            let value = String::from_utf8_lossy(parts.next()?).into_owned();
            (key == name).then_some(value)
        })
    };
    let out = raw.query("SET application_name = 'reporting'").await;
    assert_eq!(kinds(&out), "CSZ", "{out:?}");
    assert_eq!(parameter(&out, "application_name").as_deref(), Some("reporting"));
    let out = raw.query("SET datestyle = 'ISO, DMY'").await;
    assert_eq!(parameter(&out, "DateStyle").as_deref(), Some("ISO, DMY"), "{out:?}");
    // Nothing changed, nothing sent.
    let out = raw.query("SELECT 1").await;
    assert!(out.iter().all(|m| m.kind != b'S'), "{out:?}");
    // set_config() changes settings as SET does, and is reported the same way.
    let out = raw.query("SELECT set_config('application_name', 'by function', false)").await;
    assert_eq!(parameter(&out, "application_name").as_deref(), Some("by function"), "{out:?}");
    // A local change is reported, and so is its undoing at the end of the block.
    let out = raw.query("BEGIN; SET LOCAL application_name = 'local'").await;
    assert_eq!(parameter(&out, "application_name").as_deref(), Some("local"), "{out:?}");
    let out = raw.query("COMMIT").await;
    assert_eq!(parameter(&out, "application_name").as_deref(), Some("by function"), "{out:?}");
    // Through the extended protocol too.
    raw.send(b'P', &parse_body("", "SELECT pg_catalog.set_config('application_name', $1, false)", &[])).await;
    raw.send(b'B', &bind_body("", "", &[Some(b"x")], None)).await;
    raw.send(b'E', &execute_body("", 0)).await;
    raw.send(b'S', &[]).await;
    let out = raw.until_ready().await;
    assert_eq!(parameter(&out, "application_name").as_deref(), Some("x"), "{out:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_before_one_sync_are_one_implicit_transaction() {
    let server = start().await;
    let mut raw = Raw::connect(&server).await;
    raw.query("CREATE TABLE t (a INT PRIMARY KEY)").await;
    // The second INSERT fails, so the first one is rolled back with it at Sync.
    execute(&mut raw, "INSERT INTO t VALUES (1)").await;
    execute(&mut raw, "INSERT INTO t VALUES (1)").await;
    raw.send(b'S', &[]).await;
    let out = raw.until_ready().await;
    assert!(out.iter().any(|m| m.kind == b'E' && m.field(b'C').as_deref() == Some("23505")), "{out:?}");
    assert_eq!(status(&out), 'I');
    let count = raw.query("SELECT count(*) FROM t").await;
    assert!(count.iter().any(|m| m.kind == b'D' && m.body.ends_with(b"0")), "{count:?}");
    // Without an error, both are committed at Sync.
    execute(&mut raw, "INSERT INTO t VALUES (2)").await;
    execute(&mut raw, "INSERT INTO t VALUES (3)").await;
    raw.send(b'S', &[]).await;
    let out = raw.until_ready().await;
    assert_eq!(status(&out), 'I', "{out:?}");
    let count = raw.query("SELECT count(*) FROM t").await;
    assert!(count.iter().any(|m| m.kind == b'D' && m.body.ends_with(b"2")), "{count:?}");
}

/// Parse, Bind and Execute of `sql` in the unnamed statement and portal, without Sync.
async fn execute(raw: &mut Raw, sql: &str) {
    raw.send(b'P', &parse_body("", sql, &[])).await;
    raw.send(b'B', &bind_body("", "", &[], None)).await;
    raw.send(b'E', &execute_body("", 0)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn insert_returning_sends_rows_and_the_insert_tag_in_both_protocols() {
    let server = start().await;
    let client = connect(&server).await;
    client.simple_query("CREATE TABLE r (id SERIAL PRIMARY KEY, name TEXT NOT NULL)").await.expect("create");
    // Simple protocol: RowDescription, DataRows, then INSERT 0 2 (tokio-postgres reads 2).
    let out = client
        .simple_query("INSERT INTO r (name) VALUES ('a'), ('b') RETURNING id, upper(name)")
        .await
        .expect("insert");
    assert_eq!(
        rows(&out),
        vec![vec![Some("1".into()), Some("A".into())], vec![Some("2".into()), Some("B".into())]]
    );
    assert_eq!(completions(&out), [2]);
    // Extended protocol with a parameter: Describe reports the returned columns, as an
    // ORM reading back a generated id needs.
    let statement =
        client.prepare("INSERT INTO r (name) VALUES ($1) RETURNING id, name").await.expect("prepare");
    assert_eq!(statement.columns().iter().map(|c| c.name()).collect::<Vec<_>>(), ["id", "name"]);
    let row = client.query_one(&statement, &[&"c"]).await.expect("insert");
    assert_eq!((row.get::<_, i32>(0), row.get::<_, String>(1)), (3, "c".to_string()));
    // A failing insert returns nothing and stores nothing.
    let err =
        client.query("INSERT INTO r (id, name) VALUES (1, 'dup') RETURNING id", &[]).await.expect_err("dup");
    assert_eq!(err.code(), Some(&SqlState::UNIQUE_VIOLATION));
    let out = client.simple_query("SELECT count(*) FROM r").await.expect("count");
    assert_eq!(rows(&out), vec![vec![Some("3".into())]]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_and_delete_returning_send_rows_and_their_tags() {
    let server = start().await;
    let client = connect(&server).await;
    client
        .simple_query(
            "CREATE TABLE u (id INT PRIMARY KEY, n INT); INSERT INTO u VALUES (1, 10), (2, 20), (3, 30)",
        )
        .await
        .expect("setup");
    let out =
        client.simple_query("UPDATE u SET n = n + 1 WHERE id >= 2 RETURNING id, n").await.expect("update");
    assert_eq!(
        rows(&out),
        vec![vec![Some("2".into()), Some("21".into())], vec![Some("3".into()), Some("31".into())]]
    );
    assert_eq!(completions(&out), [2]);
    let deleted = client.query("DELETE FROM u WHERE id = $1 RETURNING n", &[&1i32]).await.expect("delete");
    assert_eq!(deleted.iter().map(|r| r.get::<_, i32>(0)).collect::<Vec<_>>(), [10]);
}

/// DDL followed by a statement that uses what it made, for every DDL statement and every
/// way of sending both: the statement must see the block's own catalog writes, whichever
/// protocol sends it (Parse binds it at once, before Bind and Execute move on).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_sees_the_ddl_just_before_it_in_every_protocol() {
    // (setup, DDL, statement using it with one int parameter, what it must return)
    let cases: &[(&str, &str, &str, i64)] = &[
        ("", "CREATE TABLE p (i int)", "INSERT INTO p VALUES ($1)", 1),
        (
            "CREATE TABLE p (i int)",
            "DROP TABLE p; CREATE TABLE p (i int, j text)",
            "INSERT INTO p (i, j) VALUES ($1, 'x')",
            1,
        ),
        ("CREATE TABLE p (i int)", "ALTER TABLE p ADD COLUMN k int", "INSERT INTO p (k) VALUES ($1)", 1),
        ("CREATE TABLE p (i int)", "ALTER TABLE p RENAME TO q", "INSERT INTO q VALUES ($1)", 1),
        ("CREATE TABLE p (i int)", "ALTER TABLE p RENAME COLUMN i TO z", "INSERT INTO p (z) VALUES ($1)", 1),
        (
            "CREATE TABLE p (i int)",
            "CREATE VIEW v AS SELECT i + 1 AS w FROM p",
            "SELECT count(*) FROM v WHERE w > $1::bigint",
            0,
        ),
        ("", "CREATE SCHEMA s; CREATE TABLE s.t (i int)", "INSERT INTO s.t VALUES ($1)", 1),
        ("", "CREATE SEQUENCE q", "SELECT nextval('q') + $1::bigint", 8),
        (
            "CREATE TABLE p (i int)",
            "CREATE INDEX p_i ON p (i)",
            "SELECT count(*) FROM p WHERE i = $1::bigint",
            0,
        ),
        ("CREATE TABLE p (i int)", "TRUNCATE p", "INSERT INTO p VALUES ($1)", 1),
        ("", "CREATE TABLE p AS SELECT 1 AS i", "INSERT INTO p VALUES ($1)", 1),
    ];
    for &(setup, ddl, statement, expected) in cases {
        for in_block in [true, false] {
            for ddl_extended in [false, true] {
                for use_prepare in [false, true] {
                    let server = start().await;
                    let client = connect(&server).await;
                    if !setup.is_empty() {
                        client.batch_execute(setup).await.expect("setup");
                    }
                    if in_block {
                        client.batch_execute("BEGIN").await.expect("begin");
                    }
                    for part in ddl.split("; ") {
                        if ddl_extended {
                            client.execute(part, &[]).await.expect(part);
                        } else {
                            client.batch_execute(part).await.expect(part);
                        }
                    }
                    let what = format!(
                        "{ddl} then {statement} (block {in_block}, extended DDL {ddl_extended}, prepare {use_prepare})"
                    );
                    let answer: Result<i64, _> = if use_prepare {
                        match client.prepare(statement).await {
                            Ok(prepared) => run(&client, &prepared, statement).await,
                            Err(e) => Err(e),
                        }
                    } else {
                        run(&client, statement, statement).await
                    };
                    assert_eq!(answer.map_err(|e| format!("{e:?}")), Ok(expected), "{what}");
                    if in_block {
                        client.batch_execute("COMMIT").await.expect("commit");
                    }
                }
            }
        }
    }

    /// Runs `statement` with the parameter 7: the rows it changed, or its single value.
    async fn run<T: tokio_postgres::ToStatement + ?Sized>(
        client: &tokio_postgres::Client,
        statement: &T,
        text: &str,
    ) -> Result<i64, tokio_postgres::Error> {
        if text.starts_with("SELECT") {
            let row = client.query_one(statement, &[&7i64]).await?;
            Ok(row.get::<_, i64>(0))
        } else {
            client.execute(statement, &[&7i32]).await.map(|n| n as i64)
        }
    }
}

/// The protocol's counts are 16 bits read unsigned, as PostgreSQL reads them: a Bind with
/// 65,535 parameters works (it once failed with "invalid count -1").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_statement_takes_65535_parameters() {
    let server = start().await;
    let client = connect(&server).await;
    let placeholders: Vec<String> = (1..=65_535).map(|i| format!("${i}::int")).collect();
    let sql =
        format!("SELECT count(*) FROM generate_series(1, 5) g WHERE g IN ({})", placeholders.join(", "));
    let values: Vec<i32> = (0..65_535).map(|i| i % 3).collect();
    let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
        values.iter().map(|v| v as &(dyn tokio_postgres::types::ToSql + Sync)).collect();
    let row = client.query_one(sql.as_str(), &params).await.expect("65,535 parameters");
    // g = 1 and g = 2 are among the values 0, 1, 2.
    assert_eq!(row.get::<_, i64>(0), 2);
}
