-- txc shared lock table, schema version 1 (MySQL/MariaDB, InnoDB).
-- One table per cluster, named <base prefix>locks (txc_tc_ is the default
-- base), shared by the partitions of every node: one row per locked row.
-- row_hash is SHA-256 of the length-prefixed (resource, table, row), the
-- key (row keys may be longer than an index allows); the readable columns
-- are kept for the console. partition_name is the XID's node part.
CREATE TABLE IF NOT EXISTS txc_tc_locks_schema (
    id      smallint NOT NULL PRIMARY KEY,
    version int      NOT NULL
) ENGINE = InnoDB;

CREATE TABLE IF NOT EXISTS txc_tc_locks (
    row_hash       binary(32)      NOT NULL PRIMARY KEY,
    resource_id    varbinary(2048) NOT NULL,
    table_name     blob            NOT NULL,
    row_key        blob            NOT NULL,
    xid            varbinary(128)  NOT NULL,
    partition_name varbinary(64)   NOT NULL,
    KEY txc_tc_locks_xid (xid),
    KEY txc_tc_locks_partition (partition_name)
) ENGINE = InnoDB;
