package sqltable

import "strconv"

// Dialect is the SQL a database speaks. The values are those of the
// Dialect types of the packages that use this one, which convert to it.
type Dialect uint8

// Dialects. The zero value is none: an unknown driver.
const (
	MySQL    Dialect = 1 // MySQL and MariaDB (InnoDB), ? placeholders
	Postgres Dialect = 2 // PostgreSQL, $n placeholders
)

// String returns "mysql", "postgres", or "Dialect(n)" for another value.
func (d Dialect) String() string {
	switch d {
	case MySQL:
		return "mysql"
	case Postgres:
		return "postgres"
	}
	return "Dialect(" + strconv.Itoa(int(d)) + ")"
}

// Quote returns ident quoted for d: `ident` for MySQL, "ident" otherwise.
// ident must be Plain: nothing in it is escaped.
func (d Dialect) Quote(ident string) string {
	if d == MySQL {
		return "`" + ident + "`"
	}
	return `"` + ident + `"`
}

// Qualify returns name in schema (a PostgreSQL schema, a MySQL database),
// both quoted; an empty schema returns name as it is, unquoted. Both must
// be Plain.
func (d Dialect) Qualify(schema, name string) string {
	if schema == "" {
		return name
	}
	return d.Quote(schema) + "." + d.Quote(name)
}
