package sqllog

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/txcio/txc/internal/sqltable"
)

// DeleteFinished deletes up to limit final instances (and their steps) not
// updated for olderThan, and returns how many it deleted. Parked instances
// are kept.
func (s *Store) DeleteFinished(ctx context.Context, olderThan time.Duration, limit int) (int, error) {
	var q string
	us := olderThan.Microseconds()
	if s.dialect == MySQL {
		q = "SELECT id FROM " + s.inst + " WHERE status IN (3, 4, 5, 7) AND updated_at < NOW(6) - INTERVAL ? MICROSECOND LIMIT ?"
	} else {
		q = "SELECT id FROM " + s.inst + " WHERE status IN (3, 4, 5, 7) AND updated_at < now() - $1 * interval '1 microsecond' LIMIT $2"
	}
	rows, err := s.db.QueryContext(ctx, q, us, limit)
	if err != nil {
		return 0, fmt.Errorf("saga: delete finished: %w", err)
	}
	var ids []any
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, fmt.Errorf("saga: delete finished: %w", err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	if len(ids) == 0 {
		return 0, rows.Err()
	}
	in := strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", ")
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("saga: delete finished: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, s.ph("DELETE FROM "+s.step+" WHERE instance_id IN ("+in+")"), ids...); err != nil {
		return 0, fmt.Errorf("saga: delete finished: %w", err)
	}
	if _, err := tx.ExecContext(ctx, s.ph("DELETE FROM "+s.inst+" WHERE id IN ("+in+")"), ids...); err != nil {
		return 0, fmt.Errorf("saga: delete finished: %w", err)
	}
	return len(ids), tx.Commit()
}

// RunCleanup deletes finished instances (succeeded, compensated, failed,
// aborted) and their steps, last changed more than retention ago, every
// interval until ctx is done, then returns ctx's error; each round deletes
// in batches of at most 1,000 instances until none is left. Start it
// explicitly (go store.RunCleanup(...)) in one or more processes;
// concurrent cleanups are harmless. A failed round is logged and retried at
// the next interval. Non-positive interval and retention mean 1h and 7 days.
//
// Retention should exceed the time anyone needs to look a finished saga up
// (Engine.Status reads the log): a deleted instance is unknown.
func (s *Store) RunCleanup(ctx context.Context, interval, retention time.Duration) error {
	if interval <= 0 {
		interval = time.Hour
	}
	if retention <= 0 {
		retention = 7 * 24 * time.Hour
	}
	return sqltable.Cleanup{Round: func(ctx context.Context) (int64, error) { return s.deleteAll(ctx, retention) },
		Log: s.log, What: "saga: log cleanup", Table: s.inst}.Run(ctx, interval)
}

// deleteAll deletes finished instances in batches of 1,000 until none is
// left, and returns how many it deleted.
func (s *Store) deleteAll(ctx context.Context, retention time.Duration) (int64, error) {
	var total int64
	for {
		n, err := s.DeleteFinished(ctx, retention, 1000)
		total += int64(n)
		if err != nil || n < 1000 {
			return total, err
		}
	}
}
