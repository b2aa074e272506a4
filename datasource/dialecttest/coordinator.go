// Package dialecttest is what the tests of every AT-mode dialect share: a
// real coordinator to run global transactions against (Coordinator), and
// the conformance suite each dialect runs (Run): a global transaction's
// writes, rolled back, leave every table as it was, and committed, as a
// plain run leaves it; a statement refused before it runs leaves no
// trace, and its local transaction goes on.
package dialecttest

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client"
	"github.com/txcio/txc/rm"
	"github.com/txcio/txc/tc/server/servertest"
	"github.com/txcio/txc/tm"
)

// Coordinator is a real coordinator in the test process (memory store,
// loopback port) and one client connection to it serving as TM and RM.
type Coordinator struct {
	Conn  *client.Conn
	TM    *tm.Manager
	RM    *rm.Manager
	Admin http.Handler // the coordinator's admin API
}

// StartCoordinator starts a Coordinator for t, whose node name begins
// with prefix; it stops when t ends.
func StartCoordinator(t testing.TB, prefix string) *Coordinator {
	t.Helper()
	conn, admin := servertest.StartWithAdmin(t, prefix)
	return &Coordinator{Conn: conn, TM: tm.New(conn), RM: rm.New(conn), Admin: admin}
}

// ErrRollback is the error a test's global transaction returns to roll
// back.
var ErrRollback = errors.New("test: roll back")

// Global runs fn in a global transaction and returns its XID and error.
func (c *Coordinator) Global(fn func(ctx context.Context) error) (txc.XID, error) {
	var xid txc.XID
	err := c.TM.WithGlobalTx(context.Background(), tm.Config{Name: "test", Timeout: 30 * time.Second}, func(ctx context.Context) error {
		xid, _ = tm.XIDFromContext(ctx)
		return fn(ctx)
	})
	return xid, err
}

// Wait waits until xid reaches one of the statuses want, failing t after
// 30 s.
func (c *Coordinator) Wait(t testing.TB, xid txc.XID, want ...txc.GlobalStatus) txc.GlobalStatus {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := c.Conn.Status(context.Background(), xid)
		if err == nil {
			for _, w := range want {
				if st == w {
					return st
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("transaction %s: status %v (err %v), want one of %v", xid, st, err, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Retry resumes xid, parked as needing manual action, through the admin
// API.
func (c *Coordinator) Retry(t testing.TB, xid txc.XID) {
	t.Helper()
	w := httptest.NewRecorder()
	c.Admin.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/v1/transactions/"+string(xid)+"/retry", nil))
	if w.Code != http.StatusAccepted {
		t.Fatalf("retry %s: %d %s", xid, w.Code, w.Body)
	}
}
