package sqlstore

import (
	"context"
	"log/slog"
	"strings"
)

// Apply is durable when it returns only as far as the database's commit
// is. At Open the store reads the settings that decide it and warns about
// each one that lets a commit be acknowledged before it is on stable
// storage; it does not refuse them: that is the operator's choice.

// pgDurability returns the PostgreSQL settings of the store's session that
// make commits not durable.
func (b *pgBackend) pgDurability(ctx context.Context) ([]string, error) {
	var syncCommit, fsync string
	if err := b.conn.QueryRow(ctx, "SELECT current_setting('synchronous_commit'), current_setting('fsync')").Scan(&syncCommit, &fsync); err != nil {
		return nil, err
	}
	var bad []string
	if syncCommit == "off" {
		bad = append(bad, "synchronous_commit=off (want on)")
	}
	if fsync != "on" {
		bad = append(bad, "fsync="+fsync+" (want on)")
	}
	return bad, nil
}

// myDurability returns the MySQL/MariaDB settings that make commits not
// durable.
func (m *mySchema) myDurability(ctx context.Context) ([]string, error) {
	var flush, logBin, syncBinlog string
	if err := m.conn.QueryRowContext(ctx, "SELECT @@innodb_flush_log_at_trx_commit, @@log_bin, @@sync_binlog").Scan(&flush, &logBin, &syncBinlog); err != nil {
		return nil, err
	}
	var bad []string
	if flush != "1" {
		bad = append(bad, "innodb_flush_log_at_trx_commit="+flush+" (want 1)")
	}
	if (logBin == "1" || strings.EqualFold(logBin, "ON")) && syncBinlog != "1" {
		bad = append(bad, "sync_binlog="+syncBinlog+" with the binary log on (want 1)")
	}
	return bad, nil
}

// warnNotDurable logs the settings found, or that they could not be read
// (a server that speaks the protocol without having them): that is not a
// reason to refuse the store.
func warnNotDurable(log *slog.Logger, d Dialect, bad []string, err error) {
	if err != nil {
		log.Warn("sqlstore: cannot read the settings that make commits durable; check them by hand",
			"dialect", d.String(), "err", err)
		return
	}
	if len(bad) > 0 {
		log.Warn("sqlstore: the database may acknowledge a commit before it is on stable storage; a crash of the database can lose acknowledged decisions",
			"dialect", d.String(), "settings", strings.Join(bad, ", "))
	}
}
