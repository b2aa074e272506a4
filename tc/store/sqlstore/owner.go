package sqlstore

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrInUse is returned by Open, Apply or Load when another session holds
// the store: another coordinator uses the same tables, or a session of a
// coordinator that died has not ended yet and did not end within
// ownerWait.
var ErrInUse = errors.New(pkg + ": the store is in use by another session")

// ErrOwnerLost is returned by every call on a store whose session, and
// with it the owner lock, ended (the database restarted or ended the
// session, the link to it failed): another session may have taken the
// store over and changed it since, so the caller's state may be stale.
// Close the store and open it again, which loads the state anew.
var ErrOwnerLost = errors.New(pkg + ": the store's session ended; its owner lock may have passed to another session: open the store again")

// ownerWait bounds the wait for the owner lock.
const ownerWait = 30 * time.Second

// ownerPoll is the interval between tries of the owner lock.
const ownerPoll = 50 * time.Millisecond

// Every session the store writes or reads through first takes the
// store's owner lock, a session lock the database releases only when the
// session ends. A coordinator killed while its last batch was on its way
// leaves a session that may still commit that batch after the client is
// gone; the lock makes the next session (a restarted coordinator, or the
// same one reconnecting) wait until it has ended, so that no Load can
// miss a batch that then lands on top of newer ones. One store serves one
// coordinator at a time.

// ownerName names the owner lock of the tables with prefix (in the
// connection's database: PostgreSQL's advisory locks are per database;
// MySQL's named locks are per server, so its lock name also hashes the
// database's name, see ownMySQL).
func ownerName(t tables) string { return "txc_sqlstore_owner:" + t.prefix }

// ownerKey is the PostgreSQL advisory-lock key of the owner lock.
func ownerKey(t tables) int64 {
	h := fnv.New64a()
	h.Write([]byte(ownerName(t)))
	return int64(h.Sum64())
}

// ownPostgres takes the owner lock on conn, waiting up to ownerWait.
func ownPostgres(ctx context.Context, conn *pgx.Conn, t tables) error {
	return poll(ctx, t, func() (bool, error) {
		var got bool
		err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", ownerKey(t)).Scan(&got)
		return got, err
	})
}

// ownMySQL takes the owner lock on a new driver connection of MySQL.
func ownMySQL(ctx context.Context, c driver.Conn, t tables) error {
	q, ok := c.(driver.QueryerContext)
	if !ok {
		return fmt.Errorf("%s: the mysql driver connection cannot query", pkg)
	}
	return poll(ctx, t, func() (bool, error) {
		// At most 64 characters: "txc_owner:" and 40 hex digits.
		rows, err := q.QueryContext(ctx, "SELECT GET_LOCK(CONCAT('txc_owner:', SHA1(CONCAT(DATABASE(), '/', ?))), 0)",
			[]driver.NamedValue{{Ordinal: 1, Value: ownerName(t)}})
		if err != nil {
			return false, err
		}
		defer rows.Close()
		dest := make([]driver.Value, 1)
		if err := rows.Next(dest); err != nil && err != io.EOF {
			return false, err
		}
		n, _ := dest[0].(int64)
		return n == 1, nil
	})
}

// poll tries to take the lock until it gets it, ownerWait passes (then
// ErrInUse) or ctx is done.
func poll(ctx context.Context, t tables, try func() (bool, error)) error {
	deadline := time.Now().Add(ownerWait)
	held := false
	for {
		got, err := try()
		if err != nil && held && ctx.Err() != nil {
			// ctx ended during a try after the lock was seen held: the
			// wait ran out, as below (not a failure of the database).
			return fmt.Errorf("%w: tables %s* held by another session: %w", ErrInUse, t.prefix, context.Cause(ctx))
		}
		if err != nil {
			return fmt.Errorf("%s: owner lock: %w", pkg, err)
		}
		if got {
			return nil
		}
		held = true
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: tables %s* held by another session for %s", ErrInUse, t.prefix, ownerWait)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: tables %s* held by another session: %w", ErrInUse, t.prefix, context.Cause(ctx))
		case <-time.After(ownerPoll):
		}
	}
}

// ownedConnector takes the owner lock on the one session a store of MySQL
// lives on. database/sql opens a connection again, without telling, when
// it finds the pooled one dead (the server restarted, ended the session
// at its wait_timeout or by KILL) or when apply discarded it; the lock
// went with that session, and another session may have taken the store
// over, changed it and let it go since. So a second Connect fails with
// ErrOwnerLost rather than take the lock again under a caller whose state
// may be stale.
type ownedConnector struct {
	driver.Connector
	t     tables
	owned *atomic.Bool // a session took the lock once
}

func (c ownedConnector) Connect(ctx context.Context) (driver.Conn, error) {
	if c.owned.Load() {
		return nil, ErrOwnerLost
	}
	dc, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	err = ownMySQL(ctx, dc, c.t)
	if err == nil {
		err = keepSession(ctx, dc)
	}
	if err != nil {
		dc.Close()
		return nil, err
	}
	c.owned.Store(true)
	return dc, nil
}

// keepSession raises the session's wait_timeout to MySQL's maximum (a
// year): a store idle longer than the server's (8 hours by default) would
// otherwise lose its session, and so be unusable (ErrOwnerLost), merely
// for being idle. A session whose coordinator died still ends when TCP
// keepalive finds the peer gone.
func keepSession(ctx context.Context, c driver.Conn) error {
	e, ok := c.(driver.ExecerContext)
	if !ok {
		return fmt.Errorf("%s: the mysql driver connection cannot execute", pkg)
	}
	if _, err := e.ExecContext(ctx, "SET SESSION wait_timeout = 31536000", nil); err != nil {
		return fmt.Errorf("%s: owner session: %w", pkg, err)
	}
	return nil
}
