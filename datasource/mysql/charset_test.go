package mysql_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource"
	"github.com/txcio/txc/internal/dbtest"
	"github.com/txcio/txc/tm"
)

const charsetTable = "CREATE TABLE {t} (id INT PRIMARY KEY, n INT, s VARCHAR(20) CHARACTER SET utf8mb4, b VARCHAR(20) CHARACTER SET latin1) DEFAULT CHARSET=utf8mb4"
const charsetSeed = "INSERT INTO {t} VALUES (1, 1, 'x😀y', 'é'), (2, 2, 'ü', 'ß')"

// A session in another character set than utf8mb4 would read an emoji as
// '?' into the images, and a rollback would write the '?' back (also
// into columns the statement did not assign): global writes on it are
// refused before they run.
func TestLossyCharsetRefused(t *testing.T) {
	for _, params := range []string{"charset=latin1", "charset=utf8"} {
		t.Run(params, func(t *testing.T) {
			e := newEnv(t, params)
			tb := e.table("at_cs", charsetTable, charsetSeed)
			e.expect(t, refused, "character sets", []string{tb}, "UPDATE "+tb+" SET n = n + 1 WHERE id = 1")
			e.expect(t, refused, "character sets", []string{tb}, "INSERT INTO "+tb+" (id, n, s, b) VALUES (3, 3, 'a', 'b')")
			// A global lock images nothing: its writes and locking
			// reads run.
			err := tm.WithGlobalLock(context.Background(), func(ctx context.Context) error {
				tx, err := e.db.BeginTx(ctx, nil)
				if err != nil {
					return err
				}
				defer tx.Rollback()
				var n int
				if err := tx.QueryRowContext(ctx, "SELECT n FROM "+tb+" WHERE id = 1 FOR UPDATE").Scan(&n); err != nil {
					return err
				}
				if _, err := tx.ExecContext(ctx, "UPDATE "+tb+" SET n = n + 1 WHERE id = 2"); err != nil {
					return err
				}
				return tx.Commit()
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}

// The same session check holds when the character set changes on a
// pooled connection: SET NAMES outside a global transaction is seen by
// the next one, and inside one it is refused.
func TestCharsetChangeSeen(t *testing.T) {
	e := newEnv(t, "")
	tb := e.table("at_cs2", charsetTable, charsetSeed)
	ctx := context.Background()
	c, err := e.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	inGlobal := func(q string) error { return e.onConn(c, q) }
	seed := e.dump(tb)
	if err := inGlobal("UPDATE " + tb + " SET n = n + 1 WHERE id = 1"); !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	if _, err := c.ExecContext(ctx, "SET NAMES latin1"); err != nil {
		t.Fatal(err)
	}
	if err := inGlobal("UPDATE " + tb + " SET n = n + 1 WHERE id = 1"); !errors.Is(err, txc.ErrUnsupported) || !strings.Contains(err.Error(), "latin1") {
		t.Fatalf("after SET NAMES latin1: %v, want a refusal naming latin1", err)
	}
	if _, err := c.ExecContext(ctx, "SET NAMES utf8mb4"); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"SET NAMES latin1", "SET CHARACTER SET latin1", "SET character_set_results = NULL", "SET SESSION collation_connection = 'latin1_swedish_ci'"} {
		if err := inGlobal(q); !errors.Is(err, txc.ErrUnsupported) || !strings.Contains(err.Error(), "character set") {
			t.Errorf("%s in a global transaction: %v, want a refusal", q, err)
		}
	}
	if got := e.dump(tb); got != seed {
		t.Fatalf("after the rollbacks:\n%s\nseed:\n%s", got, seed)
	}
}

// A rollback reads and writes in utf8mb4 whatever the DSN's charset: an
// undo log written by a session that set utf8mb4 itself is restored
// exactly by the latin1 connections of phase 2.
func TestRollbackInUTF8MB4(t *testing.T) {
	e := newEnv(t, "")
	// A resource ID of its own: rollbacks run on the first database open
	// under an ID.
	e.db = e.open("charset=latin1", datasource.WithResourceID("mysql:latin1-"+dbtest.Name("cs")))
	tb := e.table("at_cs3", charsetTable, charsetSeed)
	seed := e.dump(tb)
	ctx := context.Background()
	c, err := e.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.ExecContext(ctx, "SET NAMES utf8mb4"); err != nil {
		t.Fatal(err)
	}
	xid, err := e.global(func(ctx context.Context) error {
		tx, err := c.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		for _, q := range []string{"UPDATE " + tb + " SET n = n + 1, s = 'z😀' WHERE id = 1", "DELETE FROM " + tb + " WHERE id = 2"} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				return err
			}
		}
		if err := tx.Commit(); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	if st := e.wait(xid, txc.GlobalRollbacked, txc.GlobalRollbackFailed); st != txc.GlobalRollbacked {
		t.Fatalf("transaction ended %v", st)
	}
	if got := e.dump(tb); got != seed {
		t.Fatalf("after rollback:\n%s\nseed:\n%s", got, seed)
	}
}
