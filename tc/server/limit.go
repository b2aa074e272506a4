package server

import (
	"strconv"
	"sync"

	"github.com/txcio/txc"
	"github.com/txcio/txc/tc"
)

// txLimiter bounds the global transactions one client has open: counted
// from its Begin until the transaction reaches a final status. A client is
// its authenticated identity (all its streams together), or its stream
// without Access. Transactions restored at start are not counted (their
// client is not recorded). A nil *txLimiter limits nothing.
type txLimiter struct {
	max int

	mu      sync.Mutex
	count   map[string]int
	pending map[pendingBegin]string
	owner   map[txc.XID]string
}

type pendingBegin struct {
	conn tc.ConnID
	id   uint64
}

func newTxLimiter(max int) *txLimiter {
	if max <= 0 {
		return nil
	}
	return &txLimiter{max: max, count: map[string]int{}, pending: map[pendingBegin]string{}, owner: map[txc.XID]string{}}
}

// clientKey names the client of a stream for the limit.
func clientKey(c *conn) string {
	if c.identity != "" {
		return c.identity
	}
	return "stream " + strconv.FormatUint(uint64(c.id), 10)
}

// begin counts a Begin request of c with request id; it returns the
// refusal when c's client is at the limit (nothing is counted then).
func (l *txLimiter) begin(c *conn, id uint64) *txc.Error {
	if l == nil {
		return nil
	}
	key := clientKey(c)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.count[key] >= l.max {
		return txc.Errorf(txc.CodeUnavailable, "server: %s has %d transactions open, the limit per client; begin again once some finish", key, l.max)
	}
	l.count[key]++
	l.pending[pendingBegin{c.id, id}] = key
	return nil
}

// replied settles a counted Begin with its reply: a failed one is
// uncounted, a successful one is remembered by XID.
func (l *txLimiter) replied(r *tc.Reply) {
	if l == nil || r.Kind != tc.KindBegin {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	p := pendingBegin{r.Conn, r.ID}
	key, ok := l.pending[p]
	if !ok {
		return
	}
	delete(l.pending, p)
	if r.Err != nil {
		l.release(key)
		return
	}
	l.owner[r.XID] = key
}

// finished uncounts a transaction that reached a final status.
func (l *txLimiter) finished(xid txc.XID) {
	if l == nil {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if key, ok := l.owner[xid]; ok {
		delete(l.owner, xid)
		l.release(key)
	}
}

func (l *txLimiter) release(key string) {
	if l.count[key] <= 1 {
		delete(l.count, key)
		return
	}
	l.count[key]--
}
