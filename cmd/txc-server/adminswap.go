package main

import (
	"encoding/json"
	"net/http"
	"sync/atomic"
)

// notServing is the admin port of a process that does not serve (starting,
// or stopped after its store failed): /healthz answers, everything else
// is 503 saying why.
func (p *process) notServing(state string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" {
			w.Write([]byte("ok\n"))
			return
		}
		body := map[string]string{"error": "this node is not serving: " + state, "node": p.cfg.Node, "state": state}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		json.NewEncoder(w).Encode(body)
	})
}

// swapHandler serves whichever handler was set last.
type swapHandler struct{ h atomic.Pointer[http.Handler] }

func (s *swapHandler) set(h http.Handler) { s.h.Store(&h) }

func (s *swapHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := s.h.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	http.Error(w, "starting", http.StatusServiceUnavailable)
}

// clusterView answers GET /v1/cluster: this node, the partitions it hosts
// and every known partition's owner, as etcd last said.
func (p *process) clusterView(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"node": p.cfg.Node, "hosting": p.node.Hosting(), "owners": p.node.Owners()})
}
