package client

// run connects the link and, whenever its session dies, reconnects with
// capped exponential backoff, until the link or the Conn closes.
func (l *link) run() {
	defer l.c.wg.Done()
	reconnect := false
	for {
		s := l.connectLoop(reconnect)
		if s == nil {
			return
		}
		select {
		case <-s.done:
		case <-l.ctx.Done():
			return
		}
		reconnect = true
		l.c.opts.log.Warn("client: stream to coordinator lost; reconnecting", "target", l.addr, "node", l.nodeName(), "err", s.cause())
	}
}

// connectLoop tries to open a session until one is installed (returned)
// or the link closes (nil). A new link tries at once; after a loss the
// first attempt waits, as every further one, a backoff delay.
func (l *link) connectLoop(reconnect bool) *session {
	c := l.c
	for attempt := 0; ; attempt++ {
		if reconnect && !sleep(l.ctx, c.opts.backoff.Delay(attempt)) {
			return nil
		}
		s, node, ver, permanent, err := l.connect()
		if err == nil && l.install(s, node, ver) {
			if reconnect {
				c.opts.log.Info("client: reconnected to coordinator", "target", l.addr, "node", node)
			}
			return s
		}
		if l.ctx.Err() != nil {
			return nil
		}
		if err != nil {
			c.attemptFailed(err, permanent)
			switch {
			case permanent:
				c.opts.log.Error("client: coordinator refused the session", "target", l.addr, "attempt", attempt, "err", err)
			case reconnect:
				c.opts.log.Warn("client: reconnect failed", "target", l.addr, "node", l.nodeName(), "attempt", attempt, "err", err)
			default:
				c.opts.log.Debug("client: connect attempt failed", "target", l.addr, "attempt", attempt, "err", err)
			}
		}
		if !reconnect && !sleep(l.ctx, c.opts.backoff.Delay(attempt)) {
			return nil
		}
	}
}
