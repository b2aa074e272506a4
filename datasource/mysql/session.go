package mysql

import (
	"context"
	"database/sql/driver"

	"github.com/txcio/txc/datasource"
)

// sessionChecked is the key of Exec.TxValue under which a local
// transaction records that its session was checked (see checkSession).
type sessionChecked struct{}

// start begins every write and locking read: the arguments are checked,
// then the session (once per local transaction).
func start(ctx context.Context, x *datasource.Exec, query string, nargs int, args []driver.NamedValue) error {
	if err := checkArgs(query, nargs, args); err != nil {
		return err
	}
	return checkSession(ctx, x, query)
}

// checkSession runs before the first image, metadata query or write of a
// local transaction in a global transaction or under a global lock. The
// proxy does not parse statements outside those, so a pooled connection
// may come back from non-global code in another database (USE) or time
// zone (SET time_zone); inside them both are refused, so one check per
// local transaction holds until it ends.
//
// The current database must be the resource's (the database of a fresh
// connection of the connector): unqualified table names in the statement,
// its images, the metadata cache, the undo records and the lock keys are
// all resolved by the server in the session's database, while phase 2
// resolves them in the resource's; the statement is refused before
// anything runs. The session time zone, in which TIMESTAMP images are
// read as text, is recorded with the undo log (Exec.SetTimeZone) and the
// rollback runs under it.
func checkSession(ctx context.Context, x *datasource.Exec, query string) error {
	if x.TxValue(sessionChecked{}) != nil {
		return nil
	}
	home, err := x.Home(ctx, "SELECT DATABASE()")
	if err != nil {
		return err
	}
	// Unprepared: MariaDB fixes DATABASE() of a prepared statement when
	// it is prepared, and image statements are prepared once per
	// connection.
	rows, err := x.QueryText(ctx, "SELECT DATABASE(), @@session.time_zone")
	if err != nil {
		return err
	}
	if len(home) != 1 || len(home[0]) != 1 || len(rows) != 1 || len(rows[0]) != 2 {
		return datasource.Unsupported(query, "the session's database and time zone could not be read")
	}
	want, cur := dbName(home[0][0].Value.IsNull(), home[0][0].Value.Str()), dbName(rows[0][0].Value.IsNull(), rows[0][0].Value.Str())
	if cur != want {
		return datasource.Unsupported(query, "the connection's current database is %s, not the resource's %s (USE ran on it outside a global transaction): its images, undo log and lock keys would name the other database's tables, which phase 2 never reads", cur, want)
	}
	x.SetTimeZone(rows[0][1].Value.Str())
	x.SetTxValue(sessionChecked{}, true)
	return nil
}

func dbName(null bool, s string) string {
	if null {
		return "(none)"
	}
	return quoteIdent(s)
}

// TimeZoneQuery and SetTimeZone make the rollback run in the time zone
// phase 1 read its TIMESTAMP images in (see datasource.SessionTimeZone).
func (Dialect) TimeZoneQuery() string { return "SELECT @@session.time_zone" }
func (Dialect) SetTimeZone() string   { return "SET SESSION time_zone = ?" }

var _ datasource.SessionTimeZone = Dialect{}
