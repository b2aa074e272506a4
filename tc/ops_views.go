package tc

import (
	"cmp"
	"slices"
	"strings"

	"github.com/txcio/txc"
	"github.com/txcio/txc/tc/lock"
)

// LockFilter selects rows for Locks. Zero fields select everything.
type LockFilter struct {
	Resource string
	Table    string
	Holder   txc.XID
	// Limit returns at most this many rows (0: all).
	Limit int
}

// Locks returns the locked rows f selects, ordered by resource, table and
// row, and how many match in all. O(locked rows).
func (c *Core) Locks(f LockFilter) ([]lock.Row, int) {
	var out []lock.Row
	c.locks.Each(func(r lock.Row) bool {
		if (f.Resource == "" || r.Resource == f.Resource) && (f.Table == "" || r.Table == f.Table) &&
			(f.Holder == "" || r.Holder == f.Holder) {
			out = append(out, r)
		}
		return true
	})
	slices.SortFunc(out, func(a, b lock.Row) int {
		if c := strings.Compare(a.Resource, b.Resource); c != 0 {
			return c
		}
		if c := strings.Compare(a.Table, b.Table); c != 0 {
			return c
		}
		return strings.Compare(a.Key, b.Key)
	})
	total := len(out)
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	if out == nil {
		out = []lock.Row{}
	}
	return out, total
}

// StreamView is one client stream that announced resources (an RM).
type StreamView struct {
	Conn      ConnID   `json:"conn"`
	Resources []string `json:"resources"`
}

// ResourceView is one resource: the RM streams serving it and how many
// transactions wait for one.
type ResourceView struct {
	Resource string   `json:"resource_id"`
	Conns    []ConnID `json:"conns"`
	Waiting  int      `json:"transactions_waiting"`
}

// RMs returns the streams that said Hello, by ConnID, and every resource
// known (served, or awaited by phase-2 work), by name.
func (c *Core) RMs() ([]StreamView, []ResourceView) {
	streams := make([]StreamView, 0, len(c.conns))
	for id, rs := range c.conns {
		streams = append(streams, StreamView{Conn: id, Resources: slices.Clone(rs)})
	}
	slices.SortFunc(streams, func(a, b StreamView) int { return cmp.Compare(a.Conn, b.Conn) })
	res := make([]ResourceView, 0, len(c.resources))
	for name, set := range c.resources {
		res = append(res, ResourceView{Resource: name, Conns: slices.Clone(set.conns), Waiting: len(set.waiting)})
	}
	slices.SortFunc(res, func(a, b ResourceView) int { return strings.Compare(a.Resource, b.Resource) })
	return streams, res
}
