package server

import (
	"slices"
	"sync"
	"time"

	txcv1 "github.com/txcio/txc/proto/txc/v1"
	"github.com/txcio/txc/tc"
)

// conn is the server's end of one Session stream. Anything may queue
// messages on it; one writer goroutine sends them, as many per frame as
// are waiting, which is where the protocol's batching comes from.
type conn struct {
	id   tc.ConnID
	name string
	// identity is the authenticated caller ("" without Access).
	identity string

	mu     sync.Mutex
	out    []*txcv1.ServerMessage
	closed bool
	linger *time.Timer // wakes the writer for lazy messages; nil until first used
	armed  bool        // linger is set and nothing has been sent since
	wake   chan struct{}
	done   chan struct{}
	sent   map[uint64]struct{} // commands not yet answered; kept only with Access (branchguard.go)
	// resources are those the stream announced (hello.go), for partitions
	// hosted after it did; known is the same as a set.
	resources []string
	known     map[string]struct{}
}

// lazyLinger bounds how long a lazy message (see pushLazy) waits for a
// frame to ride in. A variable for tests only.
var lazyLinger = 10 * time.Millisecond

func newConn(id tc.ConnID) *conn {
	return &conn{id: id, wake: make(chan struct{}, 1), done: make(chan struct{})}
}

// push queues messages and wakes the writer; after close they are dropped
// (the peer is gone, and everything it was owed is either a reply it will
// never read or a command the core re-sends elsewhere after ConnDown).
func (c *conn) push(ms ...*txcv1.ServerMessage) {
	if c.queue(ms, false) {
		c.signal()
	}
}

// pushLazy queues messages whose delivery nobody waits for (commit
// commands of AT branches: the outcome is decided and the locks are gone,
// the RM only deletes its undo log). They leave with the next frame the
// stream sends anyway, or after lazyLinger at the latest, so that a busy
// stream does not pay a frame (a write on each side) for each of them.
func (c *conn) pushLazy(ms ...*txcv1.ServerMessage) {
	c.queue(ms, true)
}

// queue appends ms; it reports false if the conn is closed. A lazy
// append arms the linger timer if it is not armed.
func (c *conn) queue(ms []*txcv1.ServerMessage, lazy bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.out = append(c.out, ms...)
	if lazy && !c.armed {
		c.armed = true
		if c.linger == nil {
			c.linger = time.AfterFunc(lazyLinger, c.signal)
		} else {
			c.linger.Reset(lazyLinger)
		}
	}
	return true
}

func (c *conn) signal() {
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
		if c.linger != nil {
			c.linger.Stop()
		}
	}
	c.mu.Unlock()
}

// writeLoop sends queued messages until the conn closes or a send fails.
func (c *conn) writeLoop(send func(*txcv1.ServerFrame) error, maxFrame int) error {
	var spare []*txcv1.ServerMessage
	// One frame for every send: like the messages slice (cleared below),
	// nothing refers to it once send returns.
	frame := new(txcv1.ServerFrame)
	for {
		select {
		case <-c.wake:
		case <-c.done:
			return nil
		}
		c.mu.Lock()
		all := c.out
		c.out = spare
		c.armed = false // what armed it leaves now; a stale firing only wakes an empty queue
		c.mu.Unlock()
		batch := all
		for len(batch) > 0 {
			n, size := 0, 0
			for n < len(batch) && (n == 0 || size+approxSize(batch[n]) <= maxFrame) {
				size += approxSize(batch[n])
				n++
			}
			frame.Messages = batch[:n]
			err := send(frame)
			frame.Messages = nil
			if err != nil {
				return err
			}
			batch = batch[n:]
		}
		clear(all)
		spare = all[:0]
	}
}

// hellos are the Hellos that tell a partition hosted now about every
// stream and the resources it announced; their replies are dropped.
func (h *hub) hellos() []tc.Msg {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make([]tc.Msg, 0, len(h.conns))
	for id, c := range h.conns {
		c.mu.Lock()
		out = append(out, tc.Msg{Kind: tc.KindHello, Conn: id, Resources: slices.Clone(c.resources)})
		c.mu.Unlock()
	}
	return out
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
