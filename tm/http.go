package tm

import (
	"net/http"

	"go.opentelemetry.io/otel/propagation"

	"github.com/txcio/txc"
	"github.com/txcio/txc/internal/txctrace"
)

// Header is the HTTP header that carries the XID between processes.
const Header = "Txc-Xid"

// HTTPMiddleware returns a handler that reads the XID from the request's
// Header and serves next with a request whose context carries it
// (ContextWithXID). The XID is never trusted: a malformed one, or several
// different ones, get 400 Bad Request with a plain-text body saying why,
// and next is not called. A request without the header passes through
// untouched. A traceparent header sent with the XID becomes the remote
// parent span of the request's context, unless it already has a span; a
// lock wait sent with it (LockWaitHeader) is the transaction's there
// (LockWaitFromContext), and a malformed one gets 400 too.
func HTTPMiddleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		vals := r.Header.Values(Header)
		if len(vals) == 0 {
			next.ServeHTTP(w, r)
			return
		}
		xid, err := parseXIDs(vals)
		if err != nil {
			http.Error(w, "tm: bad "+Header+" header: "+err.Error(), http.StatusBadRequest)
			return
		}
		ctx, err := withLockWait(r.Context(), xid, r.Header.Values(LockWaitHeader))
		if err != nil {
			http.Error(w, "tm: bad "+LockWaitHeader+" header: "+err.Error(), http.StatusBadRequest)
			return
		}
		ctx = txctrace.Extract(ctx, propagation.HeaderCarrier(r.Header))
		next.ServeHTTP(w, r.WithContext(ContextWithXID(ctx, xid)))
	})
}

// RoundTripper returns an http.RoundTripper that, when a request's context
// carries an XID, sends it in Header. It sets the header on a clone of the
// request; the caller's request is never modified. If the request already
// has the same XID in Header it is kept (with only the lock wait added,
// if missing); if it has a different one,
// RoundTrip fails rather than send two transactions. A request without an
// XID in its context passes through untouched. With the XID goes the W3C
// traceparent of the context's OpenTelemetry span, if it has one and the
// request has none, and the transaction's lock wait (LockWaitHeader), if
// the context has one. A nil base means http.DefaultTransport.
func RoundTripper(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return &roundTripper{base: base}
}

type roundTripper struct{ base http.RoundTripper }

func (t *roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	xid, ok := XIDFromContext(req.Context())
	if !ok {
		return t.base.RoundTrip(req)
	}
	if err := checkOutgoing(req, xid); err != nil {
		if req.Body != nil {
			req.Body.Close() // RoundTrip must close the body, even on error.
		}
		return nil, err
	}
	lw := ""
	if len(req.Header.Values(LockWaitHeader)) == 0 { // one the caller set is kept
		lw = lockWaitValue(req.Context())
	}
	preset := len(req.Header.Values(Header)) > 0
	if preset && lw == "" {
		return t.base.RoundTrip(req)
	}
	clone := req.Clone(req.Context())
	if !preset {
		clone.Header.Set(Header, string(xid))
		txctrace.Inject(req.Context(), propagation.HeaderCarrier(clone.Header))
	}
	if lw != "" {
		clone.Header.Set(LockWaitHeader, lw)
	}
	return t.base.RoundTrip(clone)
}

// checkOutgoing waits until xid is begun (WaitBegun) and refuses a
// request whose Header already names another transaction.
func checkOutgoing(req *http.Request, xid txc.XID) error {
	if err := WaitBegun(req.Context()); err != nil {
		return err
	}
	for _, v := range req.Header.Values(Header) {
		if v != string(xid) {
			return &txc.Error{Code: txc.CodeInvalidArgument, XID: xid,
				Message: "tm: request already has " + Header + " " + truncate(v) + ", but its context carries global transaction " + string(xid)}
		}
	}
	return nil
}

// CloseIdleConnections forwards to the base RoundTripper if it has the
// method, so http.Client.CloseIdleConnections keeps working.
func (t *roundTripper) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
