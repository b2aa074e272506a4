package sqlstore

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/txcio/txc"
	"github.com/txcio/txc/internal/sqltable"
	"github.com/txcio/txc/tc/store"
)

// pgBackend keeps one pgx connection. Branch IDs are stored as the int64
// with the same bits.
type pgBackend struct {
	cfg  *pgx.ConnConfig
	t    tables
	conn *pgx.Conn // nil after a failure
	// owned: a session took the owner lock once; when it is gone, the
	// store is (ErrOwnerLost).
	owned bool
	q     pgStatements
	lq    pgLockStatements // on the shared lock table, when t.locks is set
}

// pgStatements are the texts of Apply's statements. Each takes arrays, so
// the text never changes with the batch and pgx prepares it once per
// connection.
type pgStatements struct {
	putGlobals, putBranches, setStatus, dropBranches, dropGlobals, nextID, abort string
}

func newPGStatements(t tables) pgStatements {
	return pgStatements{
		putGlobals: "INSERT INTO " + t.global + " (xid, name, status, begun, deadline, updated)" +
			" SELECT * FROM unnest($1::text[], $2::bytea[], $3::smallint[], $4::bigint[], $5::bigint[], $6::bigint[])" +
			" ON CONFLICT (xid) DO UPDATE SET name = EXCLUDED.name, status = EXCLUDED.status," +
			" begun = EXCLUDED.begun, deadline = EXCLUDED.deadline, updated = EXCLUDED.updated",
		putBranches: "INSERT INTO " + t.branch + " (xid, branch_id, type, status, resource_id, lock_keys, application_data)" +
			" SELECT * FROM unnest($1::text[], $2::bigint[], $3::smallint[], $4::smallint[], $5::bytea[], $6::bytea[], $7::bytea[])" +
			" ON CONFLICT (xid, branch_id) DO UPDATE SET type = EXCLUDED.type, status = EXCLUDED.status," +
			" resource_id = EXCLUDED.resource_id, lock_keys = EXCLUDED.lock_keys, application_data = EXCLUDED.application_data",
		setStatus: "UPDATE " + t.branch + " AS b SET status = u.status" +
			" FROM unnest($1::text[], $2::bigint[], $3::smallint[]) AS u(xid, branch_id, status)" +
			" WHERE b.xid = u.xid AND b.branch_id = u.branch_id",
		dropBranches: "DELETE FROM " + t.branch + " WHERE xid = ANY($1::text[])",
		dropGlobals:  "DELETE FROM " + t.global + " WHERE xid = ANY($1::text[])",
		nextID:       "UPDATE " + t.sequence + " SET next_id = GREATEST(next_id, $1::text::numeric) WHERE id = 1",
		abort:        "SELECT 1 FROM " + t.prefix + "simulated_crash_no_such_table",
	}
}

func openPostgres(ctx context.Context, dsn string, t tables, log *slog.Logger) (*pgBackend, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, malformed(Postgres)
	}
	keepAlive(cfg)
	b := &pgBackend{cfg: cfg, t: t, q: newPGStatements(t), lq: newPGLockStatements(t.locks)}
	if _, err := b.connect(ctx); err != nil {
		return nil, err
	}
	if err := b.ensureSchemas(ctx, log); err != nil {
		b.close()
		return nil, err
	}
	bad, err := b.pgDurability(ctx)
	warnNotDurable(log, Postgres, bad, err)
	return b, nil
}

// ensureSchemas checks the store's schema and, beside a shared lock
// table, that table's.
func (b *pgBackend) ensureSchemas(ctx context.Context, log *slog.Logger) error {
	if err := ensureSchema(ctx, pgSchema{b.conn, b.t.schema}, Postgres, storeSchema(b.t), log); err != nil {
		return err
	}
	if b.t.locks == "" {
		return nil
	}
	set := locksSchema(b.t.locksBase)
	return ensureSchema(ctx, pgSchema{b.conn, set.version}, Postgres, set, log)
}

// serverKeepAlive are the server-side TCP keepalive settings of the
// store's session, unless the DSN sets them: when the coordinator's link
// to the database fails without a reset (a cable, a firewall dropping
// packets), the server ends the session, and with it the owner lock,
// about 20 s later instead of after the operating system's two hours, so
// that another node can take the store over.
var serverKeepAlive = map[string]string{"tcp_keepalives_idle": "10", "tcp_keepalives_interval": "3", "tcp_keepalives_count": "3"}

func keepAlive(cfg *pgx.ConnConfig) {
	for k, v := range serverKeepAlive {
		if _, set := cfg.RuntimeParams[k]; !set {
			cfg.RuntimeParams[k] = v
		}
	}
}

// connect returns the connection, opening one if there is none; a new
// one first takes the store's owner lock (see owner.go).
func (b *pgBackend) connect(ctx context.Context) (*pgx.Conn, error) {
	if b.conn != nil && !b.conn.IsClosed() {
		return b.conn, nil
	}
	if b.owned {
		// The owner lock went with the session; another one may have
		// taken the store over since (see ErrOwnerLost).
		return nil, ErrOwnerLost
	}
	conn, err := pgx.ConnectConfig(ctx, b.cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: connect to postgres: %w", pkg, err)
	}
	if err := ownPostgres(ctx, conn, b.t); err != nil {
		_ = conn.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	b.conn, b.owned = conn, true
	return conn, nil
}

// fail drops the connection after an error: its state is unknown.
func (b *pgBackend) fail(what string, err error) error {
	if b.conn != nil {
		_ = b.conn.Close(context.Background())
		b.conn = nil
	}
	return fmt.Errorf("%s: %s: %w", pkg, what, err)
}

func (b *pgBackend) close() error {
	if b.conn == nil {
		return nil
	}
	err := b.conn.Close(context.Background())
	b.conn = nil
	return err
}

// apply sends the plan's statements as one pipeline, which the server runs
// as one implicit transaction committed at its end.
func (b *pgBackend) apply(ctx context.Context, p *plan) error {
	conn, err := b.connect(ctx)
	if err != nil {
		return err
	}
	var batch pgx.Batch
	b.queue(&batch, p)
	if err := conn.SendBatch(ctx, &batch).Close(); err != nil {
		if sqltable.IsConflict(err) && !conn.IsClosed() {
			// The batch's transaction was rolled back and the session
			// is sound: keep it (and the owner lock) to apply again.
			return fmt.Errorf("%s: apply: %w", pkg, err)
		}
		return b.fail("apply", err)
	}
	return nil
}

// queue adds the plan's statements to batch, in Batch order.
func (b *pgBackend) queue(batch *pgx.Batch, p *plan) {
	if n := len(p.globals); n > 0 {
		xids, names, statuses := make([]string, n), make([][]byte, n), make([]int16, n)
		begun, deadline, updated := make([]*int64, n), make([]*int64, n), make([]*int64, n)
		for i, g := range p.globals {
			xids[i], names[i], statuses[i] = string(g.XID), []byte(g.Name), int16(g.Status)
			begun[i], deadline[i], updated[i] = millis(g.Begun), millis(g.Deadline), millis(g.Updated)
		}
		batch.Queue(b.q.putGlobals, xids, names, statuses, begun, deadline, updated)
	}
	if n := len(p.branches); n > 0 {
		xids, ids, types, statuses := make([]string, n), make([]int64, n), make([]int16, n), make([]int16, n)
		resources, locks, data := make([][]byte, n), make([][]byte, n), make([][]byte, n)
		for i, r := range p.branches {
			xids[i], ids[i], types[i], statuses[i] = string(r.XID), int64(r.ID), int16(r.Type), int16(r.Status)
			resources[i], locks[i], data[i] = []byte(r.ResourceID), r.lockKeys, r.ApplicationData
		}
		batch.Queue(b.q.putBranches, xids, ids, types, statuses, resources, locks, data)
	}
	if n := len(p.statuses); n > 0 {
		xids, ids, statuses := make([]string, n), make([]int64, n), make([]int16, n)
		for i, u := range p.statuses {
			xids[i], ids[i], statuses[i] = string(u.XID), int64(u.ID), int16(u.Status)
		}
		batch.Queue(b.q.setStatus, xids, ids, statuses)
	}
	if len(p.dropBranches) > 0 {
		batch.Queue(b.q.dropBranches, xidStrings(p.dropBranches))
	}
	if len(p.dropGlobals) > 0 {
		batch.Queue(b.q.dropGlobals, xidStrings(p.dropGlobals))
	}
	if b.t.locks != "" {
		b.queueLocks(batch, p)
	}
	if p.nextID != 0 {
		batch.Queue(b.q.nextID, strconv.FormatUint(p.nextID, 10))
	}
	if p.abort {
		batch.Queue(b.q.abort)
	}
}

// queueLocks adds the deletions from the shared lock table: the rows
// freed, and every row of the transactions whose branches go.
func (b *pgBackend) queueLocks(batch *pgx.Batch, p *plan) {
	if len(p.freeLocks) > 0 {
		batch.Queue(b.lq.free, pgFreeArgs(p.freeLocks)...)
	}
	if len(p.dropBranches) > 0 {
		batch.Queue(b.lq.drop, xidStrings(p.dropBranches))
	}
}

func xidStrings(xs []txc.XID) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = string(x)
	}
	return out
}

// load reads the three tables in one read-only repeatable-read
// transaction.
func (b *pgBackend) load(ctx context.Context) (*store.State, error) {
	conn, err := b.connect(ctx)
	if err != nil {
		return nil, err
	}
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, b.fail("load", err)
	}
	defer tx.Rollback(ctx)
	st := &store.State{}
	if st.Globals, err = pgGlobals(ctx, tx, b.t); err != nil {
		return nil, b.fail("load globals", err)
	}
	if st.Branches, err = pgBranches(ctx, tx, b.t); err != nil {
		return nil, b.fail("load branches", err)
	}
	var next string
	if err := tx.QueryRow(ctx, "SELECT next_id::text FROM "+b.t.sequence+" WHERE id = 1").Scan(&next); err != nil {
		return nil, b.fail("load next ID", err)
	}
	if st.NextID, err = strconv.ParseUint(next, 10, 64); err != nil {
		return nil, b.fail("load next ID", err)
	}
	return st, tx.Commit(ctx)
}

func pgGlobals(ctx context.Context, tx pgx.Tx, t tables) ([]store.Global, error) {
	rows, err := tx.Query(ctx, "SELECT xid, name, status, begun, deadline, updated FROM "+t.global)
	if err != nil {
		return nil, err
	}
	var out []store.Global
	var (
		xid                      string
		name                     []byte
		status                   int16
		begun, deadline, updated *int64
	)
	_, err = pgx.ForEachRow(rows, []any{&xid, &name, &status, &begun, &deadline, &updated}, func() error {
		out = append(out, store.Global{XID: txc.XID(xid), Name: string(name), Status: txc.GlobalStatus(status),
			Begun: fromMillis(begun), Deadline: fromMillis(deadline), Updated: fromMillis(updated)})
		return nil
	})
	return out, err
}

func pgBranches(ctx context.Context, tx pgx.Tx, t tables) ([]store.Branch, error) {
	rows, err := tx.Query(ctx, "SELECT xid, branch_id, type, status, resource_id, lock_keys, application_data FROM "+t.branch)
	if err != nil {
		return nil, err
	}
	var out []store.Branch
	var (
		xid                   string
		id                    int64
		typ, status           int16
		resource, locks, data []byte
	)
	_, err = pgx.ForEachRow(rows, []any{&xid, &id, &typ, &status, &resource, &locks, &data}, func() error {
		keys, err := decodeLockKeys(locks)
		if err != nil {
			return fmt.Errorf("branch %s/%d: %w", xid, uint64(id), err)
		}
		out = append(out, store.Branch{XID: txc.XID(xid), ID: txc.BranchID(id), Type: txc.BranchType(typ),
			Status: txc.BranchStatus(status), ResourceID: string(resource), LockKeys: keys, ApplicationData: append([]byte(nil), data...)})
		return nil
	})
	return out, err
}

// pgSchema is the schema check's connection on PostgreSQL.
type pgSchema struct {
	conn    *pgx.Conn
	version string // the version table
}

// lockSchema takes a session advisory lock keyed by the version table's
// name.
func (m pgSchema) lockSchema(ctx context.Context) (func(), error) {
	h := fnv.New64a()
	h.Write([]byte("txc sqlstore schema " + m.version))
	key := int64(h.Sum64())
	if _, err := m.conn.Exec(ctx, "SELECT pg_advisory_lock($1)", key); err != nil {
		return nil, fmt.Errorf("%s: lock schema: %w", pkg, err)
	}
	return func() { _, _ = m.conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", key) }, nil
}

func (m pgSchema) schemaVersion(ctx context.Context) (int, error) {
	var exists bool
	if err := m.conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", m.version).Scan(&exists); err != nil {
		return 0, fmt.Errorf("%s: read schema version: %w", pkg, err)
	}
	if !exists {
		return 0, nil
	}
	var v int32
	err := m.conn.QueryRow(ctx, "SELECT version FROM "+m.version+" WHERE id = 1").Scan(&v)
	if err == pgx.ErrNoRows {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("%s: read schema version: %w", pkg, err)
	}
	return int(v), nil
}

// upgrade runs one script and records its version in one transaction:
// PostgreSQL changes its schema transactionally.
func (m pgSchema) upgrade(ctx context.Context, stmts []string, to int) error {
	err := pgx.BeginFunc(ctx, m.conn, func(tx pgx.Tx) error {
		for _, s := range stmts {
			if _, err := tx.Exec(ctx, s); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, "INSERT INTO "+m.version+" (id, version) VALUES (1, $1)"+
			" ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version", to)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s: create schema: %w", pkg, err)
	}
	return nil
}
