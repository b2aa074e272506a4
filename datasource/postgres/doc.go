// Package postgres is the PostgreSQL dialect of the AT proxy driver
// (package datasource), over github.com/jackc/pgx/v5/stdlib.
//
// Importing it registers the database/sql driver "txc-postgres" (pgx's DSN
// and URL syntax) and the dialect, so datasource.OpenDB recognizes pgx
// stdlib connectors. OpenDB and NewConnector open a *pgx.ConnConfig with
// the resource ID ResourceID derives (host, port and database: never the
// user or password).
//
// Inside a global transaction every statement is parsed with PostgreSQL's
// own parser (github.com/pganalyze/pg_query_go, cgo) and planned once per
// text. Writes run once, rebuilt from their parse tree with the executor's
// RETURNING list, which yields the undo images: INSERT (VALUES, SELECT,
// DEFAULT VALUES, ON CONFLICT DO NOTHING / DO UPDATE), UPDATE (with FROM,
// WITH, key changes) and DELETE (with USING, WITH). SELECT … FOR UPDATE,
// FOR NO KEY UPDATE, FOR SHARE and FOR KEY SHARE wait for the global locks
// of the rows they lock. SAVEPOINT, ROLLBACK TO SAVEPOINT and RELEASE
// SAVEPOINT (ASCII names) keep the undo records in step (see
// datasource.SavepointStmt). Statements that cannot be undone exactly are
// refused before they run with an error matching txc.ErrUnsupported that
// names the reason and the statement. A write whose images fail after it
// ran aborts its local transaction on the server, so that it can only roll
// back.
//
// A write run with QueryContext returns exactly the rows its own
// RETURNING list gives (see datasource.Returner). The undo-log table is named
// qualified (UndoSchema unless datasource.WithUndoSchema). Each table a
// local transaction names is resolved once (through the connection's
// search_path), locked against DDL and checked against the cached
// metadata by one catalog query; sessions whose settings would change the
// rebuilt text or the images' text are refused (ARCHITECTURE.md lists
// where each refusal is decided; docs/at-postgres.md says why).
package postgres
