package sqltable

import (
	"context"
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
