package server

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/internal/dbtest"
	"github.com/txcio/txc/tc"
	"github.com/txcio/txc/tc/store"
	"github.com/txcio/txc/tc/store/sqlstore"
)

// TestLostStoreSessionDecidesNothing: a coordinator on MySQL whose store
// session ended while idle (a database restart, its wait_timeout, a KILL),
// while another coordinator took the store over, rolled a transaction
// back and let the store go, must not commit that transaction from its
// stale memory: its Commit is not acknowledged and the store keeps the
// other coordinator's rollback.
func TestLostStoreSessionDecidesNothing(t *testing.T) {
	db := dbtest.MySQL(t)
	prefix := dbtest.Name("srvown") + "_"
	t.Cleanup(func() {
		for _, name := range []string{"schema", "global", "branch", "sequence"} {
			_, _ = db.Exec("DROP TABLE IF EXISTS " + prefix + name)
		}
	})
	open := func() *sqlstore.Store {
		st, err := sqlstore.Open(context.Background(), sqlstore.Options{Dialect: sqlstore.MySQL, DSN: dbtest.MySQLDSN, TablePrefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	r := start(t, open(), tc.Config{})
	conn := dial(t, r.addr)
	ctx := context.Background()
	xid, err := conn.Begin(ctx, "stale", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Register(ctx, rowBranch(xid, "1")); err != nil {
		t.Fatal(err)
	}

	killOwner(t, db, prefix)
	other := open()
	st, err := other.Load(ctx)
	if err != nil || len(st.Globals) != 1 {
		t.Fatalf("the other coordinator's Load: %+v, %v", st, err)
	}
	g := st.Globals[0]
	g.Status = txc.GlobalRollbacked
	if err := other.Apply(ctx, &store.Batch{PutGlobals: []store.Global{g}, DeleteBranches: []txc.XID{xid}}); err != nil {
		t.Fatal(err)
	}
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}

	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if s, err := conn.Commit(cctx, xid); err == nil {
		t.Errorf("a coordinator that lost its store session acknowledged the commit of a transaction rolled back meanwhile: %v", s)
	}
	after := open()
	defer after.Close()
	if st, err := after.Load(ctx); err != nil || len(st.Globals) != 1 || st.Globals[0].Status != txc.GlobalRollbacked {
		t.Fatalf("stored after the stale coordinator's commit: %+v, %v", st, err)
	}
}

// killOwner ends the MySQL session holding the owner lock of the store
// with table prefix, and waits until the lock is free. The lock's name is
// sqlstore's (owner.go).
func killOwner(t *testing.T, db *sql.DB, prefix string) {
	t.Helper()
	const holder = "SELECT IS_USED_LOCK(CONCAT('txc_owner:', SHA1(CONCAT(DATABASE(), '/', ?))))"
	name := "txc_sqlstore_owner:" + prefix
	var id sql.NullInt64
	if err := db.QueryRow(holder, name).Scan(&id); err != nil || !id.Valid {
		t.Fatalf("finding the owner session: %v, %v", id, err)
	}
	if _, err := db.Exec("KILL CONNECTION ?", id.Int64); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the owner lock to be free", func() bool {
		var id sql.NullInt64
		return db.QueryRow(holder, name).Scan(&id) == nil && !id.Valid
	})
}
