package rm_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/txcio/txc/rm"
	"github.com/txcio/txc/tm"
)

// A lock wait received from a remote caller should not lengthen the wait
// past the participant's own resource bound (datasource.WithLockWait),
// which bounds how long its local row locks stall others.
func TestReceivedLockWaitCappedByOwn(t *testing.T) {
	e := newLockEnv(t)
	m := rm.New(e.conn)
	var got time.Duration
	h := tm.HTTPMiddleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = m.LockWaitFor(r.Context(), 300*time.Millisecond)
	}))
	req := httptest.NewRequest(http.MethodPost, "/", nil)
	req.Header.Set(tm.Header, "tc1:7")
	req.Header.Set(tm.LockWaitHeader, "86400000")
	h.ServeHTTP(httptest.NewRecorder(), req)
	if got > 300*time.Millisecond {
		t.Fatalf("a remote caller set the participant's wait to %v, past its own bound of 300ms", got)
	}
}
