package client

import (
	"context"
	"slices"
)

// linkSet returns the current links. The slice is never changed.
func (c *Conn) linkSet() []*link { return *c.links.Load() }

// changedLocked wakes those waiting for a change of the links; c.mu is
// held.
func (c *Conn) changedLocked() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// changes returns a channel closed at the next change of the links.
func (c *Conn) changes() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.changed
}

// setLinks makes the links those to addrs: it starts a link to each new
// address and closes the links to addresses no longer listed.
func (c *Conn) setLinks(addrs []string) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	old := c.linkSet()
	var next, gone []*link
	for _, l := range old {
		if slices.Contains(addrs, l.addr) {
			next = append(next, l)
		} else {
			gone = append(gone, l)
		}
	}
	var added []*link
	for _, a := range addrs {
		if !slices.ContainsFunc(old, func(l *link) bool { return l.addr == a }) {
			l, err := c.newLink(a)
			if err != nil {
				c.mu.Unlock()
				for _, l := range added {
					l.close(err)
				}
				return err
			}
			added = append(added, l)
		}
	}
	next = append(next, added...)
	c.links.Store(&next)
	c.changedLocked()
	c.mu.Unlock()
	for _, l := range added {
		c.opts.log.Debug("client: linking to coordinator node", "target", l.addr)
		l.start()
	}
	for _, l := range gone {
		c.opts.log.Info("client: coordinator node left; closing its link", "target", l.addr, "node", l.nodeName())
		l.close(errLinkGone)
	}
	return nil
}

// waitUp waits until a link is up (nil), a permanent refusal ends Dial
// (c.dialErr) or ctx is done. Dial is over once it returns.
func (c *Conn) waitUp(ctx context.Context) error {
	defer func() {
		c.mu.Lock()
		c.dialing = false
		c.mu.Unlock()
	}()
	for {
		c.mu.Lock()
		ch, err := c.changed, c.dialErr
		c.mu.Unlock()
		if err != nil {
			return err
		}
		if slices.ContainsFunc(c.linkSet(), (*link).up) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// attemptFailed records a failed connection attempt; a permanent refusal
// while dialing ends Dial.
func (c *Conn) attemptFailed(err error, permanent bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lastErr = err
	if permanent && c.dialing && c.dialErr == nil {
		c.dialErr = err
		c.changedLocked()
	}
}

// dialCause is why Dial found no coordinator: the last failed attempt, or
// why etcd named no node.
func (c *Conn) dialCause() error {
	c.mu.Lock()
	err := c.lastErr
	c.mu.Unlock()
	if err == nil && c.watch != nil {
		st, _ := c.watch.State()
		err = st.Err
	}
	return err
}

// owner returns the address of partition p's owner if etcd names one.
func (c *Conn) owner(p string) string {
	if m := c.owners.Load(); m != nil && p != "" {
		return (*m)[p]
	}
	return ""
}

// Linked reports whether one of c's links reached, by its last Hello, the
// coordinator node named node. An RM asking about a transaction that node
// began trusts an UnknownTransaction only then: the node itself forgot it,
// it is not merely unknown to a coordinator that never had it.
func (c *Conn) Linked(node string) bool {
	return node != "" && slices.ContainsFunc(c.linkSet(), func(l *link) bool { return l.nodeName() == node })
}
