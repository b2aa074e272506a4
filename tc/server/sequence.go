package server

import (
	"time"

	"github.com/txcio/txc/tc/store"
)

// sequencePerMilli is how many IDs a store is assumed never to hand out
// per millisecond of its life (the coordinator uses a few dozen at its
// fastest).
const sequencePerMilli = 1000

// firstSequence is where the ID sequence of a store that never handed out
// an ID begins: the clock, in milliseconds, times sequencePerMilli. XIDs
// name only the node, so a coordinator whose store was wiped (or a new
// deployment with the same node name) would otherwise hand out XIDs again
// that an earlier store did, and the rows kept under them in users'
// databases (AT undo logs and finished markers, TCC fences, saga logs)
// would meet new transactions. Starting from the clock, a new store's IDs
// are above every ID of an earlier one unless the clock went back. A
// store that handed out IDs keeps its sequence.
func firstSequence(st *store.State, now time.Time) uint64 {
	if st.NextID != 0 || len(st.Globals) != 0 {
		return 0
	}
	return uint64(now.UnixMilli()) * sequencePerMilli
}
