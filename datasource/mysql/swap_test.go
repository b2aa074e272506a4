package mysql_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource"
	"github.com/txcio/txc/internal/logtest"
)

// uniq is a table whose rows exchange values of a unique column.
const uniq = "CREATE TABLE {t} (id INT PRIMARY KEY, u VARCHAR(10) NOT NULL UNIQUE, n INT)"

// TestUniqueSwapRestored: one statement that exchanges (or rotates) the
// values of a unique column between rows commits fine; restoring its
// rows one by one would meet the unique key half-way (Duplicate entry).
// The rollback restores them exactly.
func TestUniqueSwapRestored(t *testing.T) {
	for _, c := range []struct{ name, seed, stmt string }{
		{"swap", "INSERT INTO {t} VALUES (1, 'a', 10), (2, 'b', 20), (3, 'c', 30)",
			"REPLACE INTO {t} VALUES (1, 'b', 11), (2, 'a', 21)"},
		{"rotation", "INSERT INTO {t} VALUES (1, 'a', 10), (2, 'b', 20), (3, 'c', 30)",
			"REPLACE INTO {t} VALUES (1, 'b', 11), (2, 'c', 21), (3, 'a', 31)"},
		{"keys move", "INSERT INTO {t} VALUES (1, 'a', 10), (2, 'b', 20)",
			"REPLACE INTO {t} VALUES (2, 'a', 12), (1, 'b', 11)"},
		{"primary key shift", "INSERT INTO {t} VALUES (1, 'a', 10), (2, 'b', 20), (3, 'c', 30)",
			"UPDATE {t} SET id = id + 1 ORDER BY id DESC"},
		{"primary key and unique rotation", "INSERT INTO {t} VALUES (1, 'a', 10), (2, 'b', 20), (3, 'c', 30)",
			"REPLACE INTO {t} VALUES (3, 'a', 10), (1, 'b', 20), (2, 'c', 30)"},
		{"many", "INSERT INTO {t} VALUES (1, 'a', 10), (2, 'b', 20), (3, 'c', 30), (4, 'd', 40)",
			"REPLACE INTO {t} VALUES (4, 'a', 41), (3, 'b', 31), (2, 'c', 21), (1, 'd', 11)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, "")
			tb := e.table("at_swap", uniq, c.seed)
			e.suite().ChangesThenRollsBack(t, tb, strings.ReplaceAll(c.stmt, "{t}", tb))
		})
	}
}

// TestRollbackFailingForGoodParks: a rollback that fails with the same
// persistent error every time (here a CHECK constraint added after phase
// 1 that the before image breaks) parks the transaction, naming the
// error, instead of being retried forever; once the cause is gone, a
// retry restores the rows.
func TestRollbackFailingForGoodParks(t *testing.T) {
	e := newEnv(t, "")
	var logged logtest.Buffer
	e.db.Close()
	e.db = e.open("", datasource.WithLogger(logged.Logger()))
	tb := e.table("at_park", uniq, "INSERT INTO {t} VALUES (1, 'a', 10), (2, 'b', 20)")
	before := e.dump(tb)
	xid, err := e.global(func(ctx context.Context) error {
		if _, err := e.db.ExecContext(ctx, "UPDATE "+tb+" SET n = n + 100"); err != nil {
			return err
		}
		if _, err := e.plain.Exec("ALTER TABLE " + tb + " ADD CONSTRAINT " + tb + "_big CHECK (n > 100)"); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	e.wait(xid, txc.GlobalRollbackFailed)
	if got := e.dump(tb); got == before {
		t.Fatal("the parked rollback restored the rows")
	}
	if !strings.Contains(logged.String(), "failed 5 times in a row with the same error") || !strings.Contains(logged.String(), "CONSTRAINT") {
		t.Fatalf("the parking names no repeated error:\n%s", logged.String())
	}
	w := httptest.NewRecorder()
	e.admin.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/v1/transactions/"+string(xid), nil))
	if body := w.Body.String(); !strings.Contains(body, `"last_error": "datasource: rollback of branch`) || !strings.Contains(body, "failed 5 times in a row") {
		t.Fatalf("the admin view does not give the RM's reason: %d %s", w.Code, body)
	}
	if _, err := e.plain.Exec("ALTER TABLE " + tb + " DROP CONSTRAINT " + tb + "_big"); err != nil {
		t.Fatal(err)
	}
	e.retry(xid)
	e.wait(xid, txc.GlobalRollbacked)
	if got := e.dump(tb); got != before {
		t.Fatalf("rolled back:\n%s\nwant:\n%s", got, before)
	}
}
