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

// schemaSet is one group of tables versioned together: the store's, or
// the shared lock table of a cluster (locks.go).
type schemaSet struct {
	dir     string // the scripts are <dir>/<dialect>/<n>.sql
	known   int    // the newest version this build knows
	prefix  string // replaces DefaultTablePrefix in the scripts
	version string // the version table
}

// storeSchema is the schema of the store whose tables are t.
func storeSchema(t tables) schemaSet {
	return schemaSet{dir: "schema", known: SchemaVersion, prefix: t.prefix, version: t.schema}
}

// ensureSchema creates the tables when they are missing, upgrades an
// older schema, and refuses one newer than this build.
func ensureSchema(ctx context.Context, db schemaDB, d Dialect, set schemaSet, log *slog.Logger) error {
	unlock, err := db.lockSchema(ctx)
	if err != nil {
		return err
	}
	defer unlock()
	v, err := db.schemaVersion(ctx)
	if err != nil {
		return err
	}
	if v < 0 || v > set.known {
		return &SchemaVersionError{Table: set.version, Found: v, Known: set.known}
	}
	for n := v + 1; n <= set.known; n++ {
		stmts, err := schemaScript(set, d, n)
		if err != nil {
			return err
		}
		if err := db.upgrade(ctx, stmts, n); err != nil {
			return fmt.Errorf("%s: schema %s version %d: %w", pkg, set.version, n, err)
		}
		log.Info("sqlstore: schema created", "dialect", d.String(), "version", n, "table", set.version)
	}
	return nil
}

// schemaScript returns the statements of script n of set for dialect d
// with the table names carrying set's prefix.
func schemaScript(set schemaSet, d Dialect, n int) ([]string, error) {
	s, err := sqltable.ReadScript(schemaFS, fmt.Sprintf("%s/%s/%d.sql", set.dir, d, n), DefaultTablePrefix, set.prefix)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", pkg, err)
	}
	return sqltable.Statements(s), nil
}
