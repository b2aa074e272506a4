package server

import (
	"github.com/txcio/txc"
	"github.com/txcio/txc/tc"
	"github.com/txcio/txc/tc/lock"
)

// Requests about locks with Config.Locks: a registration's rows are
// claimed in the shared table (claim.go) before its core sees it; a lock
// query is answered from the shared table, which knows the rows of every
// partition of the cluster.

// needsClaim reports whether msg is a registration whose rows must be
// claimed first. A malformed one is not: its core refuses it, and a claim
// for it would only have to be given back.
func (s *Server) needsClaim(msg *tc.Msg) bool {
	if s.cfg.Locks == nil || msg.Kind != tc.KindRegister || !msg.BranchType.Valid() ||
		len(msg.ApplicationData) > txc.MaxApplicationLen || checkLockRequest(msg) != nil {
		return false
	}
	for _, k := range msg.LockKeys {
		if len(k.Rows) > 0 {
			return true
		}
	}
	return false
}

// checkLockRequest checks what a lock query or a registration says about
// rows, as the core would.
func checkLockRequest(msg *tc.Msg) *txc.Error {
	if msg.ResourceID == "" || len(msg.ResourceID) > txc.MaxResourceIDLen {
		return txc.Errorf(txc.CodeInvalidArgument, "server: resource ID must be 1..%d bytes", txc.MaxResourceIDLen)
	}
	if err := lock.Validate(msg.ResourceID, msg.LockKeys); err != nil {
		return err.(*txc.Error)
	}
	if msg.XID != "" && !msg.XID.Valid() {
		return txc.Errorf(txc.CodeInvalidArgument, "server: malformed XID %q", msg.XID)
	}
	return nil
}

// sharedLockQuery answers a lock query from the shared table, off the
// stream's reader and every core loop (lockqueries.go); over the backlog
// it is refused at once with txc.CodeUnavailable.
func (s *Server) sharedLockQuery(msg tc.Msg) {
	err := checkLockRequest(&msg)
	if err == nil && !s.lockQueries.add(msg) {
		err = tooManyLockQueries(s.lockQueries.backlog)
	}
	if err != nil {
		s.answer(&tc.Reply{Conn: msg.Conn, ID: msg.ID, Kind: msg.Kind, Err: err})
	}
}
