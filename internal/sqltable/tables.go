package sqltable

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"

	"github.com/txcio/txc"
)

// Tables is the schema of the tables one package keeps: a script per
// dialect, schema/mysql.sql and schema/postgres.sql in FS, written with the
// table name (or name prefix) Default, which Script replaces by the name in
// use.
type Tables struct {
	FS      fs.FS
	Default string // the name (or prefix) as the scripts spell it
	Max     int    // the longest name in use, in bytes
	// Pkg and What begin the message of a refused name:
	// "<Pkg>: <What> %q is not a plain identifier of at most <Max> bytes".
	Pkg  string
	What string
	// Names formats the name in use into what Create's errors say it
	// created, e.g. "log tables %s_*".
	Names string
	// DialectOption is the setting that gives a dialect, named when
	// Prepare cannot tell the driver's, e.g. "FenceOptions.Dialect".
	DialectOption string
}

// Prepare readies the tables on db: d (0: the dialect of db's driver,
// Detect), which must then be MySQL or Postgres, and name (empty: Default)
// are checked, and with create the script runs (Create). It returns the
// dialect and the name in use. Refusals match txc.ErrInvalidArgument.
func (t Tables) Prepare(ctx context.Context, db *sql.DB, d Dialect, name string, create bool) (Dialect, string, error) {
	if d == 0 {
		var driver string
		if d, driver = Detect(db); d == 0 {
			return 0, "", txc.Errorf(txc.CodeInvalidArgument, "%s: cannot tell the SQL dialect of driver %s; set %s", t.Pkg, driver, t.DialectOption)
		}
	}
	if d != MySQL && d != Postgres {
		return 0, "", txc.Errorf(txc.CodeInvalidArgument, "%s: unknown dialect %v", t.Pkg, d)
	}
	if name == "" {
		name = t.Default
	}
	if _, err := t.Script(d, name); err != nil {
		return 0, "", err
	}
	if create {
		if err := t.Create(ctx, db, d, name); err != nil {
			return 0, "", err
		}
	}
	return d, name, nil
}

// Script returns d's script with name (empty: Default) in place of
// Default. A name that is not Plain within Max bytes is an error matching
// txc.ErrInvalidArgument; d must be MySQL or Postgres (callers check it, to
// name their own dialect type in the message).
func (t Tables) Script(d Dialect, name string) (string, error) {
	if name == "" {
		name = t.Default
	}
	if !Plain(name, t.Max) {
		return "", txc.Errorf(txc.CodeInvalidArgument, "%s: %s %q is not a plain identifier of at most %d bytes", t.Pkg, t.What, name, t.Max)
	}
	s, err := ReadScript(t.FS, "schema/"+d.String()+".sql", t.Default, name)
	if err != nil {
		return "", fmt.Errorf("%s: %w", t.Pkg, err)
	}
	return s, nil
}

// Create runs d's script for name on ex, one statement at a time (Apply).
// Idempotent when the script says IF NOT EXISTS.
func (t Tables) Create(ctx context.Context, ex Execer, d Dialect, name string) error {
	s, err := t.Script(d, name)
	if err != nil {
		return err
	}
	if name == "" {
		name = t.Default
	}
	if err := Apply(ctx, ex, s); err != nil {
		return fmt.Errorf("%s: create %s: %w", t.Pkg, fmt.Sprintf(t.Names, name), err)
	}
	return nil
}
