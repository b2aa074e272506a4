package server

import (
	"net"
	"net/http"
	"strings"

	"github.com/txcio/txc"
)

// refuseRebound guards an admin port open to whoever reaches it (no
// Access) against DNS rebinding: a page of another site whose name the
// attacker then points at 127.0.0.1 is, to the browser, of the same origin
// as the port, so sameOrigin lets its actions through and it may read the
// answers. Its requests name that site in Host. So a request from a
// browser (it sends Origin or Sec-Fetch-Site) to the API, /metrics or
// /debug/ must name the coordinator by IP address or as localhost; other
// clients (txcctl, scripts, Prometheus) and the console's files pass by
// any name. With credentials configured a rebound page has none to send.
func refuseRebound(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if adminAPI(r) && fromBrowser(r) && !localName(r.Host) {
			writeJSON(w, http.StatusForbidden, map[string]string{
				"error": "server: refused a browser's request for " + r.Host + ": without credentials configured, " +
					"browse the admin port by IP address or as localhost (or configure tokens or client certificates)",
				"code": txc.CodePermissionDenied.String()})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// fromBrowser reports whether r carries the headers browsers add.
func fromBrowser(r *http.Request) bool {
	return r.Header.Get("Origin") != "" || r.Header.Get("Sec-Fetch-Site") != ""
}

// localName reports whether host (with or without a port) is an IP
// address or a name of this machine no other site can own.
func localName(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	return net.ParseIP(host) != nil || host == "localhost" || strings.HasSuffix(host, ".localhost")
}
