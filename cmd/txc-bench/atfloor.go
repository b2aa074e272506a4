package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource"
	"github.com/txcio/txc/datasource/undo"
)

// floorTable is the undo-log table of the floor half: the shipped schema
// under its own name, so that the AT half's table is not touched.
const floorTable = "txc_bench_floor_undo"

// floorLogSize is the size of the undo log the floor half writes per
// transfer: about what the proxy encodes for the transfer's two rows
// (before and after images of a BIGINT key and balance, the XID, the
// time zone).
const floorLogSize = 192

// floorDeleteBatch is how many committed transfers' undo rows a floor
// client deletes in one statement, as phase 2 gathers its deletes.
const floorDeleteBatch = 10

// floorTx runs one floor transfer from row from to row to on its client's
// connection, writing the undo row (xid, branch).
type floorTx func(ctx context.Context, from, to int, xid string, branch int64) error

// floorOpener prepares a client of the floor half on c.
type floorOpener func(ctx context.Context, c *sql.Conn, undoRef string) (floorTx, error)

// The steps --floor-omit can leave out of an AT floor replay.
const (
	omitBefore = "before-images" // at-mysql: the locking reads before each UPDATE
	omitAfter  = "after-images"  // at-mysql: the locking read of the after images
	omitProbe  = "probe"         // at-postgres: the table's lock and catalog probe
	omitInsert = "undo-insert"   // both: the undo log's insert
)

// checkOmit refuses a --floor-omit that t's floor has no step of, or that
// comes without --floor.
func (t atTransfer) checkOmit(lf loadFlags) error {
	if lf.floorOmit == "" {
		return nil
	}
	if !lf.floor || t.mode != datasource.AT {
		return fmt.Errorf("--floor-omit needs --floor (or --only floor) in an at-* scenario")
	}
	if !slices.Contains(t.floorSteps, lf.floorOmit) {
		return fmt.Errorf("--floor-omit: %s has no step %q (it has %s)", t.scenario, lf.floorOmit, strings.Join(t.floorSteps, ", "))
	}
	return nil
}

// runFloor is the floor half of an AT transfer scenario: each client
// replays, on its own connection of the plain pool, the statements the
// proxy sends the database for one AT transfer (image reads, the two
// writes, the undo log's insert, the commit) and its share of phase 2's
// batched undo deletes, with no coordinator, no parsing and no image
// building. Its throughput over plain's is the ratio AT mode would reach
// if the coordinator and the proxy's own code cost nothing: what the
// database's share of AT's work leaves of the target.
func runFloor(ctx context.Context, lf loadFlags, t atTransfer) (load, error) {
	ut, err := undo.NewTable(t.floorDialect, floorTable, undo.Codec{})
	if err != nil {
		return load{}, err
	}
	if err := ut.Create(ctx, t.plain); err != nil {
		return load{}, err
	}
	type client struct {
		conn    *sql.Conn
		tx      floorTx
		pending []undo.Key
	}
	clients := make([]*client, lf.clients)
	defer func() {
		for _, c := range clients {
			if c != nil {
				c.conn.Close()
			}
		}
	}()
	for i := range clients {
		c, err := t.plain.Conn(ctx)
		if err != nil {
			return load{}, err
		}
		clients[i] = &client{conn: c}
		if clients[i].tx, err = t.floor(ctx, c, ut.Ref()); err != nil {
			return load{}, err
		}
	}
	var seq atomic.Int64
	out := lf.run(func(id, n int) error {
		c := clients[id]
		from, to := 2*id, 2*id+1
		if n%2 == 1 {
			from, to = to, from
		}
		b := seq.Add(1)
		xid := floorXIDPrefix + strconv.FormatInt(b, 10)
		if err := c.tx(ctx, from, to, xid, b); err != nil {
			c.conn.ExecContext(ctx, "ROLLBACK")
			return err
		}
		c.pending = append(c.pending, undo.Key{XID: txc.XID(xid), BranchID: txc.BranchID(b)})
		if len(c.pending) < floorDeleteBatch {
			return nil
		}
		_, err := ut.DeleteBatch(ctx, c.conn, c.pending)
		c.pending = c.pending[:0]
		return err
	})
	for _, c := range clients {
		if _, err := ut.DeleteBatch(ctx, c.conn, c.pending); err != nil {
			return out, err
		}
	}
	return out, nil
}

// floorXIDPrefix begins the XIDs of this process's floor transfers: runs
// on one database at the same time share floorTable, and each deletes
// only its own rows.
var floorXIDPrefix = "floor-" + strconv.Itoa(os.Getpid()) + ":"

// floorLog is the undo log bytes a floor transfer writes.
var floorLog = make([]byte, floorLogSize)

// drain reads every row of rows and closes them.
func drain(rows *sql.Rows, err error) error {
	if err != nil {
		return err
	}
	for rows.Next() {
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		return err
	}
	return rows.Close()
}

// mysqlFloor is the at-mysql floor: the statements the MySQL proxy sends
// for the transfer, prepared once per connection as the proxy keeps them:
// START TRANSACTION; per UPDATE the before image (SELECT t.* … FOR UPDATE
// by the statement's WHERE) and the UPDATE; the after images of both rows
// in one locking read at commit; the undo insert; COMMIT. 8 round trips.
// omit leaves one step out (see checkOmit).
func mysqlFloor(table, omit string) floorOpener {
	return func(ctx context.Context, c *sql.Conn, undoRef string) (floorTx, error) {
		q := "`" + table + "`"
		texts := []string{
			"SELECT " + q + ".* FROM " + q + " WHERE `id`=? FOR UPDATE",
			"UPDATE " + table + " SET balance = balance - ? WHERE id = ?",
			"UPDATE " + table + " SET balance = balance + ? WHERE id = ?",
			"SELECT " + q + ".* FROM " + q + " WHERE `id` IN (?, ?) FOR UPDATE",
			"INSERT INTO " + undoRef + " (xid, branch_id, state, log) VALUES (?, ?, 0, ?)",
		}
		st := make([]*sql.Stmt, len(texts))
		for i, s := range texts {
			var err error
			if st[i], err = c.PrepareContext(ctx, s); err != nil {
				return nil, fmt.Errorf("floor: prepare %s: %w", s, err)
			}
		}
		image, debit, credit, after, insert := st[0], st[1], st[2], st[3], st[4]
		return func(ctx context.Context, from, to int, xid string, branch int64) error {
			if _, err := c.ExecContext(ctx, "START TRANSACTION"); err != nil {
				return err
			}
			for _, w := range []struct {
				write *sql.Stmt
				id    int
			}{{debit, from}, {credit, to}} {
				if omit != omitBefore {
					if err := drain(image.QueryContext(ctx, w.id)); err != nil {
						return err
					}
				}
				if _, err := w.write.ExecContext(ctx, 1, w.id); err != nil {
					return err
				}
			}
			if omit != omitAfter {
				if err := drain(after.QueryContext(ctx, from, to)); err != nil {
					return err
				}
			}
			if omit != omitInsert {
				if _, err := insert.ExecContext(ctx, xid, branch, floorLog); err != nil {
					return err
				}
			}
			_, err := c.ExecContext(ctx, "COMMIT")
			return err
		}, nil
	}
}
