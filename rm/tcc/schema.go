package tcc

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"regexp"
	"strings"
)

//go:embed schema/mysql.sql schema/postgres.sql
var schemaFS embed.FS

// DefaultTable is the fence table's default name.
const DefaultTable = "txc_tcc_fence"

var tableName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,47}$`)

// Schema returns the SQL that creates the fence table named table (empty
// means DefaultTable) for dialect d: the shipped schema/mysql.sql or
// schema/postgres.sql with the name substituted. Table names are plain
// identifiers of at most 48 bytes (letters, digits, underscores).
func Schema(d Dialect, table string) (string, error) {
	if table == "" {
		table = DefaultTable
	}
	if !tableName.MatchString(table) {
		return "", invalid("fence table name %q is not a plain identifier of at most 48 bytes", table)
	}
	var file string
	switch d {
	case MySQL:
		file = "schema/mysql.sql"
	case Postgres:
		file = "schema/postgres.sql"
	default:
		return "", invalid("unknown dialect %v", d)
	}
	b, err := schemaFS.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("tcc: %w", err)
	}
	return strings.ReplaceAll(string(b), DefaultTable, table), nil
}

// createTable runs the schema, one statement at a time (drivers differ on
// multi-statement support). Idempotent: the statements say IF NOT EXISTS.
func createTable(ctx context.Context, db *sql.DB, d Dialect, table string) error {
	s, err := Schema(d, table)
	if err != nil {
		return err
	}
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "--") {
			lines = append(lines, l)
		}
	}
	for _, stmt := range strings.Split(strings.Join(lines, "\n"), ";") {
		if stmt = strings.TrimSpace(stmt); stmt == "" {
			continue
		}
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("tcc: create fence table %s: %w", table, err)
		}
	}
	return nil
}
