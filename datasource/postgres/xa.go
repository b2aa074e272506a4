package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"strconv"

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
	q := "BEGIN"
	switch sql.IsolationLevel(opts.Isolation) {
	case sql.LevelDefault:
	case sql.LevelReadUncommitted:
		q += " ISOLATION LEVEL READ UNCOMMITTED"
	case sql.LevelReadCommitted:
		q += " ISOLATION LEVEL READ COMMITTED"
	case sql.LevelRepeatableRead, sql.LevelSnapshot:
		q += " ISOLATION LEVEL REPEATABLE READ"
	case sql.LevelSerializable:
		q += " ISOLATION LEVEL SERIALIZABLE"
	default:
		return txc.Errorf(txc.CodeUnsupported, "datasource/postgres: isolation level %v is not supported by PostgreSQL", sql.IsolationLevel(opts.Isolation))
	}
	if opts.ReadOnly {
		q += " READ ONLY"
	}
	return datasource.ExecRaw(ctx, c, q)
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
