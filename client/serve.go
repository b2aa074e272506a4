package client

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/internal/txctrace"
	txcv1 "github.com/txcio/txc/proto/txc/v1"
)

// Action is what a Command asks of a branch.
type Action uint8

// Actions.
const (
	ActionUnknown  Action = 0
	ActionCommit   Action = 1
	ActionRollback Action = 2
)

func (a Action) String() string {
	switch a {
	case ActionCommit:
		return "Commit"
	case ActionRollback:
		return "Rollback"
	}
	return fmt.Sprintf("Action(%d)", uint8(a))
}

// Command is a phase-2 instruction from the coordinator.
type Command struct {
	// ID is the coordinator's id for this delivery; the result carries it.
	// 0 marks a notice: the coordinator already counts the branch finished
	// (an AT branch's commit) and no result is sent.
	ID              uint64
	Action          Action
	XID             txc.XID
	BranchID        txc.BranchID
	Type            txc.BranchType
	ResourceID      string
	ApplicationData []byte
	// trace is the coordinator's phase-2 span (protocol form); the
	// handler's ctx carries it as the remote parent of its spans.
	trace []byte
}

// CommandHandler finishes a branch and returns its new status with a
// message for the coordinator's log (empty on success). For ActionCommit
// the status must be txc.BranchCommitted, BranchCommitFailedRetryable or
// BranchCommitFailedUnretryable; for ActionRollback BranchRollbacked,
// BranchRollbackFailedRetryable or BranchRollbackFailedUnretryable; any
// other status is sent as the retryable failure of the action. The
// coordinator retries retryable failures with backoff and parks the
// transaction for manual action on unretryable ones.
//
// Commands are delivered at least once, so a handler must be idempotent:
// committing a committed branch or rolling back a rolled-back (or never
// executed) branch must succeed. Handlers run concurrently, each in its own
// goroutine; ctx is cancelled by Close, which waits for them.
type CommandHandler func(ctx context.Context, cmd Command) (txc.BranchStatus, string)

// maxResultMessage bounds the message of a BranchResult.
const maxResultMessage = 4096

// Serve routes every command for resourceIDs to h and announces the
// resources to every coordinator node (a Hello on the current stream of
// each link, and in the Hello of every link that connects later), so that
// whichever node drives phase 2 of a branch reaches this process. Announcements accumulate for the Conn's life;
// serving a resource again replaces its handler. Serve does not wait for
// the coordinator's acknowledgement; commands start arriving once it has
// processed the announcement. Commands for resources without a handler
// are answered with the retryable failure of their action.
func (c *Conn) Serve(resourceIDs []string, h CommandHandler) error {
	if h == nil {
		return invalid("client: serve: nil handler")
	}
	if len(resourceIDs) == 0 {
		return invalid("client: serve: no resource ids")
	}
	for _, id := range resourceIDs {
		if id == "" || len(id) > txc.MaxResourceIDLen {
			return invalid("client: serve: invalid resource id %q", id)
		}
	}
	c.hmu.Lock()
	var added []string
	for _, id := range resourceIDs {
		if _, ok := c.handlers[id]; !ok && !slices.Contains(added, id) {
			added = append(added, id)
		}
	}
	if n := len(c.handlers) + len(added); n > txc.MaxResourcesPerStream {
		c.hmu.Unlock()
		return invalid("client: serve: %d resources in all, a coordinator takes at most %d per connection", n, txc.MaxResourcesPerStream)
	}
	for _, id := range resourceIDs {
		c.handlers[id] = h
	}
	c.hmu.Unlock()
	if len(added) == 0 {
		return nil
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return unavailable(ErrClosed, "client: serve")
	}
	c.resources = append(c.resources, added...)
	c.resVer++
	links := c.linkSet()
	c.mu.Unlock()
	// A link that is down, or comes up later, announces every resource in
	// its Hello (see link.install).
	for _, l := range links {
		if s := l.cur.Load(); s != nil {
			c.announce(s, added)
		}
	}
	return nil
}

// announce sends a Hello with resources on s and logs a refusal. If s is
// failing, the next session's Hello carries every resource anyway.
func (c *Conn) announce(s *session, resources []string) {
	m := helloMessage(c.opts.name, resources)
	size, err := c.checkSize("announce", m)
	if err != nil {
		c.opts.log.Error("client: cannot announce resources", "err", err)
		return
	}
	cl := getCall()
	id := c.nextID.Add(1)
	m.Id = id
	if !s.start(id, cl, m, size) {
		putCall(cl)
		return
	}
	// Not tracked by c.wg: it ends promptly once s replies or fails, and
	// Close fails s.
	go func() {
		r := <-cl.ch // always comes: a reply, or the session's failure
		putCall(cl)
		if r.lost != nil {
			return
		}
		if err := txcv1.ErrorFromProto(r.reply.GetError()); err != nil {
			c.opts.log.Error("client: coordinator refused resource announcement", "resources", resources, "err", err)
		}
	}()
}

// dispatch runs the handler of cmd on a worker goroutine of its own and
// sends the result on s (the stream the command came on; if that stream is
// gone the result is dropped and the coordinator sends the command again).
// Commands from every link share the workers. Handlers run concurrently without bound, as many as commands arrive; a
// worker that finished waits workerIdle for the next command before it
// exits, so a busy RM reuses goroutines whose stacks have already grown
// instead of growing a fresh one per command.
func (c *Conn) dispatch(s *session, id uint64, pc *txcv1.BranchCommand, trace []byte) {
	j := commandJob{s: s, cmd: Command{
		ID:              id,
		Action:          Action(pc.GetAction()),
		XID:             txc.XID(pc.GetXid()),
		BranchID:        txc.BranchID(pc.GetBranchId()),
		Type:            txc.BranchType(pc.GetBranchType()),
		ResourceID:      pc.GetResourceId(),
		ApplicationData: pc.GetApplicationData(),
	}}
	j.cmd.trace = trace
	select {
	case c.work <- j: // an idle worker took it
	default:
		c.wg.Add(1)
		go c.worker(j)
	}
}

// workerIdle is how long a command worker waits for more work.
const workerIdle = 5 * time.Second

type commandJob struct {
	s   *session
	cmd Command
}

func (c *Conn) worker(j commandJob) {
	defer c.wg.Done()
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		c.runCommand(j)
		idle.Reset(workerIdle)
		select {
		case j = <-c.work:
		case <-idle.C:
			return
		case <-c.ctx.Done():
			return
		}
	}
}

// runCommand handles one command and queues its result.
func (c *Conn) runCommand(j commandJob) {
	cmd := j.cmd
	status, msg := c.handle(cmd)
	if cmd.ID == 0 {
		// A notice: the coordinator counts the branch finished and waits
		// for no result (Command.ID).
		if status != txc.BranchCommitted && status != txc.BranchRollbacked {
			c.opts.log.Warn("client: a noticed branch did not finish; left to its resource's own cleanup",
				"xid", cmd.XID, "branch", cmd.BranchID, "resource", cmd.ResourceID, "status", status, "message", msg)
		}
		return
	}
	if len(msg) > maxResultMessage {
		msg = msg[:maxResultMessage]
	}
	m := message(func(m *txcv1.ClientMessage, w *txcv1.ClientMessage_BranchResult, v *txcv1.BranchResult) {
		v.Xid, v.BranchId, v.Status, v.Message = string(cmd.XID), uint64(cmd.BranchID), txcv1.BranchStatus(status), msg
		w.BranchResult, m.Id, m.Body = v, cmd.ID, w
	})
	size, err := c.checkSize("branch result", m)
	if err != nil {
		c.opts.log.Error("client: cannot send branch result", "err", err)
		return
	}
	// A commit's result is lazy: the outcome is decided and nobody waits
	// on it but the coordinator's bookkeeping (see session.startLazy).
	start := j.s.start
	if cmd.Action == ActionCommit {
		start = j.s.startLazy
	}
	if !start(cmd.ID, nil, m, size) {
		c.opts.log.Debug("client: stream gone; branch result dropped", "xid", cmd.XID, "branch", cmd.BranchID)
	}
}

// handle runs the handler for cmd and normalizes its answer.
func (c *Conn) handle(cmd Command) (status txc.BranchStatus, msg string) {
	var ok, retry, fatal txc.BranchStatus
	switch cmd.Action {
	case ActionCommit:
		ok, retry, fatal = txc.BranchCommitted, txc.BranchCommitFailedRetryable, txc.BranchCommitFailedUnretryable
	case ActionRollback:
		ok, retry, fatal = txc.BranchRollbacked, txc.BranchRollbackFailedRetryable, txc.BranchRollbackFailedUnretryable
	default:
		c.opts.log.Error("client: command with unknown action", "action", cmd.Action, "xid", cmd.XID, "branch", cmd.BranchID)
		return txc.BranchUnknown, fmt.Sprintf("client: unknown action %v", cmd.Action)
	}
	c.hmu.RLock()
	h := c.handlers[cmd.ResourceID]
	c.hmu.RUnlock()
	if h == nil {
		c.opts.log.Warn("client: command for a resource this process does not serve", "resource", cmd.ResourceID, "xid", cmd.XID)
		return retry, fmt.Sprintf("client: no handler for resource %q", cmd.ResourceID)
	}
	defer func() {
		if p := recover(); p != nil {
			c.opts.log.Error("client: command handler panicked", "xid", cmd.XID, "branch", cmd.BranchID, "panic", p)
			status, msg = retry, fmt.Sprintf("client: handler panicked: %v", p)
		}
	}()
	status, msg = h(txctrace.WithRemote(c.ctx, cmd.trace), cmd)
	if status != ok && status != retry && status != fatal {
		return retry, fmt.Sprintf("client: handler returned status %v for %v: %s", status, cmd.Action, msg)
	}
	return status, msg
}
