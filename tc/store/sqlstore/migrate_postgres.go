package sqlstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/txcio/txc/tc/store"
)

// pgMover is a move's session on PostgreSQL.
type pgMover struct {
	cfg  *pgx.ConnConfig
	conn *pgx.Conn
}

func openPGMover(ctx context.Context, dsn string) (*pgMover, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, malformed(Postgres)
	}
	keepAlive(cfg)
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: connect to postgres: %w", pkg, err)
	}
	return &pgMover{cfg: cfg, conn: conn}, nil
}

func (m *pgMover) schema(version string) schemaDB { return pgSchema{m.conn, version} }

func (m *pgMover) own(ctx context.Context, t tables) error { return ownPostgres(ctx, m.conn, t) }

// backend is a store backend on the move's session.
func (m *pgMover) backend(t tables) *pgBackend {
	return &pgBackend{cfg: m.cfg, t: t, conn: m.conn, q: newPGStatements(t)}
}

func (m *pgMover) load(ctx context.Context, t tables) (*store.State, error) {
	if m.conn.IsClosed() {
		return nil, fmt.Errorf("%s: move: the session ended", pkg)
	}
	return m.backend(t).load(ctx)
}

func (m *pgMover) recorded(ctx context.Context, table string) ([]string, error) {
	rows, err := m.conn.Query(ctx, "SELECT partition_name FROM "+table)
	if err != nil {
		return nil, fmt.Errorf("%s: read %s: %w", pkg, table, err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("%s: read %s: %w", pkg, table, err)
	}
	return names, nil
}

// commit sends c as one pipeline: one implicit transaction.
func (m *pgMover) commit(ctx context.Context, c *change) error {
	var batch pgx.Batch
	names := make([]string, len(c.parts))
	for i, pc := range c.parts {
		m.backend(pc.t).queue(&batch, pc.p)
		names[i] = pc.name
	}
	if len(c.locks) > 0 {
		batch.Queue(newPGLockStatements(c.lockT).insertIgnore, pgInsertArgs(c.locks)...)
	}
	batch.Queue("INSERT INTO "+c.moved+" (partition_name) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING", names)
	m.backend(c.drop.t).queue(&batch, c.drop.p)
	if c.abort {
		batch.Queue(m.backend(c.abortT).q.abort)
	}
	if err := m.conn.SendBatch(ctx, &batch).Close(); err != nil {
		return fmt.Errorf("%s: move: %w", pkg, err)
	}
	return nil
}

func (m *pgMover) close() error { return m.conn.Close(context.Background()) }
