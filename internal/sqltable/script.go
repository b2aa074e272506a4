package sqltable

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"strings"
)

// Execer runs a statement: *sql.DB, *sql.Conn and *sql.Tx satisfy it.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// ReadScript returns the schema script at path in fsys (an embedded
// schema file) with every old replaced by new: a table's default name by
// the name in use.
func ReadScript(fsys fs.FS, path, old, new string) (string, error) {
	b, err := fs.ReadFile(fsys, path)
	if err != nil {
		return "", fmt.Errorf("sqltable: schema script: %w", err)
	}
	return strings.ReplaceAll(string(b), old, new), nil
}

// Statements splits a schema script into its statements: lines whose
// first non-blank characters are "--" are dropped, the rest is split at
// every ';', and the pieces are trimmed, empty ones dropped. A script must
// therefore have no ';' inside a statement (in a string or a body) and no
// comment after code on a line.
func Statements(script string) []string {
	var lines []string
	for _, l := range strings.Split(script, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "--") {
			lines = append(lines, l)
		}
	}
	var stmts []string
	for _, s := range strings.Split(strings.Join(lines, "\n"), ";") {
		if s = strings.TrimSpace(s); s != "" {
			stmts = append(stmts, s)
		}
	}
	return stmts
}

// Run executes stmts on ex in order and stops at the first that fails,
// returning the database's error as it is (callers say what they were
// creating).
func Run(ctx context.Context, ex Execer, stmts []string) error {
	for _, s := range stmts {
		if _, err := ex.ExecContext(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

// Apply runs the statements of script on ex (Statements, then Run). With
// scripts written IF NOT EXISTS it is idempotent.
func Apply(ctx context.Context, ex Execer, script string) error {
	return Run(ctx, ex, Statements(script))
}
