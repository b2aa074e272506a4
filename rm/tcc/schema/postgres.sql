-- txc TCC fence table, PostgreSQL.
-- One row per TCC branch that reached this participant's database.
-- status: 1 tried, 2 committed (confirmed), 3 rollbacked (cancelled),
--         4 suspended (cancel arrived before try: empty rollback, try refused)
-- Times are the database's own clock. Rows with status 2, 3 or 4 are deleted
-- by the fence cleanup after its retention.
CREATE TABLE IF NOT EXISTS txc_tcc_fence (
  xid         VARCHAR(128)  NOT NULL,
  branch_id   BIGINT        NOT NULL,
  participant VARCHAR(256)  NOT NULL,
  status      SMALLINT      NOT NULL,
  created_at  TIMESTAMPTZ   NOT NULL,
  updated_at  TIMESTAMPTZ   NOT NULL,
  PRIMARY KEY (xid, branch_id)
);
CREATE INDEX IF NOT EXISTS txc_tcc_fence_updated_idx ON txc_tcc_fence (updated_at);
