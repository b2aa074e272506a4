package tcc

import (
	"database/sql"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
)

// Dialect is the SQL dialect of the fence's database.
type Dialect uint8

// Dialects. DialectAuto picks one from the *sql.DB's driver.
const (
	DialectAuto Dialect = iota
	MySQL               // MySQL and MariaDB (InnoDB), ? placeholders
	Postgres            // PostgreSQL, $n placeholders
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

// detectDialect recognises the drivers by package: go-sql-driver/mysql,
// pgx's stdlib, lib/pq. A wrapped driver needs an explicit dialect.
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
		return DialectAuto, invalid("cannot tell the SQL dialect of driver %s.%s; set FenceOptions.Dialect", pkg, t.Name())
	}
}

// fenceSQL holds one dialect's statements for one table.
type fenceSQL struct {
	insert  string // xid, branch, participant, status → inserts or does nothing on a duplicate key
	update  string // new status, xid, branch, old status
	get     string // xid, branch → status, locking the row
	cleanup string // retention in µs, limit
}

func newFenceSQL(d Dialect, t string) fenceSQL {
	if d == MySQL {
		return fenceSQL{
			insert:  "INSERT INTO " + t + " (xid, branch_id, participant, status, created_at, updated_at) VALUES (?, ?, ?, ?, NOW(6), NOW(6))",
			update:  "UPDATE " + t + " SET status = ?, updated_at = NOW(6) WHERE xid = ? AND branch_id = ? AND status = ?",
			get:     "SELECT status FROM " + t + " WHERE xid = ? AND branch_id = ? FOR UPDATE",
			cleanup: "DELETE FROM " + t + " WHERE status <> 1 AND updated_at < NOW(6) - INTERVAL ? MICROSECOND LIMIT ?",
		}
	}
	return fenceSQL{
		insert:  "INSERT INTO " + t + " (xid, branch_id, participant, status, created_at, updated_at) VALUES ($1, $2, $3, $4, now(), now()) ON CONFLICT (xid, branch_id) DO NOTHING",
		update:  "UPDATE " + t + " SET status = $1, updated_at = now() WHERE xid = $2 AND branch_id = $3 AND status = $4",
		get:     "SELECT status FROM " + t + " WHERE xid = $1 AND branch_id = $2 FOR UPDATE",
		cleanup: "DELETE FROM " + t + " WHERE (xid, branch_id) IN (SELECT xid, branch_id FROM " + t + " WHERE status <> 1 AND updated_at < now() - $1 * interval '1 microsecond' LIMIT $2)",
	}
}

// isDuplicateKey reports a unique-key violation: MySQL error 1062 or
// PostgreSQL SQLSTATE 23505. (PostgreSQL inserts say ON CONFLICT DO NOTHING
// and should never produce one; it is recognised anyway.) In MySQL a
// duplicate-key error undoes only the statement; the transaction goes on.
func isDuplicateKey(err error) bool {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number == 1062
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}

// isConflict reports that the database aborted the transaction to resolve
// a lock conflict: MySQL deadlock 1213; PostgreSQL serialization failure
// 40001 or deadlock 40P01. The whole transaction may be run again.
func isConflict(err error) bool {
	var me *mysql.MySQLError
	if errors.As(err, &me) {
		return me.Number == 1213
	}
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}
