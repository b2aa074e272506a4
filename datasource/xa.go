package datasource

import (
	"context"
	"database/sql/driver"
	"errors"
	"strconv"
	"strings"

	"github.com/txcio/txc"
)

// Mode is how a database's statements join a global transaction.
type Mode uint8

// Modes.
const (
	// AT (the default): every write is imaged into an undo log that
	// commits with it; phase 2 deletes the log or writes the images back.
	AT Mode = iota
	// XA: each local transaction in a global transaction is a branch of
	// the database's own two-phase commit (MySQL XA, PostgreSQL PREPARE
	// TRANSACTION). Nothing is parsed: any statement runs as written.
	// Commit prepares the branch, which keeps its database locks until
	// phase 2 commits or rolls back the prepared transaction.
	XA
)

func (m Mode) String() string {
	if m == XA {
		return "XA"
	}
	return "AT"
}

// WithMode sets the mode of the database (default AT). In XA mode the
// dialect must implement XADialect; the undo-log table is not used.
func WithMode(m Mode) Option { return func(c *config) { c.mode = m } }

// XAID names one branch in the database's two-phase commit. It is derived
// from the global transaction and the branch ID alone, so any process
// serving the resource can finish a prepared branch it did not start.
type XAID struct {
	XID    txc.XID
	Branch txc.BranchID
}

// Node and Tail split the ID for databases whose XA identifiers have two
// short parts (MySQL: at most 64 bytes each): Node is the XID's node
// (at most 63 bytes), Tail its sequence number and the branch ID
// ("seq:branch", at most 41 bytes).
func (id XAID) Node() string {
	node, _, _ := id.XID.Parse()
	return node
}

// Tail: see Node.
func (id XAID) Tail() string {
	_, seq, _ := id.XID.Parse()
	return strconv.FormatUint(seq, 10) + ":" + strconv.FormatUint(uint64(id.Branch), 10)
}

// XAIDFromParts is the inverse of Node and Tail.
func XAIDFromParts(node, tail string) (XAID, bool) {
	seq, branch, ok := strings.Cut(tail, ":")
	if !ok {
		return XAID{}, false
	}
	x := txc.XID(node + ":" + seq)
	b, err := strconv.ParseUint(branch, 10, 64)
	if err != nil || b == 0 || !x.Valid() {
		return XAID{}, false
	}
	return XAID{XID: x, Branch: txc.BranchID(b)}, true
}

// String is the ID as one text: "txc:" XID ":" branch (PostgreSQL's
// transaction identifier, at most 110 bytes).
func (id XAID) String() string {
	return xaPrefix + string(id.XID) + ":" + strconv.FormatUint(uint64(id.Branch), 10)
}

const xaPrefix = "txc:"

// ParseXAID is the inverse of XAID.String; ok is false for text that is
// not a txc branch.
func ParseXAID(s string) (XAID, bool) {
	rest, ok := strings.CutPrefix(s, xaPrefix)
	if !ok {
		return XAID{}, false
	}
	node, tail, _ := strings.Cut(rest, ":") // a node name has no ':'
	return XAIDFromParts(node, tail)
}

// XADialect is an optional interface of a Dialect that can run XA mode.
// Each method runs its statements on c, a connection of the wrapped
// driver, outside any transaction the driver knows of.
type XADialect interface {
	// XACheck fails with an *XAUnavailableError when the server cannot
	// prepare transactions (PostgreSQL with max_prepared_transactions 0).
	XACheck(ctx context.Context, c driver.Conn) error
	// XAStart begins branch id on c (isolation and read-only as in opts).
	XAStart(ctx context.Context, c driver.Conn, id XAID, opts driver.TxOptions) error
	// XAPrepare ends and prepares branch id, begun on c. On an error the
	// branch may still be active on c: the caller then calls XAAbort.
	XAPrepare(ctx context.Context, c driver.Conn, id XAID) error
	// XAAbort rolls back branch id, begun but not prepared on c; it
	// succeeds when there is nothing left to roll back.
	XAAbort(ctx context.Context, c driver.Conn, id XAID) error
	// XAFinish commits (or rolls back) prepared branch id from any
	// session. A branch the server does not know as prepared is an
	// error matching ErrXANotPrepared.
	XAFinish(ctx context.Context, c driver.Conn, id XAID, commit bool) error
	// XARecover lists the prepared txc branches on the database of c.
	XARecover(ctx context.Context, c driver.Conn) ([]XAID, error)
	// XASessionBound reports whether a prepared branch stays bound to
	// the session that prepared it until that session ends (MariaDB:
	// another session's XA COMMIT answers "unknown XID" meanwhile).
	XASessionBound() bool
}

// XAStartExecer is an optional interface of an XADialect that can begin
// a branch and run its first statement (an Exec) in one round trip
// (PostgreSQL: BEGIN and the statement sent together). The branch's ID
// is not needed to begin it there. When handled is false nothing was
// sent: the caller begins the branch (XAStart) and runs the statement
// itself. After a handled error the branch may have begun: the caller
// rolls it back as a begun one (XAAbort).
type XAStartExecer interface {
	XAStartExec(ctx context.Context, c driver.Conn, opts driver.TxOptions, query string, args []driver.NamedValue) (res driver.Result, handled bool, err error)
}

// ErrXANotPrepared is matched by XAFinish's error for a branch the server
// does not hold prepared: finished before, or never prepared.
var ErrXANotPrepared = errors.New("datasource: no such prepared branch")

// XAUnavailableError reports a database that cannot run XA mode; opening
// it in XA mode fails with it. It matches txc.ErrUnsupported.
type XAUnavailableError struct {
	Resource string
	Reason   string
}

func (e *XAUnavailableError) Error() string {
	return "datasource: resource " + strconv.Quote(e.Resource) + " cannot run XA mode: " + e.Reason
}

// Unwrap returns the *txc.Error of code CodeUnsupported.
func (e *XAUnavailableError) Unwrap() error {
	return &txc.Error{Code: txc.CodeUnsupported, Message: e.Error()}
}

// ExecRaw runs query with args on c, a connection of the wrapped driver,
// outside the proxy (for XADialect implementations).
func ExecRaw(ctx context.Context, c driver.Conn, query string, args ...any) error {
	_, err := execRaw(ctx, c, query, named(args))
	return err
}

// QueryRaw runs query with args on c, a connection of the wrapped driver,
// outside the proxy, and reads every row ([]byte values copied).
func QueryRaw(ctx context.Context, c driver.Conn, query string, args ...any) ([][]driver.Value, error) {
	nv := named(args)
	var rows driver.Rows
	var err error
	if q, ok := c.(driver.QueryerContext); ok {
		rows, err = q.QueryContext(ctx, query, nv)
	} else {
		err = driver.ErrSkip
	}
	if err == driver.ErrSkip {
		var st driver.Stmt
		if st, err = prepare(ctx, c, query); err != nil {
			return nil, err
		}
		defer st.Close()
		rows, err = queryStmt(ctx, st, nv)
	}
	if err != nil {
		return nil, err
	}
	b, err := readAll(rows)
	if err != nil {
		return nil, err
	}
	return b.rows, nil
}

func execRaw(ctx context.Context, c driver.Conn, query string, nv []driver.NamedValue) (driver.Result, error) {
	if ex, ok := c.(driver.ExecerContext); ok {
		res, err := ex.ExecContext(ctx, query, nv)
		if err != driver.ErrSkip {
			return res, err
		}
	}
	st, err := prepare(ctx, c, query)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return execStmt(ctx, st, nv)
}

func named(args []any) []driver.NamedValue {
	if len(args) == 0 {
		return nil
	}
	nv := make([]driver.NamedValue, len(args))
	for i, a := range args {
		nv[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
	}
	return nv
}
