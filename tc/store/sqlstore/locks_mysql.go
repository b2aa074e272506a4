package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"

	"github.com/go-sql-driver/mysql"

	"github.com/txcio/txc"
)

// locksPool is how many connections Locks keeps open to the database.
const locksPool = 8

// myLocks is Locks on MySQL/MariaDB.
type myLocks struct {
	db    *sql.DB
	table string
}

func openMyLocks(ctx context.Context, dsn, secret, base string, log *slog.Logger) (*myLocks, error) {
	conn, err := myConnector(dsn, secret, log)
	if err != nil {
		return nil, err
	}
	l := &myLocks{db: sql.OpenDB(conn), table: base + "locks"}
	l.db.SetMaxOpenConns(locksPool)
	l.db.SetMaxIdleConns(locksPool)
	c, err := l.db.Conn(ctx)
	if err != nil {
		l.db.Close()
		return nil, fmt.Errorf("%s: connect to mysql: %w", pkg, err)
	}
	defer c.Close()
	set := locksSchema(base)
	if err := ensureSchema(ctx, &mySchema{conn: c, version: set.version}, MySQL, set, log); err != nil {
		l.db.Close()
		return nil, err
	}
	return l, nil
}

func (l *myLocks) close() { l.db.Close() }

func (l *myLocks) holders(ctx context.Context, hashes [][]byte) (map[string]txc.XID, error) {
	out := make(map[string]txc.XID, len(hashes))
	for _, st := range myHashList("SELECT row_hash, xid FROM "+l.table+" WHERE row_hash IN (", "", hashes) {
		if err := myScanHolders(ctx, l.db, st, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// myScanHolders adds the (row_hash, xid) rows st selects to out.
func myScanHolders(ctx context.Context, db *sql.DB, st myStmt, out map[string]txc.XID) error {
	rows, err := db.QueryContext(ctx, st.sql, st.args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var hash, xid []byte
		if err := rows.Scan(&hash, &xid); err != nil {
			return err
		}
		out[string(hash)] = txc.XID(xid)
	}
	return rows.Err()
}

func (l *myLocks) insert(ctx context.Context, rows []lockRef, ignoreTaken bool) error {
	return l.inTx(ctx, myInsertLocks(l.table, rows, ignoreTaken))
}

func (l *myLocks) free(ctx context.Context, rows []lockRef) error {
	return l.inTx(ctx, myFreeLocks(l.table, rows))
}

func (l *myLocks) replace(ctx context.Context, del, ins []lockRef) error {
	return l.inTx(ctx, append(myFreeLocks(l.table, del), myInsertLocks(l.table, ins, true)...))
}

// inTx runs stmts as one transaction on one connection, in one query when
// they fit (see packQueries). READ COMMITTED spares the statements gap
// locks, with which concurrent inserts of neighbouring keys deadlock.
// After a failure the connection is rolled back, or discarded when that
// fails too: it must not carry a torn transaction to its next user.
func (l *myLocks) inTx(ctx context.Context, stmts []myStmt) error {
	if len(stmts) == 0 {
		return nil
	}
	conn, err := l.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	framed := append([]myStmt{{sql: "ROLLBACK", size: 9}, {sql: "SET TRANSACTION ISOLATION LEVEL READ COMMITTED", size: 50},
		{sql: "START TRANSACTION", size: 20}}, stmts...)
	for _, q := range packQueries(append(framed, myStmt{sql: "COMMIT", size: 6})) {
		if _, err := conn.ExecContext(ctx, q.sql, q.args...); err != nil {
			if _, rerr := conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK"); rerr != nil {
				_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			}
			return err
		}
	}
	return nil
}

func (l *myLocks) query(ctx context.Context, xid txc.XID, hashes [][]byte) (txc.XID, bool, error) {
	for _, st := range myHashList("SELECT xid FROM "+l.table+" WHERE row_hash IN (", " AND xid <> ? LIMIT 1", hashes, []byte(xid)) {
		var holder []byte
		err := l.db.QueryRowContext(ctx, st.sql, st.args...).Scan(&holder)
		if err == nil {
			return txc.XID(holder), true, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return "", false, err
		}
	}
	return "", false, nil
}

func (l *myLocks) partitionRows(ctx context.Context, partition string) (map[string]txc.XID, error) {
	out := map[string]txc.XID{}
	st := myStmt{sql: "SELECT row_hash, xid FROM " + l.table + " WHERE partition_name = ?", args: []any{[]byte(partition)}}
	return out, myScanHolders(ctx, l.db, st, out)
}

// raced: a duplicate key (another claim took the row first) or a
// deadlock victim.
func (l *myLocks) raced(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && (me.Number == 1062 || me.Number == 1213)
}
