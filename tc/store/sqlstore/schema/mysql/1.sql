-- txc coordinator store, schema version 1 (MySQL/MariaDB, InnoDB).
-- Table names carry the store's prefix; txc_tc_ is the default.
-- Times are milliseconds since the Unix epoch (NULL: not set).
-- Strings the coordinator does not interpret are stored as bytes and
-- compared as bytes.
CREATE TABLE IF NOT EXISTS txc_tc_schema (
    id      smallint NOT NULL PRIMARY KEY,
    version int      NOT NULL
) ENGINE = InnoDB;

CREATE TABLE IF NOT EXISTS txc_tc_global (
    xid      varbinary(128)   NOT NULL PRIMARY KEY,
    name     varbinary(1024)  NOT NULL,
    status   smallint         NOT NULL,
    begun    bigint,
    deadline bigint,
    updated  bigint
) ENGINE = InnoDB;

CREATE TABLE IF NOT EXISTS txc_tc_branch (
    xid              varbinary(128)  NOT NULL,
    branch_id        bigint unsigned NOT NULL,
    type             smallint        NOT NULL,
    status           smallint        NOT NULL,
    resource_id      varbinary(2048) NOT NULL,
    lock_keys        longblob        NOT NULL,
    application_data mediumblob      NOT NULL,
    PRIMARY KEY (xid, branch_id)
) ENGINE = InnoDB;

CREATE TABLE IF NOT EXISTS txc_tc_sequence (
    id      smallint        NOT NULL PRIMARY KEY,
    next_id bigint unsigned NOT NULL
) ENGINE = InnoDB;

INSERT IGNORE INTO txc_tc_sequence (id, next_id) VALUES (1, 0);
