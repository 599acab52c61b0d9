"""psycopg 3 against a running Phantom-DB server: parameters of every type, transactions,
errors, server-side prepared statements and COPY.

Usage: python3 psycopg_check.py HOST PORT
Exits non-zero (with a traceback) on the first thing that is not as PostgreSQL would do it.
"""

import datetime
import decimal
import sys

import psycopg

host, port = sys.argv[1], int(sys.argv[2])
conninfo = f"host={host} port={port} user=phantom dbname=phantom"

with psycopg.connect(conninfo, autocommit=True) as conn:
    conn.execute("DROP TABLE IF EXISTS psy_types")
    conn.execute(
        """CREATE TABLE psy_types (
               id INT PRIMARY KEY, s SMALLINT, b BIGINT, r REAL, d DOUBLE PRECISION,
               n NUMERIC(12, 3), ok BOOLEAN, t TEXT, v VARCHAR(10), c CHAR(4), raw BYTEA,
               day DATE, at TIME, ts TIMESTAMP, tz TIMESTAMPTZ, iv INTERVAL)"""
    )
    row = (
        1, -32768, 2**62, 1.5, 2.25, decimal.Decimal("123456789.125"), True, "héllo 'x'",
        "varchar", "ab", b"\x00\x01\xff", datetime.date(2024, 2, 29), datetime.time(23, 59, 58, 250000),
        datetime.datetime(2001, 2, 3, 4, 5, 6, 789000),
        datetime.datetime(2001, 2, 3, 4, 5, 6, tzinfo=datetime.timezone.utc),
        datetime.timedelta(days=3, hours=4, seconds=5),
    )
    conn.execute("INSERT INTO psy_types VALUES (" + ", ".join(["%s"] * len(row)) + ")", row)
    conn.execute("INSERT INTO psy_types (id) VALUES (%s)", (2,))

    # Text results (psycopg reads text by default) and binary results.
    for binary in (False, True):
        got = conn.cursor(binary=binary).execute("SELECT * FROM psy_types WHERE id = %s", (1,)).fetchone()
        expected = list(row)
        expected[10] = bytes(expected[10])
        expected[9] = "ab  "  # CHAR(4) pads with spaces
        assert got is not None, "row 1 missing"
        for i, (g, e) in enumerate(zip(got, expected)):
            if isinstance(e, float):
                assert abs(g - e) < 1e-6, (binary, i, g, e)
            else:
                assert g == e, (binary, i, g, e)
        nulls = conn.cursor(binary=binary).execute("SELECT * FROM psy_types WHERE id = 2").fetchone()
        assert nulls == (2,) + (None,) * (len(row) - 1), nulls

    # A statement run often enough is prepared on the server (named Parse/Bind/Execute).
    with conn.cursor() as cur:
        for i in range(10):
            cur.execute("SELECT %s::int + id FROM psy_types WHERE id = %s", (i, 1))
            assert cur.fetchone() == (i + 1,)

    # Transactions: rollback undoes, commit keeps.
    conn.autocommit = False
    conn.execute("INSERT INTO psy_types (id) VALUES (3)")
    conn.rollback()
    conn.execute("INSERT INTO psy_types (id) VALUES (4)")
    conn.commit()
    ids = [r[0] for r in conn.execute("SELECT id FROM psy_types ORDER BY id")]
    assert ids == [1, 2, 4], ids
    conn.commit()

    # Errors carry their SQLSTATE; the failed transaction refuses work until rollback.
    try:
        conn.execute("INSERT INTO psy_types (id) VALUES (1)")
        raise AssertionError("duplicate key accepted")
    except psycopg.errors.UniqueViolation as e:
        assert e.sqlstate == "23505", e.sqlstate
    try:
        conn.execute("SELECT 1")
        raise AssertionError("statement accepted in a failed transaction")
    except psycopg.errors.InFailedSqlTransaction:
        pass
    conn.rollback()
    try:
        conn.execute("SELECT nope FROM psy_types")
        raise AssertionError("unknown column accepted")
    except psycopg.errors.UndefinedColumn as e:
        assert e.sqlstate == "42703"
    conn.rollback()

    # executemany and COPY in both directions.
    with conn.cursor() as cur:
        cur.executemany("INSERT INTO psy_types (id, t) VALUES (%s, %s)", [(i, f"row {i}") for i in range(10, 20)])
        with cur.copy("COPY psy_types (id, t, d) FROM STDIN") as copy:
            for i in range(100, 1100):
                copy.write_row((i, f"copied\t{i}", i / 4))
    conn.commit()
    count, total = conn.execute("SELECT count(*), sum(d) FROM psy_types WHERE id >= 100").fetchone()
    assert count == 1000 and total == sum(i / 4 for i in range(100, 1100)), (count, total)
    with conn.cursor() as cur:
        lines = []
        with cur.copy("COPY (SELECT id, t FROM psy_types WHERE id BETWEEN 100 AND 102 ORDER BY id) TO STDOUT") as copy:
            for data in copy:
                lines.append(bytes(data))
        text = b"".join(lines).decode()
        assert text == "100\tcopied\\t100\n101\tcopied\\t101\n102\tcopied\\t102\n", repr(text)
    conn.commit()

    # Server-side cursors: DECLARE, then FETCH FORWARD itersize FROM it, page by page
    # (binary rows too, asked for per FETCH), then CLOSE.
    for binary in (False, True):
        with conn.cursor(name="series", binary=binary) as cur:
            cur.itersize = 1000
            cur.execute("SELECT i, i * 2 AS twice FROM generate_series(1, %s) AS g(i)", (100000,))
            assert [d.name for d in cur.description] == ["i", "twice"], cur.description
            total = rows = 0
            for i, twice in cur:
                assert twice == 2 * i, (i, twice)
                total += i
                rows += 1
            assert (rows, total) == (100000, 100000 * 100001 // 2), (binary, rows, total)
        conn.commit()
    # Scrollable and held ones, and the errors PostgreSQL gives.
    with conn.cursor(name="scrolled", scrollable=True, withhold=True) as cur:
        cur.execute("SELECT id FROM psy_types WHERE id BETWEEN 100 AND 109 ORDER BY id")
        conn.commit()
        assert cur.fetchmany(3) == [(100,), (101,), (102,)]
        cur.scroll(-2)
        assert cur.fetchone() == (101,)
        cur.scroll(8, mode="absolute")
        assert cur.fetchall() == [(108,), (109,)]
    with conn.cursor(name="forward") as cur:
        cur.execute("SELECT 1 FROM generate_series(1, 5)")
        cur.fetchmany(2)
        try:
            cur.scroll(-1)
            raise AssertionError("a NO SCROLL cursor went backward")
        except psycopg.errors.ObjectNotInPrerequisiteState as e:
            assert e.sqlstate == "55000", e.sqlstate
    conn.rollback()
    try:
        conn.execute("FETCH NEXT FROM nowhere")
        raise AssertionError("FETCH from a missing cursor")
    except psycopg.errors.InvalidCursorName:
        pass
    conn.rollback()

print("psycopg: all checks passed")
