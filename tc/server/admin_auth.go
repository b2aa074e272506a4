package server

import (
	"context"
	"net/http"
	"strings"

	"github.com/txcio/txc"
)

type identityKey struct{}

// GuardAdmin puts Access in front of an admin handler (AdminHandler does
// it for its own; the caller does it for what it adds, such as pprof); with
// no Access it only refuses browsers that name the port otherwise than by
// address or as localhost (refuseRebound). /healthz, /readyz and the console's static
// files need no credential (they show no state; the console asks for a
// token and sends it with each API call). /metrics and GET /v1/... need
// one with admin read (or write) rights unless OpenAdminReads; every
// other /v1 request (the actions) needs admin write rights, and so does
// everything under /debug/ (a heap profile holds secrets). A request
// without a credential gets 401, one whose identity may not do it 403;
// both are counted (label read or write) and logged, and every action that
// passes is logged with its identity (the audit trail, besides the
// transaction's history).
func (s *Server) GuardAdmin(next http.Handler) http.Handler {
	a := s.cfg.Access
	if a == nil {
		return refuseRebound(next)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		write := adminWrite(r)
		if !adminAPI(r) || !write && a.openReads {
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
	kind := "read"
	if adminWrite(r) {
		kind = "write"
	}
	s.metrics.refused("admin", kind)
	s.log.Warn("permission denied", "identity", id, "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr, "err", err.Message)
	code := http.StatusForbidden
	if id == "" {
		code = http.StatusUnauthorized
		w.Header().Set("WWW-Authenticate", `Bearer realm="txc"`)
	}
	writeJSON(w, code, map[string]string{"error": err.Message, "code": err.Code.String()})
}

// authenticatedOperator is the identity GuardAdmin found for r, if any.
func authenticatedOperator(r *http.Request) string {
	id, _ := r.Context().Value(identityKey{}).(string)
	return id
}

// adminAPI reports whether r is for state rather than the console's
// files or the health checks.
func adminAPI(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, "/v1/") || r.URL.Path == "/metrics" || strings.HasPrefix(r.URL.Path, "/debug/")
}

// adminWrite reports whether r needs admin write rights: an action, or
// anything under /debug/.
func adminWrite(r *http.Request) bool {
	return r.Method != http.MethodGet && r.Method != http.MethodHead || strings.HasPrefix(r.URL.Path, "/debug/")
}
