package sqlstore

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"log/slog"

	"github.com/txcio/txc/internal/sqltable"
)

//go:embed schema
var schemaFS embed.FS

// SchemaVersion is the newest schema version this build knows. The
// scripts that build it are schema/<dialect>/<n>.sql, n = 1..SchemaVersion;
// script n turns a version n-1 store (0: no tables) into version n.
const SchemaVersion = 1

// ErrSchemaVersion matches a *SchemaVersionError with errors.Is.
var ErrSchemaVersion = errors.New(pkg + ": unknown schema version")

// SchemaVersionError is returned by Open for a store whose recorded schema
// version this build does not know: one written by a newer txc. Open then
// changes nothing.
type SchemaVersionError struct {
	Table string // the version table
	Found int    // the version the store records
	Known int    // the newest version this build knows
}

func (e *SchemaVersionError) Error() string {
	return fmt.Sprintf("%s: the store's schema version is %d (table %s), this build knows versions 1 to %d; refusing to use it",
		pkg, e.Found, e.Table, e.Known)
}

// Is makes errors.Is(err, ErrSchemaVersion) hold.
func (e *SchemaVersionError) Is(target error) bool { return target == ErrSchemaVersion }

// schemaDB is what ensureSchema needs from a dialect.
type schemaDB interface {
	// lockSchema serialises schema changes among the stores opening the
	// same tables; unlock releases it.
	lockSchema(ctx context.Context) (unlock func(), err error)
	// schemaVersion returns the recorded version, 0 when the version table
	// or its row is missing.
	schemaVersion(ctx context.Context) (int, error)
	// upgrade runs the statements of one script and records version to,
	// atomically where the database can change its schema in a
	// transaction.
	upgrade(ctx context.Context, stmts []string, to int) error
}

// ensureSchema creates the tables when they are missing, upgrades an
// older schema, and refuses one newer than this build.
func ensureSchema(ctx context.Context, db schemaDB, d Dialect, t tables, log *slog.Logger) error {
	unlock, err := db.lockSchema(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	v, err := db.schemaVersion(ctx)
	if err != nil {
		return err
	}
	if v < 0 || v > SchemaVersion {
		return &SchemaVersionError{Table: t.schema, Found: v, Known: SchemaVersion}
	}
	for n := v + 1; n <= SchemaVersion; n++ {
		stmts, err := schemaScript(d, n, t.prefix)
		if err != nil {
			return err
		}
		if err := db.upgrade(ctx, stmts, n); err != nil {
			return fmt.Errorf("%s: schema version %d: %w", pkg, n, err)
		}
		log.Info("sqlstore: schema created", "dialect", d.String(), "version", n, "prefix", t.prefix)
	}
	return nil
}

// schemaScript returns the statements of script n for dialect d with the
// table names carrying prefix.
func schemaScript(d Dialect, n int, prefix string) ([]string, error) {
	s, err := sqltable.ReadScript(schemaFS, fmt.Sprintf("schema/%s/%d.sql", d, n), DefaultTablePrefix, prefix)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", pkg, err)
	}
	return sqltable.Statements(s), nil
}
