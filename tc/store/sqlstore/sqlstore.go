package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/txcio/txc/internal/sqltable"
	"github.com/txcio/txc/tc/store"
)

const pkg = "sqlstore"

// Dialect is the database a store lives in.
type Dialect uint8

// Dialects.
const (
	MySQL    = Dialect(sqltable.MySQL)    // MySQL and MariaDB (InnoDB)
	Postgres = Dialect(sqltable.Postgres) // PostgreSQL
)

func (d Dialect) String() string { return sqltable.Dialect(d).String() }

// ParseDialect maps "mysql" and "postgres" to their Dialect.
func ParseDialect(s string) (Dialect, error) {
	switch s {
	case "mysql":
		return MySQL, nil
	case "postgres":
		return Postgres, nil
	}
	return 0, fmt.Errorf("%w: unknown dialect %q (want mysql or postgres)", ErrInvalid, s)
}

// DefaultTablePrefix begins the names of the store's tables when
// Options.TablePrefix is empty.
const DefaultTablePrefix = "txc_tc_"

// maxTablePrefix is the longest table prefix, in bytes.
const maxTablePrefix = 40

// CheckTablePrefix returns an error matching ErrInvalid unless p can
// begin the store's table names.
func CheckTablePrefix(p string) error {
	if !sqltable.Plain(p, maxTablePrefix) || strings.ToLower(p) != p {
		return fmt.Errorf("%w: table prefix %q is not 1..40 of a-z 0-9 _ beginning with a letter or _", ErrInvalid, p)
	}
	return nil
}

// ErrInvalid is matched by errors about bad options: an unknown dialect,
// a malformed DSN or table prefix.
var ErrInvalid = errors.New(pkg + ": invalid options")

// Options say where a store lives.
type Options struct {
	Dialect Dialect
	// DSN is the database to use: a go-sql-driver/mysql DSN
	// (user:password@tcp(host:3306)/db) or a PostgreSQL URL or keyword
	// string, as pgx parses it. It is never logged or put in an error.
	DSN string
	// TablePrefix begins every table name (lower-case letters, digits,
	// underscores; at most 40 bytes). Empty means DefaultTablePrefix.
	// Stores with different prefixes share a database without meeting.
	TablePrefix string
	// Logger receives schema creation at Info level. Nil discards.
	Logger *slog.Logger
	// LockTablePrefix, when set, is the base prefix of the cluster whose
	// shared lock table (<LockTablePrefix>locks, see OpenLocks) this store
	// lives beside, as the store of one node's partition (TablePrefix =
	// PartitionPrefix(LockTablePrefix, node)): Apply then deletes the
	// batch's FreeLocks, and every row of the transactions whose branches
	// it deletes, in the batch's own transaction. Empty: no shared table,
	// FreeLocks are ignored.
	LockTablePrefix string
}

// tables are the names of a store's tables, and of the shared lock table
// beside it (locks, "" when there is none; its base prefix locksBase).
type tables struct {
	prefix, schema, global, branch, sequence string
	locks, locksBase                         string
}

func newTables(prefix string) tables {
	return tables{prefix: prefix, schema: prefix + "schema", global: prefix + "global",
		branch: prefix + "branch", sequence: prefix + "sequence"}
}

// backend is one dialect's half of a store. A backend that fails drops its
// connection; the next call connects again.
type backend interface {
	apply(ctx context.Context, p *plan) error
	load(ctx context.Context) (*store.State, error)
	close() error
}

// Store is a store.Store on a SQL database. It is safe for concurrent use;
// calls are serialised.
type Store struct {
	mu       sync.Mutex
	b        backend
	t        tables
	secret   string
	log      *slog.Logger
	closed   bool
	failNext *injected // set by tests
}

var _ store.Store = (*Store)(nil)

// injected is a simulated crash: keepAll commits the batch and then fails,
// otherwise the batch is sent and a statement that fails aborts its
// transaction before the commit.
type injected struct {
	err     error
	keepAll bool
}

// check returns the table prefix (TablePrefix or its default), the
// logger (Logger or one that discards) and the DSN's password, or why
// opts are bad.
func (opts Options) check() (prefix string, log *slog.Logger, secret string, err error) {
	prefix = opts.TablePrefix
	if prefix == "" {
		prefix = DefaultTablePrefix
	}
	if err := CheckTablePrefix(prefix); err != nil {
		return "", nil, "", err
	}
	log = opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	secret, err = Password(opts.Dialect, opts.DSN)
	return prefix, log, secret, err
}

// Open connects to the database, creates the tables when they are missing
// and checks the schema version: a store this build does not know fails
// with a *SchemaVersionError and is left as it is.
func Open(ctx context.Context, opts Options) (*Store, error) {
	prefix, log, secret, err := opts.check()
	if err != nil {
		return nil, err
	}
	s := &Store{secret: secret, log: log}
	t := newTables(prefix)
	if base := opts.LockTablePrefix; base != "" {
		if err := CheckTablePrefix(base); err != nil {
			return nil, err
		}
		t.locks, t.locksBase = base+"locks", base
	}
	var b backend
	switch opts.Dialect {
	case MySQL:
		b, err = openMySQL(ctx, opts.DSN, secret, t, log)
	case Postgres:
		b, err = openPostgres(ctx, opts.DSN, t, log)
	default:
		return nil, fmt.Errorf("%w: unknown dialect %v", ErrInvalid, opts.Dialect)
	}
	if err != nil {
		return nil, s.scrub(err)
	}
	s.b, s.t = b, t
	return s, nil
}

// FreesSharedLocks reports whether Apply deletes the batches' FreeLocks
// from the shared lock table itself (the store was opened with
// LockTablePrefix), so that the caller must not free them again.
func (s *Store) FreesSharedLocks() bool { return s.t.locks != "" }

// Apply implements store.Store: one SQL transaction per batch.
func (s *Store) Apply(ctx context.Context, b *store.Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	p := newPlan(b, s.t.locks != "")
	if f := s.failNext; f != nil {
		s.failNext = nil
		p.abort = !f.keepAll
		if err := s.b.apply(ctx, p); err != nil && f.keepAll {
			return s.scrub(err)
		}
		return f.err
	}
	if p.empty() {
		return nil
	}
	return s.scrub(s.applyAgainOnConflict(ctx, p))
}

// applyConflictTries bounds how often a batch the database aborted to
// resolve a lock conflict is applied again.
const applyConflictTries = 10

// applyAgainOnConflict applies p, again when the database aborted the
// whole transaction to resolve a lock conflict (a deadlock with another
// node's batch or claim on the shared lock table): nothing of it was
// kept, so running it again is the same change. Any other failure is
// returned: its outcome may be unknown.
func (s *Store) applyAgainOnConflict(ctx context.Context, p *plan) error {
	for try := 1; ; try++ {
		err := s.b.apply(ctx, p)
		if err == nil || try == applyConflictTries || !sqltable.IsConflict(err) || ctx.Err() != nil {
			return err
		}
		s.log.Warn("sqlstore: batch aborted by the database to resolve a lock conflict; applying it again", "try", try, "err", s.scrub(err))
	}
}

// Load implements store.Store. It reads one consistent snapshot.
func (s *Store) Load(ctx context.Context) (*store.State, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, store.ErrClosed
	}
	st, err := s.b.load(ctx)
	if err != nil {
		return nil, s.scrub(err)
	}
	return st, nil
}

// Close implements store.Store.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.scrub(s.b.close())
}
