package tcc

import (
	"context"
	"fmt"
	"time"

	"github.com/txcio/txc/internal/sqltable"
)

// cleanupBatch bounds the rows one DELETE removes, so cleanup never holds
// many row locks at once.
const cleanupBatch = 1000

// Cleanup deletes finished fence rows (committed, rollbacked, suspended)
// last changed more than retention ago by the database's clock, in batches,
// and returns how many it deleted. Rows still "tried" are kept: their
// branch awaits phase 2.
//
// Deleting a suspended row re-opens the window it closed: a Try delayed by
// more than retention would run after its Cancel. Deleting a committed or
// rollbacked row makes a redelivery older than retention look like a
// protocol error. So retention must exceed both the longest a Try can be
// delayed and the longest the coordinator may keep redelivering a command
// (hours, not minutes; RunCleanup defaults to 24h).
func (f *Fence) Cleanup(ctx context.Context, retention time.Duration) (int64, error) {
	if retention < 0 {
		return 0, invalid("negative fence retention %v", retention)
	}
	var total int64
	for {
		res, err := f.db.ExecContext(ctx, f.sql.cleanup, retention.Microseconds(), cleanupBatch)
		if err != nil {
			return total, fmt.Errorf("tcc: fence cleanup of %s: %w", f.table, err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, fmt.Errorf("tcc: fence cleanup of %s: %w", f.table, err)
		}
		total += n
		if n < cleanupBatch {
			return total, nil
		}
	}
}

// RunCleanup calls Cleanup(ctx, retention) every interval until ctx is done,
// then returns ctx's error. Start it explicitly (go fence.RunCleanup(...))
// in one or more processes; concurrent cleanups are harmless. A failed
// round is logged and retried at the next interval. Non-positive interval
// and retention mean 1h and 24h.
func (f *Fence) RunCleanup(ctx context.Context, interval, retention time.Duration) error {
	if interval <= 0 {
		interval = time.Hour
	}
	if retention <= 0 {
		retention = 24 * time.Hour
	}
	return sqltable.Cleanup{Round: func(ctx context.Context) (int64, error) { return f.Cleanup(ctx, retention) },
		Log: f.log, What: "tcc: fence cleanup", Table: f.table}.Run(ctx, interval)
}
