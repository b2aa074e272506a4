package mysql_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/txcio/txc"
)

// Item: a locking read nested in a SET, a derived table or a UNION ran
// as a plain read: it returned a row another global transaction held,
// without waiting for it, where the same SELECT … FOR UPDATE on its own
// meets the lock. It is now refused.
func TestNestedLockingReadRefused(t *testing.T) {
	e := newEnv(t, "")
	tb := e.table("at_nlock", kv, kvSeed)
	release := e.holdLock(e.db, "UPDATE "+tb+" SET n = 99 WHERE id = 1")
	defer release()
	if err := e.tryGlobal("SELECT n FROM " + tb + " WHERE id = 1 FOR UPDATE"); !errors.Is(err, txc.ErrLockConflict) {
		t.Fatalf("a locking read of a held row: %v, want a lock conflict", err)
	}
	for _, q := range []string{
		"SET @x = (SELECT n FROM " + tb + " WHERE id = 1 FOR UPDATE)",
		"SELECT * FROM (SELECT n FROM " + tb + " WHERE id = 1 FOR UPDATE) d",
		"SELECT n FROM " + tb + " WHERE id = 2 UNION SELECT n FROM " + tb + " WHERE id = 1 FOR UPDATE",
		"SELECT n FROM " + tb + " WHERE id = (SELECT id FROM " + tb + " WHERE id = 1 FOR UPDATE) LOCK IN SHARE MODE",
	} {
		if err := e.tryGlobal(q); !errors.Is(err, txc.ErrUnsupported) || !strings.Contains(err.Error(), "locking read") {
			t.Errorf("%s: %v, want a refusal naming the locking read", q, err)
		}
	}
	if err := e.tryGlobal("SELECT * FROM (SELECT n FROM " + tb + " WHERE id = 1) d"); err != nil {
		t.Errorf("a plain read: %v", err)
	}
}
