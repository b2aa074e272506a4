package main

import (
	"context"
	"fmt"
	"log/slog"
	"slices"

	"github.com/txcio/txc/tc/store/sqlstore"
)

// moveOldLayout moves the state that a single node, or the former
// single-leader cluster, left in the tables under the store's base prefix
// (which a cluster never reads) into the partitions of its XIDs' nodes,
// before the node joins (sqlstore.MoveToPartitions; a no-op once done).
// It returns every partition a move filled other than this node's own:
// the node records them in etcd (cluster.Config.Adoptable) so that the
// live nodes adopt them and drive their transactions to the end while no
// node of that name runs. While a single node still runs on the base
// tables it fails with sqlstore.ErrInUse; state it cannot place, with a
// *sqlstore.OldLayoutError.
func moveOldLayout(ctx context.Context, cfg *config, log *slog.Logger) ([]string, error) {
	d, err := sqlstore.ParseDialect(cfg.Store)
	if err != nil {
		return nil, err
	}
	moved, err := sqlstore.MoveToPartitions(ctx, sqlstore.Options{Dialect: d, DSN: cfg.StoreDSN, TablePrefix: cfg.StorePrefix, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("cluster: moving the single-store layout (tables %s*) to the partitions: %w", cfg.StorePrefix, err)
	}
	return slices.DeleteFunc(moved.Partitions, func(p string) bool { return p == cfg.Node }), nil
}
