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

// TestReviewDriverWhileBeginUnreported (review): Exec.Driver's doc says
// that while a taken BEGIN is unreported the connection returned refuses
// everything; the code hands out the live connection until Begun is
// called, so a write run on it by the taker without the BEGIN runs
// outside any transaction.
func TestReviewDriverWhileBeginUnreported(t *testing.T) {
	db := &fakeDB{full: true}
	c, err := NewConnector(fakeConnector{db}, takeThenDriverDialect{foldDialect{db: db}}, WithResourceID("review-takedriver"))
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
