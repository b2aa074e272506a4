package main

import (
	"context"
	"log/slog"

	"github.com/txcio/txc/tc/store"
	"github.com/txcio/txc/tc/store/logstore"
	"github.com/txcio/txc/tc/store/sqlstore"
)

// openStore opens the store the settings name: the embedded log in the
// data dir (created when missing), or a SQL store (its tables created when
// missing). The DSN is logged with its password replaced.
func openStore(ctx context.Context, cfg *config, log *slog.Logger) (store.Store, error) {
	if cfg.Store == "embedded" {
		log.Info("store", "kind", "embedded", "data_dir", cfg.DataDir)
		return logstore.Open(cfg.DataDir, logstore.Options{Logger: log})
	}
	d, err := sqlstore.ParseDialect(cfg.Store)
	if err != nil {
		return nil, err
	}
	log.Info("store", "kind", cfg.Store, "dsn", sqlstore.Redact(d, cfg.StoreDSN), "table_prefix", cfg.StorePrefix)
	return sqlstore.Open(ctx, sqlstore.Options{Dialect: d, DSN: cfg.StoreDSN, TablePrefix: cfg.StorePrefix, Logger: log})
}
