//! Every type both ways: results in text (simple protocol) and binary (tokio-postgres
//! asks for binary results of prepared statements), parameters in binary and text.

mod common;

use std::error::Error;
use std::time::{Duration, SystemTime};

use common::{connect, start};
use tokio_postgres::SimpleQueryMessage;
use tokio_postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};

/// Any value, as its raw binary bytes.
#[derive(Debug, PartialEq)]
struct Raw(Vec<u8>);

impl<'a> FromSql<'a> for Raw {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, Box<dyn Error + Sync + Send>> {
        Ok(Raw(raw.to_vec()))
    }
    fn accepts(_: &Type) -> bool {
        true
    }
}

/// A parameter given as raw binary bytes, whatever its type.
#[derive(Debug)]
struct RawParam(Vec<u8>);

impl ToSql for RawParam {
    fn to_sql(&self, _: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, Box<dyn Error + Sync + Send>> {
        out.extend_from_slice(&self.0);
        Ok(IsNull::No)
    }
    fn accepts(_: &Type) -> bool {
        true
    }
    to_sql_checked!();
}

const ALL_TYPES: &str = "CREATE TABLE every (
    id INT PRIMARY KEY, b BOOLEAN, i2 SMALLINT, i4 INTEGER, i8 BIGINT, f4 REAL, f8 DOUBLE PRECISION,
    t TEXT, vc VARCHAR(10), c CHAR(4), by BYTEA, d DATE, tm TIME, ts TIMESTAMP, tz TIMESTAMPTZ, iv INTERVAL)";

const ROW: &str = "INSERT INTO every VALUES (1, true, -32768, 2147483647, -9223372036854775808, 0.1, 2.5,
    'héllo', 'var', 'ab', '\\x00ff10', '2000-01-02', '13:45:30.5', '2024-02-29 23:59:59.999999',
    '1999-12-31 23:00:00+00', '1 year 2 mons 3 days 04:05:06')";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_results_are_postgres_text_output() {
    let server = start().await;
    let client = connect(&server).await;
    client.batch_execute(ALL_TYPES).await.expect("create");
    client.batch_execute(ROW).await.expect("insert");
    client.batch_execute("INSERT INTO every (id) VALUES (2)").await.expect("nulls");
    let out = client.simple_query("SELECT * FROM every ORDER BY id").await.expect("select");
    let rows: Vec<_> = out
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => {
                Some((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect::<Vec<_>>())
            }
            _ => None,
        })
        .collect();
    let expected = [
        "1",
        "t",
        "-32768",
        "2147483647",
        "-9223372036854775808",
        "0.1",
        "2.5",
        "héllo",
        "var",
        "ab  ",
        "\\x00ff10",
        "2000-01-02",
        "13:45:30.5",
        "2024-02-29 23:59:59.999999",
        "1999-12-31 23:00:00+00",
        "1 year 2 mons 3 days 04:05:06",
    ];
    let got: Vec<&str> = rows[0].iter().map(|v| v.as_deref().unwrap_or("NULL")).collect();
    assert_eq!(got, expected);
    assert!(rows[1][1..].iter().all(Option::is_none), "{:?}", rows[1]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_results_and_oids() {
    let server = start().await;
    let client = connect(&server).await;
    client.batch_execute(ALL_TYPES).await.expect("create");
    client.batch_execute(ROW).await.expect("insert");
    let statement = client.prepare("SELECT * FROM every WHERE id = 1").await.expect("prepare");
    let oids: Vec<u32> = statement.columns().iter().map(|c| c.type_().oid()).collect();
    assert_eq!(oids, [23, 16, 21, 23, 20, 700, 701, 25, 1043, 1042, 17, 1082, 1083, 1114, 1184, 1186]);
    let row = client.query_one(&statement, &[]).await.expect("row");
    assert!(row.get::<_, bool>("b"));
    assert_eq!(row.get::<_, i16>("i2"), i16::MIN);
    assert_eq!(row.get::<_, i32>("i4"), i32::MAX);
    assert_eq!(row.get::<_, i64>("i8"), i64::MIN);
    assert_eq!(row.get::<_, f32>("f4"), 0.1f32);
    assert_eq!(row.get::<_, f64>("f8"), 2.5);
    assert_eq!(row.get::<_, String>("t"), "héllo");
    assert_eq!(row.get::<_, String>("vc"), "var");
    assert_eq!(row.get::<_, String>("c"), "ab  ");
    assert_eq!(row.get::<_, Vec<u8>>("by"), [0, 255, 16]);
    assert_eq!(row.get::<_, Raw>("d"), Raw(1i32.to_be_bytes().to_vec()), "days since 2000-01-01");
    let time = (13 * 3600 + 45 * 60 + 30) * 1_000_000i64 + 500_000;
    assert_eq!(row.get::<_, Raw>("tm"), Raw(time.to_be_bytes().to_vec()));
    let ts = UNIX_2024_02_29_END;
    assert_eq!(row.get::<_, SystemTime>("ts"), SystemTime::UNIX_EPOCH + Duration::from_micros(ts));
    assert_eq!(row.get::<_, SystemTime>("tz"), SystemTime::UNIX_EPOCH + Duration::from_secs(946_681_200));
    let mut interval = ((4 * 3600 + 5 * 60 + 6) * 1_000_000i64).to_be_bytes().to_vec();
    interval.extend_from_slice(&3i32.to_be_bytes());
    interval.extend_from_slice(&14i32.to_be_bytes());
    assert_eq!(row.get::<_, Raw>("iv"), Raw(interval));
}

/// 2024-02-29 23:59:59.999999 in microseconds since 1970.
const UNIX_2024_02_29_END: u64 = 1_709_251_199_999_999;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_parameters_of_every_type_round_trip() {
    let server = start().await;
    let client = connect(&server).await;
    client.batch_execute(ALL_TYPES).await.expect("create");
    let insert = client
        .prepare("INSERT INTO every VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)")
        .await
        .expect("prepare");
    let params: Vec<u32> = insert.params().iter().map(Type::oid).collect();
    assert_eq!(params, [23, 16, 21, 23, 20, 700, 701, 25, 1043, 1042, 17, 1082, 1083, 1114, 1184, 1186]);
    let date = RawParam((-1i32).to_be_bytes().to_vec());
    let time = RawParam(1_000_001i64.to_be_bytes().to_vec());
    let ts = SystemTime::UNIX_EPOCH + Duration::from_micros(UNIX_2024_02_29_END);
    let mut iv = 7i64.to_be_bytes().to_vec();
    iv.extend_from_slice(&(-2i32).to_be_bytes());
    iv.extend_from_slice(&1i32.to_be_bytes());
    let interval = RawParam(iv);
    let bytes: Vec<u8> = vec![1, 2, 3];
    client
        .execute(
            &insert,
            &[
                &7i32,
                &false,
                &7i16,
                &-7i32,
                &70_000_000_000i64,
                &1.5f32,
                &-0.25f64,
                &"ünï",
                &"vv",
                &"c",
                &bytes,
                &date,
                &time,
                &ts,
                &ts,
                &interval,
            ],
        )
        .await
        .expect("insert");
    let nulls: [&(dyn ToSql + Sync); 16] = [
        &8i32,
        &None::<bool>,
        &None::<i16>,
        &None::<i32>,
        &None::<i64>,
        &None::<f32>,
        &None::<f64>,
        &None::<String>,
        &None::<String>,
        &None::<String>,
        &None::<Vec<u8>>,
        &None::<RawParam>,
        &None::<RawParam>,
        &None::<SystemTime>,
        &None::<SystemTime>,
        &None::<RawParam>,
    ];
    client.execute(&insert, &nulls).await.expect("nulls");
    let out = client.simple_query("SELECT * FROM every ORDER BY id").await.expect("select");
    let SimpleQueryMessage::Row(row) = &out[1] else { panic!("{out:?}") };
    let got: Vec<&str> = (0..row.len()).map(|i| row.get(i).unwrap_or("NULL")).collect();
    assert_eq!(
        got,
        [
            "7",
            "f",
            "7",
            "-7",
            "70000000000",
            "1.5",
            "-0.25",
            "ünï",
            "vv",
            "c   ",
            "\\x010203",
            "1999-12-31",
            "00:00:01.000001",
            "2024-02-29 23:59:59.999999",
            "2024-02-29 23:59:59.999999+00",
            // PostgreSQL 15 prints the time of a mixed-sign interval with its sign.
            "1 mon -2 days +00:00:00.000007",
        ]
    );
    let SimpleQueryMessage::Row(row) = &out[2] else { panic!("{out:?}") };
    assert!((1..row.len()).all(|i| row.get(i).is_none()));
    // Binary parameters of the wrong size are refused with 22P03, not misread.
    let err = client.execute("SELECT $1::int", &[&RawParam(vec![1, 2])]).await.expect_err("short int");
    assert_eq!(err.code().map(|c| c.code()), Some("22P03"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn text_parameters_go_through_type_input() {
    let server = start().await;
    let mut raw = common::Raw::connect(&server).await;
    raw.query(ALL_TYPES).await;
    // Parse with no types, Bind in text format: what pgbench and psql's \bind send.
    let sql = "INSERT INTO every (id, b, d, iv, by, f4) VALUES ($1, $2, $3, $4, $5, $6)";
    raw.send(b'P', &common::parse_body("", sql, &[])).await;
    let params: [Option<&[u8]>; 6] = [
        Some(b"3"),
        Some(b"yes"),
        Some(b"2024-01-31"),
        Some(b"1 day 00:00:01"),
        Some(b"\\x41"),
        Some(b"0.1"),
    ];
    raw.send(b'B', &common::bind_body("", "", &params, None)).await;
    raw.send(b'E', &common::execute_body("", 0)).await;
    raw.send(b'S', &[]).await;
    let out = raw.until_ready().await;
    assert_eq!(common::tags(&out), ["INSERT 0 1"], "{out:?}");
    let out = raw.query("SELECT b, d, iv, by, f4 FROM every").await;
    let data = out.iter().find(|m| m.kind == b'D').expect("a row");
    let text = String::from_utf8_lossy(&data.body);
    for expected in ["t", "2024-01-31", "1 day 00:00:01", "\\x41", "0.1"] {
        assert!(text.contains(expected), "{expected} in {text:?}");
    }
    // A text parameter that does not parse as its type: 22P02. (The Query above ended the
    // unnamed statement, as in PostgreSQL, so it is parsed again.)
    raw.send(b'P', &common::parse_body("", sql, &[])).await;
    raw.send(b'B', &common::bind_body("", "", &[Some(b"4"), Some(b"maybe"), None, None, None, None], None))
        .await;
    raw.send(b'E', &common::execute_body("", 0)).await;
    raw.send(b'S', &[]).await;
    let out = raw.until_ready().await;
    let error = out.iter().find(|m| m.kind == b'E').expect("an error");
    assert_eq!(error.field(b'C').as_deref(), Some("22P02"), "{out:?}");
}

/// The text of every field of the DataRow messages in `messages`.
fn data_rows(messages: &[common::Message]) -> Vec<Vec<String>> {
    messages
        .iter()
        .filter(|m| m.kind == b'D')
        .map(|m| {
            let b = &m.body;
            let count = i16::from_be_bytes([b[0], b[1]]) as usize;
            let mut at = 2;
            let mut fields = Vec::new();
            for _ in 0..count {
                let len = i32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
                at += 4;
                let len = len.max(0) as usize;
                fields.push(String::from_utf8_lossy(&b[at..at + len]).into_owned());
                at += len;
            }
            fields
        })
        .collect()
}

/// ParameterStatus messages as (name, value).
fn parameter_status(messages: &[common::Message]) -> Vec<(String, String)> {
    messages
        .iter()
        .filter(|m| m.kind == b'S')
        .filter_map(|m| {
            let mut parts = m.body.split(|&b| b == 0).map(|p| String::from_utf8_lossy(p).into_owned());
            Some((parts.next()?, parts.next()?))
        })
        .collect()
}

// Expected values from PostgreSQL 15 with PGOPTIONS="-c DateStyle=German -c
// TimeZone=America/New_York".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn startup_parameters_set_the_date_and_time_settings() {
    let server = start().await;
    let mut raw = common::Raw::connect_only(&server).await;
    raw.send_startup(&[
        ("user", "phantom"),
        ("DateStyle", "German"),
        ("options", "-c TimeZone=America/New_York"),
    ])
    .await;
    let startup = raw.until_ready().await;
    let status = parameter_status(&startup);
    assert!(status.contains(&("DateStyle".into(), "German, DMY".into())), "{status:?}");
    assert!(status.contains(&("TimeZone".into(), "America/New_York".into())), "{status:?}");
    let rows = data_rows(
        &raw.query("SELECT timestamptz '2020-06-01 12:00+00', current_setting('DateStyle'), current_setting('TimeZone')")
            .await,
    );
    assert_eq!(rows, [["01.06.2020 08:00:00 EDT", "German, DMY", "America/New_York"]]);
    // SET reports the change, as PostgreSQL does for these settings.
    let set = raw.query("SET TimeZone = 'Asia/Tokyo'").await;
    assert!(parameter_status(&set).contains(&("TimeZone".into(), "Asia/Tokyo".into())), "{set:?}");
    let rows = data_rows(&raw.query("SELECT timestamptz '2020-06-01 12:00+00'").await);
    assert_eq!(rows, [["01.06.2020 21:00:00 JST"]]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_startup_setting_is_fatal() {
    let server = start().await;
    let mut raw = common::Raw::connect_only(&server).await;
    raw.send_startup(&[("user", "phantom"), ("options", "-c DateStyle=bogus")]).await;
    let mut error = None;
    while let Some(m) = raw.read().await {
        if m.kind == b'E' {
            error = Some(m);
            break;
        }
    }
    let error = error.expect("an ErrorResponse");
    assert_eq!(error.field(b'S').as_deref(), Some("FATAL"));
    assert_eq!(error.field(b'C').as_deref(), Some("22023"));
    assert_eq!(error.field(b'M').as_deref(), Some("invalid value for parameter \"DateStyle\": \"bogus\""));
}
