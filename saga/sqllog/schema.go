package sqllog

import (
	"embed"

	"github.com/txcio/txc"
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

// tables is the log's schema; its prefixes are plain identifiers of at
// most 41 bytes.
var tables = sqltable.Tables{FS: schemaFS, Default: DefaultTablePrefix, Max: 41,
	Pkg: "saga", What: "table prefix", Names: "log tables %s_*", DialectOption: "Options.Dialect"}

// Schema returns the SQL that creates the log's tables for dialect d with
// the given prefix (empty: DefaultTablePrefix): the shipped
// schema/mysql.sql or schema/postgres.sql with the names substituted.
func Schema(d Dialect, prefix string) (string, error) {
	if d != MySQL && d != Postgres {
		return "", invalid("unknown dialect %v", d)
	}
	return tables.Script(sqltable.Dialect(d), prefix)
}

// invalid makes an *txc.Error of CodeInvalidArgument whose message starts
// with "saga: ".
func invalid(format string, args ...any) error {
	return txc.Errorf(txc.CodeInvalidArgument, "saga: "+format, args...)
}
