package client

// pendingCount returns the number of pending requests on the live session.
func (c *Conn) pendingCount() int {
	c.mu.Lock()
	s := c.sess
	c.mu.Unlock()
	if s == nil {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.pending)
}

// queued returns the number of messages queued on the live session and
// not yet taken by its writer, and whether the linger timer of lazy
// messages is armed (they wait for it or for the next frame).
func (c *Conn) queued() (n int, lingering bool) {
	c.mu.Lock()
	s := c.sess
	c.mu.Unlock()
	if s == nil {
		return 0, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue), s.armed
}
