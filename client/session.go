package client

import (
	"context"
	"runtime"
	"sync"
	"time"

	txcv1 "github.com/txcio/txc/proto/txc/v1"
)

// session is one Session stream: a queue drained by one writer goroutine,
// a table of pending requests completed by one reader goroutine. A session
// is used until it fails once; its link then dials a new one.
type session struct {
	c      *Conn
	l      *link // the link it runs on
	stream txcv1.Coordinator_SessionClient
	ctx    context.Context
	cancel context.CancelCauseFunc
	wake   chan struct{} // cap 1: the queue went from empty to non-empty
	done   chan struct{} // closed when the session has failed

	mu      sync.Mutex
	pending map[uint64]*call
	queue   []*txcv1.ClientMessage
	sizes   []int       // encoded size of each queued message
	err     error       // why the session failed; nil while alive
	linger  *time.Timer // wakes the writer for lazy messages; nil until first used
	armed   bool        // linger is set and the queue has not been drained since

	xids xidPool // XIDs reserved on this stream for pipelined Begins
}

func newSession(l *link, stream txcv1.Coordinator_SessionClient, ctx context.Context, cancel context.CancelCauseFunc) *session {
	c := l.c
	s := &session{
		c:       c,
		l:       l,
		stream:  stream,
		ctx:     ctx,
		cancel:  cancel,
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		pending: make(map[uint64]*call),
	}
	c.wg.Add(2)
	go s.writeLoop()
	go s.readLoop()
	return s
}

// lazyLinger bounds how long a lazy message (see startLazy) waits for a
// frame to ride in. A variable for tests only.
var lazyLinger = 5 * time.Millisecond

// start queues m (whose Id is id) and, if cl is non-nil, registers cl to
// receive the reply. It reports false, queuing nothing, if the session has
// failed.
func (s *session) start(id uint64, cl *call, m *txcv1.ClientMessage, size int) bool {
	return s.enqueue(id, cl, m, size, false)
}

// startLazy is start for a message nobody waits on yet (a pipelined Begin,
// the result of a commit command): it leaves with the next frame the
// session sends anyway, or after lazyLinger at the latest, or when flush
// is called. On a busy session that saves a frame (a write on each side)
// per such message. Order is kept: the queue is one queue.
func (s *session) startLazy(id uint64, cl *call, m *txcv1.ClientMessage, size int) bool {
	return s.enqueue(id, cl, m, size, true)
}

func (s *session) enqueue(id uint64, cl *call, m *txcv1.ClientMessage, size int, lazy bool) bool {
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		return false
	}
	if cl != nil {
		s.pending[id] = cl
	}
	s.queue = append(s.queue, m)
	s.sizes = append(s.sizes, size)
	if lazy {
		if !s.armed {
			s.armed = true
			if s.linger == nil {
				s.linger = time.AfterFunc(lazyLinger, s.flush)
			} else {
				s.linger.Reset(lazyLinger)
			}
		}
		s.mu.Unlock()
		return true
	}
	s.mu.Unlock()
	s.flush()
	return true
}

// flush wakes the writer, which sends everything queued.
func (s *session) flush() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// forget removes the pending entry id. It reports whether the entry was
// still there; if not, a result is being or has been sent to it.
func (s *session) forget(id uint64) bool {
	s.mu.Lock()
	_, ok := s.pending[id]
	delete(s.pending, id)
	s.mu.Unlock()
	return ok
}

func (s *session) cause() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// fail ends the session once: the Conn stops using it, the stream is
// cancelled, and every pending request gets cause as a lost result.
func (s *session) fail(cause error) {
	s.mu.Lock()
	if s.err != nil {
		s.mu.Unlock()
		return
	}
	s.err = cause
	p := s.pending
	s.pending = nil
	s.queue, s.sizes = nil, nil
	if s.linger != nil {
		s.linger.Stop()
	}
	s.mu.Unlock()
	// After s.err is set, so that install cannot put s back.
	s.l.sessionLost(s)
	s.cancel(cause)
	for _, cl := range p {
		cl.deliver(result{lost: cause})
	}
	close(s.done)
}

// writeLoop sends everything queued as few frames as the size limit
// allows. While one Send is in progress new requests pile up, so frames
// grow with load.
func (s *session) writeLoop() {
	defer s.c.wg.Done()
	var spareSizes []int // the sizes slice of the last send, for the next queue
	for {
		select {
		case <-s.wake:
		case <-s.ctx.Done():
			return
		}
		// Let the goroutines that are about to queue do so: one frame for
		// many messages is far cheaper than one each.
		runtime.Gosched()
		s.mu.Lock()
		q, sz := s.queue, s.sizes
		s.queue, s.sizes, spareSizes = nil, spareSizes, nil
		s.armed = false // what armed it leaves now; a stale firing only wakes an empty queue
		s.mu.Unlock()
		if len(q) == 0 {
			spareSizes = sz[:0]
			continue
		}
		if err := s.send(q, sz); err != nil {
			s.fail(err)
			return
		}
		spareSizes = sz[:0]
	}
}

// send splits q into frames of at most the configured size and sends them.
// Each message alone fits (checked before queuing).
func (s *session) send(q []*txcv1.ClientMessage, sizes []int) error {
	limit := s.c.opts.maxMsg
	start, total := 0, 0
	for i, n := range sizes {
		w := fieldSize(n)
		if i > start && total+w > limit {
			if err := s.stream.Send(&txcv1.ClientFrame{Messages: q[start:i:i]}); err != nil {
				return err
			}
			start, total = i, 0
		}
		total += w
	}
	return s.stream.Send(&txcv1.ClientFrame{Messages: q[start:]})
}

// readLoop completes pending requests by id and dispatches commands.
func (s *session) readLoop() {
	defer s.c.wg.Done()
	var calls []*call
	var replies []*txcv1.Reply
	f := new(txcv1.ServerFrame) // reused: decoding replaces its messages, which live on
	for {
		if err := s.stream.RecvMsg(f); err != nil {
			s.fail(err)
			return
		}
		calls, replies = calls[:0], replies[:0]
		s.mu.Lock()
		for _, m := range f.GetMessages() {
			if r, ok := m.GetBody().(*txcv1.ServerMessage_Reply); ok {
				if cl := s.pending[m.GetId()]; cl != nil {
					delete(s.pending, m.GetId())
					calls = append(calls, cl)
					replies = append(replies, r.Reply)
				} // else: a late reply to a cancelled request; dropped
			}
		}
		s.mu.Unlock()
		for i, cl := range calls {
			cl.deliver(result{reply: replies[i]})
		}
		clear(calls)
		clear(replies)
		for _, m := range f.GetMessages() {
			switch b := m.GetBody().(type) {
			case *txcv1.ServerMessage_Reply:
			case *txcv1.ServerMessage_Command:
				s.c.dispatch(s, m.GetId(), b.Command, m.GetTraceContext())
			default:
				s.c.opts.log.Warn("client: ignoring unknown message from coordinator", "id", m.GetId())
			}
		}
	}
}

// fieldSize is the bytes a message of n bytes takes inside a frame: a
// one-byte tag, the varint length and the message.
func fieldSize(n int) int { return 1 + varintLen(uint64(n)) + n }

func varintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}
