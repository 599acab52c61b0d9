-- pgbench 16 and later (from its source), before each COPY of client-side generation,
-- through the extended protocol; $1 is the table's name.
SELECT relkind FROM pg_catalog.pg_class WHERE oid=$1::pg_catalog.regclass
