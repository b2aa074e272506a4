package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/go-sql-driver/mysql"

	"github.com/txcio/txc"
	"github.com/txcio/txc/internal/sqltable"
	"github.com/txcio/txc/tc/store"
)

// maxQueryBytes bounds one query text sent by Apply on MySQL (the
// driver escapes bytes, at most doubling them); a batch larger than that
// is sent in several queries of one transaction. It stays well below
// MariaDB's default max_allowed_packet of 16 MiB. A single branch larger
// than it is sent alone, and max_allowed_packet must exceed it.
const maxQueryBytes = 4 << 20

// myBackend keeps a pool of one connection, configured to interpolate
// parameters and to accept several statements per query.
type myBackend struct {
	db *sql.DB
	t  tables
}

func openMySQL(ctx context.Context, dsn, secret string, t tables, log *slog.Logger) (*myBackend, error) {
	conn, err := myConnector(dsn, secret, log)
	if err != nil {
		return nil, err
	}
	b := &myBackend{db: sql.OpenDB(ownedConnector{conn, t, new(atomic.Bool)}), t: t}
	b.db.SetMaxOpenConns(1)
	if err := b.ensureSchema(ctx, log); err != nil {
		b.db.Close()
		return nil, err
	}
	return b, nil
}

// myConnector connects as dsn says, interpolating parameters, accepting
// several statements per query, in strict mode, with the driver's notes
// going to log.
func myConnector(dsn, secret string, log *slog.Logger) (driver.Connector, error) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		return nil, malformed(MySQL)
	}
	cfg.Logger = driverLog{log: log, secret: secret}
	cfg.InterpolateParams = true
	cfg.MultiStatements = true
	strictMode(cfg)
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: mysql: %w", pkg, err)
	}
	return conn, nil
}

// driverLog sends the driver's notes (a dead idle connection closed, …)
// to the store's logger at Debug level, scrubbed of the password, instead
// of the driver's default standard-error logger.
type driverLog struct {
	log    *slog.Logger
	secret string
}

func (l driverLog) Print(v ...any) {
	l.log.Debug("sqlstore: mysql driver", "note", scrubString(fmt.Sprint(v...), l.secret))
}

// strictMode makes the store's sessions refuse, rather than truncate, a
// value too large for its column (MySQL does the latter without a strict
// sql_mode), whatever sql_mode the server or the DSN sets.
func strictMode(cfg *mysql.Config) {
	cur := "@@sql_mode"
	if v, ok := cfg.Params["sql_mode"]; ok {
		cur = v
	}
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	cfg.Params["sql_mode"] = "CONCAT_WS(',', NULLIF(" + cur + ", ''), 'STRICT_ALL_TABLES')"
}

func (b *myBackend) close() error { return b.db.Close() }

// ensureSchema runs the schema check on one connection, which holds the
// schema lock, and warns about settings that make commits not durable.
func (b *myBackend) ensureSchema(ctx context.Context, log *slog.Logger) error {
	conn, err := b.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("%s: connect to mysql: %w", pkg, err)
	}
	defer conn.Close()
	if err := ensureSchema(ctx, &mySchema{conn: conn, version: b.t.schema}, MySQL, storeSchema(b.t), log); err != nil {
		return err
	}
	if b.t.locks != "" {
		set := locksSchema(b.t.locksBase)
		if err := ensureSchema(ctx, &mySchema{conn: conn, version: set.version}, MySQL, set, log); err != nil {
			return err
		}
	}
	m := &mySchema{conn: conn}
	bad, err := m.myDurability(ctx)
	warnNotDurable(log, MySQL, bad, err)
	return nil
}

// apply sends the plan as START TRANSACTION, its statements and COMMIT, in
// one query unless it is larger than maxQueryBytes. On a failure other
// than a deadlock the connection, perhaps inside an open transaction, is
// discarded, and with it the store (see ownedConnector).
func (b *myBackend) apply(ctx context.Context, p *plan) error {
	conn, err := b.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("%s: connect to mysql: %w", pkg, err)
	}
	defer conn.Close()
	for _, q := range packQueries(b.statements(p)) {
		if _, err := conn.ExecContext(ctx, q.sql, q.args...); err != nil {
			if !sqltable.IsConflict(err) {
				// Its state unknown, the session goes, and the store with
				// it (ErrOwnerLost). A deadlock rolled the transaction
				// back and left the session sound: the batch is applied
				// again on it (the owner lock is never let go meanwhile).
				_ = conn.Raw(func(any) error { return driver.ErrBadConn })
			}
			return fmt.Errorf("%s: apply: %w", pkg, err)
		}
	}
	return nil
}

// myStmt is one statement with its arguments and an upper bound of its
// size once the driver has interpolated them.
type myStmt struct {
	sql  string
	args []any
	size int
}

// statements returns the plan as statements, in Batch order, framed by
// START TRANSACTION and COMMIT. A ROLLBACK comes first: START TRANSACTION
// would commit a transaction left open on the connection, and a failed
// Apply's connection is discarded, but a torn batch must never be
// committed by the next one even if one were not.
func (b *myBackend) statements(p *plan) []myStmt {
	out := myBegin(b.t.locks != "")
	out = append(out, myChanges(b.t, p)...)
	if p.abort {
		out = append(out, myAbort(b.t))
	}
	return append(out, myStmt{sql: "COMMIT", size: 6})
}

// myBegin starts a transaction on a connection that may be inside one
// (see statements); readCommitted, for a transaction that writes the
// shared lock table: without gap locks, its deletions do not deadlock
// with other nodes' claims of neighbouring keys.
func myBegin(readCommitted bool) []myStmt {
	out := []myStmt{{sql: "ROLLBACK", size: 9}}
	if readCommitted {
		out = append(out, myStmt{sql: "SET TRANSACTION ISOLATION LEVEL READ COMMITTED", size: 50})
	}
	return append(out, myStmt{sql: "START TRANSACTION", size: 20})
}

// myAbort is a statement that fails: a simulated crash before COMMIT.
func myAbort(t tables) myStmt {
	return myStmt{sql: "SELECT 1 FROM " + t.prefix + "simulated_crash_no_such_table", size: 80}
}

// myChanges returns plan p's statements on the tables t, in Batch order.
func myChanges(t tables, p *plan) []myStmt {
	var out []myStmt
	out = append(out, multiRow("INSERT INTO "+t.global+" (xid, name, status, begun, deadline, updated) VALUES ",
		" ON DUPLICATE KEY UPDATE name = VALUES(name), status = VALUES(status), begun = VALUES(begun),"+
			" deadline = VALUES(deadline), updated = VALUES(updated)",
		"(?,?,?,?,?,?)", len(p.globals), func(i int) []any {
			g := &p.globals[i]
			return []any{[]byte(g.XID), []byte(g.Name), int16(g.Status), millis(g.Begun), millis(g.Deadline), millis(g.Updated)}
		})...)
	out = append(out, multiRow("INSERT INTO "+t.branch+" (xid, branch_id, type, status, resource_id, lock_keys, application_data) VALUES ",
		" ON DUPLICATE KEY UPDATE type = VALUES(type), status = VALUES(status), resource_id = VALUES(resource_id),"+
			" lock_keys = VALUES(lock_keys), application_data = VALUES(application_data)",
		"(?,?,?,?,?,?,?)", len(p.branches), func(i int) []any {
			r := &p.branches[i]
			return []any{[]byte(r.XID), uint64(r.ID), int16(r.Type), int16(r.Status), []byte(r.ResourceID), r.lockKeys, r.ApplicationData}
		})...)
	// The updated rows are joined with a derived table of (xid, id, status).
	out = append(out, multiRow("UPDATE "+t.branch+" AS b JOIN (",
		") AS u ON b.xid = u.xid AND b.branch_id = u.branch_id SET b.status = u.status",
		"SELECT ? AS xid, ? AS branch_id, ? AS status", len(p.statuses), func(i int) []any {
			u := &p.statuses[i]
			return []any{[]byte(u.XID), uint64(u.ID), int16(u.Status)}
		}, " UNION ALL ")...)
	out = append(out, xidList("DELETE FROM "+t.branch+" WHERE xid IN (", p.dropBranches)...)
	out = append(out, xidList("DELETE FROM "+t.global+" WHERE xid IN (", p.dropGlobals)...)
	if t.locks != "" {
		out = append(out, myFreeLocks(t.locks, p.freeLocks)...)
		out = append(out, myDropLocks(t.locks, p.dropBranches)...)
	}
	if p.nextID != 0 {
		out = append(out, myStmt{sql: "UPDATE " + t.sequence + " SET next_id = GREATEST(next_id, ?) WHERE id = 1",
			args: []any{p.nextID}, size: 100})
	}
	return out
}

func xidList(head string, xids []txc.XID) []myStmt {
	return multiRow(head, ")", "?", len(xids), func(i int) []any { return []any{[]byte(xids[i])} })
}

// maxRowsPerStatement bounds the rows of one multi-row statement.
const maxRowsPerStatement = 2000

// multiRow builds statements head row sep row … tail for n rows (sep is
// "," unless given), each of at most maxRowsPerStatement rows and, unless
// a single row is larger, maxQueryBytes.
func multiRow(head, tail, row string, n int, args func(i int) []any, sep ...string) []myStmt {
	joiner := ","
	if len(sep) > 0 {
		joiner = sep[0]
	}
	var out []myStmt
	var sb strings.Builder
	var cur myStmt
	flush := func() {
		if len(cur.args) > 0 {
			sb.WriteString(tail)
			cur.sql = sb.String()
			out = append(out, cur)
		}
		sb.Reset()
		cur = myStmt{}
	}
	rows := 0
	for i := range n {
		a := args(i)
		size := argsSize(a) + len(row) + len(joiner)
		if rows > 0 && (rows == maxRowsPerStatement || cur.size+size > maxQueryBytes) {
			flush()
			rows = 0
		}
		if rows == 0 {
			sb.WriteString(head)
			cur.size = len(head) + len(tail)
		} else {
			sb.WriteString(joiner)
		}
		sb.WriteString(row)
		cur.args = append(cur.args, a...)
		cur.size += size
		rows++
	}
	flush()
	return out
}

// argsSize bounds the interpolated size of args: escaping at most doubles
// bytes, and quotes and a _binary introducer are added.
func argsSize(args []any) int {
	n := 0
	for _, a := range args {
		switch v := a.(type) {
		case []byte:
			n += 2*len(v) + 10
		default:
			n += 21
		}
	}
	return n
}

// packQueries joins statements into as few queries of at most
// maxQueryBytes as their order allows.
func packQueries(stmts []myStmt) []myStmt {
	var out []myStmt
	for _, s := range stmts {
		if last := len(out) - 1; last >= 0 && out[last].size+s.size+1 <= maxQueryBytes {
			out[last].sql += ";" + s.sql
			out[last].args = append(out[last].args, s.args...)
			out[last].size += s.size + 1
			continue
		}
		out = append(out, s)
	}
	return out
}

// load reads the three tables in one read-only repeatable-read
// transaction (one InnoDB snapshot).
func (b *myBackend) load(ctx context.Context) (*store.State, error) { return myLoad(ctx, b.db, b.t) }

// txBeginner is a *sql.DB or a *sql.Conn.
type txBeginner interface {
	BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error)
}

// myLoad reads the tables t through db in one read-only repeatable-read
// transaction.
func myLoad(ctx context.Context, db txBeginner, t tables) (*store.State, error) {
	tx, err := db.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("%s: load: %w", pkg, err)
	}
	defer tx.Rollback()
	st := &store.State{}
	if st.Globals, err = myGlobals(ctx, tx, t); err != nil {
		return nil, fmt.Errorf("%s: load globals: %w", pkg, err)
	}
	if st.Branches, err = myBranches(ctx, tx, t); err != nil {
		return nil, fmt.Errorf("%s: load branches: %w", pkg, err)
	}
	if err := tx.QueryRowContext(ctx, "SELECT next_id FROM "+t.sequence+" WHERE id = 1").Scan(&st.NextID); err != nil {
		return nil, fmt.Errorf("%s: load next ID: %w", pkg, err)
	}
	return st, tx.Commit()
}

func myGlobals(ctx context.Context, tx *sql.Tx, t tables) ([]store.Global, error) {
	rows, err := tx.QueryContext(ctx, "SELECT xid, name, status, begun, deadline, updated FROM "+t.global)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Global
	for rows.Next() {
		var (
			xid, name                []byte
			status                   int16
			begun, deadline, updated *int64
		)
		if err := rows.Scan(&xid, &name, &status, &begun, &deadline, &updated); err != nil {
			return nil, err
		}
		out = append(out, store.Global{XID: txc.XID(xid), Name: string(name), Status: txc.GlobalStatus(status),
			Begun: fromMillis(begun), Deadline: fromMillis(deadline), Updated: fromMillis(updated)})
	}
	return out, rows.Err()
}

func myBranches(ctx context.Context, tx *sql.Tx, t tables) ([]store.Branch, error) {
	rows, err := tx.QueryContext(ctx, "SELECT xid, branch_id, type, status, resource_id, lock_keys, application_data FROM "+t.branch)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Branch
	for rows.Next() {
		var (
			xid, resource, locks, data []byte
			id                         uint64
			typ, status                int16
		)
		if err := rows.Scan(&xid, &id, &typ, &status, &resource, &locks, &data); err != nil {
			return nil, err
		}
		keys, err := decodeLockKeys(locks)
		if err != nil {
			return nil, fmt.Errorf("branch %s/%d: %w", xid, id, err)
		}
		out = append(out, store.Branch{XID: txc.XID(xid), ID: txc.BranchID(id), Type: txc.BranchType(typ),
			Status: txc.BranchStatus(status), ResourceID: string(resource), LockKeys: keys, ApplicationData: data})
	}
	return out, rows.Err()
}

// mySchema is the schema check's connection. MySQL changes its schema
// outside transactions, so every script is idempotent (IF NOT EXISTS,
// INSERT IGNORE) and the version is recorded after it: an interrupted
// creation is finished by the next Open.
type mySchema struct {
	conn    *sql.Conn
	version string // the version table
}

func (m *mySchema) lockSchema(ctx context.Context) (func(), error) {
	name := "txc_sqlstore:" + m.version
	var got sql.NullInt64
	if err := m.conn.QueryRowContext(ctx, "SELECT GET_LOCK(?, 60)", name).Scan(&got); err != nil {
		return nil, fmt.Errorf("%s: lock schema: %w", pkg, err)
	}
	if got.Int64 != 1 {
		return nil, fmt.Errorf("%s: lock schema: another store held the lock %s for 60s", pkg, name)
	}
	return func() { _, _ = m.conn.ExecContext(context.WithoutCancel(ctx), "DO RELEASE_LOCK(?)", name) }, nil
}

func (m *mySchema) schemaVersion(ctx context.Context) (int, error) {
	var n int
	if err := m.conn.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?",
		m.version).Scan(&n); err != nil {
		return 0, fmt.Errorf("%s: read schema version: %w", pkg, err)
	}
	if n == 0 {
		return 0, nil
	}
	var v int
	err := m.conn.QueryRowContext(ctx, "SELECT version FROM "+m.version+" WHERE id = 1").Scan(&v)
	if err == sql.ErrNoRows {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("%s: read schema version: %w", pkg, err)
	}
	return v, nil
}

func (m *mySchema) upgrade(ctx context.Context, stmts []string, to int) error {
	if err := sqltable.Run(ctx, m.conn, stmts); err != nil {
		return err
	}
	_, err := m.conn.ExecContext(ctx, "INSERT INTO "+m.version+" (id, version) VALUES (1, ?) ON DUPLICATE KEY UPDATE version = VALUES(version)", to)
	return err
}
