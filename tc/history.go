package tc

import (
	"time"

	"github.com/txcio/txc"
)

// HistoryEntry is one line of a transaction's history: a status change,
// or an operator's action (with who did it and why).
//
// History is kept in the coordinator's memory only: after a restart a
// transaction's history starts again with its begin and a "restored"
// entry. The statuses themselves are durable (they go through the store
// like every change); the operator's name and comment are in the
// coordinator's log.
type HistoryEntry struct {
	At     time.Time `json:"at"`
	Status string    `json:"status"`
	// Action is what caused the entry: "begin", "status", "restored",
	// "retry" or "resolve".
	Action string `json:"action"`
	// Who is the operator, for "retry" and "resolve".
	Who string `json:"who,omitempty"`
	// Note is the operator's comment, or why the status changed (the
	// RM's failure text when the transaction was parked).
	Note string `json:"note,omitempty"`
}

// History actions.
const (
	ActionBegin    = "begin"
	ActionStatus   = "status"
	ActionRestored = "restored"
	ActionRetry    = "retry"
	ActionResolve  = "resolve"
)

// maxHistory bounds the entries kept per transaction; the oldest go first
// (the begin entry is rebuilt from the record, so it is never lost).
const maxHistory = 64

// record appends an entry to g's history.
func (g *global) record(e HistoryEntry) {
	if g.history == nil {
		g.history = g.histBuf[:0]
	}
	if len(g.history) >= maxHistory {
		n := copy(g.history, g.history[len(g.history)-maxHistory+1:])
		clear(g.history[n:])
		g.history = g.history[:n]
	}
	g.history = append(g.history, e)
}

// noteLast attaches why to g's latest history entry, when it has none.
func (g *global) noteLast(why string) {
	if n := len(g.history); n > 0 && g.history[n-1].Note == "" {
		g.history[n-1].Note = why
	}
}

// historyView is g's history as the admin views show it: the begin, then
// every recorded entry.
func historyView(g *global) []HistoryEntry {
	out := make([]HistoryEntry, 0, len(g.history)+1)
	out = append(out, HistoryEntry{At: g.rec.Begun, Status: txc.GlobalBegin.String(), Action: ActionBegin})
	return append(out, g.history...)
}
