package sqltable_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/txcio/txc/internal/sqltable"
)

// class is what the three classifiers say of an error.
type class struct{ duplicate, missing, conflict bool }

func classify(err error) class {
	return class{sqltable.IsDuplicateKey(err), sqltable.IsMissingTable(err), sqltable.IsConflict(err)}
}

// TestErrorClasses makes each database produce each error and checks that
// exactly its classifier recognises it, also when wrapped.
func TestErrorClasses(t *testing.T) {
	forEachDB(t, func(t *testing.T, d testDB) {
		ctx := t.Context()
		name := tableName(t, d, "sqltable_e")
		if err := sqltable.Apply(ctx, d.db, "CREATE TABLE "+name+" (id INT PRIMARY KEY, v INT NOT NULL);\nINSERT INTO "+name+" (id, v) VALUES (1, 0), (2, 0)"); err != nil {
			t.Fatal(err)
		}
		_, dup := d.db.ExecContext(ctx, "INSERT INTO "+name+" (id, v) VALUES ("+ph(d, 1)+", 0)", 1)
		_, missing := d.db.ExecContext(ctx, "SELECT 1 FROM "+name+"_none WHERE 1 = 0")
		_, syntax := d.db.ExecContext(ctx, "SELEC 1")
		cases := []struct {
			what string
			err  error
			want class
		}{
			{"duplicate key", dup, class{duplicate: true}},
			{"missing table", missing, class{missing: true}},
			{"syntax error", syntax, class{}},
			{"conflict", conflict(t, d, name), class{conflict: true}},
			{"nil", nil, class{}},
			{"not a database error", sql.ErrNoRows, class{}},
		}
		if d.dialect == sqltable.Postgres {
			// (a SELECT names the relation, 42P01; creating in the schema names it, 3F000)
			_, noSchema := d.db.ExecContext(ctx, "CREATE TABLE txc_no_such_schema.t (id INT)")
			if !pgCode(noSchema, "3F000") {
				t.Fatalf("creating a table in a missing schema: %v, want SQLSTATE 3F000", noSchema)
			}
			cases = append(cases, struct {
				what string
				err  error
				want class
			}{"missing schema", noSchema, class{missing: true}})
		}
		for _, c := range cases {
			if c.err == nil && c.what != "nil" {
				t.Fatalf("%s: the database reported no error", c.what)
			}
			if got := classify(c.err); got != c.want {
				t.Errorf("%s (%v): %+v, want %+v", c.what, c.err, got, c.want)
			}
			if got := classify(fmt.Errorf("wrapped: %w", c.err)); c.err != nil && got != c.want {
				t.Errorf("%s wrapped: %+v, want %+v", c.what, got, c.want)
			}
		}
	})
}

// pgCode reports a PostgreSQL error with SQLSTATE code.
func pgCode(err error, code string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == code
}

// conflict makes the database abort a transaction for a lock conflict and
// returns that error: on MySQL a deadlock (each of two transactions waits
// for the other's row), on PostgreSQL a serialization failure (a
// repeatable-read transaction updates a row another committed since its
// snapshot).
func conflict(t *testing.T, d testDB, table string) error {
	t.Helper()
	ctx := t.Context()
	update := "UPDATE " + table + " SET v = v + 1 WHERE id = " + ph(d, 1)
	if d.dialect == sqltable.Postgres {
		tx := begin(t, d, &sql.TxOptions{Isolation: sql.LevelRepeatableRead})
		var v int
		if err := tx.QueryRowContext(ctx, "SELECT v FROM "+table+" WHERE id = 1").Scan(&v); err != nil {
			t.Fatal(err)
		}
		if _, err := d.db.ExecContext(ctx, update, 1); err != nil {
			t.Fatal(err)
		}
		_, err := tx.ExecContext(ctx, update, 1)
		return err
	}
	a, b := begin(t, d, nil), begin(t, d, nil)
	for _, s := range []struct {
		tx *sql.Tx
		id int
	}{{a, 1}, {b, 2}} {
		if _, err := s.tx.ExecContext(ctx, update, s.id); err != nil {
			t.Fatal(err)
		}
	}
	waited := make(chan error, 1)
	go func() { _, err := a.ExecContext(ctx, update, 2); waited <- err }() // waits for b
	waitForLockWait(t, d)
	_, err := b.ExecContext(ctx, update, 1) // closes the cycle: one of the two is the victim
	if err == nil {
		err = <-waited
	} else {
		b.Rollback()
		if werr := <-waited; werr != nil {
			t.Fatalf("both transactions failed: %v; %v", err, werr)
		}
	}
	return err
}

// begin starts a transaction rolled back when the test ends.
func begin(t *testing.T, d testDB, o *sql.TxOptions) *sql.Tx {
	t.Helper()
	tx, err := d.db.BeginTx(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback() })
	return tx
}

// waitForLockWait returns once some statement of the MySQL database waits
// for a row lock, or after two seconds: the deadlock forms whichever
// transaction asks second, so the wait only makes the usual order likely.
// (MariaDB 10.11 does not always show the waiting transaction as LOCK
// WAIT in innodb_trx; the processlist shows its statement as Updating.)
func waitForLockWait(t *testing.T, d testDB) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		var n int
		err := d.db.QueryRowContext(t.Context(), `SELECT (SELECT COUNT(*) FROM information_schema.innodb_trx WHERE trx_state = 'LOCK WAIT')
			+ (SELECT COUNT(*) FROM information_schema.processlist WHERE state = 'Updating' AND info LIKE 'UPDATE%')`).Scan(&n)
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
		if n > 0 {
			return
		}
	}
}
