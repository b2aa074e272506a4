-- txc saga execution log, PostgreSQL.
-- One row per saga instance and one per execution of a step or of its
-- compensation. Statuses (see saga.Status and saga.StepStatus):
--   instance: 1 running, 2 compensating, 3 succeeded, 4 compensated,
--             5 failed, 6 compensation failed (needs manual action), 7 aborted
--   step:     1 running, 2 succeeded, 3 failed
-- input/output hold JSON text. Times are the database's clock.
CREATE TABLE IF NOT EXISTS txc_saga_instance (
  id          VARCHAR(64)   NOT NULL PRIMARY KEY,
  definition  VARCHAR(128)  NOT NULL,
  xid         VARCHAR(128)  NOT NULL,
  branch_id   BIGINT        NOT NULL,
  engine      VARCHAR(64)   NOT NULL,
  status      SMALLINT      NOT NULL,
  input       TEXT,
  output      TEXT,
  error_name  VARCHAR(256),
  error       TEXT,
  created_at  TIMESTAMPTZ   NOT NULL,
  updated_at  TIMESTAMPTZ   NOT NULL
);
CREATE INDEX IF NOT EXISTS txc_saga_instance_unfinished_idx ON txc_saga_instance (engine, status) WHERE status IN (1, 2, 6);
CREATE INDEX IF NOT EXISTS txc_saga_instance_updated_idx ON txc_saga_instance (updated_at);
CREATE TABLE IF NOT EXISTS txc_saga_step (
  instance_id  VARCHAR(64)   NOT NULL,
  seq          INTEGER       NOT NULL,
  compensation BOOLEAN       NOT NULL,
  state        VARCHAR(512)  NOT NULL,
  status       SMALLINT      NOT NULL,
  input        TEXT,
  output       TEXT,
  error_name   VARCHAR(256),
  error        TEXT,
  attempts     INTEGER       NOT NULL,
  started_at   TIMESTAMPTZ   NOT NULL,
  finished_at  TIMESTAMPTZ,
  PRIMARY KEY (instance_id, seq, compensation)
);
