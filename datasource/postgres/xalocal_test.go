package postgres_test

import (
	"context"
	"database/sql/driver"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"google.golang.org/grpc"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client"
	"github.com/txcio/txc/datasource"
	txcpg "github.com/txcio/txc/datasource/postgres"
	"github.com/txcio/txc/internal/dbtest"
	txcv1 "github.com/txcio/txc/proto/txc/v1"
	"github.com/txcio/txc/rm"
	"github.com/txcio/txc/tc/server/servertest"
	"github.com/txcio/txc/tm"
)

// commandHolder holds the phase-2 commands a client receives until
// released: the coordinator's phase 2 then comes as late as it likes.
type commandHolder struct {
	release chan struct{}
	held    atomic.Int64
}

func (h *commandHolder) dialOption() grpc.DialOption {
	return wrapStreams(func(cs grpc.ClientStream) grpc.ClientStream { return holdingStream{cs, h} })
}

type holdingStream struct {
	grpc.ClientStream
	h *commandHolder
}

func (s holdingStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if f, ok := m.(*txcv1.ServerFrame); ok && err == nil {
		for _, msg := range f.GetMessages() {
			if msg.GetCommand() != nil {
				s.h.held.Add(1)
				<-s.h.release
				break
			}
		}
	}
	return err
}

// phase2Counter counts what the phase-2 pool runs: COMMIT PREPARED
// statements and pg_prepared_xacts queries.
type phase2Counter struct {
	driver.Connector
	commits, recovers atomic.Int64
}

func (c *phase2Counter) Connect(ctx context.Context) (driver.Conn, error) {
	dc, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return &phase2CountingConn{dc.(*stdlib.Conn), c}, nil
}

type phase2CountingConn struct {
	*stdlib.Conn
	c *phase2Counter
}

func (c *phase2CountingConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	if strings.HasPrefix(q, "COMMIT PREPARED") {
		c.c.commits.Add(1)
	}
	return c.Conn.ExecContext(ctx, q, args)
}

func (c *phase2CountingConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	if strings.Contains(q, "pg_prepared_xacts") {
		c.c.recovers.Add(1)
	}
	return c.Conn.QueryContext(ctx, q, args)
}

// TestXACommitsAtItsTMsCommit: a branch whose transaction a TM of its
// own process began is committed before that TM's Commit returns, even
// while the coordinator's phase-2 command is held back: the next
// transaction finds the row free and the change visible. The command,
// once it comes, is answered without the database (one COMMIT PREPARED
// in all, no recovery query).
func TestXACommitsAtItsTMsCommit(t *testing.T) {
	dsn := dbtest.PrivatePostgres(t, "max_prepared_transactions=20")
	addr := servertest.Addr(t, "dspgxl")
	dial := func(opts ...grpc.DialOption) *client.Conn {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := client.Dial(ctx, addr, client.WithDialOptions(opts...))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	h := &commandHolder{release: make(chan struct{})}
	released := false
	defer func() {
		if !released {
			close(h.release)
		}
	}()
	tmConn, rmConn := dial(), dial(h.dialOption())
	e := &xaEnv{env: &env{t: t, conn: tmConn, tm: tm.New(tmConn), rm: rm.New(rmConn), plain: dbtest.Open(t, "pgx", dsn)}, dsn: dsn}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	p2 := &phase2Counter{Connector: stdlib.GetConnector(*cfg)}
	e.xa, err = txcpg.OpenDB(cfg, datasource.WithManager(e.rm), datasource.WithMode(datasource.XA), datasource.WithPhase2Connector(p2))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.xa.Close() })
	// The recovery run at open queries pg_prepared_xacts once.
	for deadline := time.Now().Add(10 * time.Second); p2.recovers.Load() == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no recovery run at open")
		}
	}
	tbl := e.table("CREATE TABLE %s (id INT PRIMARY KEY, v INT)", "INSERT INTO %s VALUES (1, 10)")

	xid, err := e.global(func(ctx context.Context) error { return e.updateAndCommit(ctx, tbl, 7) })
	if err != nil {
		t.Fatal(err)
	}
	if n := e.prepared(xid); n != 0 {
		e.rollbackPrepared(xid)
		t.Fatalf("%d branches of %s still prepared when its TM's Commit returned", n, xid)
	}
	if v := e.value(tbl, 1); v != 7 {
		t.Fatalf("v = %d after the commit, want 7", v)
	}
	// Phase 2 reached the RM's client only now (or not yet): released, it
	// finds the branch committed here.
	close(h.release)
	released = true
	e.wait(xid, txc.GlobalCommitted)
	if h.held.Load() == 0 {
		t.Fatal("no phase-2 command was held: the test did not hold phase 2 back")
	}
	if c, r := p2.commits.Load(), p2.recovers.Load(); c != 1 || r != 1 {
		t.Fatalf("phase-2 pool ran %d COMMIT PREPARED and %d recovery queries, want 1 and 1 (the open's)", c, r)
	}
}
