package cluster

import (
	"context"
	"sync"
	"time"

	"go.etcd.io/etcd/client/v3/concurrency"
)

// A node that cannot serve its own partition (its store failed: cut off
// from the database) must let another node drive it. While its node key
// is present nobody adopts the partition, so the node leaves the cluster:
// it ends its registration, and registers again only once Config.Check
// says it can serve. The node that adopted the partition meanwhile hands
// it back then.

// away is the node's registration as seen by the own partition's host.
type away struct {
	mu   sync.Mutex
	reg  *concurrency.Session // the registration in use, nil between
	gone bool                 // left the cluster; register again once Check passes
}

// registration records the registration in use (nil: none).
func (a *away) registration(s *concurrency.Session) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.reg = s
}

// stepOut marks the node away and ends its registration, so that its node
// key goes at once.
func (n *Node) stepOut() {
	n.away.mu.Lock()
	s := n.away.reg
	n.away.gone = true
	n.away.mu.Unlock()
	n.log.Warn("cluster: own partition failed; leaving the cluster so that another node adopts it until this node can serve again")
	if s != nil {
		n.closeSession(s)
	}
}

// isAway reports whether the node left the cluster and has not come back.
func (n *Node) isAway() bool {
	n.away.mu.Lock()
	defer n.away.mu.Unlock()
	return n.away.gone
}

// comeBack waits, when the node is away, until Config.Check passes, and
// marks it back. It returns ctx's error when ctx ends first.
func (n *Node) comeBack(ctx context.Context) error {
	if !n.isAway() {
		return nil
	}
	for attempt := 0; ; attempt++ {
		if n.cfg.Check == nil || n.cfg.Check(ctx) == nil {
			n.away.mu.Lock()
			n.away.gone = false
			n.away.mu.Unlock()
			n.log.Info("cluster: able to serve again; registering")
			return nil
		}
		if attempt%10 == 0 {
			n.log.Warn("cluster: still unable to serve; staying out of the cluster", "attempt", attempt)
		}
		pause(ctx, time.Second)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}
