package saga

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"reflect"
	"regexp"
	"strings"
)

//go:embed schema/mysql.sql schema/postgres.sql
var schemaFS embed.FS

// Dialect is the SQL dialect of the log's database.
type Dialect uint8

// Dialects. DialectAuto picks one from the *sql.DB's driver.
const (
	DialectAuto Dialect = iota
	MySQL               // MySQL and MariaDB (InnoDB)
	Postgres            // PostgreSQL
)

func (d Dialect) String() string {
	switch d {
	case DialectAuto:
		return "auto"
	case MySQL:
		return "mysql"
	case Postgres:
		return "postgres"
	}
	return fmt.Sprintf("Dialect(%d)", uint8(d))
}

// DefaultTablePrefix names the log's tables: <prefix>_instance and
// <prefix>_step.
const DefaultTablePrefix = "txc_saga"

var tablePrefix = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,40}$`)

// Schema returns the SQL that creates the log's tables for dialect d with
// the given prefix (empty: DefaultTablePrefix): the shipped
// schema/mysql.sql or schema/postgres.sql with the names substituted.
func Schema(d Dialect, prefix string) (string, error) {
	if prefix == "" {
		prefix = DefaultTablePrefix
	}
	if !tablePrefix.MatchString(prefix) {
		return "", invalid("table prefix %q is not a plain identifier of at most 41 bytes", prefix)
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
		return "", fmt.Errorf("saga: %w", err)
	}
	return strings.ReplaceAll(string(b), DefaultTablePrefix+"_", prefix+"_"), nil
}

// createTables runs the schema one statement at a time. Idempotent.
func createTables(ctx context.Context, db *sql.DB, d Dialect, prefix string) error {
	s, err := Schema(d, prefix)
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
			return fmt.Errorf("saga: create log tables %s_*: %w", prefix, err)
		}
	}
	return nil
}

// detectDialect recognises go-sql-driver/mysql, pgx's stdlib and lib/pq.
func detectDialect(db *sql.DB) (Dialect, error) {
	t := reflect.TypeOf(db.Driver())
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch pkg := t.PkgPath(); {
	case pkg == "github.com/go-sql-driver/mysql":
		return MySQL, nil
	case strings.HasPrefix(pkg, "github.com/jackc/pgx/"), pkg == "github.com/lib/pq":
		return Postgres, nil
	default:
		return DialectAuto, invalid("cannot tell the SQL dialect of driver %s.%s; set SQLOptions.Dialect", pkg, t.Name())
	}
}
