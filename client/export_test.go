package client

// pendingCount returns the number of pending requests on the live session
// of the first link.
func (c *Conn) pendingCount() int {
	s := c.linkSet()[0].cur.Load()
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending)
}

// queued returns the number of messages queued on the first link's live
// session and
// not yet taken by its writer, and whether the linger timer of lazy
// messages is armed (they wait for it or for the next frame).
func (c *Conn) queued() (n int, lingering bool) {
	s := c.linkSet()[0].cur.Load()
	if s == nil {
		return 0, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue), s.armed
}

// PutLeased puts a key under a lease of its own, for the external tests.
var PutLeased = put
