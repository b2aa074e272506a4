package server

import (
	"context"

	"github.com/txcio/txc"
	txcv1 "github.com/txcio/txc/proto/txc/v1"
	"github.com/txcio/txc/tc"
)

// Requests about an existing branch carry no resource ID, so the policy
// check of access.go cannot see whose branch it is. With Access, these
// checks close that gap:
//
//   - a Report (phase-1 outcome: a branch reported failed is skipped by
//     rollback) is refused unless the stream's identity may serve the
//     branch's resource, looked up in the core (Reports are rare);
//   - a BranchResult is dropped unless it answers a command this stream
//     was sent (command IDs are the coordinator's and could be guessed),
//     so that no stream can settle another's phase 2. Delivery is
//     at-least-once: a dropped result's command is sent again.

// expect records that command id was sent on c.
func (c *conn) expect(id uint64) {
	c.mu.Lock()
	if c.sent == nil {
		c.sent = make(map[uint64]struct{})
	}
	c.sent[id] = struct{}{}
	c.mu.Unlock()
}

// answered reports whether id was sent on c and not answered yet, and
// forgets it.
func (c *conn) answered(id uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.sent[id]
	delete(c.sent, id)
	return ok
}

// permitBranch applies the checks above to m from c; nil when allowed.
func (s *Server) permitBranch(c *conn, m *txcv1.ClientMessage) *txc.Error {
	a := s.cfg.Access
	if a == nil {
		return nil
	}
	var err *txc.Error
	switch b := m.GetBody().(type) {
	case *txcv1.ClientMessage_BranchResult:
		if !c.answered(m.GetId()) {
			err = denied(c.identity, "answer command %d: it was not sent on this stream", m.GetId())
		}
	case *txcv1.ClientMessage_Report:
		p := a.currentPolicy()
		if p == nil {
			return nil
		}
		res, ok := s.branchResource(txc.XID(b.Report.GetXid()), txc.BranchID(b.Report.GetBranchId()))
		if ok && !p.resource(c.identity, res) {
			err = denied(c.identity, "report on a branch of resource %q", res)
		}
	}
	if err != nil {
		s.refused(c.identity, c.name, m, err)
	}
	return err
}

// branchResource finds the resource of a live branch in the core of its
// partition (partsMu read-locked by accept; not found when not hosted).
func (s *Server) branchResource(xid txc.XID, id txc.BranchID) (res string, found bool) {
	p := s.servingLocked(xidNode(xid))
	if p == nil {
		return "", false
	}
	_ = p.query(context.Background(), func(core *tc.Core) {
		v, ok := core.Transaction(xid)
		if !ok {
			return
		}
		for _, b := range v.Branches {
			if b.ID == id {
				res, found = b.ResourceID, true
			}
		}
	})
	return res, found
}
