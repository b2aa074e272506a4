package server

import (
	"sync"

	txcv1 "github.com/txcio/txc/proto/txc/v1"
	"github.com/txcio/txc/tc"
)

// conn is the server's end of one Session stream. Anything may queue
// messages on it; one writer goroutine sends them, as many per frame as
// are waiting, which is where the protocol's batching comes from.
type conn struct {
	id   tc.ConnID
	name string

	mu     sync.Mutex
	out    []*txcv1.ServerMessage
	closed bool
	wake   chan struct{}
	done   chan struct{}
}

func newConn(id tc.ConnID) *conn {
	return &conn{id: id, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// push queues messages; after close they are dropped (the peer is gone,
// and everything it was owed is either a reply it will never read or a
// command the core re-sends elsewhere after ConnDown).
func (c *conn) push(ms ...*txcv1.ServerMessage) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.out = append(c.out, ms...)
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *conn) close() {
	c.mu.Lock()
	if !c.closed {
		c.closed = true
		close(c.done)
	}
	c.mu.Unlock()
}

// writeLoop sends queued messages until the conn closes or a send fails.
func (c *conn) writeLoop(send func(*txcv1.ServerFrame) error, maxFrame int) error {
	var spare []*txcv1.ServerMessage
	for {
		select {
		case <-c.wake:
		case <-c.done:
			return nil
		}
		c.mu.Lock()
		all := c.out
		c.out = spare
		c.mu.Unlock()
		batch := all
		for len(batch) > 0 {
			n, size := 0, 0
			for n < len(batch) && (n == 0 || size+approxSize(batch[n]) <= maxFrame) {
				size += approxSize(batch[n])
				n++
			}
			if err := send(&txcv1.ServerFrame{Messages: batch[:n]}); err != nil {
				return err
			}
			batch = batch[n:]
		}
		clear(all)
		spare = all[:0]
	}
}

// hub finds conns by id.
type hub struct {
	mu    sync.RWMutex
	conns map[tc.ConnID]*conn
	next  tc.ConnID
}

func (h *hub) add(name string) *conn {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.next++
	c := newConn(h.next)
	c.name = name
	if h.conns == nil {
		h.conns = make(map[tc.ConnID]*conn)
	}
	h.conns[c.id] = c
	return c
}

func (h *hub) remove(c *conn) {
	h.mu.Lock()
	delete(h.conns, c.id)
	h.mu.Unlock()
	c.close()
}

func (h *hub) get(id tc.ConnID) *conn {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.conns[id]
}

func (h *hub) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, c := range h.conns {
		c.close()
	}
}

func (h *hub) len() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.conns)
}
