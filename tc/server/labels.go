package server

import "sync"

// boundedLabels keeps the first max distinct values of a label that
// clients choose (transaction names, resource IDs, tables); later values
// read "other", so that a client making up new ones cannot add series to
// /metrics (and memory to the process) without end.
type boundedLabels struct {
	max  int
	mu   sync.Mutex
	seen map[string]struct{}
}

func newBoundedLabels(max int) *boundedLabels {
	return &boundedLabels{max: max, seen: make(map[string]struct{})}
}

// label returns v if it is kept, else "other".
func (b *boundedLabels) label(v string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.seen[v]; ok {
		return v
	}
	if len(b.seen) >= b.max {
		return "other"
	}
	b.seen[v] = struct{}{}
	return v
}
