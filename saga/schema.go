package saga

import (
	"context"
	"database/sql"
	"embed"
	"fmt"

	"github.com/txcio/txc/internal/sqltable"
)

//go:embed schema/mysql.sql schema/postgres.sql
var schemaFS embed.FS

// Dialect is the SQL dialect of the log's database.
type Dialect uint8

// Dialects. DialectAuto picks one from the *sql.DB's driver.
const (
	DialectAuto Dialect = 0
	MySQL               = Dialect(sqltable.MySQL)    // MySQL and MariaDB (InnoDB)
	Postgres            = Dialect(sqltable.Postgres) // PostgreSQL
)

func (d Dialect) String() string {
	if d == DialectAuto {
		return "auto"
	}
	return sqltable.Dialect(d).String()
}

// DefaultTablePrefix names the log's tables: <prefix>_instance and
// <prefix>_step.
const DefaultTablePrefix = "txc_saga"

// maxTablePrefix is the longest table prefix, in bytes.
const maxTablePrefix = 41

// Schema returns the SQL that creates the log's tables for dialect d with
// the given prefix (empty: DefaultTablePrefix): the shipped
// schema/mysql.sql or schema/postgres.sql with the names substituted.
func Schema(d Dialect, prefix string) (string, error) {
	if prefix == "" {
		prefix = DefaultTablePrefix
	}
	if !sqltable.Plain(prefix, maxTablePrefix) {
		return "", invalid("table prefix %q is not a plain identifier of at most 41 bytes", prefix)
	}
	if d != MySQL && d != Postgres {
		return "", invalid("unknown dialect %v", d)
	}
	s, err := sqltable.ReadScript(schemaFS, "schema/"+d.String()+".sql", DefaultTablePrefix+"_", prefix+"_")
	if err != nil {
		return "", fmt.Errorf("saga: %w", err)
	}
	return s, nil
}

// createTables runs the schema one statement at a time. Idempotent.
func createTables(ctx context.Context, db *sql.DB, d Dialect, prefix string) error {
	s, err := Schema(d, prefix)
	if err != nil {
		return err
	}
	if err := sqltable.Apply(ctx, db, s); err != nil {
		return fmt.Errorf("saga: create log tables %s_*: %w", prefix, err)
	}
	return nil
}

// detectDialect recognises the drivers by package (sqltable.Detect).
func detectDialect(db *sql.DB) (Dialect, error) {
	d, driver := sqltable.Detect(db)
	if d == 0 {
		return DialectAuto, invalid("cannot tell the SQL dialect of driver %s; set SQLOptions.Dialect", driver)
	}
	return Dialect(d), nil
}
