#!/usr/bin/env python3
"""Fills in the expected results of a sqllogictest file from a real PostgreSQL.

Usage: slt_expected_from_postgres.py FILE.slt [--dsn DSN] [--check]

Every `query` record's result block is replaced by what PostgreSQL returns, rendered as
Phantom-DB's runner renders values (NULL as `NULL`, an empty string as `(empty)`,
floats with three decimals); every `statement error` record's expectation becomes
PostgreSQL's SQLSTATE; a `statement ok` that fails in PostgreSQL is reported. The file
runs in one fresh database with TimeZone UTC, DateStyle ISO, MDY and IntervalStyle
postgres (Phantom-DB's defaults). With --check nothing is written: differences are
printed and the exit status is 1 if there are any.

This is how the expected outputs of tests/slt/datetime_*.slt were made (PostgreSQL 15).
It needs psycopg (3) and a server the DSN reaches.
"""
import argparse
import re
import sys
import uuid

import psycopg


FLOAT_OIDS = (700, 701)


def render(value, is_float):
    if value is None:
        return "NULL"
    text = value.decode()
    if is_float:
        try:
            return "%.3f" % float(text)
        except ValueError:
            return text
    return "(empty)" if text == "" else text


def run_query(conn, sql, types):
    with conn.cursor() as cur:
        cur.execute(sql)
        res = cur.pgresult
        rows = []
        if res is None or res.ntuples == 0:
            return rows
        for r in range(res.ntuples):
            row = []
            for c in range(res.nfields):
                row.append(render(res.get_value(r, c), res.ftype(c) in FLOAT_OIDS))
            rows.append(" ".join(row))
        return rows


def records(lines):
    """Splits the file into records: (kind, header line index, end index)."""
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("statement") or line.startswith("query"):
            start = i
            i += 1
            while i < len(lines) and lines[i].strip() != "":
                i += 1
            yield start, i
        else:
            i += 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("file")
    ap.add_argument("--dsn", default="host=127.0.0.1 port=54329 user=postgres")
    ap.add_argument("--check", action="store_true")
    args = ap.parse_args()
    lines = open(args.file).read().split("\n")
    db = "slt_" + uuid.uuid4().hex[:8]
    admin = psycopg.connect(args.dsn, autocommit=True)
    admin.execute(f"CREATE DATABASE {db}")
    problems = []
    out = []
    try:
        conn = psycopg.connect(
            args.dsn + f" dbname={db}",
            autocommit=True,
            options="-c TimeZone=UTC -c DateStyle=ISO,MDY -c IntervalStyle=postgres",
        )
        pos = 0
        for start, end in records(lines):
            out.extend(lines[pos:start])
            header = lines[start]
            body = lines[start + 1 : end]
            # Records marked for Phantom-DB only (a known, documented difference) stay.
            if start > 0 and lines[start - 1].strip() in ("skipif postgresql", "onlyif phantom"):
                out.extend(lines[start:end])
                pos = end
                continue
            if header.startswith("query"):
                sep = body.index("----") if "----" in body else len(body)
                sql = "\n".join(body[:sep])
                types = header.split()[1] if len(header.split()) > 1 else ""
                try:
                    rows = run_query(conn, sql, types)
                except psycopg.Error as e:
                    problems.append(f"line {start + 1}: query fails in PostgreSQL: {e.sqlstate} {e}")
                    rows = body[sep + 1 :]
                if "rowsort" in header:
                    rows = sorted(rows)
                old = body[sep + 1 :]
                if old != rows:
                    problems.append(f"line {start + 1}: expected {old} -> PostgreSQL {rows}")
                out.append(header)
                out.extend(body[:sep])
                out.append("----")
                out.extend(rows)
            else:
                sql = "\n".join(body)
                error = None
                try:
                    with conn.cursor() as cur:
                        cur.execute(sql)
                except psycopg.Error as e:
                    error = e.sqlstate or "XX000"
                if header.startswith("statement error"):
                    if error is None:
                        problems.append(f"line {start + 1}: PostgreSQL accepts: {sql}")
                        out.append(header)
                    else:
                        new = f"statement error {error}"
                        if new != header:
                            problems.append(f"line {start + 1}: {header} -> {new}")
                        out.append(new)
                else:
                    if error is not None:
                        problems.append(f"line {start + 1}: PostgreSQL refuses ({error}): {sql}")
                    out.append(header)
                out.extend(body)
            pos = end
        out.extend(lines[pos:])
        conn.close()
    finally:
        admin.execute(f"DROP DATABASE {db} WITH (FORCE)")
        admin.close()
    for p in problems:
        print(p)
    if args.check:
        sys.exit(1 if problems else 0)
    open(args.file, "w").write("\n".join(out))


if __name__ == "__main__":
    main()
