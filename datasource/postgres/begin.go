package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"

	"github.com/jackc/pgx/v5"

	"github.com/txcio/txc"
	"github.com/txcio/txc/datasource"
)

var _ datasource.BeginFolder = Dialect{}

// BeginText is the BEGIN of a local transaction with opts, which the
// proxy sends with the transaction's first table probe (see probeTable):
// one round trip fewer per local transaction of a global one.
func (Dialect) BeginText(opts driver.TxOptions) (string, error) { return beginStatement(opts) }

// EndTx ends a transaction begun with BeginText's statement as pgx's own
// transaction object ends one: a COMMIT the server answers with ROLLBACK
// (the transaction had failed) is pgx.ErrTxCommitRollback, and after a
// failed COMMIT that left a transaction open, or any failed ROLLBACK, the
// connection is closed (its state is unknown; database/sql then drops it).
func (Dialect) EndTx(ctx context.Context, c driver.Conn, commit bool) error {
	pc, ok := c.(pgxConn)
	if !ok {
		return txc.Errorf(txc.CodeInternal, "datasource/postgres: the wrapped connection %T is not pgx's", c)
	}
	conn := pc.Conn()
	q := "rollback"
	if commit {
		q = "commit"
	}
	tag, err := conn.Exec(ctx, q)
	if err != nil {
		if !commit || conn.PgConn().TxStatus() != 'I' {
			closeNow(conn)
		}
		return err
	}
	if commit && tag.String() == "ROLLBACK" {
		return pgx.ErrTxCommitRollback
	}
	return nil
}

// beginStatement is the BEGIN of a transaction (a local one, or an XA
// branch) with opts' isolation level and access mode.
func beginStatement(opts driver.TxOptions) (string, error) {
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
		return "", txc.Errorf(txc.CodeUnsupported, "datasource/postgres: isolation level %v is not supported by PostgreSQL", sql.IsolationLevel(opts.Isolation))
	}
	if opts.ReadOnly {
		q += " READ ONLY"
	}
	return q, nil
}

// closeNow closes c at once, as pgx closes a connection whose state a
// failed ROLLBACK left unknown: on a done context, so that a hung network
// cannot hold it up (the error the caller returns says more).
func closeNow(c *pgx.Conn) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = c.Close(ctx)
}
