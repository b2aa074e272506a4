package dbtest

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
)

// Execer runs a statement: a *sql.DB, *sql.Conn or *sql.Tx.
type Execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// Script runs stmts on db in order, {t} in each replaced by table. A
// statement starting with '!' must fail (the '!' is not sent), the others
// must run; the first that does otherwise ends the script with an error
// naming it.
func Script(ctx context.Context, db Execer, table string, stmts []string) error {
	for _, q := range stmts {
		q = strings.ReplaceAll(q, "{t}", table)
		fails := strings.HasPrefix(q, "!")
		_, err := db.ExecContext(ctx, strings.TrimPrefix(q, "!"))
		switch {
		case fails && err == nil:
			return fmt.Errorf("%s: ran, want an error", q)
		case !fails && err != nil:
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

// ScriptTx runs stmts (see Script) in one transaction of db and commits
// it; on a failure it rolls back.
func ScriptTx(ctx context.Context, db *sql.DB, table string, stmts []string) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := Script(ctx, tx, table, stmts); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}
