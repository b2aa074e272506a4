package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/txcio/txc/internal/dbtest"
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
