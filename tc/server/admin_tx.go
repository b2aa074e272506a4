package server

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/tc"
)

// StatsView is what GET /v1/stats answers.
type StatsView struct {
	Node string `json:"node"`
	tc.Stats
	// Totals count since this process started.
	Totals Totals `json:"totals"`
}

func (s *Server) getStats(w http.ResponseWriter, r *http.Request) {
	v := StatsView{Node: s.Node(), Totals: s.totals.snapshot()}
	var err error
	if v.Stats, err = s.stats(r.Context()); err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) listTransactions(w http.ResponseWriter, r *http.Request) {
	f, err := txFilter(r.URL.Query())
	if err != nil {
		writeError(w, err)
		return
	}
	out, total, err := s.transactions(r.Context(), time.Now(), f)
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("X-Total-Count", strconv.Itoa(total))
	writeJSON(w, http.StatusOK, out)
}

// txFilter reads the query parameters of GET /v1/transactions.
func txFilter(q url.Values) (tc.TxFilter, error) {
	f := tc.TxFilter{Name: q.Get("name"), Resource: q.Get("resource"), Manual: q.Get("manual") == "1" || q.Get("manual") == "true"}
	var err error
	if f.Limit, err = intParam(q, "limit", 1000); err != nil {
		return f, err
	}
	if f.Offset, err = intParam(q, "offset", 0); err != nil {
		return f, err
	}
	if a := q.Get("min_age"); a != "" {
		if f.MinAge, err = time.ParseDuration(a); err != nil || f.MinAge < 0 {
			return f, txc.Errorf(txc.CodeInvalidArgument, "server: min_age must be a duration like 30s or 5m")
		}
	}
	for _, name := range strings.Split(q.Get("status"), ",") {
		if name = strings.TrimSpace(name); name == "" {
			continue
		}
		st, ok := parseStatus(name)
		if !ok {
			return f, txc.Errorf(txc.CodeInvalidArgument, "server: unknown status %q", name)
		}
		f.Statuses = append(f.Statuses, st)
	}
	return f, nil
}

// intParam reads a non-negative integer parameter (limit must be positive).
func intParam(q url.Values, key string, def int) (int, error) {
	v := q.Get(key)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || (key == "limit" && n == 0) {
		return 0, txc.Errorf(txc.CodeInvalidArgument, "server: %s must be a %s integer", key,
			map[bool]string{true: "positive", false: "non-negative"}[key == "limit"])
	}
	return n, nil
}

// pathXID reads and checks the {xid} of the request path.
func pathXID(r *http.Request) (txc.XID, error) {
	xid := txc.XID(r.PathValue("xid"))
	if _, _, err := xid.Parse(); err != nil {
		return "", err
	}
	return xid, nil
}

func (s *Server) getTransaction(w http.ResponseWriter, r *http.Request) {
	xid, err := pathXID(r)
	if err != nil {
		writeError(w, err)
		return
	}
	p, err := s.partitionOf(xid)
	if err != nil {
		writeError(w, err)
		return
	}
	var v tc.TxView
	var ok bool
	if err := p.query(r.Context(), func(c *tc.Core) { v, ok = c.Transaction(xid) }); err != nil {
		writeError(w, err)
		return
	}
	if !ok {
		writeError(w, &txc.Error{Code: txc.CodeUnknownTransaction, XID: xid, Message: "server: no transaction " + string(xid) + " (unknown or forgotten)"})
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// actionBody is the optional JSON body of the operator actions.
type actionBody struct {
	Operator string `json:"operator"`
	Comment  string `json:"comment"`
}

// operator reads who acts and why from r.
func operator(r *http.Request) (tc.Operator, error) {
	var b actionBody
	data, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		return tc.Operator{}, txc.Errorf(txc.CodeInvalidArgument, "server: reading the request body: %v", err)
	}
	if len(strings.TrimSpace(string(data))) > 0 {
		if err := json.Unmarshal(data, &b); err != nil {
			return tc.Operator{}, txc.Errorf(txc.CodeInvalidArgument, "server: the body must be JSON like {\"operator\": \"…\", \"comment\": \"…\"}: %v", err)
		}
	}
	who := b.Operator
	if id := authenticatedOperator(r); id != "" {
		// The credential, not what the caller says, names who acted.
		who = id
		if b.Operator != "" && b.Operator != id {
			who = id + " (as " + b.Operator + ")"
		}
	}
	if who == "" {
		who = r.Header.Get("X-Txc-Operator")
	}
	if who == "" {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			host = r.RemoteAddr
		}
		who = "admin@" + host
	}
	return tc.Operator{Who: who, Comment: b.Comment}, nil
}

func (s *Server) retryTransaction(w http.ResponseWriter, r *http.Request) {
	s.operatorAction(w, r, http.StatusAccepted, "retry scheduled", (*tc.Core).Retry)
}

func (s *Server) resolveTransaction(w http.ResponseWriter, r *http.Request) {
	s.operatorAction(w, r, http.StatusOK, "resolved", (*tc.Core).Resolve)
}

// operatorAction runs act on the core and answers once its change is
// durable, with {"xid", "result", "transaction"}.
func (s *Server) operatorAction(w http.ResponseWriter, r *http.Request, code int, result string,
	act func(*tc.Core, time.Time, txc.XID, tc.Operator) error) {
	if err := sameOrigin(r); err != nil {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": err.Error(), "code": txc.CodeInvalidArgument.String()})
		return
	}
	xid, err := pathXID(r)
	if err != nil {
		writeError(w, err)
		return
	}
	op, err := operator(r)
	if err != nil {
		writeError(w, err)
		return
	}
	p, err := s.partitionOf(xid)
	if err != nil {
		writeError(w, err)
		return
	}
	var v tc.TxView
	err = p.change(r.Context(), func(c *tc.Core) error {
		if err := act(c, time.Now(), xid, op); err != nil {
			return err
		}
		v, _ = c.Transaction(xid)
		return nil
	})
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, code, map[string]any{"xid": xid, "result": result, "transaction": v})
}

func (s *Server) listLocks(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := tc.LockFilter{Resource: q.Get("resource"), Table: q.Get("table"), Holder: txc.XID(q.Get("holder"))}
	var err error
	if f.Limit, err = intParam(q, "limit", 1000); err != nil {
		writeError(w, err)
		return
	}
	out, total, err := s.locks(r.Context(), f)
	if err != nil {
		writeError(w, err)
		return
	}
	w.Header().Set("X-Total-Count", strconv.Itoa(total))
	writeJSON(w, http.StatusOK, out)
}

// RMStream is one RM stream in GET /v1/rms: the core's view plus the
// client name it gave.
type RMStream struct {
	tc.StreamView
	Name string `json:"name"`
	// Identity is the stream's authenticated identity ("" without
	// credentials configured).
	Identity string `json:"identity,omitempty"`
}

// RMsView is what GET /v1/rms answers.
type RMsView struct {
	Streams   []RMStream        `json:"streams"`
	Resources []tc.ResourceView `json:"resources"`
}

func (s *Server) listRMs(w http.ResponseWriter, r *http.Request) {
	var v RMsView
	streams, resources, err := s.rms(r.Context())
	v.Resources = resources
	if err != nil {
		writeError(w, err)
		return
	}
	v.Streams = make([]RMStream, 0, len(streams))
	for _, st := range streams {
		rs := RMStream{StreamView: st}
		if c := s.hub.get(st.Conn); c != nil {
			rs.Name, rs.Identity = c.name, c.identity
		}
		v.Streams = append(v.Streams, rs)
	}
	writeJSON(w, http.StatusOK, v)
}

// parseStatus finds a global status by its name (case-insensitive).
func parseStatus(name string) (txc.GlobalStatus, bool) {
	for st := txc.GlobalBegin; st.Valid(); st++ {
		if strings.EqualFold(st.String(), name) {
			return st, true
		}
	}
	return 0, false
}

// sameOrigin refuses an action a browser sends from another site's page
// (cross-site request forgery against an operator's browser that can
// reach the admin port): such a request carries an Origin that is not this
// server. Requests without Origin (txcctl, curl, scripts) pass.
func sameOrigin(r *http.Request) error {
	o := r.Header.Get("Origin")
	if o == "" {
		return nil
	}
	u, err := url.Parse(o)
	if err != nil || u.Host != r.Host {
		return txc.Errorf(txc.CodeInvalidArgument, "server: refused an action from a page of %q, not of this console", o)
	}
	return nil
}
