package mysql_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/txcio/txc"
	"github.com/txcio/txc/tm"
)

// Under sql_mode flags that make the server read a statement otherwise
// than the proxy's parser (ANSI_QUOTES: "n" is column n, not a string),
// the image would be of other rows than the statement writes: writes and
// locking reads are refused before they run.
func TestParseChangingSQLModeRefused(t *testing.T) {
	for _, mode := range []string{"ANSI_QUOTES", "PIPES_AS_CONCAT", "HIGH_NOT_PRECEDENCE", "NO_BACKSLASH_ESCAPES", "IGNORE_SPACE", "ANSI", "ORACLE", "MSSQL", "PAD_CHAR_TO_FULL_LENGTH", "EMPTY_STRING_IS_NULL"} {
		t.Run(mode, func(t *testing.T) {
			e := newEnv(t, "sql_mode="+url.QueryEscape("'"+mode+"'"))
			tb := e.table("at_sm", "CREATE TABLE {t} (id INT PRIMARY KEY, n VARCHAR(10), s VARCHAR(10))", "INSERT INTO {t} VALUES (1, 'x', 'n'), (2, 'y', 'y')")
			e.expect(t, refused, mode, []string{tb}, "DELETE FROM "+tb+" WHERE s = 'n'")
			err := tm.WithGlobalLock(context.Background(), func(ctx context.Context) error {
				tx, err := e.db.BeginTx(ctx, nil)
				if err != nil {
					return err
				}
				defer tx.Rollback()
				var n string
				return tx.QueryRowContext(ctx, "SELECT n FROM "+tb+" WHERE id = 1 FOR UPDATE").Scan(&n)
			})
			if !errors.Is(err, txc.ErrUnsupported) || !strings.Contains(err.Error(), mode) {
				t.Fatalf("locking read under a global lock: %v, want a refusal naming %s", err, mode)
			}
		})
	}
}

// sql_mode set on a pooled connection outside a global transaction is
// seen by the next one; inside one, setting it is refused.
func TestSQLModeChangeSeen(t *testing.T) {
	e := newEnv(t, "")
	tb := e.table("at_sm2", kv, kvSeed)
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
	for _, q := range []string{"SET sql_mode = 'ANSI_QUOTES'", "SET SESSION sql_mode = ''", "SET @@sql_mode = 'PIPES_AS_CONCAT'"} {
		if err := inGlobal(q); !errors.Is(err, txc.ErrUnsupported) || !strings.Contains(err.Error(), "sql_mode") {
			t.Errorf("%s in a global transaction: %v, want a refusal", q, err)
		}
	}
	if _, err := c.ExecContext(ctx, "SET SESSION sql_mode = CONCAT(@@sql_mode, ',ANSI_QUOTES')"); err != nil {
		t.Fatal(err)
	}
	if err := inGlobal("UPDATE " + tb + " SET n = n + 1 WHERE id = 1"); !errors.Is(err, txc.ErrUnsupported) || !strings.Contains(err.Error(), "ANSI_QUOTES") {
		t.Fatalf("after SET sql_mode outside: %v, want a refusal naming ANSI_QUOTES", err)
	}
	if got := e.dump(tb); got != seed {
		t.Fatalf("after the rollbacks:\n%s\nseed:\n%s", got, seed)
	}
}
