package datasource

import (
	"fmt"
	"sync"

	"github.com/txcio/txc"
)

// SQLStater is an optional interface of a Dialect: the SQLSTATE a
// database error carries. A rollback that fails with the same error of a
// persistent class (see persistentState) maxRepeats times in a row parks
// its transaction instead of being retried forever.
type SQLStater interface {
	// SQLState is err's five-character SQLSTATE, or "" if it has none.
	SQLState(err error) string
}

// maxRepeats is how many times in a row a rollback of one branch may
// fail with the same persistent error before it is parked (with the
// coordinator's default backoff, 200 ms doubling, about 6 s).
const maxRepeats = 5

// maxTracked bounds the branches whose failures are remembered; past it
// the memory starts over (a branch then needs a few more attempts).
const maxTracked = 10000

// persistentState reports whether an error of SQLSTATE state recurs when
// the same statement runs again on the same data: data exceptions (22),
// integrity constraint violations (23: a duplicate key, a foreign key,
// NOT NULL), syntax errors and missing objects or privileges (42), and
// features not supported (0A). Connection failures (08), serialization
// failures and deadlocks (40), lock timeouts and lack of resources are
// transient.
func persistentState(state string) bool {
	if len(state) != 5 {
		return false
	}
	switch state[:2] {
	case "22", "23", "42", "0A":
		return true
	}
	return false
}

// RepeatedError reports a rollback that failed with the same persistent
// database error Times times in a row: retrying will not help until the
// data, the schema or the privileges change. The transaction is parked as
// needing manual action; a retry by an operator starts counting anew.
type RepeatedError struct {
	XID    txc.XID
	Branch txc.BranchID
	Times  int
	Err    error
}

func (e *RepeatedError) Error() string {
	return fmt.Sprintf("datasource: rollback of branch %d of %s failed %d times in a row with the same error, parked for manual action: %v", e.Branch, e.XID, e.Times, e.Err)
}

func (e *RepeatedError) Unwrap() error { return e.Err }

// repeats counts, per branch, the rollbacks in a row that failed with one
// persistent error.
type repeats struct {
	mu sync.Mutex
	m  map[repeatKey]repeat
}

type repeatKey struct {
	resource string
	xid      txc.XID
	branch   txc.BranchID
}

type repeat struct {
	msg string
	n   int
}

var rollbackRepeats = repeats{m: map[repeatKey]repeat{}}

// note records the outcome of one rollback attempt of k and returns how
// many times in a row it failed with the same persistent error (0 when
// err is nil or not persistent: the count starts over). A branch that
// reaches max is forgotten, so a retry after parking counts anew.
func (r *repeats) note(k repeatKey, err error, persistent bool, max int) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err == nil || !persistent {
		delete(r.m, k)
		return 0
	}
	cur := r.m[k]
	if cur.msg != err.Error() {
		cur = repeat{msg: err.Error()}
	}
	cur.n++
	if cur.n >= max {
		delete(r.m, k)
		return cur.n
	}
	if len(r.m) >= maxTracked {
		clear(r.m)
	}
	r.m[k] = cur
	return cur.n
}

// persistent reports whether err, returned by a rollback, comes from a
// database error of a persistent class (see persistentState).
func (r *Resource) persistent(err error) bool {
	s, ok := r.dialect.(SQLStater)
	return ok && persistentState(s.SQLState(err))
}
