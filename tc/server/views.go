package server

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/txcio/txc/tc"
	"github.com/txcio/txc/tc/lock"
)

// The admin views and state metrics cover every hosted partition: each
// core answers for its own transactions and locks, and the answers are
// merged here into one view of the process.

// stats adds up the partitions' counts. Every core knows every stream, so
// streams are counted once.
func (s *Server) stats(ctx context.Context) (tc.Stats, error) {
	total := tc.Stats{ByStatus: map[string]int{}}
	err := s.eachPartition(ctx, func(c *tc.Core) {
		st := c.Stats()
		total.Active += st.Active
		total.Manual += st.Manual
		total.LockedRows += st.LockedRows
		total.InFlight += st.InFlight
		total.Finished += st.Finished
		total.Conns = max(total.Conns, st.Conns)
		for k, v := range st.ByStatus {
			total.ByStatus[k] += v
		}
	})
	return total, err
}

// transactions merges the partitions' lists, oldest first as each core
// orders its own, then applies f's offset and limit to the whole.
func (s *Server) transactions(ctx context.Context, now time.Time, f tc.TxFilter) ([]tc.TxView, int, error) {
	each := f
	each.Offset = 0
	if f.Limit > 0 {
		each.Limit = f.Offset + f.Limit
	}
	all := []tc.TxView{}
	total := 0
	err := s.eachPartition(ctx, func(c *tc.Core) {
		out, n := c.Transactions(now, each)
		all, total = append(all, out...), total+n
	})
	slices.SortStableFunc(all, func(a, b tc.TxView) int {
		return cmp.Or(a.Begun.Compare(b.Begun), strings.Compare(string(a.XID), string(b.XID)))
	})
	all = all[min(f.Offset, len(all)):]
	if f.Limit > 0 && len(all) > f.Limit {
		all = all[:f.Limit]
	}
	return all, total, err
}

// locks merges the partitions' locked rows, ordered as each core orders
// its own.
func (s *Server) locks(ctx context.Context, f tc.LockFilter) ([]lock.Row, int, error) {
	all := []lock.Row{}
	total := 0
	err := s.eachPartition(ctx, func(c *tc.Core) {
		out, n := c.Locks(f)
		all, total = append(all, out...), total+n
	})
	slices.SortStableFunc(all, func(a, b lock.Row) int {
		return cmp.Or(strings.Compare(a.Resource, b.Resource), strings.Compare(a.Table, b.Table), strings.Compare(a.Key, b.Key))
	})
	if f.Limit > 0 && len(all) > f.Limit {
		all = all[:f.Limit]
	}
	return all, total, err
}

// rms merges the partitions' views of the RM streams (the same streams in
// every core) and of the resources (the transactions waiting for one are
// each partition's own).
func (s *Server) rms(ctx context.Context) ([]tc.StreamView, []tc.ResourceView, error) {
	streams := map[tc.ConnID]tc.StreamView{}
	res := map[string]tc.ResourceView{}
	err := s.eachPartition(ctx, func(c *tc.Core) {
		ss, rs := c.RMs()
		for _, st := range ss {
			streams[st.Conn] = st
		}
		for _, r := range rs {
			have, ok := res[r.Resource]
			if !ok {
				res[r.Resource] = r
				continue
			}
			for _, id := range r.Conns {
				if !slices.Contains(have.Conns, id) {
					have.Conns = append(have.Conns, id)
				}
			}
			have.Waiting += r.Waiting
			res[r.Resource] = have
		}
	})
	ss := slices.SortedFunc(maps.Values(streams), func(a, b tc.StreamView) int { return cmp.Compare(a.Conn, b.Conn) })
	rs := slices.SortedFunc(maps.Values(res), func(a, b tc.ResourceView) int { return strings.Compare(a.Resource, b.Resource) })
	if rs == nil {
		rs = []tc.ResourceView{} // a JSON list, also when empty
	}
	return ss, rs, err
}
