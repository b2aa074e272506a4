package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/txcio/txc/datasource"
)

// pgxConn is the pgx connection under a driver connection from Raw.
func pgxConn(t *testing.T, dc any) *pgx.Conn {
	t.Helper()
	sc, ok := dc.(*stdlib.Conn)
	if !ok {
		t.Fatalf("Raw gave %T, want *stdlib.Conn", dc)
	}
	return sc.Conn()
}

// TestRawReachesPgx: datasource.Raw hands pgx's own connection to what
// only pgx offers (CopyFrom, the backend PID, LISTEN/NOTIFY) outside a
// global transaction (dialecttest's RawRefusedInGlobal: refuses inside
// one, where a COPY would write rows no image holds).
func TestRawReachesPgx(t *testing.T) {
	e := newEnv(t)
	tb := e.table("at_raw", kv, kvSeed)
	ctx := context.Background()
	c, err := e.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var pid uint32
	err = datasource.Raw(ctx, c, func(dc any) error {
		pc := pgxConn(t, dc)
		pid = pc.PgConn().PID()
		n, err := pc.CopyFrom(ctx, pgx.Identifier{tb}, []string{"id", "n", "s"}, pgx.CopyFromRows([][]any{{10, 100, "x"}, {11, 110, "y"}}))
		if err == nil && n != 2 {
			t.Errorf("copied %d rows", n)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var backend uint32
	if err := c.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&backend); err != nil || backend != pid {
		t.Fatalf("backend pid %d (%v), Raw said %d", backend, err, pid)
	}
	var copied int
	if err := e.plain.QueryRow("SELECT count(*) FROM " + tb + " WHERE (id, n, s) IN ((10, 100, 'x'), (11, 110, 'y'))").Scan(&copied); err != nil || copied != 2 {
		t.Fatalf("rows copied: %d (%v)", copied, err)
	}

	if _, err := c.ExecContext(ctx, "LISTEN at_raw_chan"); err != nil {
		t.Fatal(err)
	}
	e.exec("NOTIFY at_raw_chan, 'hello'")
	err = datasource.Raw(ctx, c, func(dc any) error {
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		n, err := pgxConn(t, dc).WaitForNotification(wctx)
		if err == nil && n.Payload != "hello" {
			t.Errorf("notification %q", n.Payload)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
