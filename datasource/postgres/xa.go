package postgres

import (
	"context"
	"database/sql/driver"
	"errors"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource"
)

var _ datasource.XADialect = Dialect{}

// gid is the PostgreSQL transaction identifier of a branch, as an SQL
// literal (its characters need no escaping: see datasource.XAID.String).
func gid(id datasource.XAID) string { return "'" + id.String() + "'" }

// XACheck fails with a *datasource.XAUnavailableError when the server's
// max_prepared_transactions is 0: PREPARE TRANSACTION would be refused
// for every branch.
func (Dialect) XACheck(ctx context.Context, c driver.Conn) error {
	rows, err := datasource.QueryRaw(ctx, c, "SHOW max_prepared_transactions")
	if err != nil {
		return err
	}
	if len(rows) != 1 || len(rows[0]) != 1 {
		return txc.Errorf(txc.CodeInternal, "datasource/postgres: SHOW max_prepared_transactions returned %d rows", len(rows))
	}
	v := rows[0][0]
	if b, ok := v.([]byte); ok {
		v = string(b)
	}
	if n, err := strconv.Atoi(v.(string)); err != nil || n > 0 {
		return nil
	}
	return &datasource.XAUnavailableError{Reason: "the server's max_prepared_transactions is 0, so it refuses PREPARE TRANSACTION; set it (postgresql.conf, then restart) to at least the number of branches prepared at once (up to max_connections)"}
}

// XAStart runs BEGIN with opts' isolation level and access mode.
func (Dialect) XAStart(ctx context.Context, c driver.Conn, _ datasource.XAID, opts driver.TxOptions) error {
	q, err := beginStatement(opts)
	if err != nil {
		return err
	}
	return datasource.ExecRaw(ctx, c, q)
}

var _ datasource.XAStartExecer = Dialect{}

// XAStartExec sends BEGIN (as XAStart) and the branch's first statement
// in one round trip instead of two, run as pgx's database/sql driver runs
// it: with arguments, as one pipelined batch (same encoding, same
// statement cache); without, as one simple query. When the server
// refuses BEGIN it skips the statement. Not handled: a connection that
// is not pgx's, and arguments that are pgx options (a QueryExecMode or
// QueryRewriter first).
func (Dialect) XAStartExec(ctx context.Context, c driver.Conn, opts driver.TxOptions, query string, args []driver.NamedValue) (driver.Result, bool, error) {
	pc, ok := c.(pgxConn)
	if !ok {
		return nil, false, nil
	}
	vals := make([]any, len(args))
	for i, a := range args {
		vals[i] = a.Value
	}
	if len(vals) > 0 {
		switch vals[0].(type) {
		case pgx.QueryExecMode, pgx.QueryRewriter:
			return nil, false, nil
		}
	}
	begin, err := beginStatement(opts)
	if err != nil {
		return nil, true, err
	}
	var tag pgconn.CommandTag
	if len(vals) == 0 {
		tag, err = execSimple(ctx, pc.Conn().PgConn(), begin+";\n"+query)
	} else {
		tag, err = execAfter(ctx, pc.Conn(), begin, query, vals)
	}
	if err != nil {
		if pgconn.SafeToRetry(err) {
			return nil, true, driver.ErrBadConn // nothing was sent, as pgx's driver says
		}
		return nil, true, err
	}
	return driver.RowsAffected(tag.RowsAffected()), true, nil
}

// execAfter runs first (no arguments) and query with vals in one batch,
// and returns query's command tag.
func execAfter(ctx context.Context, c *pgx.Conn, first, query string, vals []any) (pgconn.CommandTag, error) {
	b := &pgx.Batch{}
	b.Queue(first)
	b.Queue(query, vals...)
	br := c.SendBatch(ctx, b)
	_, err := br.Exec()
	var tag pgconn.CommandTag
	if err == nil {
		tag, err = br.Exec()
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag, err
}

// execSimple runs sql, one or more statements, as a simple query and
// returns the last statement's command tag (as pgx's Exec does).
func execSimple(ctx context.Context, c *pgconn.PgConn, sql string) (pgconn.CommandTag, error) {
	mrr := c.Exec(ctx, sql)
	var tag pgconn.CommandTag
	for mrr.NextResult() {
		tag, _ = mrr.ResultReader().Close()
	}
	return tag, mrr.Close()
}

// XAPrepare runs PREPARE TRANSACTION. On a transaction that had failed
// the server answers ROLLBACK instead, without an error: that is a failed
// prepare (txc.CodeRolledBack).
func (Dialect) XAPrepare(ctx context.Context, c driver.Conn, id datasource.XAID) error {
	pc, ok := c.(pgxConn)
	if !ok {
		return txc.Errorf(txc.CodeUnsupported, "datasource/postgres: XA mode needs pgx's connections, not %T", c)
	}
	tag, err := pc.Conn().Exec(ctx, "PREPARE TRANSACTION "+gid(id))
	if err != nil {
		return err
	}
	if tag.String() != "PREPARE TRANSACTION" {
		return txc.Errorf(txc.CodeRolledBack, "datasource/postgres: PREPARE TRANSACTION answered %q: the local transaction had failed and was rolled back", tag.String())
	}
	return nil
}

// XAAbort runs ROLLBACK (a session outside a transaction only warns).
func (Dialect) XAAbort(ctx context.Context, c driver.Conn, _ datasource.XAID) error {
	return datasource.ExecRaw(ctx, c, "ROLLBACK")
}

// XAFinish runs COMMIT PREPARED or ROLLBACK PREPARED; an unknown
// identifier (42704) matches datasource.ErrXANotPrepared.
func (Dialect) XAFinish(ctx context.Context, c driver.Conn, id datasource.XAID, commit bool) error {
	q := "ROLLBACK PREPARED "
	if commit {
		q = "COMMIT PREPARED "
	}
	err := datasource.ExecRaw(ctx, c, q+gid(id))
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42704" {
		return errors.Join(datasource.ErrXANotPrepared, err)
	}
	return err
}

// XARecover reads the txc branches of pg_prepared_xacts in the
// connection's database.
func (Dialect) XARecover(ctx context.Context, c driver.Conn) ([]datasource.XAID, error) {
	rows, err := datasource.QueryRaw(ctx, c, "SELECT gid FROM pg_prepared_xacts WHERE database = current_database() AND gid LIKE 'txc:%'")
	if err != nil {
		return nil, err
	}
	var out []datasource.XAID
	for _, r := range rows {
		s, _ := r[0].(string)
		if b, ok := r[0].([]byte); ok {
			s = string(b)
		}
		if id, ok := datasource.ParseXAID(s); ok {
			out = append(out, id)
		}
	}
	return out, nil
}

// XASessionBound: PREPARE TRANSACTION frees the session at once; any
// session can finish the branch.
func (Dialect) XASessionBound() bool { return false }
