package datasource

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"slices"
	"strings"
	"testing"
)

// sloppyDialect is foldDialect with two more statements:
// "UPDATE TAKEONLY" takes the held-back BEGIN and then fails before it
// sends anything, without reporting the BEGIN's outcome (a dialect error
// path between TakeBegin and its round trip, such as a batch that cannot
// be built); "UPDATE DRIVER2" asks for the connection twice, as a
// dialect that falls back to a second query after a first one failed.
type sloppyDialect struct{ foldDialect }

func (d sloppyDialect) Recognize(query string) (Statement, error) {
	switch {
	case strings.HasPrefix(query, "UPDATE TAKEONLY"):
		return takeOnly{}, nil
	case strings.HasPrefix(query, "UPDATE DRIVER2"):
		return driverTwice{}, nil
	}
	return d.foldDialect.Recognize(query)
}

// takeOnly takes the BEGIN, then fails (see sloppyDialect).
type takeOnly struct{ imagedWrite }

func (takeOnly) Exec(_ context.Context, x *Exec, _ []driver.NamedValue, _ func() (driver.Result, error)) (driver.Result, error) {
	x.TakeBegin()
	return nil, errors.New("the batch could not be built")
}

// driverTwice asks for the connection; after a failure it asks again and
// runs a write on what it gets.
type driverTwice struct{ imagedWrite }

func (driverTwice) Exec(ctx context.Context, x *Exec, _ []driver.NamedValue, _ func() (driver.Result, error)) (driver.Result, error) {
	if _, err := x.Driver().(driver.ExecerContext).ExecContext(ctx, "SELECT first", nil); err == nil {
		return nil, errors.New("the first query ran after the BEGIN failed")
	}
	// A fallback after the first failure.
	return x.Driver().(driver.ExecerContext).ExecContext(ctx, "UPDATE fallback", nil)
}

// failBeginConn is a full fake connection whose BEGIN fails (the server
// refused it; the connection stays usable).
type failBeginConn struct{ *fullConn }

func (c failBeginConn) BeginTx(context.Context, driver.TxOptions) (driver.Tx, error) {
	c.db.record("begintx failed")
	return nil, errors.New("BEGIN refused")
}

type failBeginConnector struct{ db *fakeDB }

func (c failBeginConnector) Connect(ctx context.Context) (driver.Conn, error) {
	dc, err := fakeConnector(c).Connect(ctx)
	if err != nil {
		return nil, err
	}
	return failBeginConn{dc.(*fullConn)}, nil
}

func (c failBeginConnector) Driver() driver.Driver { return fakeDriver(c) }

func openSloppy(t *testing.T, db *fakeDB, failBegin bool) *sql.DB {
	t.Helper()
	var wrapped driver.Connector = fakeConnector{db}
	if failBegin {
		wrapped = failBeginConnector{db}
	}
	d := sloppyDialect{foldDialect{db: db}}
	c, err := NewConnector(wrapped, d, WithResourceID("sloppy-"+strings.ReplaceAll(t.Name(), "/", "-")))
	if err != nil {
		t.Fatal(err)
	}
	sdb := sql.OpenDB(c)
	sdb.SetMaxOpenConns(1)
	t.Cleanup(func() { sdb.Close(); c.Close() })
	return sdb
}

// TestHeldBeginUnreportedRefuses: a dialect that takes the held-back
// BEGIN and fails before sending it, without calling Begun, leaves a
// transaction that is neither begun nor doomed: the next write reaches
// the driver with no BEGIN ever sent (autocommit: committed at once, no
// undo log), and Commit then "commits" through EndTx. The BEGIN counts as
// sent from TakeBegin on (fail-open); it should count as unknown until
// Begun(nil) (fail-closed).
func TestHeldBeginUnreportedRefuses(t *testing.T) {
	db := &fakeDB{full: true}
	sdb := openSloppy(t, db, false)
	ctx, tx := beginGlobal(t, sdb, db, nil)
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, "UPDATE TAKEONLY t SET v = 1"); err == nil {
		t.Fatal("the failing statement succeeded")
	}
	db.take()
	_, err := tx.ExecContext(ctx, "UPDATE t SET v = 2")
	calls := wire(db.take())
	ran := slices.IndexFunc(calls, func(s string) bool { return strings.HasPrefix(s, "execctx UPDATE t") })
	begun := slices.IndexFunc(calls, func(s string) bool { return s == "begintx" || strings.HasPrefix(s, "folded ") })
	if ran >= 0 && (begun < 0 || begun > ran) {
		t.Fatalf("the next write reached the driver with no BEGIN sent (err %v): %q", err, calls)
	}
}

// TestHeldBeginFailedRefusesEveryCall: Exec.Driver's doc says that if the
// held-back BEGIN fails, the connection it returns refuses everything;
// that holds for the call that sent it only. A second call (a fallback
// after the first error) gets the live connection, and what it runs
// there runs outside any transaction.
func TestHeldBeginFailedRefusesEveryCall(t *testing.T) {
	db := &fakeDB{full: true}
	sdb := openSloppy(t, db, true)
	ctx, tx := beginGlobal(t, sdb, db, nil)
	defer tx.Rollback()
	db.take()
	_, err := tx.ExecContext(ctx, "UPDATE DRIVER2 t SET v = 1")
	if calls := wire(db.take()); slices.ContainsFunc(calls, func(s string) bool { return strings.HasPrefix(s, "execctx UPDATE fallback") }) {
		t.Fatalf("a write reached the driver after its transaction's BEGIN failed (err %v): %q", err, calls)
	}
}
