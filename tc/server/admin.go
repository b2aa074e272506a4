package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/txcio/txc"
	"github.com/txcio/txc/tc"
)

// AdminHandler serves the admin HTTP endpoints:
//
//	GET  /healthz                        200 while the process runs
//	GET  /readyz                         200 when serving, 503 otherwise
//	GET  /metrics                        Prometheus metrics from gatherer (if not nil)
//	GET  /v1/stats                       counts of live state
//	GET  /v1/transactions[?manual=1&limit=N]  live transactions, oldest first
//	GET  /v1/transactions/{xid}          one live transaction
//	POST /v1/transactions/{xid}/retry    resume one parked as needing manual action
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
	mux.HandleFunc("GET /v1/stats", func(w http.ResponseWriter, r *http.Request) {
		var st tc.Stats
		if err := s.query(r.Context(), func(c *tc.Core) { st = c.Stats() }); err != nil {
			writeError(w, err)
			return
		}
		writeJSON(w, http.StatusOK, st)
	})
	mux.HandleFunc("GET /v1/transactions", func(w http.ResponseWriter, r *http.Request) {
		manual := r.URL.Query().Get("manual") == "1"
		limit := 1000
		if l := r.URL.Query().Get("limit"); l != "" {
			n, err := strconv.Atoi(l)
			if err != nil || n <= 0 {
				writeError(w, txc.Errorf(txc.CodeInvalidArgument, "server: limit must be a positive integer"))
				return
			}
			limit = n
		}
		var out []tc.TxView
		if err := s.query(r.Context(), func(c *tc.Core) { out = c.Transactions(manual, limit) }); err != nil {
			writeError(w, err)
			return
		}
		if out == nil {
			out = []tc.TxView{}
		}
		writeJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("GET /v1/transactions/{xid}", func(w http.ResponseWriter, r *http.Request) {
		xid := txc.XID(r.PathValue("xid"))
		if _, _, err := xid.Parse(); err != nil {
			writeError(w, err)
			return
		}
		var v tc.TxView
		var ok bool
		if err := s.query(r.Context(), func(c *tc.Core) { v, ok = c.Transaction(xid) }); err != nil {
			writeError(w, err)
			return
		}
		if !ok {
			writeError(w, &txc.Error{Code: txc.CodeUnknownTransaction, XID: xid, Message: "server: no live transaction " + string(xid)})
			return
		}
		writeJSON(w, http.StatusOK, v)
	})
	mux.HandleFunc("POST /v1/transactions/{xid}/retry", func(w http.ResponseWriter, r *http.Request) {
		xid := txc.XID(r.PathValue("xid"))
		if _, _, err := xid.Parse(); err != nil {
			writeError(w, err)
			return
		}
		var rerr error
		if err := s.query(r.Context(), func(c *tc.Core) { rerr = c.Retry(time.Now(), xid) }); err != nil {
			writeError(w, err)
			return
		}
		if rerr != nil {
			writeError(w, rerr)
			return
		}
		writeJSON(w, http.StatusAccepted, map[string]string{"xid": string(xid), "result": "retry scheduled"})
	})
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
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
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, map[string]string{"error": err.Error(), "code": txc.CodeOf(err).String()})
}
