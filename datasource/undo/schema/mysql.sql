-- txc AT-mode undo log, MySQL / MariaDB (InnoDB).
-- One row per AT branch that wrote to this database, written in the branch's
-- own local transaction, or a finished marker written by a rollback that found
-- no undo log (so that a late phase-1 commit of that branch fails on the key).
-- branch_id: the branch ID's 64 bits as a signed BIGINT.
-- state: 0 normal (log holds the encoded undo log), 1 finished marker (log empty).
-- Times are the database's own clock. No credentials are ever stored here.
CREATE TABLE IF NOT EXISTS txc_undo_log (
  xid         VARCHAR(128)  NOT NULL,
  branch_id   BIGINT        NOT NULL,
  state       TINYINT       NOT NULL,
  log         LONGBLOB      NOT NULL,
  created_at  DATETIME(6)   NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
  updated_at  DATETIME(6)   NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
  PRIMARY KEY (xid, branch_id),
  KEY txc_undo_log_created_idx (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
