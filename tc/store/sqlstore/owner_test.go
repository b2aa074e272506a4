package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/internal/dbtest"
	"github.com/txcio/txc/tc/store"
)

// TestOneSessionOwnsTheStore: while a store is open, a second Open on the
// same tables waits for it and, cut short, fails with ErrInUse having
// changed nothing; once the first is closed (its session gone), it opens
// and sees the first one's batches.
func TestOneSessionOwnsTheStore(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d Dialect, dsn string, db *sql.DB) {
		p := freshPrefix(t, db)
		first := openStore(t, d, dsn, p)
		if err := first.Apply(t.Context(), someBatch("o:1")); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		defer cancel()
		if s, err := Open(ctx, Options{Dialect: d, DSN: dsn, TablePrefix: p}); !errors.Is(err, ErrInUse) {
			if err == nil {
				s.Close()
			}
			t.Fatalf("second Open while the first is open: %v, want ErrInUse", err)
		}
		if err := first.Close(); err != nil {
			t.Fatal(err)
		}
		second := openStore(t, d, dsn, p)
		st, err := second.Load(t.Context())
		if err != nil || len(st.Globals) != 1 {
			t.Fatalf("Load after the first closed: %+v, %v", st, err)
		}
	})
}

// TestPostgresSessionKeepAlive: the store's PostgreSQL session asks the
// server for TCP keepalives, so that a session whose coordinator vanished
// without a reset ends (and frees the owner lock) within seconds.
func TestPostgresSessionKeepAlive(t *testing.T) {
	db := dbtest.Postgres(t)
	s := openStore(t, Postgres, dbtest.PostgresDSN, freshPrefix(t, db))
	b := s.b.(*pgBackend)
	conn, err := b.connect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var idle string
	if err := conn.QueryRow(context.Background(), "SHOW tcp_keepalives_idle").Scan(&idle); err != nil {
		t.Fatal(err)
	}
	if idle != "10" {
		t.Fatalf("tcp_keepalives_idle = %q, want 10", idle)
	}
}

// TestMySQLSessionOutlivesIdleness: the store's MySQL session does not end
// at the server's wait_timeout (8 hours by default): a store idle that long
// would lose its owner lock and, with it, every later call (ErrOwnerLost).
func TestMySQLSessionOutlivesIdleness(t *testing.T) {
	db := dbtest.MySQL(t)
	s := openStore(t, MySQL, dbtest.MySQLDSN, freshPrefix(t, db))
	var wait int64
	if err := s.b.(*myBackend).db.QueryRowContext(t.Context(), "SELECT @@session.wait_timeout").Scan(&wait); err != nil {
		t.Fatal(err)
	}
	if wait != 31536000 {
		t.Fatalf("the store session's wait_timeout = %d, want 31536000", wait)
	}
}

// TestLostOwnerSessionIsNotTakenAgain: a store whose session (and with it
// the owner lock) ended while it was idle — the database restarted, the
// server's wait_timeout, an administrator's KILL — while another store
// opened the tables, changed them and closed, must not write again: its
// caller's state came from a Load the other store's batches have
// overtaken. Every later call fails (with ErrOwnerLost once it would
// need a new session) and changes nothing; a new store (a reload) sees the other store's change.
func TestLostOwnerSessionIsNotTakenAgain(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d Dialect, dsn string, db *sql.DB) {
		p := freshPrefix(t, db)
		first := openStore(t, d, dsn, p)
		if err := first.Apply(t.Context(), someBatch("ol:1")); err != nil {
			t.Fatal(err)
		}
		killSession(t, first, db)

		// Another coordinator takes the tables over and finishes ol:1.
		second := openStore(t, d, dsn, p)
		if _, err := second.Load(t.Context()); err != nil {
			t.Fatal(err)
		}
		done := someBatch("ol:1").PutGlobals[0]
		done.Status = txc.GlobalRollbacked
		if err := second.Apply(t.Context(), &store.Batch{PutGlobals: []store.Global{done}, DeleteBranches: []txc.XID{"ol:1"}}); err != nil {
			t.Fatal(err)
		}
		if err := second.Close(); err != nil {
			t.Fatal(err)
		}

		// The first store's caller still believes ol:1 open, and commits it.
		stale := someBatch("ol:1").PutGlobals[0]
		stale.Status = txc.GlobalCommitting
		// The first call may fail on the dead session itself (PostgreSQL
		// reads the server's farewell); every call after it, which would
		// open a new session, fails with ErrOwnerLost.
		if err := first.Apply(t.Context(), &store.Batch{PutGlobals: []store.Global{stale}}); err == nil {
			t.Fatal("Apply after the owner session was lost succeeded")
		}
		if err := first.Apply(t.Context(), &store.Batch{PutGlobals: []store.Global{stale}}); !errors.Is(err, ErrOwnerLost) {
			t.Fatalf("Apply again after the owner session was lost = %v, want ErrOwnerLost", err)
		}
		if _, err := first.Load(t.Context()); !errors.Is(err, ErrOwnerLost) {
			t.Fatalf("Load after the owner session was lost = %v, want ErrOwnerLost", err)
		}
		if err := first.Close(); err != nil {
			t.Fatal(err)
		}
		st, err := openStore(t, d, dsn, p).Load(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Globals) != 1 || st.Globals[0].Status != txc.GlobalRollbacked || len(st.Branches) != 0 {
			t.Fatalf("after the lost session's Apply, the store holds %+v", st)
		}
	})
}

// TestDeadlockAppliedAgainOnTheSameSession: a batch the database aborts to
// break a deadlock is applied again on the session that holds the owner
// lock (a new session would be refused: ErrOwnerLost), and succeeds.
func TestDeadlockAppliedAgainOnTheSameSession(t *testing.T) {
	forEachDialect(t, func(t *testing.T, d Dialect, dsn string, db *sql.DB) {
		p := freshPrefix(t, db)
		var logs strings.Builder
		var logMu sync.Mutex
		s, err := Open(t.Context(), Options{Dialect: d, DSN: dsn, TablePrefix: p,
			Logger: slog.New(slog.NewTextHandler(lockedWriter{&logMu, &logs}, nil))})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := s.Apply(t.Context(), someBatch("dl:1")); err != nil {
			t.Fatal(err)
		}
		// Another transaction takes the sequence row, which the batch
		// writes last, and is made the heavier one (MySQL aborts the
		// lighter side of a deadlock; PostgreSQL the side waiting longer).
		scratch := p + "scratch"
		if _, err := db.Exec("CREATE TABLE " + scratch + " (id int PRIMARY KEY)"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _, _ = db.Exec("DROP TABLE IF EXISTS " + scratch) })
		other, err := db.BeginTx(t.Context(), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer other.Rollback()
		tb := newTables(p)
		for i := range 50 {
			if _, err := other.Exec(fmt.Sprintf("INSERT INTO %s VALUES (%d)", scratch, i)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := other.Exec("UPDATE " + tb.sequence + " SET next_id = next_id WHERE id = 1"); err != nil {
			t.Fatal(err)
		}
		applied := make(chan error, 1)
		go func() {
			g := someBatch("dl:1").PutGlobals[0]
			g.Status = txc.GlobalCommitting
			applied <- s.Apply(context.Background(), &store.Batch{PutGlobals: []store.Global{g}, NextID: 1000})
		}()
		time.Sleep(300 * time.Millisecond) // the batch has its global row and waits for the sequence row
		// Closes the cycle: the batch is aborted, this goes on.
		if _, err := other.Exec("UPDATE " + tb.global + " SET name = name WHERE xid = 'dl:1'"); err != nil {
			t.Fatal(err)
		}
		if err := other.Commit(); err != nil {
			t.Fatal(err)
		}
		if err := <-applied; err != nil {
			t.Fatalf("Apply after a deadlock: %v", err)
		}
		logMu.Lock()
		retried := strings.Contains(logs.String(), "applying it again")
		logMu.Unlock()
		if !retried {
			t.Fatalf("no deadlock happened (the test did not test anything); log:\n%s", logs.String())
		}
		st, err := s.Load(t.Context())
		if err != nil || len(st.Globals) != 1 || st.Globals[0].Status != txc.GlobalCommitting || st.NextID != 1000 {
			t.Fatalf("after the batch applied again: %+v, %v", st, err)
		}
	})
}

// lockedWriter serialises writes to w.
type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestPollCutDuringATryIsInUse: when ctx ends while a try is in flight,
// after the lock was seen held, the wait ran out (ErrInUse), not the
// database: a loaded machine made a move report "owner lock: timeout".
func TestPollCutDuringATryIsInUse(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	tries := 0
	err := poll(ctx, tables{prefix: "held_"}, func() (bool, error) {
		tries++
		if tries == 1 {
			return false, nil
		}
		<-ctx.Done()
		return false, fmt.Errorf("timeout: %w", ctx.Err())
	})
	if !errors.Is(err, ErrInUse) || !strings.Contains(err.Error(), "held_") {
		t.Fatalf("poll cut during a try: %v, want ErrInUse naming the tables", err)
	}
}
