package server

import (
	"context"
	"net/http"
	"strings"

	"github.com/txcio/txc"
)

type identityKey struct{}

// guardAdmin puts Access in front of the admin handler. /healthz, /readyz
// and the console's static files need no credential (they show no state;
// the console asks for a token and sends it with each API call). /metrics
// and GET /v1/... need one with admin read (or write) rights unless
// OpenAdminReads; every other /v1 request (the actions) needs admin write
// rights. A request without a credential gets 401, one whose identity may
// not do it 403; both are counted and logged, and every action that passes
// is logged with its identity (the audit trail, besides the transaction's
// history).
func (s *Server) guardAdmin(next http.Handler) http.Handler {
	a := s.cfg.Access
	if a == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		api := strings.HasPrefix(r.URL.Path, "/v1/") || r.URL.Path == "/metrics"
		write := r.Method != http.MethodGet && r.Method != http.MethodHead
		if !api || !write && a.openReads {
			next.ServeHTTP(w, r)
			return
		}
		id := a.identify(r.TLS, r.Header.Get("Authorization"))
		if err := a.permitAdmin(id, write); err != nil {
			s.refuseAdmin(w, r, id, err)
			return
		}
		if write {
			s.log.Info("admin action", "identity", id, "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr)
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), identityKey{}, id)))
	})
}

func (s *Server) refuseAdmin(w http.ResponseWriter, r *http.Request, id string, err *txc.Error) {
	s.metrics.refused("admin", r.Method+" "+adminRoute(r.URL.Path))
	s.log.Warn("permission denied", "identity", id, "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr, "err", err.Message)
	code := http.StatusForbidden
	if id == "" {
		code = http.StatusUnauthorized
		w.Header().Set("WWW-Authenticate", `Bearer realm="txc"`)
	}
	writeJSON(w, code, map[string]string{"error": err.Message, "code": err.Code.String()})
}

// adminRoute is a path's route with the XID left out, for a bounded
// metric label.
func adminRoute(path string) string {
	parts := strings.Split(path, "/")
	if len(parts) >= 4 && parts[1] == "v1" && parts[2] == "transactions" {
		parts[3] = "{xid}"
	}
	if len(parts) > 5 {
		parts = parts[:5]
	}
	return strings.Join(parts, "/")
}

// authenticatedOperator is the identity guardAdmin found for r, if any.
func authenticatedOperator(r *http.Request) string {
	id, _ := r.Context().Value(identityKey{}).(string)
	return id
}
