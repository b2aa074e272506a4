-- txc shared lock table, schema version 1 (PostgreSQL).
-- One table per cluster, named <base prefix>locks (txc_tc_ is the default
-- base), shared by the partitions of every node: one row per locked row.
-- row_hash is SHA-256 of the length-prefixed (resource, table, row), the
-- key (row keys may be longer than an index allows); the readable columns
-- are kept for the console. partition_name is the XID's node part.
CREATE TABLE IF NOT EXISTS txc_tc_locks_schema (
    id      smallint PRIMARY KEY CHECK (id = 1),
    version integer  NOT NULL
);

CREATE TABLE IF NOT EXISTS txc_tc_locks (
    row_hash       bytea PRIMARY KEY,
    resource_id    bytea NOT NULL,
    table_name     bytea NOT NULL,
    row_key        bytea NOT NULL,
    xid            text COLLATE "C" NOT NULL,
    partition_name text COLLATE "C" NOT NULL
);

CREATE INDEX IF NOT EXISTS txc_tc_locks_xid ON txc_tc_locks (xid);

CREATE INDEX IF NOT EXISTS txc_tc_locks_partition ON txc_tc_locks (partition_name);
