package tcc

import (
	"context"
	"database/sql"
	"embed"
	"fmt"

	"github.com/txcio/txc/internal/sqltable"
)

//go:embed schema/mysql.sql schema/postgres.sql
var schemaFS embed.FS

// DefaultTable is the fence table's default name.
const DefaultTable = "txc_tcc_fence"

// maxTableName is the longest fence table name, in bytes.
const maxTableName = 48

// Schema returns the SQL that creates the fence table named table (empty
// means DefaultTable) for dialect d: the shipped schema/mysql.sql or
// schema/postgres.sql with the name substituted. Table names are plain
// identifiers of at most 48 bytes (letters, digits, underscores).
func Schema(d Dialect, table string) (string, error) {
	if table == "" {
		table = DefaultTable
	}
	if !sqltable.Plain(table, maxTableName) {
		return "", invalid("fence table name %q is not a plain identifier of at most 48 bytes", table)
	}
	if d != MySQL && d != Postgres {
		return "", invalid("unknown dialect %v", d)
	}
	s, err := sqltable.ReadScript(schemaFS, "schema/"+d.String()+".sql", DefaultTable, table)
	if err != nil {
		return "", fmt.Errorf("tcc: %w", err)
	}
	return s, nil
}

// createTable runs the schema, one statement at a time (drivers differ on
// multi-statement support). Idempotent: the statements say IF NOT EXISTS.
func createTable(ctx context.Context, db *sql.DB, d Dialect, table string) error {
	s, err := Schema(d, table)
	if err != nil {
		return err
	}
	if err := sqltable.Apply(ctx, db, s); err != nil {
		return fmt.Errorf("tcc: create fence table %s: %w", table, err)
	}
	return nil
}
