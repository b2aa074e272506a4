package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/txcio/txc/datasource"
)

// benchTable is the name of a table of this run: the XA scenarios have
// tables of their own (txc_bench_xa_…), and every name carries the process
// ID, so that runs on one database at the same time (several checkouts
// benchmarking on one machine) do not drop or write each other's tables.
// The run drops it at the end.
func benchTable(name string, mode datasource.Mode) string {
	if mode == datasource.XA {
		name = strings.Replace(name, "txc_bench_", "txc_bench_xa_", 1)
	}
	return name + "_" + strconv.Itoa(os.Getpid())
}

// runFloorHalf runs the --floor half of the scenario: the AT replay
// (runFloor) or, in XA mode, runXAFloor.
func runFloorHalf(ctx context.Context, lf loadFlags, t atTransfer) (load, error) {
	if t.mode == datasource.XA {
		return runXAFloor(ctx, lf, t)
	}
	return runFloor(ctx, lf, t)
}

// runXAFloor is the floor half of an XA transfer scenario: each client
// replays, on its own connection of the plain pool, the statements the
// proxy and phase 2 send the database for one XA transfer (the branch's
// begin, the two writes, its prepare, then its commit) with no
// coordinator and no proxy. Its throughput over plain's is the ratio XA
// mode would reach if the coordinator and txc's own code cost nothing:
// the database's own price for two-phase commit. Its branches are named
// "floor:<n>", never a txc branch.
func runXAFloor(ctx context.Context, lf loadFlags, t atTransfer) (load, error) {
	if t.xaFloor == nil {
		return load{}, fmt.Errorf("%s: no floor replay for this scenario", t.scenario)
	}
	type client struct {
		conn *sql.Conn
		tx   floorTx
	}
	clients := make([]client, lf.clients)
	defer func() {
		for _, c := range clients {
			if c.conn != nil {
				c.conn.Close()
			}
		}
	}()
	for i := range clients {
		c, err := t.plain.Conn(ctx)
		if err != nil {
			return load{}, err
		}
		clients[i].conn = c
		if clients[i].tx, err = t.xaFloor(ctx, c, ""); err != nil {
			return load{}, err
		}
	}
	var seq atomic.Int64
	return lf.run(func(id, n int) error {
		from, to := 2*id, 2*id+1
		if n%2 == 1 {
			from, to = to, from
		}
		b := seq.Add(1)
		return clients[id].tx(ctx, from, to, "floor:"+strconv.FormatInt(b, 10), b)
	}), nil
}

// postgresXAFloor is the xa-postgres floor: BEGIN and the first UPDATE in
// one batch (as the proxy sends a branch's first statement), the second
// UPDATE, PREPARE TRANSACTION, then COMMIT PREPARED (phase 2) on the same
// connection. 4 round trips, as many as the plain transfer's. A failed
// step rolls back whatever it left: the open transaction, or the
// prepared one.
func postgresXAFloor(table string) floorOpener {
	debit := "UPDATE " + table + " SET balance = balance - $1 WHERE id = $2"
	credit := "UPDATE " + table + " SET balance = balance + $1 WHERE id = $2"
	return func(ctx context.Context, c *sql.Conn, _ string) (floorTx, error) {
		return func(ctx context.Context, from, to int, xid string, _ int64) error {
			return c.Raw(func(dc any) error {
				pc, ok := dc.(*stdlib.Conn)
				if !ok {
					return fmt.Errorf("floor: %T is not pgx's connection", dc)
				}
				conn := pc.Conn()
				gid := "'" + xid + "'"
				b := &pgx.Batch{}
				b.Queue("BEGIN")
				b.Queue(debit, 1, from)
				err := conn.SendBatch(ctx, b).Close()
				if err == nil {
					_, err = conn.Exec(ctx, credit, 1, to)
				}
				if err == nil {
					_, err = conn.Exec(ctx, "PREPARE TRANSACTION "+gid)
				}
				if err != nil {
					conn.Exec(context.WithoutCancel(ctx), "ROLLBACK")
					return err
				}
				if _, err = conn.Exec(ctx, "COMMIT PREPARED "+gid); err != nil {
					conn.Exec(context.WithoutCancel(ctx), "ROLLBACK PREPARED "+gid)
				}
				return err
			})
		}, nil
	}
}

// mysqlXAFloor is the xa-mysql floor: XA START, the two UPDATEs (prepared
// once per connection, as the proxy keeps them), XA END, XA PREPARE, then
// XA COMMIT (phase 2) on the same session, as phase 2 finishes a branch
// on the session that prepared it. 6 round trips. A failed step rolls
// the branch back.
func mysqlXAFloor(table string) floorOpener {
	return func(ctx context.Context, c *sql.Conn, _ string) (floorTx, error) {
		debit, err := c.PrepareContext(ctx, "UPDATE "+table+" SET balance = balance - ? WHERE id = ?")
		if err != nil {
			return nil, err
		}
		credit, err := c.PrepareContext(ctx, "UPDATE "+table+" SET balance = balance + ? WHERE id = ?")
		if err != nil {
			return nil, err
		}
		return func(ctx context.Context, from, to int, xid string, _ int64) error {
			name := "'" + xid + "'"
			_, err := c.ExecContext(ctx, "XA START "+name)
			if err != nil {
				return err
			}
			steps := []func() error{
				func() error { _, err := debit.ExecContext(ctx, 1, from); return err },
				func() error { _, err := credit.ExecContext(ctx, 1, to); return err },
				func() error { _, err := c.ExecContext(ctx, "XA END "+name); return err },
				func() error { _, err := c.ExecContext(ctx, "XA PREPARE "+name); return err },
				func() error { _, err := c.ExecContext(ctx, "XA COMMIT "+name); return err },
			}
			for _, s := range steps {
				if err = s(); err != nil {
					c.ExecContext(context.WithoutCancel(ctx), "XA END "+name)
					c.ExecContext(context.WithoutCancel(ctx), "XA ROLLBACK "+name)
					return err
				}
			}
			return nil
		}, nil
	}
}
