package sqltable

import (
	"context"
	"log/slog"
	"time"
)

// Cleanup is a scheduled deletion of a table's finished rows: the TCC
// fence's and the saga log's RunCleanup.
type Cleanup struct {
	// Round deletes what is due and returns how many rows (or records) it
	// deleted.
	Round func(ctx context.Context) (int64, error)
	Log   *slog.Logger
	// What begins the log messages, e.g. "tcc: fence cleanup"; Table is
	// logged with them.
	What  string
	Table string
}

// Run calls Round every interval until ctx is done, then returns ctx's
// error. A failed round is logged (Warn) and retried at the next
// interval; rows deleted are logged at Debug.
func (c Cleanup) Run(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		n, err := c.Round(ctx)
		if err != nil && ctx.Err() == nil {
			c.Log.Warn(c.What+" failed; retrying at the next interval", "table", c.Table, "err", err)
		}
		if n > 0 {
			c.Log.Debug(c.What, "table", c.Table, "deleted", n)
		}
	}
}
