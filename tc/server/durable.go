package server

import (
	"context"
	"sync"

	"github.com/txcio/txc"
	"github.com/txcio/txc/tc"
)

// readyCount numbers the Readies: the core loop counts those it hands to
// the persister, the persister those it made durable, so a caller can
// wait until a change it made on the core is in the store.
type readyCount struct {
	taken uint64 // core loop only

	mu      sync.Mutex
	durable uint64
	wake    chan struct{} // closed and replaced at every durable Ready
}

// persisted records that the next n Readies are durable (persister only).
func (rc *readyCount) persisted(n uint64) {
	rc.mu.Lock()
	rc.durable += n
	if rc.wake != nil {
		close(rc.wake)
		rc.wake = nil
	}
	rc.mu.Unlock()
}

// wait returns once Ready number n is durable.
func (rc *readyCount) wait(ctx context.Context, stopping <-chan struct{}, n uint64) error {
	for {
		rc.mu.Lock()
		if rc.durable >= n {
			rc.mu.Unlock()
			return nil
		}
		if rc.wake == nil {
			rc.wake = make(chan struct{})
		}
		wake := rc.wake
		rc.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return ctx.Err()
		case <-stopping:
			return txc.Errorf(txc.CodeUnavailable, "server: stopping before the change was stored")
		}
	}
}

// change runs f on the core loop and, when f succeeds, waits until what f
// changed is durable: it is in the next Ready the loop hands over, which
// is synced even if it is lazy.
func (p *partition) change(ctx context.Context, f func(*tc.Core) error) error {
	var ferr error
	var target uint64
	if err := p.query(ctx, func(c *tc.Core) {
		if ferr = f(c); ferr == nil {
			p.force = true
			target = p.readies.taken + 1
		}
	}); err != nil {
		return err
	}
	if ferr != nil {
		return ferr
	}
	return p.readies.wait(ctx, p.stopping, target)
}
