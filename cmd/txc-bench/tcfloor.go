package main

import (
	"errors"
	"io"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/txcio/txc"
	txcv1 "github.com/txcio/txc/proto/txc/v1"
)

// floor is the coordinator's I/O for tc-2branch with none of its logic:
// the same gRPC transport and protocol, one stream per client Conn, replies
// to Begin, Register and Commit only after one fdatasync of an append that
// holds them (all requests waiting at that moment share it, as in the
// coordinator's group commit), the two phase-2 commands of a Commit sent on
// the RM's stream with the reply, and the RM's results written with the
// next sync, never synced on their own. No state survives a restart, no
// locks, no timeouts, no checks: what the coordinator costs above this is
// its own work.
//
// With inline set, the stream's reader syncs and sends itself (no
// goroutine hand-off at all); without, one syncer goroutine does, and a
// reader only queues, so a reader never waits for a sync.
type floor struct {
	txcv1.UnimplementedCoordinatorServer
	log    *syncedFile
	inline bool

	mu       sync.Mutex
	pending  []floorItem
	lazy     []*txcv1.ClientMessage // results, written with the next sync
	rm       *floorStream
	branches map[string][]*txcv1.ServerMessage // commands a Commit sends
	seq      uint64                            // XIDs reserved
	ids      uint64                            // branch and command ids

	wake    chan struct{}
	done    chan struct{}
	flushMu sync.Mutex // one flush at a time
	buf     []byte     // flush's record buffer, under flushMu
	failed  atomic.Value

	begun, syncs, synced, results atomic.Int64
}

// floorItem is a request that waits for a sync: its reply, to its stream,
// and the commands it sends.
type floorItem struct {
	to    *floorStream
	req   *txcv1.ClientMessage
	reply *txcv1.ServerMessage
	cmds  []*txcv1.ServerMessage
}

// floorStream is one Session stream; Send is serialised.
type floorStream struct {
	mu sync.Mutex
	s  txcv1.Coordinator_SessionServer
}

func (fs *floorStream) send(ms []*txcv1.ServerMessage) error {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.s.Send(&txcv1.ServerFrame{Messages: ms})
}

func newFloor(log *syncedFile, inline bool) *floor {
	f := &floor{log: log, inline: inline, branches: make(map[string][]*txcv1.ServerMessage),
		wake: make(chan struct{}, 1), done: make(chan struct{})}
	if !inline {
		go f.syncer()
	}
	return f
}

func (f *floor) stop() { close(f.done) }

// Session implements txcv1.CoordinatorServer.
func (f *floor) Session(stream txcv1.Coordinator_SessionServer) error {
	me := &floorStream{s: stream}
	for {
		fr, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		var items []floorItem
		var now []*txcv1.ServerMessage
		for _, m := range fr.GetMessages() {
			if it, ok := f.answer(me, m, &now); ok {
				items = append(items, it)
			}
		}
		if len(now) > 0 {
			if err := me.send(now); err != nil {
				return err
			}
		}
		if len(items) == 0 {
			continue
		}
		if f.inline {
			f.flush(items)
		} else {
			f.queue(items)
		}
		if e, ok := f.failed.Load().(error); ok {
			return e
		}
	}
}

func (f *floor) queue(items []floorItem) {
	f.mu.Lock()
	f.pending = append(f.pending, items...)
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *floor) syncer() {
	var spare []floorItem
	for {
		select {
		case <-f.wake:
		case <-f.done:
			return
		}
		f.mu.Lock()
		items := f.pending
		f.pending = spare
		f.mu.Unlock()
		f.flush(items)
		clear(items)
		spare = items[:0]
	}
}

// answer handles one request: it returns the item to sync, or appends a
// reply that needs no sync to now.
func (f *floor) answer(me *floorStream, m *txcv1.ClientMessage, now *[]*txcv1.ServerMessage) (floorItem, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	it := floorItem{to: me, req: m}
	switch b := m.GetBody().(type) {
	case *txcv1.ClientMessage_Hello:
		if len(b.Hello.GetResourceIds()) > 0 {
			f.rm = me
		}
		*now = append(*now, floorReply(m, &txcv1.Reply{Result: &txcv1.Reply_Hello{Hello: &txcv1.HelloReply{Version: 1, Node: "floor"}}}))
		return it, false
	case *txcv1.ClientMessage_Reserve:
		first := f.seq + 1
		f.seq += uint64(b.Reserve.GetCount())
		*now = append(*now, floorReply(m, &txcv1.Reply{Result: &txcv1.Reply_Reserve{Reserve: &txcv1.ReserveReply{Node: "floor", First: first, Count: b.Reserve.GetCount()}}}))
		return it, false
	case *txcv1.ClientMessage_BranchResult:
		f.lazy = append(f.lazy, m)
		f.results.Add(1)
		return it, false
	case *txcv1.ClientMessage_Begin:
		f.begun.Add(1)
		it.reply = floorReply(m, &txcv1.Reply{Result: &txcv1.Reply_Begin{Begin: &txcv1.BeginReply{Xid: b.Begin.GetXid()}}})
	case *txcv1.ClientMessage_Register:
		f.ids++
		r := b.Register
		f.branches[r.GetXid()] = append(f.branches[r.GetXid()], &txcv1.ServerMessage{Body: &txcv1.ServerMessage_Command{Command: &txcv1.BranchCommand{
			Action: txcv1.BranchAction_BRANCH_ACTION_COMMIT, Xid: r.GetXid(), BranchId: f.ids, BranchType: r.GetBranchType(), ResourceId: r.GetResourceId()}}})
		it.reply = floorReply(m, &txcv1.Reply{Result: &txcv1.Reply_Register{Register: &txcv1.RegisterReply{BranchId: f.ids}}})
	case *txcv1.ClientMessage_Commit:
		it.cmds = f.branches[b.Commit.GetXid()]
		delete(f.branches, b.Commit.GetXid())
		for _, c := range it.cmds {
			f.ids++
			c.Id = f.ids
		}
		it.reply = floorStatus(m, txcv1.GlobalStatus_GLOBAL_STATUS_COMMITTING)
	case *txcv1.ClientMessage_Rollback:
		delete(f.branches, b.Rollback.GetXid())
		it.reply = floorStatus(m, txcv1.GlobalStatus_GLOBAL_STATUS_ROLLBACKED)
	default: // Status and the rest: the floor knows no transaction
		*now = append(*now, floorReply(m, &txcv1.Reply{Error: txcv1.ErrorToProto(txc.ErrUnknownTransaction)}))
		return it, false
	}
	return it, true
}

func floorReply(m *txcv1.ClientMessage, r *txcv1.Reply) *txcv1.ServerMessage {
	return &txcv1.ServerMessage{Id: m.GetId(), Body: &txcv1.ServerMessage_Reply{Reply: r}}
}

func floorStatus(m *txcv1.ClientMessage, s txcv1.GlobalStatus) *txcv1.ServerMessage {
	return floorReply(m, &txcv1.Reply{Result: &txcv1.Reply_Global{Global: &txcv1.GlobalStatusReply{Status: s}}})
}

// flush writes the items' requests and the results received since the
// last flush in one append, syncs it, then sends the replies (one frame per
// stream) and the commands (one frame to the RM).
func (f *floor) flush(items []floorItem) {
	f.flushMu.Lock()
	defer f.flushMu.Unlock()
	f.mu.Lock()
	lazy, rm := f.lazy, f.rm
	f.lazy = nil
	f.mu.Unlock()
	f.buf = f.buf[:0]
	for _, m := range lazy {
		f.buf = appendRecord(f.buf, m)
	}
	for i := range items {
		f.buf = appendRecord(f.buf, items[i].req)
	}
	if err := f.log.append(f.buf); err != nil {
		f.failed.CompareAndSwap(nil, err)
		return
	}
	f.syncs.Add(1)
	f.synced.Add(int64(len(items)))
	var cmds []*txcv1.ServerMessage
	for i := range items {
		cmds = append(cmds, items[i].cmds...)
	}
	for len(items) > 0 {
		to, msgs, rest := items[0].to, []*txcv1.ServerMessage(nil), items[:0]
		for _, it := range items {
			if it.to == to {
				msgs = append(msgs, it.reply)
			} else {
				rest = append(rest, it)
			}
		}
		to.send(msgs) // a failed stream's reader ends on its own
		items = rest
	}
	if len(cmds) > 0 && rm != nil {
		rm.send(cmds)
	}
}

// appendRecord appends m's encoding to b.
func appendRecord(b []byte, m *txcv1.ClientMessage) []byte {
	n := m.SizeVT()
	b = slices.Grow(b, n)[:len(b)+n]
	m.MarshalToSizedBufferVT(b[len(b)-n:])
	return b
}
