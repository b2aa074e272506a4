package postgres

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/txcio/txc"
)

var _ = txc.CodeInternal

// pgxConn is what pgx's database/sql driver connection (stdlib.Conn)
// gives access to: the pgx connection under it.
type pgxConn interface{ Conn() *pgx.Conn }

// ExecCommit sends the undo log's insert and COMMIT as one pipelined batch
// (one round trip instead of two). After an error the server skips the
// rest of the batch, so an insert the server refused leaves the COMMIT
// unrun and the transaction open (aborted) for the caller's rollback. An
// error that did not come from the server after the batch was sent (a
// timeout, a lost connection) may follow a COMMIT that ran: it is
// returned as the commit's outcome, unknown, never as a failed insert. A COMMIT of a
// transaction the server had already aborted answers ROLLBACK: that is a
// failed commit. A connection that is not pgx's is not handled.
func (Dialect) ExecCommit(ctx context.Context, conn driver.Conn, query string, args []any) (bool, error, error) {
	pc, ok := conn.(pgxConn)
	if !ok {
		return false, nil, nil
	}
	c := pc.Conn()
	b := &pgx.Batch{}
	b.Queue(query, args...)
	b.Queue("COMMIT")
	br := c.SendBatch(ctx, b)
	_, qerr := br.Exec()
	if qerr != nil {
		br.Close()
		var pe *pgconn.PgError
		if errors.As(qerr, &pe) || pgconn.SafeToRetry(qerr) {
			return true, qerr, nil // the server refused the insert, or nothing was sent: no COMMIT ran
		}
		// A timeout or a lost connection after the batch left: the
		// COMMIT may have run. Its outcome is unknown, not a failure.
		return true, nil, fmt.Errorf("datasource/postgres: the outcome of the local commit is unknown: %w", qerr)
	}
	tag, cerr := br.Exec()
	if err := br.Close(); cerr == nil {
		cerr = err
	}
	if cerr == nil && tag.String() != "COMMIT" {
		cerr = txc.Errorf(txc.CodeRolledBack, "datasource/postgres: COMMIT answered %q: the local transaction was rolled back", tag.String())
	}
	return true, nil, cerr
}
