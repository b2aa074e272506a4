package postgres_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"

	"github.com/txcio/txc"
)

// TestAttachedAfterSnapshotRepeatableRead: a table attached as a partition
// after a REPEATABLE READ (or SERIALIZABLE) transaction's snapshot, before
// its write's lock, is still a plain table to the probe's catalog reads,
// so its rows would be locked under its own name while writes through
// the partitioned table lock them under the root's: two global
// transactions could then write one row at once. The second probe, on a
// phase-2 connection, now compares the lock root too, and the write is
// refused as for other DDL after the snapshot; nothing changes.
func TestAttachedAfterSnapshotRepeatableRead(t *testing.T) {
	for _, iso := range []sql.IsolationLevel{sql.LevelRepeatableRead, sql.LevelSerializable} {
		t.Run(iso.String(), func(t *testing.T) {
			e := newEnv(t)
			root := e.table("at_rra", "CREATE TABLE {t} (id int PRIMARY KEY, n int) PARTITION BY RANGE (id)")
			part := e.table("at_rrb", "CREATE TABLE {t} (id int PRIMARY KEY, n int)", "INSERT INTO {t} VALUES (1, 10)")
			other := e.table("at_rro", kv, kvSeed)
			before := e.dump(part)
			_, err := e.global(func(ctx context.Context) error {
				return e.localTx(ctx, iso, func(tx *sql.Tx) error {
					if _, err := tx.ExecContext(ctx, "SELECT count(*) FROM "+other); err != nil {
						return err
					}
					e.exec("ALTER TABLE " + root + " ATTACH PARTITION " + part + " FOR VALUES FROM (0) TO (100)")
					_, err := tx.ExecContext(ctx, "UPDATE "+part+" SET n = n + 1 WHERE id = 1")
					return err
				})
			})
			if !errors.Is(err, txc.ErrUnavailable) || !strings.Contains(err.Error(), "snapshot") {
				t.Fatalf("global transaction: %v, want the write refused for the partition attached after the snapshot", err)
			}
			if got := e.dump(part); got != before {
				t.Fatalf("%s after the refusal:\n%s\nwant:\n%s", part, got, before)
			}
			// Now a partition at both probes: the same lock root, written and
			// rolled back exactly.
			xid, err := e.global(func(ctx context.Context) error {
				if err := e.localTx(ctx, iso, func(tx *sql.Tx) error {
					_, err := tx.ExecContext(ctx, "UPDATE "+part+" SET n = n + 1 WHERE id = 1")
					return err
				}); err != nil {
					return err
				}
				return errRollback
			})
			if !errors.Is(err, errRollback) {
				t.Fatalf("write to the partition: %v", err)
			}
			e.rolledBack(xid, part, before)
		})
	}
}
