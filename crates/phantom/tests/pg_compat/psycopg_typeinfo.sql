-- psycopg 3.3 TypeInfo.fetch(conn, name): seen in PostgreSQL's log (log_statement = all)
-- as an extended-protocol statement; $1 is the type's name.
SELECT
    typname AS name, oid, typarray AS array_oid,
    oid::regtype::text AS regtype, typdelim AS delimiter
FROM pg_type t
WHERE t.oid = to_regtype($1)
ORDER BY t.oid
