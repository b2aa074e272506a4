package tc

import (
	"container/heap"
	"time"
)

// timerHeap orders live transactions by their next wake-up. Each
// transaction is in it at most once (heapIdx >= 0).
type timerHeap []*global

func (h timerHeap) Len() int           { return len(h) }
func (h timerHeap) Less(i, j int) bool { return h[i].wake.Before(h[j].wake) }
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIdx, h[j].heapIdx = i, j
}
func (h *timerHeap) Push(x any) {
	g := x.(*global)
	g.heapIdx = len(*h)
	*h = append(*h, g)
}
func (h *timerHeap) Pop() any {
	old := *h
	g := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	g.heapIdx = -1
	return g
}

// schedule sets g's wake-up to t; a zero t removes it.
func (c *Core) schedule(g *global, t time.Time) {
	if t.IsZero() {
		c.unschedule(g)
		return
	}
	g.wake = t
	if g.heapIdx >= 0 {
		heap.Fix(&c.timers, g.heapIdx)
	} else {
		heap.Push(&c.timers, g)
	}
}

func (c *Core) unschedule(g *global) {
	if g.heapIdx >= 0 {
		heap.Remove(&c.timers, g.heapIdx)
	}
}
