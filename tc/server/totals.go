package server

import (
	"sync/atomic"

	"github.com/txcio/txc"
	"github.com/txcio/txc/tc"
)

// Totals count what the coordinator did since the process started, for
// the console's throughput chart (it works without Prometheus).
type Totals struct {
	Begun      uint64 `json:"begun"`
	Committed  uint64 `json:"committed"`
	Rollbacked uint64 `json:"rollbacked"`
	TimedOut   uint64 `json:"timed_out"`
	Parked     uint64 `json:"parked"`
	Conflicts  uint64 `json:"lock_conflicts"`
}

// totals is Totals counted from the persister.
type totals struct {
	begun, committed, rollbacked, timedOut, parked, conflicts atomic.Uint64
}

func (t *totals) reply(r *tc.Reply) {
	switch {
	case r.Kind == tc.KindBegin && r.Err == nil:
		t.begun.Add(1)
	case txc.CodeOf(r.Err) == txc.CodeLockConflict:
		t.conflicts.Add(1)
	}
}

func (t *totals) event(e *tc.Event) {
	switch e.Kind {
	case tc.EventFinished:
		switch e.Status {
		case txc.GlobalCommitted:
			t.committed.Add(1)
		case txc.GlobalRollbacked:
			t.rollbacked.Add(1)
		case txc.GlobalTimeoutRollbacked:
			t.timedOut.Add(1)
		}
	case tc.EventManualAction:
		t.parked.Add(1)
	}
}

func (t *totals) snapshot() Totals {
	return Totals{Begun: t.begun.Load(), Committed: t.committed.Load(), Rollbacked: t.rollbacked.Load(),
		TimedOut: t.timedOut.Load(), Parked: t.parked.Load(), Conflicts: t.conflicts.Load()}
}
