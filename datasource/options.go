package datasource

import (
	"database/sql/driver"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/txcio/txc/rm"
)

// Option configures OpenDB, NewConnector and the dialect packages' openers.
type Option func(*config)

type config struct {
	manager     *rm.Manager
	resourceID  string
	log         *slog.Logger
	undoTable   string
	undoSchema  string
	createUndo  bool
	lockMin     time.Duration
	lockMax     time.Duration
	lockWait    time.Duration
	retention   time.Duration
	leftoverAge time.Duration
	interpolate bool
	dialect     Dialect
	metaMaxAge  time.Duration
	metaAgeSet  bool // else the dialect's default
	phase2      driver.Connector
	mode        Mode
}

func newConfig(opts []Option) config {
	c := config{log: slog.New(slog.DiscardHandler), lockMin: 5 * time.Millisecond, lockMax: 200 * time.Millisecond, retention: 24 * time.Hour, leftoverAge: time.Minute}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// WithManager sets the resource manager that registers this database's
// branches and serves their phase 2. Without it the process default
// (SetDefaultManager) is used.
func WithManager(m *rm.Manager) Option { return func(c *config) { c.manager = m } }

// WithResourceID sets the resource ID of the database. It must identify
// the database (every process writing to it must use the same ID) and
// must not contain a secret: it appears in the coordinator's tables and
// logs. Dialects derive one from a DSN ("mysql:127.0.0.1:3306/test");
// OpenDB with a connector whose configuration it cannot read needs this.
func WithResourceID(id string) Option { return func(c *config) { c.resourceID = id } }

// WithPhase2Connector makes phase 2 (rollbacks, undo-log cleanup, and the
// checks a dialect makes of what a rollback will see) connect through c
// instead of the wrapped connector. c must reach the same database, with a
// user allowed to read and write every table AT mode writes and the undo
// table. For a database user the application's own is not: on
// PostgreSQL, one that row-level security does not filter (BYPASSRLS, or
// the tables' owner without FORCE ROW LEVEL SECURITY), when it filters the
// application's user. c is not closed by the resource. Databases open in
// one process under one resource ID share their rollbacks (the first one
// open runs them), so they must all be given the same connector, a
// pointer, or none: another is refused at open.
// Every process serving the resource ID should use the same phase-2 user.
func WithPhase2Connector(c driver.Connector) Option { return func(cfg *config) { cfg.phase2 = c } }

// WithLogger sets the logger; the default discards.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.log = l
		}
	}
}

// WithUndoTable sets the undo-log table's name (default undo.DefaultTable).
func WithUndoTable(name string) Option { return func(c *config) { c.undoTable = name } }

// WithUndoSchema names the schema (PostgreSQL) or database (MySQL) of the
// undo-log table: every statement then names the table qualified, so
// phase 1 and phase 2 find the same table whatever the session's
// search_path. Empty (the default): unqualified.
func WithUndoSchema(schema string) Option { return func(c *config) { c.undoSchema = schema } }

// WithCreateUndoTable makes the first connection create the undo-log table
// if it does not exist (the shipped schema, datasource/undo/schema).
func WithCreateUndoTable() Option { return func(c *config) { c.createUndo = true } }

// WithLockRetry sets the backoff of a statement waiting for another
// global transaction's lock (SELECT … FOR UPDATE, writes under
// tm.WithGlobalLock): about min first, doubling up to max. Defaults 5ms
// and 200ms. Lock conflicts at branch registration follow the
// rm.Manager's own backoff.
func WithLockRetry(min, max time.Duration) Option {
	return func(c *config) { c.lockMin, c.lockMax = min, max }
}

// WithLockWait bounds how long a local transaction waits for rows
// another global transaction has locked: past d it fails with a lock
// conflict naming the holder (errors.Is txc.ErrLockConflict). At a local
// commit in a global transaction (the registration of its branch) the
// local transaction then rolls back, leaving no branch and no undo log; a
// locking read (SELECT … FOR UPDATE) in a global transaction, or a write
// or locking read under tm.WithGlobalLock, fails as a statement. While it
// waits the local transaction keeps its rows' local locks, which a
// rollback of the holder needs to restore them: a short wait bounds how
// long that rollback can stall. The global transaction's own
// tm.Config.LockWait wins over d when this process began it; one received
// with the XID from another process may only shorten d (see
// rm.Manager.LockWaitFor). Zero (the default) leaves the
// rm.Manager's (rm.WithLockWait, itself none by default: the whole budget
// of the transaction's ctx, or the statement's). A negative d makes
// opening fail (InvalidArgument).
func WithLockWait(d time.Duration) Option { return func(c *config) { c.lockWait = d } }

// WithUndoRetention sets the age after which finished markers (left by
// rollbacks that found no undo log) are swept, hourly; default 24h. It
// must exceed the longest global transaction. Undo logs are never swept
// by age alone: one may belong to a branch parked for manual action (see
// WithLeftoverSweep for those of committed branches). Zero disables the
// sweep.
func WithUndoRetention(d time.Duration) Option { return func(c *config) { c.retention = d } }

// WithLeftoverSweep sets how old an undo log must be before the leftover
// sweep asks the coordinator about its transaction, and how often it
// runs; default 1 minute, and once at open for logs of any age. The
// coordinator counts an AT branch committed at the commit decision and
// only notifies the RM, which deletes the undo log; a log whose notice
// was lost (RM down or killed, stream lost, DELETE failed) is deleted by
// this sweep once the coordinator reports its transaction committed
// (docs/at-phase2.md). Zero disables it: such logs then stay until
// deleted by hand.
func WithLeftoverSweep(age time.Duration) Option { return func(c *config) { c.leftoverAge = age } }

// WithMetadataMaxAge sets how long a table's cached metadata (columns,
// keys, triggers, referencing foreign keys) is used before a statement
// reads it again. Zero keeps it until a statement finds it out of date.
// The default is the dialect's (MetadataAger): MySQL 10s; PostgreSQL
// none (it checks every table once per local transaction). A negative d
// makes opening fail (InvalidArgument).
func WithMetadataMaxAge(d time.Duration) Option {
	return func(c *config) { c.metaMaxAge, c.metaAgeSet = d, true }
}

// WithDialect forces the dialect instead of detecting it from the
// connector's driver.
func WithDialect(d Dialect) Option { return func(c *config) { c.dialect = d } }

// WithClientInterpolation tells the proxy that the wrapped driver runs
// statements with arguments itself (client-side interpolation, for
// go-sql-driver/mysql interpolateParams=true) instead of returning
// driver.ErrSkip. Dialect packages set it from the DSN; it only saves the
// prepare round trip inside global transactions.
func WithClientInterpolation(on bool) Option { return func(c *config) { c.interpolate = on } }

var defaultManager atomic.Pointer[rm.Manager]

// SetDefaultManager sets the resource manager used by databases opened
// without WithManager (sql.Open("txc-mysql", dsn) among them), and
// announces to it every such database already open.
func SetDefaultManager(m *rm.Manager) {
	defaultManager.Store(m)
	announceAll(m)
}
