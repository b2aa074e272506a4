package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/txcio/txc"
)

// pgLocks is Locks on PostgreSQL. Every statement takes arrays, so one
// statement does a whole call and its text is prepared once per
// connection.
type pgLocks struct {
	pool *pgxpool.Pool
	q    pgLockStatements
}

func openPGLocks(ctx context.Context, dsn, base string, log *slog.Logger) (*pgLocks, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, malformed(Postgres)
	}
	keepAlive(cfg.ConnConfig)
	cfg.MaxConns = locksPool
	// The table's changes need not wait for their own WAL flush: a claim
	// counts only once the branch it was taken for is stored, and that
	// synchronous commit flushes the WAL up to it, the claim included. A
	// change lost in a database crash (a claim whose registration was
	// never answered, a free) leaves a row that Reconcile, run when the
	// partition's stores are opened again, puts right.
	cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "off"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: connect to postgres: %w", pkg, err)
	}
	l := &pgLocks{pool: pool, q: newPGLockStatements(base + "locks")}
	if err := l.ensureSchema(ctx, base, log); err != nil {
		pool.Close()
		return nil, err
	}
	return l, nil
}

func (l *pgLocks) ensureSchema(ctx context.Context, base string, log *slog.Logger) error {
	c, err := l.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("%s: connect to postgres: %w", pkg, err)
	}
	defer c.Release()
	set := locksSchema(base)
	return ensureSchema(ctx, pgSchema{c.Conn(), set.version}, Postgres, set, log)
}

func (l *pgLocks) close() { l.pool.Close() }

func (l *pgLocks) ping(ctx context.Context) error { return l.pool.Ping(ctx) }

func (l *pgLocks) holders(ctx context.Context, hashes [][]byte) (map[string]txc.XID, error) {
	return l.scanHolders(ctx, l.q.holders, hashes)
}

func (l *pgLocks) partitionRows(ctx context.Context, partition string) (map[string]txc.XID, error) {
	return l.scanHolders(ctx, l.q.partition, partition)
}

// scanHolders runs a query selecting (row_hash, xid): hash -> XID.
func (l *pgLocks) scanHolders(ctx context.Context, sql string, args ...any) (map[string]txc.XID, error) {
	rows, err := l.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	out := map[string]txc.XID{}
	var (
		hash []byte
		xid  string
	)
	_, err = pgx.ForEachRow(rows, []any{&hash, &xid}, func() error {
		out[string(hash)] = txc.XID(xid)
		return nil
	})
	return out, err
}

func (l *pgLocks) insert(ctx context.Context, rows []lockRef, ignoreTaken bool) error {
	q := l.q.insert
	if ignoreTaken {
		q = l.q.insertIgnore
	}
	_, err := l.pool.Exec(ctx, q, pgInsertArgs(rows)...)
	return err
}

func (l *pgLocks) free(ctx context.Context, rows []lockRef) error {
	_, err := l.pool.Exec(ctx, l.q.free, pgFreeArgs(rows)...)
	return err
}

// replace sends both statements as one pipeline: one implicit
// transaction.
func (l *pgLocks) replace(ctx context.Context, del, ins []lockRef) error {
	var batch pgx.Batch
	batch.Queue(l.q.free, pgFreeArgs(del)...)
	batch.Queue(l.q.insertIgnore, pgInsertArgs(ins)...)
	return l.pool.SendBatch(ctx, &batch).Close()
}

func (l *pgLocks) query(ctx context.Context, xid txc.XID, hashes [][]byte) (txc.XID, bool, error) {
	var holder string
	err := l.pool.QueryRow(ctx, l.q.query, hashes, string(xid)).Scan(&holder)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	return txc.XID(holder), true, nil
}

// raced: a duplicate key (another claim took the row first), a deadlock
// victim or a serialization failure.
func (l *pgLocks) raced(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "23505" || pe.Code == "40P01" || pe.Code == "40001")
}
