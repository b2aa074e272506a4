package tc

import (
	"github.com/txcio/txc"
)

// MaxReserve is the most XIDs one Reserve may ask for.
const MaxReserve = 1 << 16

// maxRanges is how many reserved blocks a stream keeps live; reserving one
// more forgets the oldest, so a client that reserves without using cannot
// grow the core's memory.
const maxRanges = 4

// xidRange is a block of sequence numbers reserved for one stream's Begins,
// with a bit per number that is set once the number was used.
type xidRange struct {
	first uint64
	count uint64
	used  []uint64
	left  uint64 // numbers not used yet
}

func newXIDRange(first, count uint64) *xidRange {
	return &xidRange{first: first, count: count, used: make([]uint64, (count+63)/64), left: count}
}

func (r *xidRange) contains(seq uint64) bool { return seq >= r.first && seq-r.first < r.count }

// take marks seq used and reports whether it was free.
func (r *xidRange) take(seq uint64) bool {
	i := seq - r.first
	w, b := i/64, uint64(1)<<(i%64)
	if r.used[w]&b != 0 {
		return false
	}
	r.used[w] |= b
	r.left--
	return true
}

// reserve hands m.Conn a block of m.Count sequence numbers for Begins that
// name their XID. The numbers come from the same durable counter as every
// other ID, so the reply, sent after the batch that moved the counter is
// synced, promises they are never handed out again.
func (c *Core) reserve(m Msg) {
	if m.Count == 0 || m.Count > MaxReserve {
		c.fail(m, txc.Errorf(txc.CodeInvalidArgument, "tc: reserve: count %d is not in 1..%d", m.Count, MaxReserve))
		return
	}
	first := c.nextSeq
	c.nextSeq += m.Count
	if c.nextSeq > c.reserved {
		c.reserved = c.nextSeq + c.cfg.IDBlock
		c.rd.Batch.NextID = c.reserved
	}
	rs := c.ranges[m.Conn]
	if len(rs) == maxRanges {
		rs = append(rs[:0], rs[1:]...)
	}
	c.ranges[m.Conn] = append(rs, newXIDRange(first, m.Count))
	c.reply(Reply{Conn: m.Conn, ID: m.ID, Kind: m.Kind, Node: c.cfg.Node, First: first, Count: m.Count})
}

// claim checks that xid, named by a Begin on conn, was reserved on conn and
// not used, and marks it used. The error says why not.
func (c *Core) claim(conn ConnID, xid txc.XID) *txc.Error {
	node, seq, err := xid.Parse()
	if err != nil {
		return err.(*txc.Error)
	}
	if node != c.cfg.Node {
		return txc.Errorf(txc.CodeInvalidArgument, "tc: begin: XID %s is not of this coordinator node %q", xid, c.cfg.Node)
	}
	rs := c.ranges[conn]
	for i, r := range rs {
		if !r.contains(seq) {
			continue
		}
		if !r.take(seq) {
			break
		}
		if r.left == 0 {
			c.ranges[conn] = append(rs[:i], rs[i+1:]...)
		}
		return nil
	}
	return txc.Errorf(txc.CodeInvalidArgument, "tc: begin: XID %s was not reserved on this stream, or was used already", xid)
}

// dropRanges forgets conn's reservations; their numbers are never used.
func (c *Core) dropRanges(conn ConnID) { delete(c.ranges, conn) }
