package tc

import (
	"time"

	"github.com/txcio/txc"
)

// finishedSet remembers recently finished transactions in arrival order,
// bounded in age and count. Their global records stay in the store, with
// the final status, until expire forgets them.
type finishedSet struct {
	status map[txc.XID]txc.GlobalStatus
	// views keeps the last view of the finished transactions that once
	// needed manual action (rare), for the admin views; forgotten with
	// the status.
	views map[txc.XID]*TxView
	queue []finishedEntry
	head  int
}

type finishedEntry struct {
	xid txc.XID
	at  time.Time
}

func newFinishedSet() finishedSet {
	return finishedSet{status: make(map[txc.XID]txc.GlobalStatus)}
}

func (f *finishedSet) add(xid txc.XID, s txc.GlobalStatus, now time.Time) {
	f.status[xid] = s
	f.queue = append(f.queue, finishedEntry{xid, now})
}

// keepView remembers v, the view of a finished transaction, until the
// transaction is forgotten.
func (f *finishedSet) keepView(xid txc.XID, v TxView) {
	if f.views == nil {
		f.views = make(map[txc.XID]*TxView)
	}
	f.views[xid] = &v
}

func (f *finishedSet) get(xid txc.XID) (txc.GlobalStatus, bool) {
	s, ok := f.status[xid]
	return s, ok
}

// expire forgets entries beyond the age and count limits, calling forget
// for each.
func (f *finishedSet) expire(now time.Time, age time.Duration, max int, forget func(txc.XID)) {
	for f.head < len(f.queue) {
		e := f.queue[f.head]
		if len(f.queue)-f.head <= max && now.Sub(e.at) < age {
			break
		}
		delete(f.status, e.xid)
		delete(f.views, e.xid)
		forget(e.xid)
		f.queue[f.head] = finishedEntry{}
		f.head++
	}
	if f.head > 1024 && f.head*2 > len(f.queue) {
		n := copy(f.queue, f.queue[f.head:])
		clear(f.queue[n:])
		f.queue = f.queue[:n]
		f.head = 0
	}
}
