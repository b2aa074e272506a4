package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/txcio/txc"
)

// AdminHandler serves the admin HTTP endpoints and the web console:
//
//	GET  /                               the web console (see console.go)
//	GET  /healthz                        200 while the process runs
//	GET  /readyz                         200 when serving, 503 otherwise
//	GET  /metrics                        Prometheus metrics from gatherer (if not nil)
//	GET  /v1/stats                       counts of live state and totals since start
//	GET  /v1/transactions                live transactions, oldest first (filters below)
//	GET  /v1/transactions/{xid}          one transaction: branches, lock keys, last_error, history
//	POST /v1/transactions/{xid}/retry    resume one parked as needing manual action
//	POST /v1/transactions/{xid}/resolve  settle a parked one by hand (comment required)
//	GET  /v1/locks                       locked rows with their holder
//	GET  /v1/rms                         RM streams and the resources they serve
//
// Lists are JSON arrays; the X-Total-Count header says how many matched
// before limit and offset. /v1/transactions takes status (comma-separated
// names), name (substring), resource, min_age (a duration: begun at least
// that long ago), manual=1, limit (default 1000) and offset; /v1/locks
// takes resource, table, holder and limit.
//
// The two actions take an optional JSON body {"operator": "...",
// "comment": "..."}; the operator may also come from the X-Txc-Operator
// header and defaults to "admin@" and the client's address. They answer
// only once the change is durable in the store; each is recorded in the
// transaction's history and logged with who did it and why. Errors are
// {"error": text, "code": txc code name} with 400 (bad input), 403 (an
// action sent by a browser from a page of another origin), 404 (unknown
// transaction), 409 (not in a state for this), 421 (a transaction of a
// partition this node does not host now), 503 (stopping). With
// Config.Access, requests need a credential (401 without one, 403 with
// an identity the policy does not allow; see GuardAdmin) and the
// operator recorded is the authenticated identity; without it the API is
// open to whoever reaches the admin address.
//
// It binds nothing itself; the caller serves it on the admin address.
func (s *Server) AdminHandler(gatherer prometheus.Gatherer) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !s.Ready() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
	if gatherer != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	}
	mux.HandleFunc("GET /v1/stats", s.getStats)
	mux.HandleFunc("GET /v1/transactions", s.listTransactions)
	mux.HandleFunc("GET /v1/transactions/{xid}", s.getTransaction)
	mux.HandleFunc("POST /v1/transactions/{xid}/retry", s.retryTransaction)
	mux.HandleFunc("POST /v1/transactions/{xid}/resolve", s.resolveTransaction)
	mux.HandleFunc("GET /v1/locks", s.listLocks)
	mux.HandleFunc("GET /v1/rms", s.listRMs)
	mux.Handle("GET /", consoleHandler())
	return s.GuardAdmin(mux)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, err error) {
	code := http.StatusInternalServerError
	switch txc.CodeOf(err) {
	case txc.CodeInvalidArgument:
		code = http.StatusBadRequest
	case txc.CodeUnknownTransaction:
		code = http.StatusNotFound
	case txc.CodeNotActive:
		code = http.StatusConflict
	case txc.CodeUnavailable:
		code = http.StatusServiceUnavailable
	case txc.CodeNotServedHere:
		code = http.StatusMisdirectedRequest
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, map[string]string{"error": err.Error(), "code": txc.CodeOf(err).String()})
}
