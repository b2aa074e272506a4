package sqltable

import (
	"errors"
	"slices"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
)

// IsDuplicateKey reports a unique-key violation: MySQL error 1062 (1586
// with the key's name, 1022 for a duplicate key on write) or PostgreSQL
// SQLSTATE 23505. MySQL undoes only the statement and keeps
// the transaction open; PostgreSQL aborts the transaction.
func IsDuplicateKey(err error) bool {
	return mysqlNumber(err, 1062, 1586, 1022) || pgCode(err, "23505")
}

// IsMissingTable reports a table that does not exist (MySQL 1146,
// PostgreSQL 42P01) or, on PostgreSQL, a schema that does not exist
// (3F000).
func IsMissingTable(err error) bool {
	return mysqlNumber(err, 1146) || pgCode(err, "42P01", "3F000")
}

// IsConflict reports a transaction the database aborted to resolve a lock
// conflict: a MySQL deadlock (1213), a PostgreSQL serialization failure
// (40001) or deadlock (40P01). The whole transaction may be run again.
func IsConflict(err error) bool {
	return mysqlNumber(err, 1213) || pgCode(err, "40001", "40P01")
}

// mysqlNumber reports an error of go-sql-driver/mysql with number n.
func mysqlNumber(err error, ns ...uint16) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && slices.Contains(ns, me.Number)
}

// pgCode reports an error of pgx whose SQLSTATE is one of codes.
func pgCode(err error, codes ...string) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	for _, c := range codes {
		if pe.Code == c {
			return true
		}
	}
	return false
}
