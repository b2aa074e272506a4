package datasource

import (
	"database/sql"
	"database/sql/driver"
	"slices"
	"testing"
)

// TestLegacyDriver: a wrapped driver with only the required methods of
// driver.Conn, driver.Stmt and driver.Rows (no context forms, no
// NamedValueChecker, no ColumnConverter) works through the proxy outside
// global transactions: statements, queries, prepared statements and local
// transactions reach it once each, with database/sql's default argument
// conversion, and nothing else reaches it.
func TestLegacyDriver(t *testing.T) {
	db := &fakeDB{rows: map[string][][]driver.Value{"SELECT c FROM t WHERE id = ?": {{int64(42)}}}}
	sdb := sql.OpenDB(openFake(t, db))
	sdb.SetMaxOpenConns(1)
	ctx := t.Context()
	if err := sdb.PingContext(ctx); err != nil {
		t.Fatal(err)
	}
	db.take()
	steps := []struct {
		name string
		run  func() error
		want []string
	}{
		{"exec", func() error {
			res, err := sdb.ExecContext(ctx, "UPDATE t SET v = ?", 5)
			if err == nil {
				err = wantAffected(res, 1)
			}
			return err
		}, []string{"prepare UPDATE t SET v = ?", "stmt.exec UPDATE t SET v = ? [int64(5)]"}},
		{"query", func() error {
			var v int64
			if err := sdb.QueryRowContext(ctx, "SELECT c FROM t WHERE id = ?", uint8(7)).Scan(&v); err != nil {
				return err
			}
			if v != 42 {
				t.Errorf("query read %d, want 42", v)
			}
			return nil
		}, []string{"prepare SELECT c FROM t WHERE id = ?", "stmt.query SELECT c FROM t WHERE id = ? [int64(7)]"}},
		{"prepared", func() error {
			st, err := sdb.PrepareContext(ctx, "UPDATE t SET v = ? WHERE id = ?")
			if err != nil {
				return err
			}
			defer st.Close()
			for i := range 2 {
				if _, err := st.ExecContext(ctx, "x", i); err != nil {
					return err
				}
			}
			return nil
		}, []string{"prepare UPDATE t SET v = ? WHERE id = ?", "stmt.exec UPDATE t SET v = ? WHERE id = ? [string(x) int64(0)]",
			"stmt.exec UPDATE t SET v = ? WHERE id = ? [string(x) int64(1)]"}},
		{"transaction", func() error {
			tx, err := sdb.BeginTx(ctx, nil)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, "UPDATE t SET v = ?", nil); err != nil {
				tx.Rollback()
				return err
			}
			return tx.Commit()
		}, []string{"begin", "prepare UPDATE t SET v = ?", "stmt.exec UPDATE t SET v = ? [<nil>(<nil>)]", "commit"}},
	}
	for _, s := range steps {
		if err := s.run(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if calls := roundTrips(db.take()); !slices.Equal(calls, s.want) {
			t.Errorf("%s: wrapped calls %q, want %q", s.name, calls, s.want)
		}
	}
	if n := db.opens.Load(); n != 1 {
		t.Errorf("%d connections opened, want 1", n)
	}
}

// wantAffected checks a result's affected-row count.
func wantAffected(res sql.Result, want int64) error {
	n, err := res.RowsAffected()
	if err == nil && n != want {
		err = invalid("%d rows affected, want %d", n, want)
	}
	return err
}
