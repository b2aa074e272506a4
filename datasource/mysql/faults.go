package mysql

import (
	"errors"

	gomysql "github.com/go-sql-driver/mysql"

	"github.com/txcio/txc/datasource"
	"github.com/txcio/txc/internal/sqltable"
)

var (
	_ datasource.KeyExchange = Dialect{}
	_ datasource.SQLStater   = Dialect{}
)

// DeferKeys: MySQL checks unique keys row by row and cannot defer them.
func (Dialect) DeferKeys() string { return "" }

// DuplicateKey reports a duplicate entry for a unique key. The rollback
// then deletes and re-inserts the record's rows, which its session
// (foreign_key_checks off) makes cascade nothing.
func (Dialect) DuplicateKey(err error) bool { return sqltable.IsDuplicateKey(err) }

// SQLState is the SQLSTATE of a server error, or "". Per-user resource
// limits (1203 and 1226: max_user_connections, max_queries_per_hour, …)
// report class 42 although they pass: they get "", transient.
func (Dialect) SQLState(err error) string {
	var me *gomysql.MySQLError
	if !errors.As(err, &me) || me.SQLState == [5]byte{} {
		return ""
	}
	switch me.Number {
	case 1203, 1226:
		return ""
	}
	return string(me.SQLState[:])
}
