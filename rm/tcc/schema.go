package tcc

import (
	"embed"

	"github.com/txcio/txc/internal/sqltable"
)

//go:embed schema/mysql.sql schema/postgres.sql
var schemaFS embed.FS

// DefaultTable is the fence table's default name.
const DefaultTable = "txc_tcc_fence"

// tables is the fence's schema; its names are plain identifiers of at most
// 48 bytes.
var tables = sqltable.Tables{FS: schemaFS, Default: DefaultTable, Max: 48, Pkg: "tcc", What: "fence table name", Names: "fence table %s",
	DialectOption: "FenceOptions.Dialect"}

// Schema returns the SQL that creates the fence table named table (empty
// means DefaultTable) for dialect d: the shipped schema/mysql.sql or
// schema/postgres.sql with the name substituted. Table names are plain
// identifiers of at most 48 bytes (letters, digits, underscores).
func Schema(d Dialect, table string) (string, error) {
	if d != MySQL && d != Postgres {
		return "", invalid("unknown dialect %v", d)
	}
	return tables.Script(sqltable.Dialect(d), table)
}
