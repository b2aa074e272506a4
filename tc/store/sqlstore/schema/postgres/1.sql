-- txc coordinator store, schema version 1 (PostgreSQL).
-- Table names carry the store's prefix; txc_tc_ is the default.
-- Times are milliseconds since the Unix epoch (NULL: not set).
-- branch_id holds the uint64 branch ID's two's-complement bits.
CREATE TABLE IF NOT EXISTS txc_tc_schema (
    id      smallint PRIMARY KEY CHECK (id = 1),
    version integer  NOT NULL
);

CREATE TABLE IF NOT EXISTS txc_tc_global (
    xid      text COLLATE "C" PRIMARY KEY,
    name     bytea    NOT NULL,
    status   smallint NOT NULL,
    begun    bigint,
    deadline bigint,
    updated  bigint
);

CREATE TABLE IF NOT EXISTS txc_tc_branch (
    xid              text COLLATE "C" NOT NULL,
    branch_id        bigint   NOT NULL,
    type             smallint NOT NULL,
    status           smallint NOT NULL,
    resource_id      bytea    NOT NULL,
    lock_keys        bytea    NOT NULL,
    application_data bytea    NOT NULL,
    PRIMARY KEY (xid, branch_id)
);

CREATE TABLE IF NOT EXISTS txc_tc_sequence (
    id      smallint PRIMARY KEY CHECK (id = 1),
    next_id numeric(20, 0) NOT NULL
);

INSERT INTO txc_tc_sequence (id, next_id) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;
