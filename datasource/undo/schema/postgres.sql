-- txc AT-mode undo log, PostgreSQL.
-- One row per AT branch that wrote to this database, written in the branch's
-- own local transaction, or a finished marker written by a rollback that found
-- no undo log (so that a late phase-1 commit of that branch fails on the key).
-- branch_id: the branch ID's 64 bits as a signed BIGINT.
-- state: 0 normal (log holds the encoded undo log), 1 finished marker (log empty).
-- Times are the database's own clock. No credentials are ever stored here.
CREATE TABLE IF NOT EXISTS txc_undo_log (
  xid         VARCHAR(128)  NOT NULL,
  branch_id   BIGINT        NOT NULL,
  state       SMALLINT      NOT NULL,
  log         BYTEA         NOT NULL,
  created_at  TIMESTAMPTZ   NOT NULL DEFAULT now(),
  updated_at  TIMESTAMPTZ   NOT NULL DEFAULT now(),
  PRIMARY KEY (xid, branch_id)
);
CREATE INDEX IF NOT EXISTS txc_undo_log_created_idx ON txc_undo_log (created_at);
