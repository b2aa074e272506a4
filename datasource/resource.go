package datasource

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/txcio/txc"
	"github.com/txcio/txc/client"
	"github.com/txcio/txc/datasource/undo"
	"github.com/txcio/txc/rm"
)

// Resource is one database as an AT resource: its ID, dialect, undo-log
// table, caches of table metadata and recognized statements, and the pool
// that runs phase 2. One is made per opened database; several in one
// process with the same ID share the phase-2 work.
type Resource struct {
	id          string
	dialect     Dialect
	keeper      SessionKeeper // dialect as a SessionKeeper, if it is one
	cfg         config
	log         *slog.Logger
	undo        *undo.Table
	lockBackoff client.Backoff
	phase2      *sql.DB // the wrapped connector without the proxy

	metaMu     sync.RWMutex
	meta       map[string]metaEntry
	metaMaxAge time.Duration // 0: kept until a statement finds it out of date

	planMu sync.RWMutex
	plans  map[string]planEntry

	hints  sync.Map     // see Exec.Hint
	nhints atomic.Int64 // the keys stored in hints, about

	createOnce sync.Mutex
	created    bool // the undo-log table was found or created

	homeMu sync.Mutex
	homes  map[string][]undo.Row // see Exec.Home

	cleanup  chan cleanupReq
	stop     chan struct{}
	stopped  chan struct{}
	closeMu  sync.Mutex
	isClosed bool

	// XA mode: sessions whose branch phase 2 finished, kept for new
	// connections (see spare), and whether the server was checked.
	spareMu       sync.Mutex
	spares        []xaSession
	isClosedSpare bool
	xaChecked     bool
}

type planEntry struct {
	st  Statement
	err error
}

// maxPlans bounds the statement cache; past it the cache starts over.
const maxPlans = 4096

// maxTables bounds the metadata cache the same way (a table per tenant,
// say, cannot grow it without end); a table dropped from it is read again.
const maxTables = 4096

func newResource(id string, d Dialect, wrapped driver.Connector, cfg config) (*Resource, error) {
	if id == "" || len(id) > txc.MaxResourceIDLen {
		return nil, invalid("resource ID of %d bytes (1 to %d allowed)", len(id), txc.MaxResourceIDLen)
	}
	if cfg.leftoverAge < 0 {
		return nil, invalid("WithLeftoverSweep(%v): the age must not be negative", cfg.leftoverAge)
	}
	if cfg.lockWait < 0 {
		return nil, invalid("WithLockWait(%v): the wait must not be negative", cfg.lockWait)
	}
	if cfg.metaMaxAge < 0 {
		return nil, invalid("WithMetadataMaxAge(%v): the age must not be negative", cfg.metaMaxAge)
	}
	if cfg.mode == XA {
		if _, ok := d.(XADialect); !ok {
			return nil, invalid("dialect %s cannot run XA mode", d.Name())
		}
		cfg.retention, cfg.leftoverAge = 0, 0 // no undo log to sweep
	}
	t, err := undo.NewTableIn(d.Undo(), cfg.undoSchema, cfg.undoTable, undo.Codec{})
	if err != nil {
		return nil, err
	}
	p2 := wrapped
	if cfg.phase2 != nil {
		p2 = cfg.phase2
	}
	r := &Resource{
		id: id, dialect: d, cfg: cfg, log: cfg.log, undo: t,
		lockBackoff: client.Backoff{Min: cfg.lockMin, Max: cfg.lockMax},
		phase2:      sql.OpenDB(noClose{p2}),
		meta:        map[string]metaEntry{},
		metaMaxAge:  cfg.metaMaxAge,
		plans:       map[string]planEntry{},
		cleanup:     make(chan cleanupReq, 8192),
		stop:        make(chan struct{}),
		stopped:     make(chan struct{}),
	}
	r.keeper, _ = d.(SessionKeeper)
	if a, ok := d.(MetadataAger); ok && !cfg.metaAgeSet {
		r.metaMaxAge = a.MetadataMaxAge()
	}
	if err := register(r); err != nil {
		r.phase2.Close()
		return nil, err
	}
	r.phase2.SetMaxIdleConns(4)
	if cfg.mode == XA {
		// Phase 2 finishes each branch with a statement of its own, many
		// at once: a pool that closed its connections after each would
		// open one per branch (a new backend per COMMIT PREPARED).
		r.phase2.SetMaxIdleConns(xaPhase2Idle)
	}
	go r.runCleanup()
	return r, nil
}

// ID returns the resource ID.
func (r *Resource) ID() string { return r.id }

// UndoTable returns the undo-log table of the resource.
func (r *Resource) UndoTable() *undo.Table { return r.undo }

func (r *Resource) manager() (*rm.Manager, error) {
	if r.cfg.manager != nil {
		return r.cfg.manager, nil
	}
	if m := defaultManager.Load(); m != nil {
		return m, nil
	}
	return nil, invalid("no resource manager for %q: pass datasource.WithManager or call datasource.SetDefaultManager", r.id)
}

// close stops the cleanup loop (after deleting what it holds) and the
// phase-2 pool. Phase-2 commands for the ID go to other open resources
// with the same ID, or are answered as retryable failures.
func (r *Resource) close() error {
	r.closeMu.Lock()
	if r.isClosed {
		r.closeMu.Unlock()
		return nil
	}
	r.isClosed = true
	r.closeMu.Unlock()
	unregister(r)
	close(r.stop)
	<-r.stopped
	releaseHeld(r)
	r.closeSpares()
	return r.phase2.Close()
}

// plan returns the recognized statement for query, cached.
func (r *Resource) plan(query string) (Statement, error) {
	r.planMu.RLock()
	e, ok := r.plans[query]
	r.planMu.RUnlock()
	if ok {
		return e.st, e.err
	}
	st, err := r.dialect.Recognize(query)
	r.planMu.Lock()
	if len(r.plans) >= maxPlans {
		r.plans = map[string]planEntry{}
	}
	r.plans[query] = planEntry{st, err}
	r.planMu.Unlock()
	return st, err
}

func (r *Resource) table(ctx context.Context, q Querier, schema, name string) (*Table, error) {
	k := schema + "\x00" + name
	r.metaMu.RLock()
	e, ok := r.meta[k]
	r.metaMu.RUnlock()
	if ok && (r.metaMaxAge == 0 || time.Since(e.loaded) < r.metaMaxAge) {
		return e.t, nil
	}
	loaded := time.Now()
	t, err := r.dialect.LoadTable(ctx, q, schema, name)
	if err != nil {
		return nil, err
	}
	if err := RefuseTable(t); err != nil {
		return nil, err
	}
	r.metaMu.Lock()
	if _, cached := r.meta[k]; !cached && len(r.meta) >= maxTables {
		r.meta = map[string]metaEntry{}
	}
	r.meta[k] = metaEntry{t: t, loaded: loaded}
	r.metaMu.Unlock()
	return t, nil
}

// metaEntry is a table's cached metadata and when its reading began.
type metaEntry struct {
	t      *Table
	loaded time.Time
}

func (r *Resource) forget(schema, name string) {
	r.metaMu.Lock()
	delete(r.meta, schema+"\x00"+name)
	r.metaMu.Unlock()
}

// forgetAll drops every cached table (a statement failed in a way that may
// come from a changed table whose name is not known).
func (r *Resource) forgetAll() {
	r.metaMu.Lock()
	r.meta = map[string]metaEntry{}
	r.metaMu.Unlock()
}

// scanRows reads every row of res as an image (the dialect's ScanRow)
// and closes res.
func (r *Resource) scanRows(res *sql.Rows) ([]undo.Row, error) {
	defer res.Close()
	types, err := res.ColumnTypes()
	if err != nil {
		return nil, err
	}
	var out []undo.Row
	for res.Next() {
		row, err := r.dialect.ScanRow(res, types)
		if err != nil {
			return nil, err
		}
		out = append(out, row)
	}
	return out, res.Err()
}

// home runs query on a phase-2 connection once and caches its rows.
func (r *Resource) home(ctx context.Context, query string) ([]undo.Row, error) {
	r.homeMu.Lock()
	defer r.homeMu.Unlock()
	if rows, ok := r.homes[query]; ok {
		return rows, nil
	}
	out, err := r.queryPhase2(ctx, query)
	if err != nil {
		return nil, err
	}
	if r.homes == nil {
		r.homes = map[string][]undo.Row{}
	}
	r.homes[query] = out
	return out, nil
}

// queryPhase2 runs query on a phase-2 connection and reads its rows.
func (r *Resource) queryPhase2(ctx context.Context, query string, args ...any) ([]undo.Row, error) {
	res, err := r.phase2.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("datasource: %s on a phase-2 connection of %q: %w", query, r.id, err)
	}
	return r.scanRows(res)
}

// ensureUndoTable makes sure, through c, that the undo-log table exists:
// with WithCreateUndoTable it creates it, else it checks for it and fails
// with an *undo.MissingTableError (naming the DDL) when it is missing.
// Once it succeeded it costs nothing; until then every new connection
// tries again, so creating the table later is enough.
func (r *Resource) ensureUndoTable(ctx context.Context, c driver.Conn) error {
	r.createOnce.Lock()
	defer r.createOnce.Unlock()
	if r.created {
		return nil
	}
	ex := rawExecer{c}
	var err error
	if r.cfg.createUndo {
		err = r.undo.Create(ctx, ex)
	} else {
		err = r.undo.Check(ctx, ex)
	}
	if err != nil {
		return fmt.Errorf("datasource: resource %q: %w", r.id, err)
	}
	r.created = true
	return nil
}

// cleanupGather is how long the deleter collects committed branches before
// one DELETE removes their undo rows.
const cleanupGather = 20 * time.Millisecond

// cleanupReq asks the deleter to remove the undo row of a committed
// branch; done (buffered) receives the outcome of the DELETE that did.
type cleanupReq struct {
	key  undo.Key
	done chan error
}

// runCleanup deletes the undo rows of committed branches in batches, one
// DELETE and one commit per batch, answering each request with its
// batch's outcome; every hour, when a retention is set, sweeps finished
// markers older than it; and, when a leftover age is set, once at start
// and then at that interval deletes the undo logs of committed branches
// whose commit notice was lost (leftover.go). Undo logs are never swept
// by age alone (see undo.Table.DeleteOlderThan).
func (r *Resource) runCleanup() {
	defer close(r.stopped)
	ctx, cancel := context.WithCancel(context.Background()) // owned by this goroutine; cancelled at close
	defer cancel()
	var sweep, leftovers <-chan time.Time
	if r.cfg.retention > 0 {
		t := time.NewTicker(time.Hour)
		defer t.Stop()
		sweep = t.C
	}
	leftoverAge := time.Duration(0) // the first sweep, at start, takes logs of any age
	leftoverTimer := time.NewTimer(leftoverFirst)
	defer leftoverTimer.Stop()
	if r.cfg.leftoverAge > 0 {
		leftovers = leftoverTimer.C
	}
	batch := make([]cleanupReq, 0, undo.MaxBatch)
	for {
		select {
		case q := <-r.cleanup:
			batch = r.deleteCommitted(ctx, r.gatherCleanup(append(batch, q)))
		case <-sweep:
			r.sweepFinished(ctx)
		case <-leftovers:
			r.runLeftoverSweep(ctx, leftoverAge)
			leftoverAge = r.cfg.leftoverAge
			leftoverTimer.Reset(leftoverAge)
		case <-r.stop:
			for {
				select {
				case q := <-r.cleanup:
					if batch = append(batch, q); len(batch) == undo.MaxBatch {
						batch = r.deleteCommitted(ctx, batch)
					}
					continue
				default:
				}
				break
			}
			r.deleteCommitted(ctx, batch)
			return
		}
	}
}

// gatherCleanup adds to batch the requests that arrive for a moment:
// each batch is a database commit, and one DELETE per committed branch
// would cost the database as many commits as the branches themselves.
func (r *Resource) gatherCleanup(batch []cleanupReq) []cleanupReq {
	gather := time.NewTimer(cleanupGather)
	defer gather.Stop()
	for len(batch) < undo.MaxBatch {
		select {
		case q := <-r.cleanup:
			batch = append(batch, q)
		case <-gather.C:
			return batch
		case <-r.stop:
			return batch
		}
	}
	return batch
}

// deleteCommitted deletes the undo rows of batch in one DELETE and one
// commit, answers each request with the outcome, and returns batch
// emptied.
func (r *Resource) deleteCommitted(ctx context.Context, batch []cleanupReq) []cleanupReq {
	if len(batch) == 0 {
		return batch
	}
	keys := make([]undo.Key, 0, len(batch))
	for _, q := range batch {
		keys = append(keys, q.key)
	}
	_, err := r.undo.DeleteBatch(ctx, r.phase2, keys)
	if err != nil {
		r.log.Warn("datasource: deleting undo logs of committed branches failed; retried by the coordinator (commands) or the leftover sweep (notices)",
			"resource", r.id, "branches", len(batch), "err", err)
	}
	for _, q := range batch {
		q.done <- err
	}
	clear(batch)
	return batch[:0]
}

// sweepFinished deletes the finished markers older than the retention,
// 1000 at a time.
func (r *Resource) sweepFinished(ctx context.Context) {
	for {
		n, err := r.undo.DeleteOlderThan(ctx, r.phase2, r.cfg.retention, 1000)
		if err != nil {
			r.log.Warn("datasource: sweeping old undo rows failed", "resource", r.id, "err", err)
		}
		if err != nil || n < 1000 {
			return
		}
	}
}

// noClose hides a connector's Close from the phase-2 pool: the wrapped
// connector (or WithPhase2Connector's) belongs to the caller.
type noClose struct{ driver.Connector }

// rawExecer runs DDL on a wrapped driver connection for undo.Table.Create.
type rawExecer struct{ c driver.Conn }

func (e rawExecer) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if len(args) > 0 {
		return nil, invalid("rawExecer takes no arguments")
	}
	if ex, ok := e.c.(driver.ExecerContext); ok {
		res, err := ex.ExecContext(ctx, query, nil)
		if err != driver.ErrSkip {
			return res, err
		}
	}
	st, err := prepare(ctx, e.c, query)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	return execStmt(ctx, st, nil)
}

func (e rawExecer) QueryRowContext(context.Context, string, ...any) *sql.Row {
	panic("datasource: rawExecer.QueryRowContext is not used by undo.Table.Create")
}

// registry: the open resources by ID, and the (manager, ID) pairs whose
// phase-2 handler is installed.
var (
	regMu     sync.Mutex
	live      = map[string][]*Resource{}
	announced = map[announceKey]bool{}
)

type announceKey struct {
	m    *rm.Manager
	id   string
	mode Mode
}

// register adds r to the open resources. Several open databases may share
// a resource ID (one database opened twice), but only with the same undo
// table (see sameUndo): a rollback of the ID runs on the first one open, and would not
// find, in another table, the undo logs written through the others (it
// would record the branch as rolled back with nothing restored).
func register(r *Resource) error {
	regMu.Lock()
	defer regMu.Unlock()
	for _, o := range live[r.id] {
		if !sameUndo(o.undo, r.undo) {
			return invalid("resource %q is already open in this process with undo table %s; another database with that resource ID and undo table %s would have its rollbacks look for undo logs in %s (give it a resource ID of its own: WithResourceID)", r.id, o.undo.Ref(), r.undo.Ref(), o.undo.Ref())
		}
		if !sameConnector(o.cfg.phase2, r.cfg.phase2) {
			return invalid("resource %q is already open in this process with another phase-2 connector (WithPhase2Connector); its rollbacks run on the first one open, as another user than the one this database's writes would be checked against (give both the same connector, or this one a resource ID of its own)", r.id)
		}
	}
	live[r.id] = append(live[r.id], r)
	return nil
}

// sameConnector reports whether a and b are both unset or the same
// pointer. Other connectors are taken for different ones: comparing two
// struct values could panic on a field that cannot be compared.
func sameConnector(a, b driver.Connector) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	ta := reflect.TypeOf(a)
	return ta.Kind() == reflect.Pointer && ta == reflect.TypeOf(b) && a == b
}

// sameUndo reports whether a and b may be one table: the same name, and
// the same schema when both name one (an unqualified name resolves in the
// session, which may be the other's schema).
func sameUndo(a, b *undo.Table) bool {
	if a.Name() != b.Name() {
		return false
	}
	qa, qb := a.Ref() != a.Name(), b.Ref() != b.Name()
	return !qa || !qb || a.Ref() == b.Ref()
}

func unregister(r *Resource) {
	regMu.Lock()
	defer regMu.Unlock()
	rs := live[r.id]
	for i, x := range rs {
		if x == r {
			live[r.id] = append(rs[:i:i], rs[i+1:]...)
			break
		}
	}
}

// announce installs the AT handler of r's ID on r's manager, once per
// (manager, ID). Without a manager it does nothing (SetDefaultManager
// announces later).
func (r *Resource) announce() error {
	m, err := r.manager()
	if err != nil {
		return nil
	}
	return announceOn(m, r.id, r.cfg.mode)
}

// announceOn installs the phase-2 handler of mode (AT or XA) for id on m.
func announceOn(m *rm.Manager, id string, mode Mode) error {
	regMu.Lock()
	defer regMu.Unlock()
	k := announceKey{m, id, mode}
	if announced[k] {
		return nil
	}
	var err error
	if mode == XA {
		err = m.AddResource(id, txc.BranchXA, xaHandler{id})
	} else {
		err = m.AddResource(id, txc.BranchAT, handler{id})
	}
	if err != nil {
		return fmt.Errorf("datasource: %w", err)
	}
	announced[k] = true
	return nil
}

func announceAll(m *rm.Manager) {
	regMu.Lock()
	seen := map[announceKey]bool{}
	var rs []*Resource
	for _, all := range live {
		for _, r := range all {
			k := announceKey{nil, r.id, r.cfg.mode}
			if r.cfg.manager == nil && !seen[k] {
				seen[k] = true
				rs = append(rs, r)
			}
		}
	}
	regMu.Unlock()
	for _, r := range rs {
		announceOn(m, r.id, r.cfg.mode) // a failure here is a duplicate handler of another kind; nothing to undo
		if r.cfg.mode == XA {
			go r.xaRecoverLogged(context.Background())
		}
	}
}

// serving returns an open resource with ID id in AT mode.
func serving(id string) *Resource { return servingIn(id, AT) }

// servingXA returns an open resource with ID id in XA mode.
func servingXA(id string) *Resource { return servingIn(id, XA) }

func servingIn(id string, mode Mode) *Resource {
	regMu.Lock()
	defer regMu.Unlock()
	for _, r := range live[id] {
		if r.cfg.mode == mode {
			return r
		}
	}
	return nil
}
