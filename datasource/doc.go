// Package datasource is the AT-mode (and XA-mode) proxy of database/sql
// drivers: a service swaps its driver (sql.Open("txc-mysql", dsn), or
// OpenDB over a connector) and its writes inside a global transaction
// become undoable branches, with no change to code that uses
// database/sql, GORM or sqlx.
//
// # XA mode (WithMode(XA))
//
// A local transaction of a global one is a branch of the database's own
// two-phase commit instead: nothing is parsed or imaged, and any
// statement runs as written. At its first statement the branch is
// registered (txc.BranchXA, no lock keys) and started (MySQL XA START,
// PostgreSQL BEGIN, sent with that first statement in one round trip)
// under an XA id derived from the XID and the branch ID (XAID); Commit
// prepares it (XA END + XA PREPARE, PREPARE TRANSACTION), so it keeps its
// database locks and other sessions see none of its changes until phase
// 2 commits or rolls back the prepared transaction, from any process
// serving the resource (xaFinish). A local transaction that ran no
// statement leaves nothing; one rolled back, or whose prepare failed, is
// reported PhaseOneFailed. A statement outside a local transaction is a
// branch of its own (a query's rows are read before it is prepared). On
// MariaDB a prepared branch stays bound to its session: that session is
// held for phase 2 (or ended when the application still has statements
// prepared on it), then serves the next connection, with the statements
// the proxy prepared on it. A prepared branch then learns whether its
// transaction was rolled back meanwhile (a rollback that found it not yet
// prepared): from the TM of its own process when that TM began the
// transaction (tm.AfterOutcome), else by reporting PhaseOneDone to the
// coordinator; either way it is then rolled back at once. RecoverXA, run at open, finishes
// prepared branches the coordinator has decided or forgotten. PostgreSQL
// needs max_prepared_transactions > 0: opening fails with an
// *XAUnavailableError otherwise.
//
// # Inside a global transaction (an XID in the statement's context)
//
// A local transaction begun with BeginTx(ctx) is bound to ctx's global
// transaction. Each DML statement in it is recognized by the dialect
// (datasource/mysql, datasource/postgres) and run by an executor that
// takes a before image (MySQL: SELECT … FOR UPDATE with the statement's
// own WHERE; PostgreSQL: the rebuilt statement's RETURNING, or a locked
// read first), runs the statement once, takes an after image by primary
// key (or RETURNING) and appends an undo record. Anything that cannot be
// undone exactly (no primary key, DDL, a statement the dialect does not
// understand, …) is refused before it runs with an error matching
// txc.ErrRefused and txc.ErrUnsupported. What a table's catalogs say
// (triggers, foreign keys with referential actions, …) is decided on in
// one place for both dialects, hazard.go: RefuseTable, RefuseWrite,
// RefuseCascade, and ParkRestore for a rollback; ARCHITECTURE.md lists,
// per dialect, where each other refusal (of a statement's shape) is
// decided. The rows a DELETE's or UPDATE's referential actions write
// (ON DELETE / ON UPDATE CASCADE, SET NULL, SET DEFAULT) are imaged with
// the statement's own (cascade.go). A statement run outside an explicit
// local transaction gets one of its own.
// Savepoints (SAVEPOINT, ROLLBACK TO SAVEPOINT, RELEASE SAVEPOINT, as in
// GORM's nested transactions) keep the undo records in step with the
// server: after a ROLLBACK TO, the undo log holds the images of exactly
// the changes that remain (see SavepointStmt).
//
// At local commit, in the same local transaction: the AT branch is
// registered with the lock keys of every imaged row (a lock conflict is
// retried by the rm.Manager with backoff within the BeginTx context's
// deadline and the lock wait, WithLockWait), the undo log is written to the undo_log table under the
// branch ID, and then the local transaction commits: the undo log is
// durable exactly when the changes are. A failure before the commit rolls
// the local transaction back.
//
// # Outside a global transaction
//
// No parsing and no extra round trip. Under tm.WithGlobalLock, writes
// and SELECT … FOR UPDATE check that no global transaction holds the
// rows' global locks (waiting with backoff within ctx and the lock
// wait), and record
// nothing.
//
// # Phase 2 (the txc.BranchAT handler of the resource)
//
// Commit deletes the branch's undo row in a batched DELETE and answers
// the coordinator once that has committed (a failure is retried by the
// coordinator). Rollback
// restores the before images in one local transaction, newest record
// first, after checking that the rows still equal the after images; rows
// changed outside the global transaction are never overwritten: the
// branch fails permanently (*DirtyWriteError, logged) and the coordinator
// parks the transaction for manual action. A rollback that finds no undo
// log writes a finished marker, so a late phase 1 of that branch fails.
// Both are idempotent (phase 2 is at-least-once).
//
// # The wrapped driver
//
// Every optional interface of database/sql/driver is forwarded (a method
// the wrapped driver lacks behaves as database/sql does without it),
// except the deprecated context-free driver.Execer and driver.Queryer:
// without a context there is no XID to join a global transaction with;
// driver.ErrSkip is returned unwrapped; no image work happens before the
// wrapped driver has accepted a statement (inside a global transaction a
// statement with arguments goes through PrepareContext unless the driver
// interpolates them itself; a driver that answers driver.ErrSkip only
// after the images were read gets the statement prepared by the proxy,
// so that it is not imaged twice); ResetSession clears the proxy's state.
// MySQL images are read as server-prepared statements (binary protocol),
// so every value is exact.
//
// The resource ID names the database (dialect packages derive it from the
// DSN without credentials); every process writing to one database must use
// the same ID so that their lock keys meet at the coordinator.
package datasource
