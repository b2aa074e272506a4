-- txc record of state moved to partitions, schema version 1 (MySQL/MariaDB, InnoDB).
-- One table per cluster, named <base prefix>moved (txc_tc_ is the default
-- base): every partition that MoveToPartitions filled from the tables
-- under the base prefix (the layout of a single node, or of the former
-- single-leader cluster), so that a node started after a crash still
-- records it in etcd for adoption.
CREATE TABLE IF NOT EXISTS txc_tc_moved_schema (
    id      smallint NOT NULL PRIMARY KEY,
    version int      NOT NULL
) ENGINE = InnoDB;

CREATE TABLE IF NOT EXISTS txc_tc_moved (
    partition_name varbinary(64) NOT NULL PRIMARY KEY
) ENGINE = InnoDB;
