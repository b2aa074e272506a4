package tcc

import "github.com/txcio/txc/internal/sqltable"

// Dialect is the SQL dialect of the fence's database.
type Dialect uint8

// Dialects. DialectAuto picks one from the *sql.DB's driver.
const (
	DialectAuto Dialect = 0
	MySQL               = Dialect(sqltable.MySQL)    // MySQL and MariaDB (InnoDB), ? placeholders
	Postgres            = Dialect(sqltable.Postgres) // PostgreSQL, $n placeholders
)

func (d Dialect) String() string {
	if d == DialectAuto {
		return "auto"
	}
	return sqltable.Dialect(d).String()
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
