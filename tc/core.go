// Package tc is the coordinator's deterministic core: global and branch
// sessions, the status machine, row locks, timeouts, the phase-2 retry
// schedule and recovery. It owns no goroutine, clock, disk, network or
// randomness: the shell (package tc/server) feeds it inputs with Step and
// Tick, drains its outputs with Ready, and must follow the Ready contract:
//
//  1. apply Ready.Batch to the store with one sync;
//  2. only then send Ready.Replies and Ready.Commands;
//  3. give the Ready back with Advance.
//
// A lazy Ready (Ready.Lazy: no reply, no command) may skip step 1: its
// batch may be kept back and applied later, on its own or appended before
// the batch of a later Ready (store.Batch.Append), as long as batches reach
// the store in the order the core made them. Such a batch holds only what
// nobody waits for (phase-2 results, the end of a finished transaction,
// the forgetting of an old one, a retry's status): lost in a crash, it
// means an idempotent phase-2 command is sent again or a record is kept
// longer. Every reply and command still leaves only after everything made
// before it is synced.
//
// The shell may keep calling Step while a Ready is being persisted
// (pipelining): what those steps produce goes into the next Ready, which the
// shell takes only after the previous one was persisted. Because every reply
// waits for the batch that carries its change (or a later one), a reply is a
// durable decision, and because all requests arriving during one sync share
// the next one, syncs are group-committed.
//
// A Core is not safe for concurrent use. Restart is New + Restore.
package tc

import (
	"fmt"
	"slices"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/tc/lock"
	"github.com/txcio/txc/tc/store"
)

// Config sets the core's policy. Zero fields take the defaults below.
type Config struct {
	// Node names this coordinator in XIDs. Required; see txc.ValidNodeName.
	Node string
	// DefaultTimeout applies to a Begin that asks for none. Default 60s.
	DefaultTimeout time.Duration
	// MaxTimeout caps the timeout a Begin may ask for. Default 24h.
	MaxTimeout time.Duration
	// RetryMin and RetryMax bound the exponential backoff between phase-2
	// attempts of one branch. Defaults 200ms and 30s.
	RetryMin, RetryMax time.Duration
	// AckTimeout is how long a phase-2 command may go unanswered before it
	// is sent again (to any RM serving the resource). Default 30s.
	AckTimeout time.Duration
	// FinishedRetention and FinishedMax bound how long, and how many,
	// finished transactions are remembered (in memory and in the store, so
	// across restarts too) so that a late or repeated Commit, Rollback or
	// Status gets the real outcome instead of "unknown". Defaults 10m and
	// 200,000.
	FinishedRetention time.Duration
	FinishedMax       int
	// IDBlock is how many sequence numbers are reserved per durable
	// reservation. Default 100,000.
	IDBlock uint64
	// SharedLocks says that the core's partition is one of several whose
	// locks also live in a shared table (store.SharedLocks): every row
	// its lock table frees, and every row of a refused registration whose
	// rows were claimed (Msg.Claimed) that the table does not hold for
	// that XID, goes into Ready.Batch.FreeLocks.
	SharedLocks bool
}

func (c *Config) setDefaults() error {
	if !txc.ValidNodeName(c.Node) {
		return txc.Errorf(txc.CodeInvalidArgument, "tc: node name %q must be 1..63 characters of [A-Za-z0-9._-]", c.Node)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.DefaultTimeout, 60*time.Second)
	def(&c.MaxTimeout, 24*time.Hour)
	def(&c.RetryMin, 200*time.Millisecond)
	def(&c.RetryMax, 30*time.Second)
	def(&c.AckTimeout, 30*time.Second)
	def(&c.FinishedRetention, 10*time.Minute)
	if c.FinishedMax == 0 {
		c.FinishedMax = 200000
	}
	if c.IDBlock == 0 {
		c.IDBlock = 100000
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"DefaultTimeout", c.DefaultTimeout}, {"MaxTimeout", c.MaxTimeout}, {"RetryMin", c.RetryMin},
		{"RetryMax", c.RetryMax}, {"AckTimeout", c.AckTimeout}, {"FinishedRetention", c.FinishedRetention}} {
		if d.v < 0 {
			return txc.Errorf(txc.CodeInvalidArgument, "tc: %s must not be negative", d.name)
		}
	}
	if c.RetryMax < c.RetryMin {
		return txc.Errorf(txc.CodeInvalidArgument, "tc: RetryMax %v is below RetryMin %v", c.RetryMax, c.RetryMin)
	}
	if c.DefaultTimeout > c.MaxTimeout {
		return txc.Errorf(txc.CodeInvalidArgument, "tc: DefaultTimeout %v is above MaxTimeout %v", c.DefaultTimeout, c.MaxTimeout)
	}
	if c.FinishedMax < 0 {
		return txc.Errorf(txc.CodeInvalidArgument, "tc: FinishedMax must not be negative")
	}
	return nil
}

// Core is the coordinator's state machine.
type Core struct {
	cfg       Config
	globals   map[txc.XID]*global
	locks     *lock.Table
	timers    timerHeap
	conns     map[ConnID][]string
	ranges    map[ConnID][]*xidRange // XIDs reserved per stream
	resources map[string]*rmSet
	inflight  map[uint64]*branch
	finished  finishedSet
	nextCmd   uint64
	nextSeq   uint64
	reserved  uint64 // sequence numbers below this are durably reserved
	rd, spare Ready
	// inflightFree are the FreeLocks of the Ready handed out and not yet
	// given back: being applied (see freeing.go).
	inflightFree []store.LockRow
}

type rmSet struct {
	conns   []ConnID
	next    int
	waiting map[*global]struct{} // phase-2 work stalled for want of an RM
}

type global struct {
	rec       store.Global
	branches  []*branch
	branchBuf [2]*branch // branches' first entries, without an allocation of their own
	wake      time.Time
	heapIdx   int
	history   []HistoryEntry  // see HistoryEntry; in memory only
	histBuf   [2]HistoryEntry // history's first entries, without an allocation of their own
	// parked is set once the transaction needed manual action: its view
	// is kept among the finished ones, so the operator sees how it ended.
	parked bool
}

func (g *global) addBranch(b *branch) {
	if g.branches == nil {
		g.branches = g.branchBuf[:0]
	}
	g.branches = append(g.branches, b)
}

type branch struct {
	g        *global
	rec      store.Branch
	cmdID    uint64 // command in flight, 0 if none
	cmdConn  ConnID
	ackBy    time.Time
	retryAt  time.Time
	attempts int
	// lastErr is why the last phase-2 attempt failed or waits (the RM's
	// text, or no RM connected), for the admin views; kept in memory
	// only: a restart starts it empty.
	lastErr string
	// repeat is what the branch's next phase-2 command is (see Repeat).
	repeat Repeat
}

// New returns an empty core. Use Restore to load a store's state.
func New(cfg Config) (*Core, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	return &Core{
		cfg:       cfg,
		globals:   make(map[txc.XID]*global),
		locks:     lock.New(),
		conns:     make(map[ConnID][]string),
		ranges:    make(map[ConnID][]*xidRange),
		resources: make(map[string]*rmSet),
		inflight:  make(map[uint64]*branch),
		finished:  newFinishedSet(),
		nextSeq:   1,
	}, nil
}

// Config returns the configuration in force, defaults filled in.
func (c *Core) Config() Config { return c.cfg }

// Restore loads st, as returned by store.Load, into an empty core: every
// unfinished transaction resumes. Open transactions keep their deadlines;
// transactions whose outcome was decided are driven through phase 2 again
// from the first Tick (branch handlers are idempotent); locks are taken
// again for transactions that still hold them. Call before any Step.
func (c *Core) Restore(st *store.State) error {
	if len(c.globals) != 0 || c.nextSeq != 1 {
		return txc.Errorf(txc.CodeInternal, "tc: Restore on a core already in use")
	}
	if st.NextID > c.nextSeq {
		c.nextSeq = st.NextID
	}
	c.reserved = c.nextSeq
	var finished []store.Global
	for _, r := range st.Globals {
		if !r.Status.Valid() {
			return txc.Errorf(txc.CodeInternal, "tc: stored transaction %s has invalid status %d", r.XID, r.Status)
		}
		if r.Status.IsFinal() {
			finished = append(finished, r)
			continue
		}
		g := &global{rec: r, heapIdx: -1, parked: r.Status.NeedsManualAction()}
		g.record(HistoryEntry{At: r.Updated, Status: r.Status.String(), Action: ActionRestored})
		c.globals[r.XID] = g
	}
	slices.SortFunc(finished, func(a, b store.Global) int { return a.Updated.Compare(b.Updated) })
	for _, r := range finished {
		c.finished.add(r.XID, r.Status, r.Updated)
	}
	brs := slices.Clone(st.Branches)
	slices.SortFunc(brs, func(a, b store.Branch) int {
		if a.ID < b.ID {
			return -1
		}
		if a.ID > b.ID {
			return 1
		}
		return 0
	})
	for _, r := range brs {
		g := c.globals[r.XID]
		if g == nil {
			if _, ok := c.finished.get(r.XID); ok {
				continue // a finished transaction whose branches' deletion was not stored yet
			}
			c.event(Event{Kind: EventAnomaly, XID: r.XID, BranchID: r.ID, Message: "stored branch without its transaction; ignored"})
			continue
		}
		b := &branch{g: g, rec: r}
		if g.rec.Status != txc.GlobalBegin {
			b.repeat = RepeatRestored
		}
		g.addBranch(b)
	}
	for _, g := range c.globals {
		st := g.rec.Status
		if st == txc.GlobalBegin || st.IsRollback() {
			for _, b := range g.branches {
				if holdsLocks(b.rec.Status) {
					if holder, ok := c.locks.Acquire(g.rec.XID, b.rec.ID, b.rec.ResourceID, b.rec.LockKeys); !ok {
						c.event(Event{Kind: EventAnomaly, XID: g.rec.XID, BranchID: b.rec.ID,
							Message: fmt.Sprintf("restored locks conflict with %s", holder)})
					}
				}
			}
		}
		switch {
		case st == txc.GlobalBegin:
			c.schedule(g, g.rec.Deadline)
		case st.NeedsManualAction() && st.IsRollback():
			// Parked: nothing happens until an operator acts.
		default:
			c.schedule(g, time.UnixMilli(0)) // driven at the first Tick
		}
	}
	return nil
}

func holdsLocks(s txc.BranchStatus) bool {
	return s == txc.BranchRegistered || s == txc.BranchPhaseOneDone ||
		s == txc.BranchRollbackFailedRetryable || s == txc.BranchRollbackFailedUnretryable
}

// HasReady reports whether Ready would return anything.
func (c *Core) HasReady() bool { return !c.rd.Empty() }

// Ready hands over everything produced since the last call. See the
// package comment for what the shell must do with it.
func (c *Core) Ready() Ready {
	rd := c.rd
	c.rd, c.spare = c.spare, Ready{}
	c.inflightFree = rd.Batch.FreeLocks
	return rd
}

// Advance gives back a Ready whose batch was persisted and whose messages
// were sent, so its buffers can be reused.
func (c *Core) Advance(rd Ready) {
	c.inflightFree = nil
	rd.reset()
	c.spare = rd
}

// NextWake is the earliest time Tick has work to do; zero if none.
func (c *Core) NextWake() time.Time {
	if len(c.timers) == 0 {
		return time.Time{}
	}
	return c.timers[0].wake
}

// Tick fires every deadline and retry that is due at now.
func (c *Core) Tick(now time.Time) {
	for len(c.timers) > 0 && !c.timers[0].wake.After(now) {
		g := c.timers[0]
		c.unschedule(g)
		if g.rec.Status == txc.GlobalBegin {
			if !now.Before(g.rec.Deadline) {
				c.timeout(now, g)
			} else {
				c.schedule(g, g.rec.Deadline)
			}
			continue
		}
		c.drive(now, g)
	}
	c.finished.expire(now, c.cfg.FinishedRetention, c.cfg.FinishedMax, c.forget)
}

// forget deletes a finished transaction's record for good.
func (c *Core) forget(xid txc.XID) {
	c.rd.Batch.DeleteGlobals = append(c.rd.Batch.DeleteGlobals, xid)
}

// Step applies one input at time now.
func (c *Core) Step(now time.Time, m Msg) {
	switch m.Kind {
	case KindHello:
		c.hello(now, m)
	case KindBegin:
		c.begin(now, m)
	case KindCommit:
		c.commit(now, m)
	case KindRollback:
		c.rollback(now, m)
	case KindStatus:
		c.status(m)
	case KindRegister:
		c.register(now, m)
	case KindReport:
		c.report(m)
	case KindLockQuery:
		c.lockQuery(m)
	case KindBranchResult:
		c.branchResult(now, m)
	case KindConnDown:
		c.connDown(now, m.Conn)
	case KindReserve:
		c.reserve(m)
	default:
		c.fail(m, txc.Errorf(txc.CodeInvalidArgument, "tc: unknown request kind %d", m.Kind))
	}
}

func (c *Core) reply(r Reply) { c.rd.Replies = append(c.rd.Replies, r) }

func (c *Core) fail(m Msg, err *txc.Error) {
	c.reply(Reply{Conn: m.Conn, ID: m.ID, Kind: m.Kind, Err: err, Status: err.Status})
}

func (c *Core) event(e Event) { c.rd.Events = append(c.rd.Events, e) }

func (c *Core) putGlobal(g *global) { c.rd.Batch.PutGlobals = append(c.rd.Batch.PutGlobals, g.rec) }

func (c *Core) putBranchStatus(b *branch) {
	c.rd.Batch.SetBranchStatus = append(c.rd.Batch.SetBranchStatus,
		store.BranchStatus{XID: b.rec.XID, ID: b.rec.ID, Status: b.rec.Status})
}

// newSeq hands out a sequence number for an XID or a branch ID, reserving
// a new block durably (in the current batch) when the reserved one is used up.
func (c *Core) newSeq() uint64 {
	if c.nextSeq >= c.reserved {
		c.reserved = c.nextSeq + c.cfg.IDBlock
		c.rd.Batch.NextID = c.reserved
	}
	s := c.nextSeq
	c.nextSeq++
	return s
}

func (c *Core) setStatus(now time.Time, g *global, s txc.GlobalStatus) {
	if g.rec.Status == s {
		return
	}
	if !g.rec.Status.CanBecome(s) {
		panic(fmt.Sprintf("tc: illegal transition %v -> %v for %s", g.rec.Status, s, g.rec.XID))
	}
	g.rec.Status = s
	g.rec.Updated = wall(now)
	g.parked = g.parked || s.NeedsManualAction()
	g.record(HistoryEntry{At: g.rec.Updated, Status: s.String(), Action: ActionStatus})
	c.putGlobal(g)
}

// wall strips the monotonic reading and keeps millisecond precision, the
// precision the store keeps, so restored and live state compare equal.
func wall(t time.Time) time.Time { return time.UnixMilli(t.UnixMilli()) }
