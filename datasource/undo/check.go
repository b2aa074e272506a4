package undo

import (
	"context"
	"fmt"

	"github.com/txcio/txc"
	"github.com/txcio/txc/internal/sqltable"
)

// MissingTableError reports that the undo-log table does not exist. AT
// mode cannot run without it: every branch's commit would fail. DDL is the
// statement that creates it (or open with datasource.WithCreateUndoTable).
// It matches txc.ErrInvalidArgument.
type MissingTableError struct {
	Table string
	DDL   string
}

func (e *MissingTableError) Error() string {
	return fmt.Sprintf("undo: the undo-log table %s does not exist; create it (or open with datasource.WithCreateUndoTable()):\n%s", e.Table, e.DDL)
}

// Unwrap returns txc.ErrInvalidArgument.
func (e *MissingTableError) Unwrap() error { return txc.ErrInvalidArgument }

// Check reads no rows from the table through ex: a *MissingTableError
// when it does not exist, the database's error when the read fails
// otherwise.
func (t *Table) Check(ctx context.Context, ex Execer) error {
	_, err := ex.ExecContext(ctx, "SELECT 1 FROM "+t.ref+" WHERE 1 = 0")
	switch {
	case err == nil:
		return nil
	case sqltable.IsMissingTable(err):
		return &MissingTableError{Table: t.ref, DDL: t.Schema()}
	}
	return fmt.Errorf("undo: checking the undo-log table %s: %w", t.ref, err)
}
