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

// takeThenDriver takes the held-back BEGIN, does not send it, and runs a
// write on Exec.Driver (a dialect error path that falls back to a plain
// query after a batch it could not build).
type takeThenDriverDialect struct{ foldDialect }

func (d takeThenDriverDialect) Recognize(query string) (Statement, error) {
	if strings.HasPrefix(query, "UPDATE TAKEDRIVER") {
		return takeThenDriver{}, nil
	}
	return d.foldDialect.Recognize(query)
}

type takeThenDriver struct{ imagedWrite }

func (takeThenDriver) Exec(ctx context.Context, x *Exec, _ []driver.NamedValue, _ func() (driver.Result, error)) (driver.Result, error) {
	x.TakeBegin()
	if _, err := x.Driver().(driver.ExecerContext).ExecContext(ctx, "UPDATE fallback", nil); err != nil {
		return nil, err
	}
	return nil, errors.New("the batch could not be built")
}

// TestHeldBeginUnreportedDriverRefuses: while a taken BEGIN is
// unreported, Exec.Driver's connection refuses everything, so a dialect
// that takes the BEGIN and then runs a write on Driver's connection
// without sending it cannot run that write outside any transaction.
func TestHeldBeginUnreportedDriverRefuses(t *testing.T) {
	db := &fakeDB{full: true}
	c, err := NewConnector(fakeConnector{db}, takeThenDriverDialect{foldDialect{db: db}}, WithResourceID("fold-takedriver"))
	if err != nil {
		t.Fatal(err)
	}
	sdb := sql.OpenDB(c)
	sdb.SetMaxOpenConns(1)
	t.Cleanup(func() { sdb.Close(); c.Close() })
	ctx, tx := beginGlobal(t, sdb, db, nil)
	defer tx.Rollback()
	db.take()
	_, err = tx.ExecContext(ctx, "UPDATE TAKEDRIVER t SET v = 1")
	if calls := wire(db.take()); slices.ContainsFunc(calls, func(s string) bool { return strings.HasPrefix(s, "execctx UPDATE fallback") }) {
		t.Fatalf("a write reached the driver with the taken BEGIN never sent (err %v): %q", err, calls)
	}
}
