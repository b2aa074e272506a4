package mysql_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/txcio/txc"
	"github.com/txcio/txc/internal/dbtest"
)

// Under lower_case_table_names=1 ACCT, Acct and test.acct are one table:
// one lock key, one undo record per row, and a rollback that restores it
// whichever spelling each statement used.
func TestLowerCaseTableNames(t *testing.T) {
	e := newEnvAt(t, dbtest.PrivateMariaDB(t, "--lower-case-table-names=1"))
	tb := e.table("Acct", kv, kvSeed)
	up, low := strings.ToUpper(tb), strings.ToLower(tb)

	release := e.holdLock(e.db, "UPDATE "+up+" SET n = n + 1 WHERE id = 1")
	for _, q := range []string{
		"UPDATE " + low + " SET n = n + 10 WHERE id = 1",
		"DELETE FROM TEST." + tb + " WHERE id = 1",
		"SELECT n FROM " + tb + " WHERE id = 1 FOR UPDATE",
	} {
		if err := e.tryGlobal(q); !errors.Is(err, txc.ErrLockConflict) {
			t.Errorf("%s: %v, want a lock conflict with the transaction holding %s", q, err, up)
		}
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}

	e.expect(t, undone, "", []string{tb},
		"UPDATE "+up+" SET n = n + 5 WHERE id = 2",
		"UPDATE "+low+" SET s = 'q' WHERE id = 2",
		"DELETE FROM TEST."+tb+" WHERE id = 3",
		"INSERT INTO "+up+" (id, n, s) VALUES (9, 9, 'z')",
		"REPLACE INTO "+low+" (id, n, s) VALUES (9, 10, 'y')",
		"UPDATE "+tb+" a JOIN "+up+" b ON b.id = a.id + 1 SET a.n = b.n WHERE a.id = 1")
	e.expect(t, refused, "two names", []string{tb}, "UPDATE "+up+" a JOIN "+low+" b ON b.id = a.id SET a.n = 77, b.s = 'q' WHERE a.id = 1")
}
