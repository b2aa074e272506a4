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
