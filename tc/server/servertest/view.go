package servertest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/txcio/txc"
	"github.com/txcio/txc/tc"
)

// Transaction returns the view of transaction xid that the admin handler
// admin (StartWithAdmin's) gives: its status and branches (none once it
// finished). It fails t if the coordinator does not know xid.
func Transaction(t testing.TB, admin http.Handler, xid txc.XID) tc.TxView {
	t.Helper()
	w := httptest.NewRecorder()
	admin.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/v1/transactions/"+string(xid), nil))
	var v tc.TxView
	if w.Code != http.StatusOK {
		t.Fatalf("servertest: transaction %s: %d %s", xid, w.Code, w.Body)
	}
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("servertest: transaction %s: %v: %s", xid, err, w.Body)
	}
	return v
}
