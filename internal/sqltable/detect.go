package sqltable

import (
	"database/sql"
	"reflect"
	"strings"
)

// Detect returns the dialect of db's driver, recognised by its package:
// go-sql-driver/mysql is MySQL; pgx's stdlib and lib/pq are Postgres. For
// any other driver (a wrapping one included) it returns 0; driver is the
// driver's type as package.Name, for the caller's message asking for an
// explicit dialect.
func Detect(db *sql.DB) (d Dialect, driver string) {
	t := reflect.TypeOf(db.Driver())
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch pkg := t.PkgPath(); {
	case pkg == "github.com/go-sql-driver/mysql":
		return MySQL, pkg + "." + t.Name()
	case strings.HasPrefix(pkg, "github.com/jackc/pgx/"), pkg == "github.com/lib/pq":
		return Postgres, pkg + "." + t.Name()
	default:
		return 0, pkg + "." + t.Name()
	}
}
