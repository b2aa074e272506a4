package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"log/slog"

	"github.com/txcio/txc/tc/store"
)

// myMover is a move's session on MySQL: one connection, which holds the
// owner locks it takes.
type myMover struct {
	db   *sql.DB
	conn *sql.Conn
}

func openMyMover(ctx context.Context, dsn, secret string, log *slog.Logger) (*myMover, error) {
	connector, err := myConnector(dsn, secret, log)
	if err != nil {
		return nil, err
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("%s: connect to mysql: %w", pkg, err)
	}
	return &myMover{db: db, conn: conn}, nil
}

func (m *myMover) schema(version string) schemaDB { return &mySchema{conn: m.conn, version: version} }

func (m *myMover) own(ctx context.Context, t tables) error {
	return m.conn.Raw(func(dc any) error {
		c, ok := dc.(driver.Conn)
		if !ok {
			return fmt.Errorf("%s: the mysql driver connection is a %T", pkg, dc)
		}
		return ownMySQL(ctx, c, t)
	})
}

func (m *myMover) load(ctx context.Context, t tables) (*store.State, error) {
	return myLoad(ctx, m.conn, t)
}

func (m *myMover) recorded(ctx context.Context, table string) ([]string, error) {
	rows, err := m.conn.QueryContext(ctx, "SELECT partition_name FROM "+table)
	if err != nil {
		return nil, fmt.Errorf("%s: read %s: %w", pkg, table, err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var name []byte
		if err := rows.Scan(&name); err != nil {
			return nil, fmt.Errorf("%s: read %s: %w", pkg, table, err)
		}
		names = append(names, string(name))
	}
	return names, rows.Err()
}

// commit sends c framed as Apply frames a batch (see statements); a
// failure discards the connection, which ends its transaction unmade.
func (m *myMover) commit(ctx context.Context, c *change) error {
	stmts := myBegin(true)
	for _, pc := range c.parts {
		stmts = append(stmts, myChanges(pc.t, pc.p)...)
	}
	stmts = append(stmts, myInsertLocks(c.lockT, c.locks, true)...)
	stmts = append(stmts, multiRow("INSERT INTO "+c.moved+" (partition_name) VALUES ", " ON DUPLICATE KEY UPDATE partition_name = partition_name",
		"(?)", len(c.parts), func(i int) []any { return []any{[]byte(c.parts[i].name)} })...)
	stmts = append(stmts, myChanges(c.drop.t, c.drop.p)...)
	if c.abort {
		stmts = append(stmts, myAbort(c.abortT))
	}
	stmts = append(stmts, myStmt{sql: "COMMIT", size: 6})
	for _, q := range packQueries(stmts) {
		if _, err := m.conn.ExecContext(ctx, q.sql, q.args...); err != nil {
			_ = m.conn.Raw(func(any) error { return driver.ErrBadConn })
			return fmt.Errorf("%s: move: %w", pkg, err)
		}
	}
	return nil
}

func (m *myMover) close() error {
	m.conn.Close()
	return m.db.Close()
}
