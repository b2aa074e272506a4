package sqlstore

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/txcio/txc"
	"github.com/txcio/txc/internal/dbtest"
	"github.com/txcio/txc/tc/store"
	"github.com/txcio/txc/tc/store/memstore"
	"github.com/txcio/txc/tc/store/storetest"
)

// largeBatch is bigger than one MySQL query (maxQueryBytes) and than one
// statement (maxRowsPerStatement), in every list.
func largeBatch(tag string, n int) *store.Batch {
	b := &store.Batch{NextID: uint64(n)}
	data := bytes.Repeat([]byte{'\'', 0, '\\', 0xff}, 512)
	for i := range n {
		x := txc.NewXID(tag, uint64(i))
		b.PutGlobals = append(b.PutGlobals, store.Global{XID: x, Name: "large", Status: txc.GlobalBegin})
		b.PutBranches = append(b.PutBranches, store.Branch{XID: x, ID: txc.BranchID(i), Type: txc.BranchAT,
			ResourceID: "r", Status: txc.BranchRegistered, ApplicationData: data,
			LockKeys: []txc.LockKey{{Table: "t", Rows: []string{fmt.Sprint(i)}}}})
	}
	return b
}

// TestLargeBatches: batches that MySQL needs several queries and
// statements for are applied whole; a failure in the middle of one leaves
// none of it, and the store does not go on: its session, inside the
// failed transaction, is not reused, and no other is taken (ErrOwnerLost).
func TestLargeBatches(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d Dialect, dsn string, db *sql.DB) {
		p := freshPrefix(t, db)
		s := openStore(t, d, dsn, p)
		model := memstore.New()
		apply := func(b *store.Batch) {
			t.Helper()
			if err := s.Apply(t.Context(), b); err != nil {
				t.Fatal(err)
			}
			_ = model.Apply(t.Context(), b)
		}
		const n = 5000
		apply(largeBatch("big", n))
		next := &store.Batch{}
		for i := range n {
			x := txc.NewXID("big", uint64(i))
			switch i % 3 {
			case 0:
				next.SetBranchStatus = append(next.SetBranchStatus, store.BranchStatus{XID: x, ID: txc.BranchID(i), Status: txc.BranchPhaseOneDone})
			case 1:
				next.DeleteBranches = append(next.DeleteBranches, x)
			case 2:
				next.DeleteGlobals = append(next.DeleteGlobals, x)
			}
		}
		apply(next)

		crash := errors.New("simulated crash")
		s.failNext = &injected{err: crash}
		torn := largeBatch("torn", n)
		torn.DeleteGlobals = []txc.XID{txc.NewXID("big", 0)}
		if err := s.Apply(t.Context(), torn); !errors.Is(err, crash) {
			t.Fatalf("Apply with an injected failure = %v", err)
		}
		after := &store.Batch{PutGlobals: []store.Global{{XID: "after:1", Name: "after", Status: txc.GlobalBegin}}}
		if err := s.Apply(t.Context(), after); !errors.Is(err, ErrOwnerLost) {
			t.Fatalf("Apply after a failed one = %v, want ErrOwnerLost", err)
		}
		s.Close()
		s = openStore(t, d, dsn, p) // a restarted coordinator goes on
		apply(after)
		check := func(s *Store) {
			t.Helper()
			got, err := s.Load(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			want, _ := model.Load(t.Context())
			if diff := storetest.Diff(got, want); diff != "" {
				t.Fatalf("Load differs from the applied batches:\n%s", diff)
			}
		}
		check(s)
		s.Close() // one session owns the store at a time
		check(openStore(t, d, dsn, p))
	})
}

// TestStatementsPerBatch: a Batch with every kind of change is sent as
// one query on MySQL, framed by its transaction.
func TestStatementsPerBatch(t *testing.T) {
	b := &myBackend{t: newTables("p_")}
	var g storetest.MutationStream
	var batch store.Batch
	for range 40 {
		g.Fill(&batch, 64)
	}
	batch.SetBranchStatus = []store.BranchStatus{{XID: "x:1", ID: 1, Status: 2}}
	batch.DeleteBranches = []txc.XID{"y:1"}
	stmts := b.statements(newPlan(&batch, false))
	if len(stmts) != 9 {
		t.Fatalf("%d statements, want 9 (rollback, begin, 5 changes, next ID, commit)", len(stmts))
	}
	if q := packQueries(stmts); len(q) != 1 {
		t.Fatalf("%d queries, want 1", len(q))
	}
}

// TestMySQLNeverTruncates: even in a session whose sql_mode is not strict,
// a value too large for its column fails the batch instead of being
// stored cut.
func TestMySQLNeverTruncates(t *testing.T) {
	db := dbtest.MySQL(t)
	for _, dsn := range []string{dbtest.MySQLDSN + "?sql_mode=%27%27", dbtest.MySQLDSN + "?sql_mode=%27ANSI_QUOTES%27"} {
		s := openStore(t, MySQL, dsn, freshPrefix(t, db))
		b := &store.Batch{PutGlobals: []store.Global{{XID: "long:1", Name: strings.Repeat("n", 2000), Status: txc.GlobalBegin}}}
		if err := s.Apply(t.Context(), b); err == nil {
			t.Errorf("%s: a 2000-byte name in a 1024-byte column was accepted", dsn)
		}
		s.Close() // a failed Apply ends the store (ErrOwnerLost)
		s = openStore(t, MySQL, dsn, s.t.prefix)
		st, err := s.Load(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Globals) != 0 {
			t.Errorf("%s: stored %d globals, name %d bytes", dsn, len(st.Globals), len(st.Globals[0].Name))
		}
	}
}

// killSession ends the store's database session from db, as a database
// restart or a network cut would.
func killSession(t *testing.T, s *Store, db *sql.DB) {
	t.Helper()
	switch b := s.b.(type) {
	case *pgBackend:
		if _, err := db.Exec("SELECT pg_terminate_backend($1)", b.conn.PgConn().PID()); err != nil {
			t.Fatal(err)
		}
	case *myBackend:
		var id int64
		if err := b.db.QueryRow("SELECT CONNECTION_ID()").Scan(&id); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(fmt.Sprintf("KILL CONNECTION %d", id)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSessionLost: when the database ends the store's session, the store
// does not go on through a new one, which would take the owner lock anew
// under a caller whose state another session may have overtaken (see
// TestLostOwnerSessionIsNotTakenAgain): once a call has failed, every
// later one fails with ErrOwnerLost. The store opened again holds exactly
// the batches acknowledged.
func TestSessionLost(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d Dialect, dsn string, db *sql.DB) {
		p := freshPrefix(t, db)
		model := memstore.New()
		for i := range uint64(4) {
			s := openStore(t, d, dsn, p)
			b := someBatch(txc.NewXID("before", i))
			if err := s.Apply(t.Context(), b); err != nil {
				t.Fatal(err)
			}
			_ = model.Apply(t.Context(), b)
			killSession(t, s, db)
			b = someBatch(txc.NewXID("lost", i))
			b.NextID = i + 10
			err := s.Apply(t.Context(), b)
			t.Logf("Apply after the session was killed: %v", err)
			if err == nil { // the kill had not landed yet
				_ = model.Apply(t.Context(), b)
				killSession(t, s, db)
			}
			if err := s.Apply(t.Context(), someBatch(txc.NewXID("after", i))); err != nil && !errors.Is(err, ErrOwnerLost) {
				t.Fatalf("an Apply after a lost session: %v, want ErrOwnerLost", err)
			} else if err == nil {
				t.Fatal("an Apply after a lost session succeeded")
			}
			if _, err := s.Load(t.Context()); !errors.Is(err, ErrOwnerLost) {
				t.Fatalf("a Load after a lost session: %v, want ErrOwnerLost", err)
			}
			s.Close()
			again := openStore(t, d, dsn, p)
			got, err := again.Load(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			again.Close()
			want, _ := model.Load(t.Context())
			if diff := storetest.Diff(got, want); diff != "" {
				t.Fatalf("Load differs from the acknowledged batches:\n%s", diff)
			}
		}
	})
}
